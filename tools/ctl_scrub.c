/*
 * jicengctl scrub-ids: digest the resident ID numbers that a jicengd from
 * before digesting journaled in clear (the events before the journal's
 * id_digest_since), then replace journal.mdb with a compact copy so that no
 * free page keeps the old bytes. Offline, like rebuild.
 *
 * Each such event's envelope is rewritten as jicengd now journals it: the
 * number replaced by its IdDigest. The rules give the same verdicts for the
 * digest as for the number, so the workers' state stays as it is. A number
 * that failed GB 11643 (its event was rejected BAD_ID_NUMBER) becomes a
 * digest carrying only that error, which the rules reject with the same
 * reason.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be64.h"
#include "config.h"
#include "iddigest.h"
#include "journal.h"

#define SCRUB_TXN_EVENTS 1000

struct scrub {
	struct journal *j;
	uint8_t key[IDNUM_KEY_LEN];
	uint64_t since;       /* first seq known to carry no clear number */
	uint64_t digested, invalid;
	bool quiet;
};

static void
s_usage(FILE *out)
{
	fprintf(out,
	    "Usage: jicengctl scrub-ids [--config FILE] [--data-dir DIR] [--quiet]\n"
	    "\n"
	    "A jicengd from before ID numbers were digested journaled resident ID\n"
	    "numbers (公民身份号码) in clear. jicengd says so at start, naming the events.\n"
	    "scrub-ids rewrites those events as jicengd journals them now, with each\n"
	    "number replaced by its digest (blind index, masked form, birth date, sex),\n"
	    "then replaces DATA_DIR/journal.mdb with a compact copy, so that no free\n"
	    "page keeps the old bytes. The workers' state needs no rebuild. Backups\n"
	    "of the journal taken before still hold the numbers: replace them.\n"
	    "\n"
	    "Stop jicengd first: scrub-ids refuses while RUN_DIR/jicengd.pid names a\n"
	    "live jicengd. It needs the ID blind-index key (id_key_file).\n"
	    "\n"
	    "Options:\n"
	    "  -c, --config FILE    jiceng.conf to read (default: the embedded defaults)\n"
	    "  -D, --data-dir DIR   overrides data_dir of the config\n"
	    "  -q, --quiet          no progress lines on stderr\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 scrubbed (or nothing to scrub), 1 failed or jicengd\n"
	    "running, 2 usage error.\n");
}

/* Digest the number of the event at seq, if it has one. */
static int
s_scrub_one(struct scrub *s, MDB_txn *txn, uint64_t seq)
{
	struct journal_record r;
	struct iddigest_fields f;
	struct iddigest_parts parts;
	Jiceng__V1__IdDigest d;
	uint8_t *out = NULL;
	size_t len;
	int rc = journal_get(s->j, txn, seq, &r);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	Envelope *e = codec_envelope_unpack(r.envelope, r.envelope_len);
	if (!e)
		return 0;  /* the rules answer it INTERNAL_ERROR; it holds no number we can read */
	if (!iddigest_fields(e, &f) || !*f.id_number || !**f.id_number || *f.id_digest) {
		codec_envelope_free(e);
		return 0;
	}
	enum idnum_error bad = iddigest_make(*f.id_number, s->key, &parts, &d);
	sodium_memzero(*f.id_number, strlen(*f.id_number));
	if (bad != IDNUM_OK)
		iddigest_invalid(&d, bad);
	if (iddigest_pack(e, &d, &out, &len) < 0)
		rc = ENOMEM;
	else if ((rc = journal_rewrite(s->j, txn, seq, out, len)) == 0) {
		s->digested++;
		s->invalid += bad != IDNUM_OK;
	}
	free(out);
	codec_envelope_free(e);
	return rc;
}

