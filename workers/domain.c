/*
 * domain: the table of domain modules beyond membership.
 */
#include "domain.h"

#include <stddef.h>

#include "funds.h"
#include "meetings.h"

static const struct domain_module *const s_modules[DOMAIN_COUNT] = {
	[DOMAIN_MEMBERSHIP] = NULL,
	[DOMAIN_MEETINGS] = &meetings_module,
	[DOMAIN_FUNDS] = &funds_module,
};

const struct domain_module *
domain_module(enum domain d)
{
	return d >= 0 && d < DOMAIN_COUNT ? s_modules[d] : NULL;
}
