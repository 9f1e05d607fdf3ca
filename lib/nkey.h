/*
 * nkey: a NATS user nkey's public key from its seed file (nkey.c), for
 * natsOptions_SetNKeyFromSeed, which wants both; an nkey's text.
 */
#ifndef JICENG_NKEY_H
#define JICENG_NKEY_H

#include <stddef.h>
#include <stdint.h>

/* The public key ("U...") of the user nkey seed ("SU...") in the file at
 * path, for natsOptions_SetNKeyFromSeed. 0, or -1 with err. */
int nkey_public_from_seed_file(const char *path, char *pub, size_t len, char *err,
    size_t errlen);
/* in's n bytes (prefix and key) with their CRC-16 appended at in[n],
 * in[n + 1] (in has room for them), base32 into out (8 * (n + 2) / 5 + 2
 * bytes): an nkey's text. */
void nkey_encode(uint8_t *in, size_t n, char *out);

#endif
