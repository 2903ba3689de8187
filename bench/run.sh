#!/usr/bin/env bash
# waltham-bridge side by side with waypipe, in one run, on the shared full-HD
# workloads (../shared/bench: wl-shm-bench and weston-terminal on a headless
# weston). Prints the runner's table, then our figures as ratios to waypipe's.
#
#   bench/run.sh                                  # default matrix, 3 reps
#   bench/run.sh -r 1 -f 100 -w "fhd-noise-1 term"  # quick
#
# Modes (override with -m): direct, wp-none, wp-lz4 (waypipe 0.8.4),
# wb (waltham-bridge, --codec auto) and wb-raw (--codec raw); also wb-zstd and
# wb-lossy (--codec zstd, --codec lossy) when named with -m. Other options go
# to ../shared/bench/waypipe-baseline.sh (-r reps, -f frames, -w workloads).
# Results: out/bench-DATE/ (summary.txt/.csv/.json, ratios.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
shared=${WB_BENCH_SHARED:-$root/../shared/bench}
[ -x "$shared/waypipe-baseline.sh" ] || { echo "bench: $shared/waypipe-baseline.sh not found (set WB_BENCH_SHARED)" >&2; exit 1; }
for bin in weston waypipe make cc python3; do
  command -v "$bin" >/dev/null || { echo "bench: $bin is missing (bash scripts/install-deps.sh)" >&2; exit 1; }
done
out=${OUT:-$root/out/bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

# The runner builds its workload next to itself: work on a copy.
work=$(mktemp -d /tmp/wb-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$shared"/. "$work"/
make -s -C "$work/workload" >/dev/null

(cd "$root" && npm run -s build:ts)
rx="node $root/dist/receiver/main.js --oneshot --log-level warn --listen {SOCK}"
tx="node $root/dist/transmitter/main.js --log-level warn --display '' --to {SOCK}"
export MODE_wb_TRANSPORT=tcp MODE_wb_RX="$rx" MODE_wb_TX="$tx -- {APP}"
export MODE_wb_raw_TRANSPORT=tcp MODE_wb_raw_RX="$rx" MODE_wb_raw_TX="$tx --codec raw -- {APP}"
export MODE_wb_zstd_TRANSPORT=tcp MODE_wb_zstd_RX="$rx" MODE_wb_zstd_TX="$tx --codec zstd -- {APP}"
export MODE_wb_lossy_TRANSPORT=tcp MODE_wb_lossy_RX="$rx" MODE_wb_lossy_TX="$tx --codec lossy -- {APP}"

args=("$@")
case " $* " in *" -m "*) ;; *) args+=(-m "direct wp-none wp-lz4 wb wb-raw") ;; esac
"$work/waypipe-baseline.sh" -o "$out" "${args[@]}"
node "$here/ratios.mjs" "$out/summary.json" | tee "$out/ratios.txt"
