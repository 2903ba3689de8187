#!/usr/bin/env bash
# waltham-bridge side by side with waypipe, in one run, on full-HD workloads
# shown by a headless weston. Self-contained: builds its own workload client
# (bench/client) and needs only the Debian packages of scripts/install-deps.sh.
#
#   bench/run.sh                                   # everything, 3 reps
#   bench/run.sh -r 1 -f 60                        # quick smoke run
#   bench/run.sh -w "fhd-noise-1 term" -m "wp-lz4 wb" -x none
#
# Options
#   -r REPS       repetitions; tables show the median (default 3)
#   -f FRAMES     measured frames per client run (300)
#   -W FRAMES     warm-up frames before those (30); above 30, the terminal
#                 workload prints and leaves out as many more lines. A long
#                 warm-up (e.g. 2400, a minute at 40 fps) measures the steady
#                 state, after V8 optimized the per-frame code
#   -w WORKLOADS  main matrix (default: fhd-noise-100 fhd-noise-25 fhd-noise-1
#                 fhd-text-100 fhd-video-100 win-video-100 term)
#   -m MODES      (default: direct wp-none wp-lz4 wp-zstd wpt-none wpt-lz4
#                 wpt-zstd wb wb-lossy)
#   -x EXTRAS     extra sections: idle quad two link, or none (default: all)
#   -L MODES      modes over the link (default: wp-lz4 wp-zstd wb wb-lossy
#                 wb-allow-lossy); they need not be in -m
#   -I SECONDS    idle measurement window (default 30)
#   -o DIR        results (default out/bench-DATE)
#   -k            keep the raw per-run files in DIR/raw
#   -B            do not rebuild dist/ (npm run build:ts)
#
# Workloads: fhd-C-P (1920x1080 fullscreen), win-C-P (1280x720 window),
# quad-C-P (four 1920x1080 windows from one client), two-C-P (two clients,
# each through its own transmitter, into one receiver); C is noise, text or
# video, P the percentage of the surface changed per frame. term:
# weston-terminal printing a log tail. idle: weston-terminal showing a still
# page for -I seconds.
#
# Modes: direct (the client on weston), wp-C (waypipe -c C, C = none, lz4,
# zstd, ...), wpt-C (the same across TCP: waypipe speaks only unix sockets,
# so between two machines it needs a carrier on each side, as ssh or socat
# are; here a relay from its socket to TCP on each side, whose CPU and
# memory count with that side), wb (ours, --codec auto), wb-C (ours, --codec C), wb-allow-lossy
# (ours, --codec auto --allow-lossy), wb-worker (ours, --encode-thread worker);
# an option the transmitter does not offer
# skips the mode with the reason. Every transport runs through count-relay,
# which counts the bytes.
#
# The link section runs fhd-video-100 over a 100 Mbit/s link: two network
# namespaces joined by a veth pair shaped by tbf; the transmitter (and its
# application) in one, the receiver and its weston in the other.
#
# Every process is started here and stopped by its PID; the namespaces and
# the temporary directory are removed on exit, Ctrl-C included.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
REPS=3
FRAMES=300
WARMUP=30
WORKLOADS="fhd-noise-100 fhd-noise-25 fhd-noise-1 fhd-text-100 fhd-video-100 win-video-100 term"
MODES="direct wp-none wp-lz4 wp-zstd wpt-none wpt-lz4 wpt-zstd wb wb-lossy"
EXTRAS="idle quad two link"
IDLE_S=30
OUT=""
KEEP_RAW=0
BUILD=1
LINK_RATE=${LINK_RATE:-100mbit}
QUAD_WORKLOAD=${QUAD_WORKLOAD:-quad-video-25}
TWO_WORKLOAD=${TWO_WORKLOAD:-two-video-25}
LINK_WORKLOAD=${LINK_WORKLOAD:-fhd-video-100}
LINK_MODES="wp-lz4 wp-zstd wb wb-lossy wb-allow-lossy"

