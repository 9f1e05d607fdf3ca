/*
 * fuzz: what every fuzz target does when JICENG_FUZZ_SEEDS=DIR names where
 * to write its seed corpus (make fuzz, tests/fuzz/replay.sh): write it,
 * a file per seed, and exit; and how it reports a failing input.
 */
#ifndef JICENG_FUZZ_H
#define JICENG_FUZZ_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void
fuzz_seed_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* With JICENG_FUZZ_SEEDS set, write(DIR) and exit. */
static inline void
fuzz_seeds_if_asked(void (*write)(const char *dir))
{
	const char *dir = getenv("JICENG_FUZZ_SEEDS");
	if (dir && *dir) {
		write(dir);
		exit(0);
	}
}

/* Say what failed, with the input's first 256 bytes in hex, and abort
 * (libFuzzer then keeps the input). */
static inline void
fuzz_fail(const char *what, const uint8_t *buf, size_t len)
{
	fprintf(stderr, "%s: %s (%zu bytes):", program_invocation_short_name, what, len);
	for (size_t i = 0; i < len && i < 256; i++)
		fprintf(stderr, " %02x", buf[i]);
	fputc('\n', stderr);
	abort();
}

#endif
