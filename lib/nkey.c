/*
 * nkey: the public key of a NATS user nkey, from its seed. libnats signs
 * the server's nonce with the seed file (natsOptions_SetNKeyFromSeed) but
 * wants the public key beside it; an operator has only the seed file
 * (`nk -gen user` writes it). An nkey is base32 (RFC 4648, no padding) of
 * prefix bytes, the 32-byte Ed25519 seed or public key, and a CRC-16
 * (XMODEM) of those, little-endian. The seed's secret bytes are wiped.
 * Used by jiceng-mirror ([mirror]) and the standby jicengd ([standby]).
 */
#include "nkey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define NKEY_SEED_CHARS 58       /* 2 + 32 + 2 bytes */
#define NKEY_PREFIX_SEED (18 << 3)
#define NKEY_PREFIX_USER (20 << 3)

static const char s_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static uint16_t
s_crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* Decode n base32 characters into out; the number of bytes, -1 on a
 * character outside the alphabet. */
static int
s_b32_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = strchr(s_b32, in[i]);
		if (!c || !in[i])
			return -1;
		acc = acc << 5 | (unsigned)(c - s_b32);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

static void
s_b32_encode(const uint8_t *in, size_t n, char *out)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = s_b32[(acc >> bits) & 31];
		}
	}
	if (bits)
		out[o++] = s_b32[(acc << (5 - bits)) & 31];
	out[o] = 0;
}

void
nkey_encode(uint8_t *in, size_t n, char *out)
{
	uint16_t crc = s_crc16(in, n);
	in[n] = (uint8_t)crc;
	in[n + 1] = (uint8_t)(crc >> 8);
	s_b32_encode(in, n + 2, out);
}

/* The seed's characters in text: the first "SU..." word of 58 base32
 * characters (a bare seed file, or one framed as nsc writes it). */
static const char *
s_find_seed(const char *text)
{
	for (const char *p = strstr(text, "SU"); p; p = strstr(p + 1, "SU"))
		if (strspn(p, s_b32) == NKEY_SEED_CHARS && (p == text || !strchr(s_b32, p[-1])))
			return p;
	return NULL;
}

int
nkey_public_from_seed_file(const char *path, char *pub, size_t len, char *err, size_t errlen)
{
	char text[4096];
	uint8_t raw[40], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], out[35];
	int rc = -1;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "nkey_seed_file %s: cannot read it", path);
		return -1;
	}
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	const char *seed = s_find_seed(text);
	if (!seed || s_b32_decode(seed, NKEY_SEED_CHARS, raw, sizeof raw) != 36 ||
	    s_crc16(raw, 34) != (uint16_t)(raw[34] | raw[35] << 8) ||
	    (raw[0] & 0xf8) != NKEY_PREFIX_SEED ||
	    ((raw[0] & 7) << 5 | (raw[1] & 0xf8) >> 3) != NKEY_PREFIX_USER) {
		snprintf(err, errlen, "nkey_seed_file %s: no user nkey seed (SU...) in it", path);
		goto out;
	}
	if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, raw + 2) != 0) {
		snprintf(err, errlen, "nkey_seed_file %s: cannot derive its public key", path);
		goto out;
	}
	out[0] = NKEY_PREFIX_USER;
	memcpy(out + 1, pk, sizeof pk);
	if (len < 57) {
		snprintf(err, errlen, "nkey: no room for the public key");
		goto out;
	}
	nkey_encode(out, 33, pub);
	rc = 0;
out:
	sodium_memzero(text, sizeof text);
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(sk, sizeof sk);
	return rc;
}
