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
