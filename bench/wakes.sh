#!/usr/bin/env bash
# Where each side's CPU goes, wake-up by wake-up (WALTHAM_PROBE, shared/probe.ts): one workload
# on a headless weston through our receiver and transmitter, both probed, for SECONDS; prints
# each side's figures (count, mean and quartiles in microseconds of CPU per kind of wake-up and
# per socket write) for every 5-second interval after the first.
#
#   bench/wakes.sh [-t TREE] WORKLOAD [SECONDS]
#   bench/wakes.sh fhd-noise-1 20
#   bench/wakes.sh -t out/compare/abc1234 term 20   (another build of the tree, for before / after)
#
# WORKLOAD: fhd-CONTENT-PERCENT as in bench/run.sh (fhd-noise-1, fhd-text-100, ...) or term.
# The figures are CPU of the whole process (process.cpuUsage) while each wake-up runs, the
# microtasks it queued included; they exclude the loop's own work between wake-ups.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TREE=$(cd "$HERE/.." && pwd)
if [ "${1:-}" = -t ]; then
	TREE=$(cd "$2" && pwd)
	shift 2
fi
WL=${1:?usage: bench/wakes.sh [-t TREE] WORKLOAD [SECONDS]}
SECS=${2:-20}
for f in dist/receiver/main.js dist/transmitter/main.js; do
	[ -f "$TREE/$f" ] || { echo "wakes: $TREE/$f is missing (npm run build)" >&2; exit 1; }
done
BIN=$TREE/out/bench-build
make -s -C "$HERE/client" OUT="$BIN" >/dev/null

T=$(mktemp -d /tmp/wakes.XXXXXX)
mkdir -m 700 "$T/xdg"
export XDG_RUNTIME_DIR=$T/xdg
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
printf '[core]\nidle-time=0\n[shell]\npanel-position=none\nlocking=false\nanimation=none\nstartup-animation=none\n' >"$T/weston.ini"
weston --backend=headless-backend.so --socket=wakes-w0 --width=1920 --height=1080 --use-pixman --idle-time=0 \
	--config="$T/weston.ini" --log="$T/weston.log" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$T/xdg/wakes-w0" ] && break; sleep 0.1; done

if [ "$WL" = term ]; then
	export TERM_LINES=$((SECS * 40 + 200))
	APP=(weston-terminal "--shell=$HERE/client/term-logtail.sh")
else
	IFS=- read -r _ content percent <<<"$WL"
	frac=$(awk -v p="$percent" 'BEGIN { printf "%.4f", p / 100 }')
	APP=("$BIN/wb-bench-client" --width=1920 --height=1080 --fullscreen "--damage=$frac" "--content=$content" \
		--frames=1000000 --warmup=30 --title=wakes --timeout=$((SECS + 30)))
fi
PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
WALTHAM_PROBE=1 WAYLAND_DISPLAY=wakes-w0 node "$TREE/dist/receiver/main.js" --oneshot --log-level warn \
	--listen "127.0.0.1:$PORT" >"$T/rx.out" 2>"$T/rx.err" &
pids+=($!)
sleep 0.7
WALTHAM_PROBE=1 node "$TREE/dist/transmitter/main.js" --log-level warn --display '' --socket wakes-tx \
	--to "127.0.0.1:$PORT" -- "${APP[@]}" >"$T/tx.out" 2>"$T/tx.err" &
pids+=($!)
sleep "$SECS"
for side in tx rx; do
	echo "== $side ($WL, $TREE)"
	# The first interval holds the start: left out.
	grep '^waltham-probe ' "$T/$side.err" | tail -n +2 | sed 's/^waltham-probe //' || true
done
