/*
 * domain: what a worker domain beyond membership (meetings, funds) gives
 * the fold. Every worker applies the membership module to its own
 * environment; a domain module adds its own tables and rules on top,
 * answering for the events codec assigns to its domain. It reads the
 * membership tables of the same environment (who is a member of which
 * org, who is hosted where) through the membership and record layers; it
 * never reads another worker's environment.
 *
 * A module's rules follow the membership module's contract: a pure
 * function of the transaction and the event, a rejection decided before
 * the first write (every write through ms_put/ms_del, records.h, which
 * count it), time from ev->received_at and Ticks only.
 */
#ifndef JICENG_DOMAIN_H
#define JICENG_DOMAIN_H

#include <lmdb.h>

#include "apply.h"
#include "codec.h"

struct membership;

struct domain_module {
	enum domain domain;
	unsigned max_dbs;   /* named databases it opens */
	/* Open (creating, with MDB_CREATE in flags; read-only with 0) its
	 * tables in txn; *state is its handle, valid while the environment
	 * is. m is the membership module of the same environment. Returns 0,
	 * MDB_NOTFOUND (read-only and not created yet) or an LMDB error. */
	int (*open)(MDB_txn *txn, unsigned flags, struct membership *m, void **state);
	void (*close)(void **state);
	/* Apply one event (every event: Tick and RulesChanged included, its
	 * own kinds with v filled; v arrives accepted). Returns 0 or an LMDB
	 * error. */
	int (*apply)(void *state, MDB_txn *txn, const struct event_ctx *ev, struct verdict *v);
};

/* The module of domain d; NULL for membership (and for a domain this build
 * does not have). */
const struct domain_module *domain_module(enum domain d);

#endif