usage() { sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;$d'; }
while getopts "r:f:W:w:m:x:L:I:o:kBh" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	f) FRAMES=$OPTARG ;;
	W) WARMUP=$OPTARG ;;
	w) WORKLOADS=$OPTARG ;;
	m) MODES=$OPTARG ;;
	x) EXTRAS=$OPTARG ;;
	L) LINK_MODES=$OPTARG ;;
	I) IDLE_S=$OPTARG ;;
	o) OUT=$OPTARG ;;
	k) KEEP_RAW=1 ;;
	B) BUILD=0 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[ "$EXTRAS" = none ] && EXTRAS=""
# the terminal's warm-up beyond its first TERM_SKIP commits (lib/analyze.mjs)
TERM_EXTRA=$((WARMUP > 30 ? WARMUP - 30 : 0))
OUT=${OUT:-$ROOT/out/bench-$(date +%Y%m%d-%H%M%S)}

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

for tool in weston weston-terminal waypipe make gcc pkg-config wayland-scanner node ip tc ss; do
	command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/install-deps.sh)"
done

BIN=$ROOT/out/bench-build
make -s -C "$HERE/client" OUT="$BIN" >/dev/null || die "building bench/client failed"
if [ "$BUILD" = 1 ]; then
	(cd "$ROOT" && npm run -s build:ts) || die "npm run build:ts failed"
fi
[ -f "$ROOT/dist/transmitter/main.js" ] || die "dist/ is missing: npm ci (or npm run build)"
CLIENT=$BIN/wb-bench-client
RELAY=$BIN/count-relay
TX_HELP=$(node "$ROOT/dist/transmitter/main.js" --help 2>&1)

mkdir -p "$OUT" || die "cannot create $OUT"
TMP=$(mktemp -d /tmp/wb-bench.XXXXXX) || die "mktemp failed"
RAW=$TMP/raw
[ "$KEEP_RAW" = 1 ] && RAW=$OUT/raw
mkdir -p "$RAW" "$TMP/xdg"
chmod 700 "$TMP/xdg"
export XDG_RUNTIME_DIR=$TMP/xdg
unset WAYLAND_DISPLAY WAYLAND_SOCKET DISPLAY

# ------------------------------------------------------------- processes
STARTED=()    # every PID started here
NETNS=()      # namespaces created here

alive() { # true while PID exists and is not a zombie
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ -n "$s" ] && [ "${s%% *}" != Z ]
}

descendants() { # every descendant of PID, deepest first
	local kid
	for kid in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		descendants "$kid"
		echo "$kid"
	done
}

stop_pid() { # TERM, then KILL after GRACE seconds; reap if it is ours
	local pid=$1 grace=${2:-3} i
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < grace * 10; i++)); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

stop_tree() { # PID and everything below it, children first
	local pid=$1 kid kids
	kids=$(descendants "$pid")
	stop_pid "$pid" "${2:-3}"
	for kid in $kids; do stop_pid "$kid" 1; done
}

wait_exit() { # wait_exit PID SECONDS: 1 on timeout
	local pid=$1 t=$2 i
	for ((i = 0; i < t * 20; i++)); do
		alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.05
	done
	return 1
}

