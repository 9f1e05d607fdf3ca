/*
 * natsconn: what jiceng-mirror ([mirror]) and the standby jicengd
 * ([standby]) both do to a NATS connection: its credentials and TLS files
 * into the connection's options, and a hint after a connection libnats
 * could not make. libnats does not say that a server wants a client
 * certificate: only "Expected 'PONG', got ''", or "SSL_write error: (null)"
 * when the server's alert came first (it closed the connection at once).
 */
#ifndef JICENG_NATSCONN_H
#define JICENG_NATSCONN_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>

/* A section's files; "" for one not set. */
struct natsconn_files {
	const char *creds, *nkey_seed, *tls_ca, *tls_cert, *tls_key;
};

/* The files into o: credentials, an nkey (its public key derived from the
 * seed), TLS with the CA and the client certificate (its key file, or the
 * certificate's file when none is given). NATS_OK; NATS_INVALID_ARG with
 * nkey_err when the nkey seed file cannot be used; else libnats's status
 * (nats_GetLastError says why), nkey_err untouched. */
natsStatus natsconn_files_set(natsOptions *o, const struct natsconn_files *f, char *nkey_err,
    size_t cap);

/* Append "; HINT" to why (libnats's words, cap bytes) when its words say
 * the servers refused this client (TLS or credentials), and return true;
 * false for anything else (unreachable, timed out). section is "mirror"
 * or "standby"; f: the section's files. */
bool natsconn_hint(char *why, size_t cap, const char *section, const struct natsconn_files *f);

#endif
