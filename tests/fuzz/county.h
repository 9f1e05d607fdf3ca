/*
 * county: the fuzz targets' runs of frames (a 2-byte big-endian header,
 * its top bit the county's key, then that many bytes of envelope), the
 * broker's view of each, and a small county's events as seeds.
 */
#ifndef JICENG_FUZZ_COUNTY_H
#define JICENG_FUZZ_COUNTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "idnum.h"

#define FUZZ_NOW 1796574600000LL        /* 2026-12-07 00:30 CST: the clock at a run's start */
#define FUZZ_DAY 86400000LL
#define FUZZ_SKEW_MS (10 * 60 * 1000LL)  /* ingest's INGEST_MAX_SKEW_MS */
#define FUZZ_TICK_MAX_MS (400LL * FUZZ_DAY)
#define FUZZ_MAX_FRAMES 256
#define FUZZ_COUNTY_BIT 0x8000u
#define FUZZ_TOWNSHIP "320123101000"    /* the seeds' township */

/* The blind-index key ID digests are made with (the query target loads
 * its data dir's into it). */
extern uint8_t fuzz_id_key[IDNUM_KEY_LEN];

/* A new scratch dir for target's environments, under $JICENG_FUZZ_TMP
 * (default /dev/shm), removed at exit; those of the target's earlier runs
 * whose process is gone are removed first. */
const char *fuzz_tmpdir(const char *target);

/* The next frame of data from *at (moved past it); false at the end. */
bool fuzz_frame_next(const uint8_t *data, size_t size, size_t *at, const uint8_t **frame,
    size_t *len, bool *county);

/* The broker of one run: its clock and the (township, event_id) seen. */
struct fuzz_broker {
	int64_t clock;
	size_t nseen;
	char seen[FUZZ_MAX_FRAMES][16 + CODEC_MAX_ID + 2];
};

/* What jicengd journals of one frame, as a worker decodes the record,
 * with the record's township in *township; NULL when it would refuse
 * it. The clock moves a second a frame, a Tick's further. */
Envelope *fuzz_broker_frame(struct fuzz_broker *b, const uint8_t *frame, size_t len,
    bool county, const char **township);

/* A run of frames being written. */
struct fuzz_seed {
	uint8_t buf[16384];
	size_t len;
	unsigned n;
};

/* The county's whole run: orgs, members, meetings, funds, moves, every
 * other membership kind, tighter rules, a Tick a month on, and more. */
void fuzz_county_all(struct fuzz_seed *s);
/* The seed files of fuzz_fold: the county with each part, and all. */
void fuzz_county_seeds(const char *dir);

#endif
