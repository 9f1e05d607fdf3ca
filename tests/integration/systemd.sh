#!/bin/sh
# The systemd deployment files, checked offline (no systemd as PID 1 needed):
#   - `systemd-analyze verify` of jicengd.service is clean, with @SBINDIR@
#     replaced by the built binary's directory (verify wants ExecStart to be
#     an executable) and our man pages on MANPATH (it checks Documentation=);
#   - `systemd-analyze security --offline=true` rates it 2.0 or lower;
#   - systemd-sysusers and systemd-tmpfiles apply our snippets to a scratch
#     --root: user jiceng, directories with their owners and modes;
#   - the example jiceng.conf parses with every setting uncommented, so it
#     names no key the daemon does not know.
# Prints one line; exit 0 pass, 1 fail.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$top/build}
max_exposure=2.0
fails=""
notes=""
checked=""
fail() { fails="$fails; $*"; }
note() { notes="$notes; $*"; }

for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "systemd: FAIL: $tool not installed (make bootstrap installs systemd)"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/jiceng-systemd-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# verify needs an executable ExecStart; use the real one when it is built.
if [ -x "$B/jicengd" ]; then
	sbindir=$B
else
	sbindir=$tmp/sbin
	mkdir -p "$sbindir"
	printf '#!/bin/sh\nexit 0\n' >"$sbindir/jicengd"
	chmod 0755 "$sbindir/jicengd"
	note "$B/jicengd not built, verified against a stub"
fi
mkdir -p "$tmp/unit"
unit=$tmp/unit/jicengd.service
sed "s|@SBINDIR@|$sbindir|g" "$top/systemd/jicengd.service" >"$unit"
if grep -q '@[A-Z]*@' "$unit"; then
	fail "unsubstituted placeholder: $(grep -o '@[A-Z]*@' "$unit" | sort -u | tr '\n' ' ')"
fi

# --------------------------------------------------------------- verify
mkdir -p "$tmp/man"
for page in "$top"/man/*.[1-8]; do
	[ -e "$page" ] || continue
	sec=${page##*.}
	mkdir -p "$tmp/man/man$sec"
	cp "$page" "$tmp/man/man$sec/"
done
verify_out=$(cd "$tmp/unit" && MANPATH=$tmp/man systemd-analyze verify jicengd.service 2>&1)
verify_rc=$?
if [ $verify_rc -ne 0 ] || [ -n "$verify_out" ]; then
	fail "verify (rc $verify_rc): $(printf '%s' "$verify_out" | tr '\n' ' ')"
fi

# --------------------------------------------------------------- security
sec_out=$(cd "$tmp/unit" && systemd-analyze security --offline=true jicengd.service 2>&1)
exposure=$(printf '%s\n' "$sec_out" | sed -n 's/.*Overall exposure level for jicengd.service: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
	fail "security: no exposure line in: $(printf '%s' "$sec_out" | tail -n 3 | tr '\n' ' ')"
elif ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
	fail "security: exposure $exposure > $max_exposure: $(printf '%s\n' "$sec_out" | grep '✗' | awk '{print $2}' | tr '\n' ' ')"
fi

# --------------------------------------------------------------- sysusers, tmpfiles
root=$tmp/root
mkdir -p "$root/etc"
if ! out=$(systemd-sysusers --root="$root" - <"$top/systemd/jiceng.sysusers" 2>&1); then
	fail "sysusers: $out"
elif ! grep -q '^jiceng:x:[0-9]*:[0-9]*:[^:]*:/var/lib/jiceng:' "$root/etc/passwd"; then
	fail "sysusers: no jiceng user with home /var/lib/jiceng"
fi
mkdir -p "$root/etc/jiceng"
for f in jiceng.conf server.key_secret; do
	: >"$root/etc/jiceng/$f"
	chmod 0600 "$root/etc/jiceng/$f"
done
if ! out=$(systemd-tmpfiles --root="$root" --create - <"$top/systemd/jiceng.tmpfiles" 2>&1); then
	fail "tmpfiles: $out"
fi
uid=$(awk -F: '$1 == "jiceng" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "jiceng" { print $3 }' "$root/etc/group")
for spec in "etc/jiceng 755 0 0" "etc/jiceng/keys 755 0 0" "etc/jiceng/keys/revoked 755 0 0" \
    "etc/jiceng/jiceng.conf 640 0 $gid" "etc/jiceng/server.key_secret 640 0 $gid" \
    "var/lib/jiceng 750 $uid $gid" "run/jiceng 750 $uid $gid"; do
	set -- $spec
	got=$(stat -c '%a %u %g' "$root/$1" 2>/dev/null) || { fail "tmpfiles: /$1 missing"; continue; }
	[ "$got" = "$2 $3 $4" ] || fail "tmpfiles: /$1 is '$got', want '$2 $3 $4'"
done

# --------------------------------------------------------------- example config
if [ -x "$B/jicengctl" ]; then
	mkdir -p "$tmp/keys"
	sed -e 's/^#\([a-z_.]* = \)/\1/' \
	    -e "s|^keys_dir = .*|keys_dir = $tmp/keys|" \
	    -e "s|<data_dir>|/var/lib/jiceng|" "$top/systemd/jiceng.conf" >"$tmp/all.conf"
	nkeys=$(grep -c '^[a-z][a-z_.]* = ' "$tmp/all.conf")
	if ! out=$("$B/jicengctl" keys list --config "$tmp/all.conf" 2>&1); then
		fail "example config: $out"
	elif [ "$nkeys" -lt 30 ]; then
		fail "example config: only $nkeys settings"
	else
		checked="$checked, example config parses ($nkeys settings)"
	fi
else
	note "$B/jicengctl not built, example config not parsed"
fi

if [ -n "$fails" ]; then
	echo "systemd: FAIL${fails}"
	exit 1
fi
echo "systemd: ok (exposure $exposure <= $max_exposure, verify clean, sysusers+tmpfiles ok$checked)${notes}"
exit 0