static int
s_scrub_range(struct scrub *s)
{
	uint64_t done = 0, total = s->since - 1;
	for (uint64_t first = 1; first < s->since; first += SCRUB_TXN_EVENTS) {
		MDB_txn *txn = NULL;
		int rc = journal_write_begin(s->j, &txn);
		for (uint64_t seq = first; rc == 0 && seq < s->since && seq < first + SCRUB_TXN_EVENTS; seq++)
			rc = s_scrub_one(s, txn, seq);
		if (rc == 0 && first + SCRUB_TXN_EVENTS >= s->since) {
			uint8_t one[8];
			be64_put(one, 1);
			rc = journal_meta_put(s->j, txn, IDDIGEST_META_SINCE, one, sizeof one);
		}
		if (rc) {
			journal_write_abort(s->j, txn);  /* also the dedupe index's; txn may be NULL */
			return rc;
		}
		if ((rc = journal_commit(s->j, txn)) || (rc = journal_sync(s->j)))
			return rc;
		done = first + SCRUB_TXN_EVENTS - 1 < total ? first + SCRUB_TXN_EVENTS - 1 : total;
		if (!s->quiet && (done % 100000 < SCRUB_TXN_EVENTS || done == total))
			fprintf(stderr, "scrub-ids: %llu/%llu events read, %llu numbers digested\n",
			    (unsigned long long)done, (unsigned long long)total,
			    (unsigned long long)s->digested);
	}
	return 0;
}

static int
s_setup(int argc, char **argv, struct config *cfg, bool *quiet)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *data_dir = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:D:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'D': data_dir = optarg; break;
		case 'q': *quiet = true; break;
		case 'h': s_usage(stdout); return CTL_EXIT_OK;
		default: return ctl_usage_error("scrub-ids", "bad option");
		}
	}
	if (optind != argc)
		return ctl_usage_error("scrub-ids", "unexpected argument '%s'", argv[optind]);
	return ctl_config(cfg, "scrub-ids", conf, data_dir) < 0 ? CTL_EXIT_FAIL : -1;
}

/* Digest, then compact. Returns an exit status. */
static int
s_run(struct scrub *s, const struct config *cfg)
{
	uint64_t before, after;
	bool stored;
	int rc;
	if (idnum_key_load(cfg->id_key_file, false, s->key) < 0) {
		fprintf(stderr, "jicengctl scrub-ids: cannot read the ID blind-index key %s: %s\n",
		    cfg->id_key_file, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if ((rc = journal_open_at(&s->j, cfg->data_dir, cfg->derived_dir, cfg->journal_map_mb,
	    cfg->journal_map_max_mb, false)) ||
	    (rc = iddigest_since(s->j, &s->since, &stored))) {
		fprintf(stderr, "jicengctl scrub-ids: journal in %s: %s\n", cfg->data_dir, mdb_strerror(rc));
		journal_close(&s->j);
		return CTL_EXIT_FAIL;
	}
	if (s->since <= 1) {
		journal_close(&s->j);
		fprintf(stderr, "jicengctl scrub-ids: every event's ID number is digested already\n");
		return CTL_EXIT_OK;
	}
	rc = s_scrub_range(s);
	journal_close(&s->j);
	if (rc) {
		fprintf(stderr, "jicengctl scrub-ids: %s (the events done so far stay digested; run it again)\n",
		    mdb_strerror(rc));
		return CTL_EXIT_FAIL;
	}
	if ((rc = journal_compact(cfg->data_dir, &before, &after))) {
		fprintf(stderr, "jicengctl scrub-ids: compacting %s/journal.mdb: %s; its free pages may "
		    "still hold old bytes: run it again\n", cfg->data_dir, mdb_strerror(rc));
		return CTL_EXIT_FAIL;
	}
	fprintf(stderr, "jicengctl scrub-ids: %llu events read, %llu ID numbers digested (%llu invalid); "
	    "journal.mdb compacted from %.1f to %.1f MiB\n", (unsigned long long)(s->since - 1),
	    (unsigned long long)s->digested, (unsigned long long)s->invalid,
	    (double)before / (1 << 20), (double)after / (1 << 20));
	return CTL_EXIT_OK;
}

int
ctl_scrub_ids_main(int argc, char **argv)
{
	struct config *cfg = malloc(sizeof *cfg);
	struct scrub *s = calloc(1, sizeof *s);
	int rc = CTL_EXIT_FAIL;
	if (!cfg || !s)
		goto out;
	if ((rc = s_setup(argc, argv, cfg, &s->quiet)) >= 0)
		goto out;
	rc = ctl_daemon_running(cfg, "scrub-ids") ? CTL_EXIT_FAIL : s_run(s, cfg);
out:
	if (s)
		sodium_memzero(s->key, sizeof s->key);
	free(s);
	free(cfg);
	return rc;
}
