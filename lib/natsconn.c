/*
 * natsconn: a NATS connection's files and the hints after a refusal
 * (natsconn.h).
 */
#include "natsconn.h"

#include <stdio.h>
#include <string.h>

#include "nkey.h"

natsStatus
natsconn_files_set(natsOptions *o, const struct natsconn_files *f, char *nkey_err, size_t cap)
{
	char pub[64];
	natsStatus s = NATS_OK;
	if (f->creds[0])
		s = natsOptions_SetUserCredentialsFromFiles(o, f->creds, NULL);
	if (s == NATS_OK && f->nkey_seed[0]) {
		if (nkey_public_from_seed_file(f->nkey_seed, pub, sizeof pub, nkey_err, cap) < 0)
			return NATS_INVALID_ARG;
		s = natsOptions_SetNKeyFromSeed(o, pub, f->nkey_seed);
	}
	if (s == NATS_OK && (f->tls_ca[0] || f->tls_cert[0]))
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && f->tls_ca[0])
		s = natsOptions_LoadCATrustedCertificates(o, f->tls_ca);
	if (s == NATS_OK && f->tls_cert[0])
		s = natsOptions_LoadCertificatesChain(o, f->tls_cert,
		    f->tls_key[0] ? f->tls_key : f->tls_cert);
	return s;
}

bool
natsconn_hint(char *why, size_t cap, const char *section, const struct natsconn_files *f)
{
	char hint[300];
	size_t len = strlen(why);
	if (strstr(why, "Expected 'PONG', got ''") || strstr(why, "SSL_write error") ||
	    strstr(why, "SSL_read error"))
		snprintf(hint, sizeof hint, f->tls_cert[0] ? "the servers closed the connection at "
		    "once: with TLS, usually because they do not accept [%s] tls_cert_file (signed "
		    "by a CA they do not trust?)" : "the servers closed the connection at once: with "
		    "TLS, usually because they want a client certificate: set [%s] tls_cert_file and "
		    "tls_key_file", section);
	else if (strstr(why, "unable to get local issuer certificate") ||
	    strstr(why, "certificate verify failed"))
		snprintf(hint, sizeof hint, "the servers' certificate is not signed by a CA trusted "
		    "here: set [%s] tls_ca_file to their CA", section);
	else if (strstr(why, "Authorization Violation"))
		snprintf(hint, sizeof hint, f->creds[0] || f->nkey_seed[0] ? "the servers do not "
		    "know these credentials ([%s] creds_file or nkey_seed_file)" : "the servers want "
		    "credentials: set [%s] creds_file (or nkey_seed_file)", section);
	else
		return false;
	if (len < cap)
		snprintf(why + len, cap - len, "; %s", hint);
	return true;
}