wait_for() { # wait_for SECONDS COMMAND...: 1 on timeout
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

listening() { # listening NETNS|- PORT
	if [ "$1" = - ]; then
		[ -n "$(ss -ltnH "sport = :$2" 2>/dev/null)" ]
	else
		[ -n "$(ip netns exec "$1" ss -ltnH "sport = :$2" 2>/dev/null)" ]
	fi
}

free_port() {
	local p
	while :; do
		p=$((36000 + RANDOM % 20000))
		listening - "$p" || { echo "$p"; return; }
	done
}

cleanup() {
	local pid ns p
	trap '' INT TERM
	for pid in "${STARTED[@]}"; do
		alive "$pid" && stop_tree "$pid" 2
	done
	for ns in "${NETNS[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip -n "$ns" link del wbb0 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "bench: interrupted"; exit 130' INT TERM

start() { # start NAME CMD...: run in the background, remember the PID in $PID
	"$@" &
	PID=$!
	STARTED+=("$PID")
}

# ------------------------------------------------------------- weston
declare -A WLOG WPID
WDISP=wbb-weston

start_weston() { # start_weston NET: headless full-HD weston, in NET's display namespace
	local net=$1 pre=() d=$TMP/weston-$1
	mkdir -p "$d"
	[ "$net" = link ] && pre=(ip netns exec "$NS_D")
	printf '[core]\nidle-time=0\n[shell]\npanel-position=none\nlocking=false\nanimation=none\nclose-animation=none\nstartup-animation=none\nfocus-animation=none\n' >"$d/weston.ini"
	WLOG[$net]=$d/weston.log
	start "${pre[@]}" weston --backend=headless-backend.so --socket="$WDISP-$net" \
		--width=1920 --height=1080 --use-pixman --idle-time=0 --config="$d/weston.ini" \
		--log="${WLOG[$net]}" --logger-scopes=log,timeline >"$d/weston.out" 2>&1
	WPID[$net]=$PID
	wait_for 10 test -S "$XDG_RUNTIME_DIR/$WDISP-$net" || die "weston did not start (${WLOG[$net]})"
	sleep 1 # desktop-shell maps its surfaces
}

# ------------------------------------------------------------- the link
NS_A="" NS_D="" ADDR_A=10.78.0.1 ADDR_D=10.78.0.2
setup_link() {
	NS_A=wbb-a-$$
	NS_D=wbb-d-$$
	ip netns add "$NS_A" || die "cannot create network namespaces (root needed)"
	NETNS+=("$NS_A")
	ip netns add "$NS_D" || die "cannot create network namespaces"
	NETNS+=("$NS_D")
	ip link add wbb0 netns "$NS_A" type veth peer name wbb0 netns "$NS_D" || die "cannot create a veth pair"
	ip -n "$NS_A" addr add "$ADDR_A/24" dev wbb0
	ip -n "$NS_D" addr add "$ADDR_D/24" dev wbb0
	local ns
	for ns in "$NS_A" "$NS_D"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set wbb0 up
		# the link's rate both ways; queue at most 20 ms in the qdisc
		tc -n "$ns" qdisc add dev wbb0 root tbf rate "$LINK_RATE" burst 64kb latency 20ms ||
			die "tc tbf failed"
	done
}

# ------------------------------------------------------------- one run
quote_cmd() { local a q=""; for a in "$@"; do q+="$(printf '%q' "$a") "; done; printf '%s' "${q% }"; }

# mode_skip MODE: prints why MODE cannot run, or nothing
mode_skip() {
	case $1 in
	direct | wp-* | wpt-* | wb) ;;
	wb-allow-lossy)
		grep -q -- '--allow-lossy' <<<"$TX_HELP" ||
			echo "the transmitter has no --allow-lossy (node dist/transmitter/main.js --help)"
		;;
	wb-worker)
		grep -q -- '--encode-thread' <<<"$TX_HELP" ||
			echo "the transmitter has no --encode-thread (node dist/transmitter/main.js --help)"
		;;
	wb-*)
		local codec=${1#wb-}
		grep -- '--codec' <<<"$TX_HELP" | grep -qw -- "$codec" ||
			echo "the transmitter has no --codec $codec (node dist/transmitter/main.js --help)"
		;;
	*) echo "unknown mode" ;;
	esac
}

# app_cmd WORKLOAD RUNDIR INSTANCE: sets APP (array), KIND, TITLE
app_cmd() {
	local wl=$1 rd=$2 i=$3 kind=${1%%-*} content frac size=(--width=1920 --height=1080) extra=()
	APP=() TITLE=""
	case $wl in
	term)
		# WAYLAND_DEBUG gives the terminal's commit times; the sh wrapper
		# sends them to app.I.err in every mode
		APP=(sh -c 'exec "$@" 2>"$0"' "$rd/app.$i.err" env WAYLAND_DEBUG=client
			TERM_LINES=$((250 + TERM_EXTRA)) weston-terminal "--shell=$HERE/client/term-logtail.sh")
		KIND=terminal TITLE="Wayland Terminal"
		return
		;;
	idle)
		APP=(weston-terminal "--shell=$HERE/client/term-idle.sh")
		KIND=idle TITLE="Wayland Terminal"
		return
		;;
	fhd-* | quad-* | two-*) ;;
	win-*) size=(--width=1280 --height=720) ;;
	*) die "unknown workload $wl" ;;
	esac
	content=${wl#*-}
	content=${content%%-*}
	frac=$(awk -v p="${wl##*-}" 'BEGIN { printf "%.4f", p / 100 }')
	[ "$kind" = fhd ] && extra+=(--fullscreen)
	[ "$kind" = quad ] && extra+=(--surfaces=4)
	TITLE=wbb-$i
	local timeout=$((120 + FRAMES / 2 + WARMUP / 30))
	[ "$NET" = link ] && timeout=$((120 + FRAMES * 2))
	APP=("$CLIENT" "${size[@]}" "${extra[@]}" --damage="$frac" --content="$content"
		--frames="$FRAMES" --warmup="$WARMUP" --title="$TITLE" --timeout="$timeout"
		--csv="$rd/frames.$i.csv")
	KIND=client
}

