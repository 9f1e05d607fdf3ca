/*
 * The unit-test runner's registry: each tests/unit/test_<group>.c defines
 * `int unit_<group>(void)` running its cmocka group and returning the number
 * of failures. main.c lists the groups; `build/test-unit NAME` runs one.
 */
#ifndef JICENG_UNIT_H
#define JICENG_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int unit_civil(void);
int unit_codec(void);
int unit_config(void);
int unit_journal(void);
int unit_idnum(void);
int unit_orgs(void);
int unit_members(void);
int unit_fold(void);
int unit_checkpoint(void);
int unit_pbjson(void);
int unit_auth(void);
int unit_wire(void);
int unit_iddigest(void);
int unit_transfers(void);
int unit_mobility(void);
int unit_queries(void);
int unit_status(void);
int unit_import(void);
int unit_meetings(void);
int unit_funds(void);
int unit_reports(void);
int unit_latency(void);
int unit_tail(void);

/* A fresh empty directory under $TMPDIR for a test; removed by
 * unit_tmpdir_remove. */
char *unit_tmpdir(void);
void unit_tmpdir_remove(char *dir);

#endif
