#!/bin/sh
# The fuzz target TARGET (envelope, fold) without libFuzzer, in `make
# test`: its seed corpus, each seed also mutated MUTATIONS times (a fixed
# PRNG: the same inputs every run), and the inputs kept in
# tests/fuzz/regress/TARGET (crashes found by `make fuzz`, once fixed), by
# the ASan+UBSan replay build.
#
#   sh tests/fuzz/replay.sh TARGET [MUTATIONS]
set -eu
cd "$(dirname "$0")/../.."
target=$1
mutations=${2:-2000}
bin=${B:-build}/asan/replay-$target
[ -x "$bin" ] || { echo "replay.sh: $bin is missing (make $bin)"; exit 2; }
seeds=$(mktemp -d "${TMPDIR:-/tmp}/jiceng-fuzz-seeds-XXXXXX")
trap 'rm -rf "$seeds"' EXIT INT TERM
JICENG_FUZZ_SEEDS=$seeds "$bin"
n=$(ls "$seeds" | wc -l)
[ "$n" -gt 0 ] || { echo "replay.sh: $target wrote no seeds"; exit 1; }
set -- "$seeds"
[ -d "tests/fuzz/regress/$target" ] && set -- "$@" "tests/fuzz/regress/$target"
echo "replay.sh: $target: $n seeds, $mutations mutations each"
"$bin" -m "$mutations" "$@"
