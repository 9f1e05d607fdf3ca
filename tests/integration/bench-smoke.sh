#!/bin/sh
# The benchmark harness end to end at toy size: the county's year (every
# kind: dues, pay, meetings, updates, registrations, transfers, mobile
# members), the members-only workload with its mix runs (transfers and
# mobile-member steps), the registrations-only one with random event ids,
# and the year with the derived files in a dir of their own, must each run
# to the summary with every measured event accepted and the raw ceiling's
# verdict check passing. Figures are not judged here.
set -u
cd "$(dirname "$0")/../.." || exit 2
BENCH=${BENCH:-build/jiceng-bench}
OUT=$(mktemp "${TMPDIR:-/tmp}/jiceng-bench-smoke-XXXXXX") || exit 2
trap 'rm -f "$OUT"' EXIT INT TERM
fail=0

smoke() {
	name=$1
	shift
	if ! "$BENCH" --events 2000 --repeat 1 --half-seconds 0.5 --settle 100 --clients 1,3 "$@" >"$OUT" 2>&1; then
		echo "bench-smoke: $name: jiceng-bench failed:"
		cat "$OUT"
		fail=1
		return
	fi
	if ! grep -q '^summary' "$OUT" || ! grep -q 'raw ceiling' "$OUT" ||
	    [ "$(grep -c '^half-[13] ' "$OUT")" -ne 2 ]; then
		echo "bench-smoke: $name: the report is incomplete:"
		cat "$OUT"
		fail=1
		return
	fi
	echo "bench-smoke: $name: ok"
}

smoke year --roster 300
grep -q "^workload: a county's year, 300 members" "$OUT" ||
	{ echo "bench-smoke: year: the workload line is wrong"; fail=1; }
grep -q '^  batch .*3 folds' "$OUT" ||
	{ echo "bench-smoke: year: the raw ceiling did not fold the three domains"; fail=1; }
grep -q '^  of which inside jicengd .*: p99 [0-9.]* ms$' "$OUT" ||
	{ echo "bench-smoke: year: no p99 inside jicengd (jiceng_ack_seconds) in the summary"; fail=1; }
smoke county --roster 300 --membership-only
grep -q '^set-up: the roster of 300 members registered' "$OUT" ||
	{ echo "bench-smoke: county: no roster set-up line"; fail=1; }
# The mix runs, unless this build's jicengd refuses their kinds before
# journaling (then the bench says so and leaves them out).
if ! grep -q "^mix: off: this build's jicengd" "$OUT" &&
    { [ "$(grep -c '^mix-half-[13] ' "$OUT")" -ne 2 ] || ! grep -q '^mix summary' "$OUT" ||
    [ "$(grep -c '^  mix: batch' "$OUT")" -ne 2 ]; }; then
	echo "bench-smoke: county: the mix runs are missing:"
	cat "$OUT"
	fail=1
fi
DERIVED=$(mktemp -d "${TMPDIR:-/tmp}/jiceng-bench-smoke-derived-XXXXXX") || exit 2
trap 'rm -f "$OUT"; rm -rf "$DERIVED"' EXIT INT TERM
smoke derived --roster 300 --derived-dir "$DERIVED"
grep -q "derived_dir $DERIVED/jiceng-bench-e2e-derived\." "$OUT" ||
	{ echo "bench-smoke: derived: jicengd was not given a derived_dir under $DERIVED"; fail=1; }
[ -z "$(ls -A "$DERIVED")" ] ||
	{ echo "bench-smoke: derived: left behind in $DERIVED: $(ls "$DERIVED")"; fail=1; }
smoke registrations --roster 0 --random-ids
grep -q 'every event registers a new member (the state grows all run); event ids random' "$OUT" ||
	{ echo "bench-smoke: registrations: the workload line is wrong"; fail=1; }
exit $fail