run_one() { # run_one SECTION WORKLOAD MODE REP
	local section=$1 wl=$2 mode=$3 rep=$4
	local rd=$RAW/$section.$wl.$mode.$rep
	rm -rf "$rd"
	mkdir -p "$rd"
	local n=1 i rc=0 wdisp=$WDISP-$NET
	[[ $wl == two-* ]] && n=2
	local pa=() pd=() connect_host=127.0.0.1 listen_host=127.0.0.1
	if [ "$NET" = link ]; then
		pa=(ip netns exec "$NS_A")
		pd=(ip netns exec "$NS_D")
		connect_host=$ADDR_D listen_host=$ADDR_D
	fi
	local tl_off
	tl_off=$(stat -c %s "${WLOG[$NET]}")
	local offset t_run0
	offset=$("$BIN/clock-offset")
	t_run0=$(date +%s%N)
	local roles=(weston="${WPID[$NET]}") waits=() titles=() rx_pid="" tx_pids=() relays=()
	local -A carrier=() # relay PID -> the side (tx, rx) whose CPU it counts as
	if [ "$mode" = direct ]; then
		for ((i = 1; i <= n; i++)); do
			app_cmd "$wl" "$rd" "$i"
			titles+=("$TITLE")
			WAYLAND_DISPLAY=$wdisp start "${APP[@]}" >"$rd/app.$i.out" 2>"$rd/app.$i.err.txt"
			roles+=(app="tree:$PID")
			waits+=("$PID")
		done
	else
		local rx_cmd tx_cmd rx_port rx_addr transport=tcp
		rx_port=$(free_port)
		if [[ $mode == wp-* || $mode == wpt-* ]]; then
			transport=unix
			local once=-o
			[ "$n" -gt 1 ] && once=""
			rx_cmd="waypipe $once -c ${mode#*-} -s $rd/rx.sock client"
		else
			local once=--oneshot
			[ "$n" -gt 1 ] && once=""
			rx_cmd="node $ROOT/dist/receiver/main.js $once --log-level warn --listen $listen_host:$rx_port"
		fi
		echo "$rx_cmd" >"$rd/commands"
		WAYLAND_DISPLAY=$wdisp start "${pd[@]}" bash -c "exec $rx_cmd" >"$rd/rx.out" 2>"$rd/rx.err"
		rx_pid=$PID
		roles+=(rx="tree:$rx_pid")
		if [ "$transport" = unix ]; then
			wait_for 10 test -S "$rd/rx.sock" || { log "  $mode: no receiver socket"; rc=1; }
		elif [ "$NET" = link ]; then
			wait_for 20 listening "$NS_D" "$rx_port" || { log "  $mode: receiver not listening"; rc=1; }
		else
			wait_for 20 listening - "$rx_port" || { log "  $mode: receiver not listening"; rc=1; }
		fi
		for ((i = 1; i <= n; i++)); do
			app_cmd "$wl" "$rd" "$i"
			titles+=("$TITLE")
			local app_q
			app_q=$(quote_cmd "${APP[@]}")
			if [[ $mode == wp-* || $mode == wpt-* ]]; then
				# waypipe speaks unix sockets; over the link, or for wpt-C, a
				# second relay carries its stream across TCP
				local to=$rd/rx.sock
				if [ "$NET" = link ] || [[ $mode == wpt-* ]]; then
					local hop_port=$((rx_port + i)) hop_host=127.0.0.1
					[ "$NET" = link ] && hop_host=$ADDR_D
					start "${pd[@]}" "$RELAY" "tcp:$hop_host:$hop_port" "$rd/rx.sock" "$rd/hop.$i.log" 2>"$rd/hop.$i.err"
					relays+=("$PID")
					[[ $mode == wpt-* ]] && carrier[$PID]=rx
					if [ "$NET" = link ]; then
						wait_for 10 listening "$NS_D" "$hop_port" || { log "  hop relay not listening"; rc=1; }
					else
						wait_for 10 listening - "$hop_port" || { log "  hop relay not listening"; rc=1; }
					fi
					to=tcp:$hop_host:$hop_port
				fi
				start "${pa[@]}" "$RELAY" "$rd/tx.$i.sock" "$to" "$rd/relay.$i.log" 2>"$rd/relay.$i.err"
				relays+=("$PID")
				[[ $mode == wpt-* ]] && carrier[$PID]=tx
				wait_for 10 test -S "$rd/tx.$i.sock" || { log "  relay socket missing"; rc=1; }
				tx_cmd="waypipe -o -c ${mode#*-} -s $rd/tx.$i.sock --display $wdisp-tx$i server -- $app_q"
			else
				local codec="" relay_port
				case $mode in
				wb) ;;
				wb-allow-lossy) codec=--allow-lossy ;;
				wb-worker) codec="--encode-thread worker" ;;
				*) codec="--codec ${mode#wb-}" ;;
				esac
				relay_port=$(free_port)
				if [ "$NET" = link ]; then
					# the counting relay on the display's side: the link is the
					# transmitter's own socket, as without a relay (its kernel
					# queue is what the codec policy watches)
					start "${pd[@]}" "$RELAY" "tcp:$ADDR_D:$relay_port" "tcp:$connect_host:$rx_port" "$rd/relay.$i.log" 2>"$rd/relay.$i.err"
				else
					start "$RELAY" "tcp:127.0.0.1:$relay_port" "tcp:$connect_host:$rx_port" "$rd/relay.$i.log" 2>"$rd/relay.$i.err"
				fi
				relays+=("$PID")
				if [ "$NET" = link ]; then
					wait_for 10 listening "$NS_D" "$relay_port" || { log "  relay not listening"; rc=1; }
				else
					wait_for 10 listening - "$relay_port" || { log "  relay not listening"; rc=1; }
				fi
				tx_cmd="node $ROOT/dist/transmitter/main.js --log-level warn --display '' --socket wbb-tx$i $codec --to $connect_host:$relay_port -- $app_q"
			fi
			echo "$tx_cmd" >>"$rd/commands"
			start "${pa[@]}" bash -c "exec $tx_cmd" >"$rd/app.$i.out" 2>"$rd/tx.$i.err"
			tx_pids+=("$PID")
			waits+=("$PID")
			roles+=(tx="$PID" app="desc:$PID")
		done
		local r
		for r in "${relays[@]}"; do roles+=("${carrier[$r]:-relay}=$r"); done
	fi
	start node "$HERE/lib/sample.mjs" "$rd/cpu.log" "${roles[@]}"
	local sampler=$PID
	local limit=$((180 + FRAMES + WARMUP / 20))
	[ "$NET" = link ] && limit=$((180 + FRAMES * 2))
	if [ "$wl" = idle ]; then
		# settle, then measure a still terminal
		sleep 3
		sleep "$IDLE_S"
		stop_pid "$sampler" 2
		for i in "${waits[@]}"; do stop_tree "$i" 2; done
	else
		for i in "${waits[@]}"; do
			if ! wait_exit "$i" "$limit"; then
				rc=1
				log "  timed out after ${limit}s"
				stop_tree "$i"
			fi
		done
		stop_pid "$sampler" 2
	fi
	[ -n "$rx_pid" ] && { [ "$n" -gt 1 ] && stop_tree "$rx_pid" 3 || { wait_exit "$rx_pid" 10 || stop_tree "$rx_pid"; }; }
	for i in "${relays[@]}"; do wait_exit "$i" 3 || stop_pid "$i"; done
	sleep 0.2 # weston's log is line-buffered
	tail -c +$((tl_off + 1)) "${WLOG[$NET]}" >"$rd/weston.tl"
	local t_run1 titles_json="" t
	t_run1=$(date +%s%N)
	for t in "${titles[@]}"; do titles_json+="${titles_json:+, }\"$t\""; done
	cat >"$rd/meta.json" <<-EOF
	{"section": "$section", "workload": "$wl", "mode": "$mode", "rep": $rep, "net": "$NET",
	 "kind": "$KIND", "term_extra": $TERM_EXTRA, "instances": $n, "titles": [$titles_json], "idle_s": $IDLE_S,
	 "failed": $rc, "rt_minus_mono_ns": $offset, "rt_begin_ns": $t_run0, "rt_end_ns": $t_run1}
	EOF
	node "$HERE/lib/analyze.mjs" run "$rd" || log "  analysis failed for $rd"
	RUNS+=("$rd")
}

