#!/bin/sh
# The real jicengd as systemd would run it, without systemd:
#   - the sd_notify protocol through a real NOTIFY_SOCKET datagram socket:
#     READY=1 once the children are up, WATCHDOG=1 while they stay up (with
#     WATCHDOG_USEC set), STOPPING=1 on SIGTERM, then exit 0;
#   - SIGHUP (ExecReload=) keeps it serving;
#   - with strace installed: every system call jicengd and its children make
#     (start, CURVE query through the ZAP handler, reload, metrics, stop) is
#     allowed by the unit's SystemCallFilter= lines, so the hardened unit
#     does not kill it with EPERM. Without strace that part is skipped.
# Everything listens on ipc:// in a scratch directory; every wait is bounded.
# Prints one line; exit 0 pass, 1 fail.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$top/build}
unit=$top/systemd/jicengd.service
fails=""
notes=""
fail() { fails="$fails; $*"; }
note() { notes="$notes; $*"; }

for f in "$B/jicengd" "$B/jicengctl"; do
	[ -x "$f" ] || { echo "systemd-run: FAIL: $f not built"; exit 1; }
done
command -v python3 >/dev/null 2>&1 || { echo "systemd-run: FAIL: python3 missing"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jiceng-sdrun-XXXXXX") || exit 1
listener=""
daemon=""
cleanup() {
	[ -n "$daemon" ] && kill -KILL "$daemon" 2>/dev/null
	[ -n "$listener" ] && kill "$listener" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# until TIMEOUT_S CMD...: retry CMD every 0.1 s until it succeeds.
until_ok() {
	n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# ------------------------------------------------------------ keys, config
mkdir -p "$tmp/keys" "$tmp/sock"
"$B/jicengctl" keygen --server --out "$tmp/etc" >/dev/null &&
"$B/jicengctl" keygen --role county --name office --out "$tmp/client" >/dev/null &&
cp "$tmp/client/office.key" "$tmp/keys/" || { echo "systemd-run: FAIL: keygen"; exit 1; }
cat >"$tmp/jiceng.conf" <<EOF
[daemon]
data_dir = $tmp/data
run_dir = $tmp/run
derived_dir = $tmp/derived
ingest = ipc://$tmp/sock/ingest
status = ipc://$tmp/sock/status
query = ipc://$tmp/sock/query
[security]
curve = on
keys_dir = $tmp/keys
server_key = $tmp/etc/server.key_secret
[metrics]
textfile = $tmp/data/jiceng.prom
interval_s = 1
EOF

# ------------------------------------------------------------ notify socket
python3 - "$tmp/notify" "$tmp/notify.log" 120 <<'EOF' &
import socket, sys, time
path, out, end = sys.argv[1], sys.argv[2], time.time() + float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
with open(out, "a", buffering=1) as f:
    while time.time() < end:
        try:
            d = s.recv(4096)
        except socket.timeout:
            continue
        f.write(d.decode("utf-8", "replace").rstrip("\n") + "\n")
EOF
listener=$!
until_ok 5 test -S "$tmp/notify" || { echo "systemd-run: FAIL: notify listener did not start"; exit 1; }
: >"$tmp/notify.log"

# ------------------------------------------------------------ run
tracer=""
if command -v strace >/dev/null 2>&1 && strace -f -qq -o /dev/null true 2>/dev/null; then
	tracer="strace -f -qq -o $tmp/trace"
else
	note "strace not available: system calls not checked against SystemCallFilter="
fi
NOTIFY_SOCKET=$tmp/notify WATCHDOG_USEC=1000000 $tracer "$B/jicengd" --config "$tmp/jiceng.conf" \
    >"$tmp/daemon.log" 2>&1 &
daemon=$!

has() { grep -q "^$1\$" "$tmp/notify.log"; }
if ! until_ok 30 has READY=1; then
	fail "no READY=1 within 30 s (log: $(tail -n 3 "$tmp/daemon.log" | tr '\n' ' '))"
else
	pid=$(cat "$tmp/run/jicengd.pid")
	if ! out=$("$B/jicengctl" query --query "ipc://$tmp/sock/query" --key "$tmp/client/office.key_secret" \
	    --server-key "$tmp/etc/server.key" --timeout 5000 stats 2>&1); then
		fail "CURVE query stats: $out"
	fi
	: >"$tmp/notify.log"
	kill -HUP "$pid"
	until_ok 10 has WATCHDOG=1 || fail "no WATCHDOG=1 within 10 s after SIGHUP"
	until_ok 5 test -s "$tmp/data/jiceng.prom" || fail "no metrics text file"
	kill -TERM "$pid"
fi
n=150
while kill -0 "$daemon" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
if kill -0 "$daemon" 2>/dev/null; then
	fail "still running 15 s after SIGTERM"
else
	wait "$daemon"
	rc=$?
	daemon=""
	[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
	has STOPPING=1 || fail "no STOPPING=1"
fi
if grep -q '^<[0-2]>' "$tmp/daemon.log"; then
	fail "fatal log lines: $(grep '^<[0-2]>' "$tmp/daemon.log" | head -n 3 | tr '\n' ' ')"
fi

# ------------------------------------------------------------ system calls
# The unit's filter: SystemCallFilter= lines without ~ allow, with ~ deny;
# groups (@name) are expanded by systemd-analyze itself.
resolve() {
	for g in "$@"; do
		case $g in
		@*) systemd-analyze syscall-filter "$g" 2>/dev/null |
			sed -n 's/^ \{1,\}\([a-z0-9_@-]\{1,\}\)$/\1/p' |
			while read -r x; do resolve "$x"; done ;;
		*) echo "$g" ;;
		esac
	done
}
if [ -n "$tracer" ] && [ -s "$tmp/trace" ]; then
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		fail "systemd-analyze missing: cannot expand SystemCallFilter="
	else
		allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit")
		deny=$(sed -n 's/^SystemCallFilter=~\(.*\)/\1/p' "$unit")
		# shellcheck disable=SC2086
		resolve $allow | sort -u >"$tmp/allowed"
		# shellcheck disable=SC2086
		resolve $deny | sort -u >"$tmp/denied"
		awk '$2 ~ /^[a-z0-9_]+\(/ { s = $2; sub(/\(.*/, "", s); print s }
		     $2 == "<..." { print $3 }' "$tmp/trace" | sort -u >"$tmp/used"
		bad=$( (comm -23 "$tmp/used" "$tmp/allowed"; comm -12 "$tmp/used" "$tmp/denied") |
		    sort -u | tr '\n' ' ')
		if [ ! -s "$tmp/allowed" ]; then
			fail "could not expand SystemCallFilter=$allow"
		elif [ -n "$bad" ]; then
			fail "system calls the unit would refuse (EPERM): $bad"
		else
			note "$(wc -l <"$tmp/used") distinct system calls, all allowed"
		fi
	fi
fi

if [ -n "$fails" ]; then
	echo "systemd-run: FAIL${fails}"
	exit 1
fi
echo "systemd-run: ok (READY=1, WATCHDOG=1, reload, STOPPING=1, exit 0)${notes}"
exit 0
