#!/usr/bin/env bash
# Before / after: bench/run.sh on another commit and on this tree, alternated, then
# one table of both (bench/lib/compare.mjs).
#
#   bench/compare.sh [-n PAIRS] [-o DIR] REF [run.sh options]
#   bench/compare.sh HEAD~1 -r 3 -f 100 -w "fhd-noise-1 term" -m "wp-lz4 wb" -x none
#
# REF is checked out once into out/compare/REF-SHA (a git worktree, its own
# native and TypeScript builds; node_modules shared while package-lock.json is
# the same), this tree is built as it is, and the two run one after the other
# PAIRS times (default 2): base-1, head-1, base-2, head-2, ... in DIR (default
# out/compare-DATE). The machine's state drifts; alternating spreads the drift
# over both builds. Both builds are made here first, so run.sh always gets -B.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PAIRS=2
OUT=""
usage() {
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}
while [ $# -gt 0 ]; do
	case $1 in
	-n) PAIRS=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	-h | --help) usage 0 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
REF=$1
shift
[[ $PAIRS =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: -n wants a number of pairs, not '$PAIRS'" >&2; exit 2; }
SHA=$(git -C "$ROOT" rev-parse --verify --short "$REF^{commit}") || { echo "compare.sh: no commit '$REF'" >&2; exit 2; }
OUT=${OUT:-$ROOT/out/compare-$(date +%Y%m%d-%H%M%S)}
WT=$ROOT/out/compare/$SHA
mkdir -p "$OUT" "$ROOT/out/compare"

if [ ! -e "$WT/.git" ]; then
	git -C "$ROOT" worktree add --detach "$WT" "$SHA" >/dev/null
fi
if [ ! -e "$WT/node_modules" ]; then
	if cmp -s "$ROOT/package-lock.json" "$WT/package-lock.json"; then
		ln -s "$ROOT/node_modules" "$WT/node_modules"
	else
		(cd "$WT" && npm ci --no-audit --no-fund)
	fi
fi
# The protocol code is generated (not in git), then the addon and dist/.
build() {
	(cd "$1" && npm run --silent generate >/dev/null && npm run --silent build:native >/dev/null 2>&1 && npm run --silent build:ts) ||
		{ echo "compare.sh: the build in $1 failed" >&2; exit 1; }
}
echo "building $SHA in $WT"
build "$WT"
echo "building this tree"
build "$ROOT"

{
	echo "base: $SHA ($(git -C "$ROOT" log -1 --format=%s "$SHA" | cut -c1-80))"
	echo "head: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ':!out' || echo ' with changes not committed')"
	echo "run.sh options: $*"
} >"$OUT/builds.txt"
cat "$OUT/builds.txt"

for k in $(seq "$PAIRS"); do
	echo "pair $k of $PAIRS: base"
	(cd "$WT" && bench/run.sh -B "$@" -o "$OUT/base-$k" >"$OUT/base-$k.log" 2>&1) || echo "  base run $k failed: $OUT/base-$k.log"
	echo "pair $k of $PAIRS: head"
	(cd "$ROOT" && bench/run.sh -B "$@" -o "$OUT/head-$k" >"$OUT/head-$k.log" 2>&1) || echo "  head run $k failed: $OUT/head-$k.log"
done
node "$HERE/lib/compare.mjs" "$OUT" | tee "$OUT/compare.txt"
echo "results: $OUT"
