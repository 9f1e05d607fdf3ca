/*
 * security: the policy that decides which sockets use CURVE, shared by
 * jicengd (ingest, status) and jiceng-query (query). The mechanics (keys,
 * ZAP, principals) are in auth.h.
 */
#ifndef JICENG_SECURITY_H
#define JICENG_SECURITY_H

#include <stddef.h>

#include "auth.h"
#include "config.h"

/* Should a socket bound at endpoint use CURVE under c->curve?
 * Returns 1 (yes: curve = on, or auto and not loopback), 0 (no), or -1 with
 * err when curve = off and the endpoint is not loopback: the daemon must not
 * start then. */
int security_curve_for(const struct config *c, const char *endpoint, char *err, size_t errlen);

/* The principal of a message received on a socket: from its ZAP User-Id
 * when the socket uses CURVE, else AUTH_ROLE_LOCAL. Returns 0, or -1 when a
 * CURVE message has no usable User-Id or its key was revoked since the
 * connection was made (code set to the refusal code). */
int security_principal(struct auth *a, void *msg, int curve, struct principal *p,
    const char **code);

#endif
