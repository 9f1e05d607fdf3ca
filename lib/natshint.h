/*
 * natshint: what an operator can do about a NATS connection libnats could
 * not make, in the words of the config section that sets it up ([mirror],
 * [standby]). libnats does not say that a server wants a client
 * certificate: only "Expected 'PONG', got ''", or "SSL_write error: (null)"
 * when the server's alert came first (it closed the connection at once).
 */
#ifndef JICENG_NATSHINT_H
#define JICENG_NATSHINT_H

#include <stdbool.h>
#include <stddef.h>

/* Append "; HINT" to why (libnats's words, cap bytes) when its words are
 * known: section is "mirror" or "standby"; has_cert, has_creds: whether
 * the section sets a client certificate, credentials or an nkey. */
void natshint_connect(char *why, size_t cap, const char *section, bool has_cert, bool has_creds);

#endif
