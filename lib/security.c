/*
 * security: CURVE policy per endpoint, and the principal of a message.
 */
#include "security.h"

#include <stdio.h>
#include <zmq.h>

int
security_curve_for(const struct config *c, const char *endpoint, char *err, size_t errlen)
{
	bool loopback = auth_endpoint_is_loopback(endpoint);
	switch (c->curve) {
	case CURVE_ON:
		return 1;
	case CURVE_OFF:
		if (loopback)
			return 0;
		snprintf(err, errlen, "%s is not a loopback endpoint and [security] curve = off: "
		    "refusing to serve townships without CURVE (set curve = auto or on)", endpoint);
		return -1;
	default:
		return loopback ? 0 : 1;
	}
}

int
security_principal(struct auth *a, void *msg, int curve, struct principal *p, const char **code)
{
	if (!curve) {
		auth_principal_local(p);
		return 0;
	}
	const char *uid = zmq_msg_gets((zmq_msg_t *)msg, "User-Id");
	if (auth_principal_parse(uid, p) < 0) {
		*code = AUTH_CODE_NOT_AUTHENTICATED;
		return -1;
	}
	if (a && !auth_principal_current(a, p)) {
		*code = AUTH_CODE_KEY_REVOKED;
		return -1;
	}
	return 0;
}