# ------------------------------------------------------------- main
RUNS=()
has_extra() { [[ " $EXTRAS " == *" $1 "* ]]; }
usable_modes() { # usable_modes LIST: the modes that can run here, reasons printed once
	local m why
	for m in $1; do
		why=$(mode_skip "$m")
		if [ -n "$why" ]; then
			grep -qx "$m" "$TMP/skipped" 2>/dev/null || { log "skipping mode $m: $why"; echo "$m" >>"$TMP/skipped"; echo "$m: $why" >>"$OUT/skipped.txt"; }
			continue
		fi
		echo "$m"
	done
}
MODES_OK=$(usable_modes "$MODES" | tr '\n' ' ')
LINK_OK=""
if has_extra link && [ "$(id -u)" != 0 ]; then
	log "skipping the link section: network namespaces need root"
	echo "link: network namespaces need root" >>"$OUT/skipped.txt"
	EXTRAS=${EXTRAS//link/}
fi
has_extra link && LINK_OK=$(usable_modes "$LINK_MODES" | tr '\n' ' ')
[ -n "$MODES_OK" ] || die "no mode can run"

{
	echo "date: $(date -Is)"
	echo "host: $(uname -srm), $(nproc) cpus, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
	echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "weston: $(weston --version 2>&1 | head -1); $(waypipe --version 2>&1 | head -1); node $(node --version)"
	echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (modified)')"
	echo "reps=$REPS frames=$FRAMES warmup=$WARMUP idle=${IDLE_S}s link=$LINK_RATE"
	echo "workloads: $WORKLOADS; modes: $MODES_OK; extras: ${EXTRAS:-none}; link modes: ${LINK_OK:-none}"
	echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/environment.txt" >&2

NET=lo
start_weston lo
transport_modes() { local m; for m in $MODES_OK; do [ "$m" != direct ] && echo "$m"; done; }

for ((rep = 1; rep <= REPS; rep++)); do
	for wl in $WORKLOADS; do
		for mode in $MODES_OK; do
			log "rep $rep/$REPS  $wl  $mode"
			run_one main "$wl" "$mode" "$rep"
		done
	done
	if has_extra quad; then
		for mode in $MODES_OK; do
			log "rep $rep/$REPS  $QUAD_WORKLOAD  $mode"
			run_one quad "$QUAD_WORKLOAD" "$mode" "$rep"
		done
	fi
	if has_extra two; then
		for mode in $MODES_OK; do
			log "rep $rep/$REPS  $TWO_WORKLOAD  $mode"
			run_one two "$TWO_WORKLOAD" "$mode" "$rep"
		done
	fi
	if has_extra idle; then
		for mode in $(transport_modes); do
			log "rep $rep/$REPS  idle  $mode (${IDLE_S}s)"
			run_one idle idle "$mode" "$rep"
		done
	fi
done

if has_extra link; then
	setup_link
	NET=link
	start_weston link
	for ((rep = 1; rep <= REPS; rep++)); do
		for mode in $LINK_OK; do
			log "rep $rep/$REPS  $LINK_WORKLOAD over $LINK_RATE  $mode"
			run_one link "$LINK_WORKLOAD" "$mode" "$rep"
		done
	done
fi

echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/environment.txt" >&2
node "$HERE/lib/analyze.mjs" table "$OUT" "${RUNS[@]}" | tee "$OUT/summary.txt"
log "results: $OUT"
