/*
 * The write log of io_shim.c: records of struct powercut_record, each
 * followed by len bytes of data for POWERCUT_WRITE and POWERCUT_DURABLE.
 */
#ifndef JICENG_POWERCUT_LOG_H
#define JICENG_POWERCUT_LOG_H

#include <stdint.h>

#define POWERCUT_MAGIC 0x50435731u  /* "PCW1" */

enum powercut_kind {
	POWERCUT_WRITE = 1,  /* len bytes at off, in the page cache */
	POWERCUT_DURABLE,    /* the same through O_DSYNC: on disk */
	POWERCUT_TRUNCATE,   /* the file's size set to off */
	POWERCUT_FLUSH,      /* everything before is on disk */
};

struct powercut_record {
	uint32_t magic;
	uint32_t kind;
	uint64_t off;
	uint64_t len;
};

#endif
