/*
 * apply: verdict helpers and the default rule settings.
 */
#include "apply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
verdict_accept(struct verdict *v)
{
	memset(v, 0, sizeof *v);
	v->accepted = true;
	snprintf(v->code, sizeof v->code, "OK");
}

int
verdict_reject(struct verdict *v, const char *code, const char *fmt, ...)
{
	va_list ap;
	v->accepted = false;
	snprintf(v->code, sizeof v->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
	return 0;
}

void
verdict_warn(struct verdict *v, const char *code, const char *fmt, ...)
{
	va_list ap;
	if (v->nwarnings >= VERDICT_MAX_WARNINGS)
		return;
	snprintf(v->warnings[v->nwarnings].code, sizeof v->warnings[0].code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(v->warnings[v->nwarnings].reason, sizeof v->warnings[0].reason, fmt, ap);
	va_end(ap);
	v->nwarnings++;
}

void
rules_defaults(Rules *r)
{
	jiceng__v1__rules__init(r);
	r->org_min_full_members_days = 90;
	r->org_branch_max_members = 50;
	r->org_village_committee_members = 100;
	r->member_min_admission_age = 18;
	r->transfer_max_valid_days = 90;
	r->transfer_receipt_days = 30;
	r->mobile_lost_contact_months = 6;
	r->mobile_fixed_place_months = 6;
	r->member_inactive_months = 6;
	r->funds_max_single_fen = 10000000;
	r->funds_activity_per_member_min_fen = 6000;
	r->dues_max_months_back = 6;
}
