/*
 * nkey: a NATS user nkey's public key from its seed file (nkey.c), for
 * natsOptions_SetNKeyFromSeed, which wants both.
 */
#ifndef JICENG_NKEY_H
#define JICENG_NKEY_H

#include <stddef.h>

/* The public key ("U...") of the user nkey seed ("SU...") in the file at
 * path, for natsOptions_SetNKeyFromSeed. 0, or -1 with err. */
int nkey_public_from_seed_file(const char *path, char *pub, size_t len, char *err,
    size_t errlen);

#endif
