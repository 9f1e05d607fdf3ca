/*
 * The fixture of the domain-module tests (meetings, funds): the
 * membership fixture (membership_fx.h) whose environment also holds the
 * module's tables, opened as the fold opens them, so that fx_send and
 * every fx_* event helper apply membership and then the module, exactly
 * as workers/fold.c does. fx_teardown (fx_free) closes the module.
 */
#ifndef JICENG_DOMAIN_FX_H
#define JICENG_DOMAIN_FX_H

#include "membership_fx.h"

#include "codec.h"

/* A fresh fixture with the module of domain d (which must have one). */
struct fx *dfx_new(enum domain d);
/* cmocka set-ups: *state is the struct fx; tear down with fx_teardown. */
int dfx_setup_meetings(void **state);
int dfx_setup_funds(void **state);

#endif
