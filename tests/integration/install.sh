#!/bin/sh
# make install into a scratch DESTDIR: every file in its place with its mode,
# the installed jicengd finds its children in libexec and reaches READY,
# and make uninstall removes what it installed but keeps the config.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/jiceng-install-XXXXXX") || exit 1
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$ROOT"
}
trap cleanup EXIT INT TERM
fail() { echo "install: FAIL: $*"; exit 1; }

make --no-print-directory -s install DESTDIR="$ROOT/dest" PREFIX=/usr >"$ROOT/make.log" 2>&1 ||
	{ cat "$ROOT/make.log"; fail "make install"; }
D=$ROOT/dest
for f in usr/sbin/jicengd usr/bin/jicengctl usr/libexec/jiceng/jiceng-worker \
	usr/libexec/jiceng/jiceng-query usr/libexec/jiceng/jiceng-mirror; do
	[ -x "$D/$f" ] || fail "$f missing or not executable"
done
for f in lib/systemd/system/jicengd.service usr/lib/sysusers.d/jiceng.conf \
	usr/lib/tmpfiles.d/jiceng.conf etc/jiceng/jiceng.conf usr/share/man/man8/jicengd.8 \
	usr/share/man/man1/jicengctl.1 usr/share/man/man5/jiceng.conf.5; do
	[ -f "$D/$f" ] || fail "$f missing"
done
[ "$(stat -c %a "$D/etc/jiceng/jiceng.conf")" = 640 ] || fail "jiceng.conf is not mode 0640"
grep -q '^ExecStart=/usr/sbin/jicengd ' "$D/lib/systemd/system/jicengd.service" ||
	fail "ExecStart does not name /usr/sbin/jicengd"

# The installed daemon starts its children from ../libexec/jiceng.
"$D/usr/sbin/jicengd" --data-dir "$ROOT/data" --derived-dir "$ROOT/derived" --ingest 'tcp://127.0.0.1:*' \
	--status 'tcp://127.0.0.1:*' --query 'tcp://127.0.0.1:*' >"$ROOT/log" 2>&1 &
PID=$!
i=0
while [ $i -lt 100 ] && ! grep -q 'ready:' "$ROOT/log"; do sleep 0.1; i=$((i + 1)); done
grep -q 'ready:' "$ROOT/log" || { cat "$ROOT/log"; fail "installed jicengd never became ready"; }
grep -q "started membership" "$ROOT/log" || fail "no worker started"
kill "$PID"; wait "$PID"; rc=$?; PID=
[ $rc -eq 0 ] || fail "jicengd exited $rc on SIGTERM"

make --no-print-directory -s uninstall DESTDIR="$ROOT/dest" PREFIX=/usr >/dev/null 2>&1 || fail "make uninstall"
left=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
[ "$left" = "./etc/jiceng/jiceng.conf " ] || fail "uninstall left: $left"
echo "install: ok (DESTDIR install, installed daemon ready, uninstall keeps the config)"
