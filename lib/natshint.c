/*
 * natshint: the hints after a refused NATS connection (natshint.h).
 */
#include "natshint.h"

#include <stdio.h>
#include <string.h>

void
natshint_connect(char *why, size_t cap, const char *section, bool has_cert, bool has_creds)
{
	char hint[300];
	size_t len = strlen(why);
	if (strstr(why, "Expected 'PONG', got ''") || strstr(why, "SSL_write error") ||
	    strstr(why, "SSL_read error"))
		snprintf(hint, sizeof hint, has_cert ? "the servers closed the connection at once: "
		    "with TLS, usually because they do not accept [%s] tls_cert_file (signed by a CA "
		    "they do not trust?)" : "the servers closed the connection at once: with TLS, "
		    "usually because they want a client certificate: set [%s] tls_cert_file and "
		    "tls_key_file", section);
	else if (strstr(why, "unable to get local issuer certificate") ||
	    strstr(why, "certificate verify failed"))
		snprintf(hint, sizeof hint, "the servers' certificate is not signed by a CA trusted "
		    "here: set [%s] tls_ca_file to their CA", section);
	else if (strstr(why, "Authorization Violation"))
		snprintf(hint, sizeof hint, has_creds ? "the servers do not know these credentials "
		    "([%s] creds_file or nkey_seed_file)" : "the servers want credentials: set [%s] "
		    "creds_file (or nkey_seed_file)", section);
	else
		return;
	if (len < cap)
		snprintf(why + len, cap - len, "; %s", hint);
}
