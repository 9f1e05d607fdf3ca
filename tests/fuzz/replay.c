/*
 * replay: a libFuzzer target's LLVMFuzzerTestOneInput run without
 * libFuzzer, over files: the seed corpus and saved crashes, in `make test`
 * (built with ASan and UBSan by gcc, which has no libFuzzer).
 *
 *   replay-TARGET [-m N] FILE|DIR...
 *
 * Each file is one input; a directory's files are each one. With -m N,
 * each input is also run N times mutated (bytes flipped, set, inserted,
 * removed, the input cut short), from a fixed PRNG seed: the same inputs
 * on every run. Prints how many inputs ran; a failing input aborts (the
 * target's own message names it).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t s_state = 0x6a6963656e67ULL;
static unsigned long s_runs;

static uint64_t
s_next(void)
{
	uint64_t x = (s_state += 0x9e3779b97f4a7c15ULL);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* One to four edits of buf (len bytes, cap allocated); the new length. */
static size_t
s_mutate(uint8_t *buf, size_t len, size_t cap)
{
	unsigned edits = 1 + (unsigned)(s_next() % 4);
	for (unsigned i = 0; i < edits; i++) {
		size_t at = len ? (size_t)(s_next() % len) : 0;
		switch (s_next() % 5) {
		case 0:
			if (len)
				buf[at] ^= (uint8_t)(1u << (s_next() % 8));
			break;
		case 1:
			if (len)
				buf[at] = (uint8_t)s_next();
			break;
		case 2:
			if (len < cap) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = (uint8_t)s_next();
				len++;
			}
			break;
		case 3:
			if (len) {
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			}
			break;
		default:
			len = at;
			break;
		}
	}
	return len;
}

static void
s_file(const char *path, unsigned mutations)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	size_t len = (size_t)st.st_size, cap = len + 64;
	uint8_t *orig = malloc(len + 1), *buf = malloc(cap);
	if (!orig || !buf || fread(orig, 1, len, f) != len) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	memcpy(buf, orig, len);
	LLVMFuzzerTestOneInput(buf, len);
	s_runs++;
	for (unsigned i = 0; i < mutations; i++) {
		memcpy(buf, orig, len);
		size_t n = s_mutate(buf, len, cap);
		LLVMFuzzerTestOneInput(buf, n);
		s_runs++;
	}
	free(orig);
	free(buf);
}

static void
s_path(const char *path, unsigned mutations)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		s_file(path, mutations);
		return;
	}
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		char child[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
			s_file(child, mutations);
		}
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	unsigned mutations = 0;
	int first = 1;
	if (argc > 2 && strcmp(argv[1], "-m") == 0) {
		mutations = (unsigned)strtoul(argv[2], NULL, 10);
		first = 3;
	}
	LLVMFuzzerInitialize(&argc, &argv);  /* writes the seeds and exits, when asked */
	if (first >= argc) {
		fprintf(stderr, "usage: %s [-m N] FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = first; i < argc; i++)
		s_path(argv[i], mutations);
	printf("replay: %lu inputs, none failed\n", s_runs);
	return 0;
}
