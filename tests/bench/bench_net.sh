#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Network benchmarks with real `kawan run` processes on 127.0.0.1, in a temporary directory
# that is removed on exit. Every loop is bounded; it stops by itself. It prints figures and
# never fails on speed (tests/bench/).
#
#   KAWAN=.../kawan BENCH_CTL=.../bench_ctl KW_CORPORA=../shared/corpora \
#       tests/bench/bench_net.sh [--quick] [--kv FILE] [--runs R] [--count N]
#
# What it measures (docs/performance.md says how and why):
#  1. catch-up: node A publishes N indicators with `kawan publish --file` (timed: the local
#     publish rate), then a fresh node B that has A in its roster starts and pulls them all;
#     two times run from B's start: until B's store holds every entry of A's feed, each
#     verified and committed (replicated), and until it has indexed all N indicators
#     (queryable); both polled every 5 ms by bench_ctl. Also: `kawan query --value` wall time on A's N-indicator store, and
#     B's peak RSS (VmHWM) and peak RssAnon (sampled every 0.1 s) while it catches up.
#     R runs (default 3); figures are medians.
#  2. the peer: Hypercore, installed with npm into the temp directory, appending as many
#     entries of the same size as A's feed entries (mean payload size), replicated between
#     two node processes over 127.0.0.1 TCP, in the same run as each catch-up.
#  3. propagation at 5, 10 and 20 nodes (ring plus random chords, degree 3-4): 100 publishes
#     of one indicator on node 0 (20 with --quick); each is timed from the start of
#     `kawan publish` to the moment the last node announces it on its control socket
#     (`tail`, followed by bench_ctl). p50/p99 over the publishes. Then the redundancy
#     factor: the sum over nodes of payload bytes received / unique payload bytes received
#     (the daemons' `stats`).
#  4. idle anti-entropy: two in-sync nodes whose rosters hold 100 origins with feeds, run
#     with --anti-entropy 1 for T seconds (30; 10 with --quick): TCP payload bytes of their
#     session (ss bytes_sent of both sockets, Noise framing included) and the bytes the two
#     processes wrote (/proc/PID/io wchar), each divided by the rounds.
set -euo pipefail

QUICK=0
KV=/dev/null
RUNS=
COUNT=
ONLY=
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --kv) KV=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: bench_net.sh [--quick] [--kv FILE] [--runs R] [--count N] [--only catchup|prop|idle]" >&2; exit 2 ;;
    esac
    shift
done
: "${KAWAN:?KAWAN must name the kawan binary}"
: "${BENCH_CTL:?BENCH_CTL must name the bench_ctl binary}"
: "${KW_CORPORA:?KW_CORPORA must name the shared corpora}"
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$QUICK" = 1 ]; then
    COUNT=${COUNT:-50000}; RUNS=${RUNS:-3}; PROP_N=20; AE_SECS=10
else
    COUNT=${COUNT:-1000000}; RUNS=${RUNS:-3}; PROP_N=100; AE_SECS=30
fi
SIZES="5 10 20"
AE_ORIGINS=100

W=$(mktemp -d "${TMPDIR:-/tmp}/kawan-bench-net.XXXXXX")
# Listening ports: a block of 100 of its own (tests/support/ports.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../support/ports.sh"
kw_ports_claim
PORT_BASE=$KW_PORT_BASE
declare -A PID=()
HC_PID=
unset KAWAN_DIR KAWAN_LOG

cleanup() {
    local rc=$?
    [ -n "$HC_PID" ] && kill -TERM "$HC_PID" 2>/dev/null || true
    for d in "${!PID[@]}"; do kill -TERM "${PID[$d]}" 2>/dev/null || true; done
    for d in "${!PID[@]}"; do
        for _ in $(seq 1 50); do kill -0 "${PID[$d]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${PID[$d]}" 2>/dev/null || true
        wait "${PID[$d]}" 2>/dev/null || true
    done
    [ -n "$HC_PID" ] && { kill -KILL "$HC_PID" 2>/dev/null || true; wait "$HC_PID" 2>/dev/null || true; }
    rm -rf "$W"
    kw_ports_release
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench_net: $*" >&2; }
kv() { echo "$1 $2" >>"$KV"; }
kw() { "$KAWAN" --dir "$@"; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
proc_field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/$3" 2>/dev/null || echo 0; }

# start DIR PORT AE_SECONDS: a daemon, logging warnings to DIR.log.
start() {
    # The binary itself in the background (not through a shell function), so $! is the
    # daemon's pid: the signals and /proc readings below are for the daemon.
    "$KAWAN" --dir "$1" run --listen "127.0.0.1:$2" --anti-entropy "$3" --log warn >/dev/null 2>>"$1.log" &
    PID[$1]=$!
}
stop() {
    local p=${PID[$1]:-}
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "PID[$1]"
}
# wait_daemon DIR: until its control socket answers (10 s at most).
wait_daemon() {
    for _ in $(seq 1 200); do
        "$BENCH_CTL" stats "$1" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    log "daemon in $1 did not come up"; tail -5 "$1.log" >&2 || true
    return 1
}
connected() { kw "$1" status --json 2>/dev/null | grep -o '"connected":true' | wc -l; }

want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

# ---- input: corpus files interleaved line by line, padded with 10/8 addresses ----
# url-paths.txt and urls-noscheme.txt are maltrail's match conventions, not values kawan (or
# STIX) accepts (see the corpus README), so they are left out; the rest is nearly all valid.
if want catchup; then
FILES=()
for f in "$KW_CORPORA"/iocs/malicious/*.txt "$KW_CORPORA"/iocs/benign/*.txt; do
    case "$f" in */url-paths.txt | */urls-noscheme.txt) ;; *) FILES+=("$f") ;; esac
done
# (head closes the pipe early: pipefail would count paste's SIGPIPE as a failure.)
set +o pipefail
paste -d '\n' "${FILES[@]}" | grep -v '^$' | head -n "$COUNT" >"$W/head.txt"
set -o pipefail
# How many of those kawan accepts, once, on a scratch node; the rest is made up to COUNT.
kw "$W/prep" init --name PREP >/dev/null
got=$(kw "$W/prep" publish --tlp green --skip-invalid --file "$W/head.txt" 2>/dev/null \
    | sed -nE 's/^published ([0-9]+) indicators.*/\1/p')
rm -rf "$W/prep"
got=${got:-0}
pad=$((COUNT - got))
cp "$W/head.txt" "$W/input.txt"
awk -v n="$pad" 'BEGIN { for (i = 0; i < n; i++)
    printf "10.%d.%d.%d\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' >>"$W/input.txt"
rm -f "$W/head.txt"
log "input: $COUNT indicators ($got from the corpus, $pad made up), $(wc -l <"$W/input.txt") lines"
# Values for CLI queries: every 997th corpus value that was published.
awk 'NR % 997 == 0 && ++n <= 21' "$W/input.txt" >"$W/qvals.txt"
fi

# ---- the peer: hypercore from npm ----
HC_STATUS=ok
if ! want catchup; then
    HC_STATUS="not run"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    HC_STATUS="not measured (node or npm missing)"
else
    mkdir -p "$W/hc"
    if ! (cd "$W/hc" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund \
        hypercore >"$W/hc/npm.log" 2>&1); then
        HC_STATUS="not measured (npm install hypercore failed: $(tail -n 1 "$W/hc/npm.log" | cut -c1-80))"
    else
        HC_VERSION=$(node -p "require('$W/hc/node_modules/hypercore/package.json').version")
        kv hc.version "$HC_VERSION"
    fi
fi
log "hypercore: $HC_STATUS ${HC_VERSION:-}"

# hypercore_run ENTRIES BYTES: prints entries/s of replication, or nothing on failure.
hypercore_run() {
    local entries=$1 bytes=$2 out key port rs
    rm -rf "$W/hcw" "$W/hcr"
    HC_DIR="$W/hc" node "$HERE/bench_hypercore.js" writer "$W/hcw" "$entries" "$bytes" \
        "$W/input.txt" >"$W/hcw.out" 2>"$W/hcw.err" &
    HC_PID=$!
    for _ in $(seq 1 1200); do
        [ -s "$W/hcw.out" ] && break
        kill -0 "$HC_PID" 2>/dev/null || break
        sleep 0.05
    done
    key=$(jq -r .key "$W/hcw.out" 2>/dev/null || true)
    port=$(jq -r .port "$W/hcw.out" 2>/dev/null || true)
    if [ -n "$key" ] && [ "$key" != null ]; then
        out=$(HC_DIR="$W/hc" timeout 300 node "$HERE/bench_hypercore.js" reader "$W/hcr" "$key" \
            "$port" "$entries" 2>>"$W/hcw.err" || true)
        rs=$(printf '%s' "$out" | jq -r .replicate_s 2>/dev/null || true)
        if [ -n "$rs" ] && [ "$rs" != null ]; then
            awk -v e="$entries" -v s="$rs" 'BEGIN { printf "%.2f\n", e / s }'
        fi
    fi
    kill -TERM "$HC_PID" 2>/dev/null || true
    wait "$HC_PID" 2>/dev/null || true
    HC_PID=
    rm -rf "$W/hcw" "$W/hcr"
}

# ---- 1+2: catch-up and the peer ----
if want catchup; then
: >"$W/cu.txt"
: >"$W/q_all.txt"
for r in $(seq 1 "$RUNS"); do
    A=$W/cu/a B=$W/cu/b
    pa=$((PORT_BASE + 1)) pb=$((PORT_BASE + 2))
    kw "$A" init --name CU-A >/dev/null
    kw "$B" init --name CU-B >/dev/null
    kw "$A" community create >"$W/cu.key"
    kw "$B" community set "$(cat "$W/cu.key")" >/dev/null
    kw "$A" peer add CU-B "$(kw "$B" id)" "127.0.0.1:$pb" >/dev/null
    kw "$B" peer add CU-A "$(kw "$A" id)" "127.0.0.1:$pa" >/dev/null

    t0=$(now_ns)
    kw "$A" publish --tlp green --skip-invalid --file "$W/input.txt" >/dev/null 2>&1
    t1=$(now_ns)
    n=$(kw "$A" status --json | jq -r .indicators)
    entries=$(kw "$A" status --json | jq -r .entries)
    pub=$(awk -v n="$n" -v s="$(secs "$t0" "$t1")" 'BEGIN { printf "%.0f", n / s }')

    # kawan query --value through the CLI on the N-indicator store, wall time.
    : >"$W/q.txt"
    while read -r v; do
        q0=$(now_ns)
        kw "$A" query --value "$v" >/dev/null 2>&1 || true
        q1=$(now_ns)
        awk -v a="$q0" -v b="$q1" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 }' >>"$W/q.txt"
    done <"$W/qvals.txt"
    qms=$(median <"$W/q.txt")
    cat "$W/q.txt" >>"$W/q_all.txt" # every query of every run, for the percentiles

    start "$A" "$pa" 30
    wait_daemon "$A"
    start "$B" "$pb" 30
    bpid=${PID[$B]}
    # Peak RssAnon of B, sampled while it catches up.
    (peak=0; while kill -0 "$bpid" 2>/dev/null; do
        v=$(proc_field "$bpid" RssAnon status); [ "${v:-0}" -gt "$peak" ] && peak=$v
        echo "$peak" >"$W/anon.txt"; sleep 0.1; done) &
    sampler=$!
    # Two moments: B holds every entry (each verified and committed: replicated), and B has
    # indexed every indicator (queryable). B indexes a catch-up behind storing it.
    "$BENCH_CTL" wait "$B" "$n" 900 "$entries" >"$W/wait.txt" || true
    cr=$(awk '$1 == "entries" { print $2 }' "$W/wait.txt")
    cu=$(awk '$1 == "seconds" { print $2 }' "$W/wait.txt")
    cr=${cr:-timeout} cu=${cu:-timeout}
    hwm=$(proc_field "$bpid" VmHWM status)
    a_hwm=$(proc_field "${PID[$A]}" VmHWM status)
    sleep 0.3
    anon=$(cat "$W/anon.txt" 2>/dev/null || echo 0)
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    pbytes=$("$BENCH_CTL" stats "$B" | awk '$1 == "payload_bytes_new" { print $2 }')
    stop "$B"
    stop "$A"
    if [ "$cu" = timeout ] || [ "$cr" = timeout ]; then
        log "run $r: catch-up did not finish in 900 s"
        curate=nan crrate=nan
    else
        curate=$(awk -v n="$n" -v s="$cu" 'BEGIN { printf "%.0f", n / s }')
        crrate=$(awk -v n="$n" -v s="$cr" 'BEGIN { printf "%.0f", n / s }')
    fi
    ebytes=$((pbytes / (entries > 0 ? entries : 1)))

    hc=
    if [ "$HC_STATUS" = ok ]; then
        hc=$(hypercore_run "$entries" "$ebytes")
        [ -n "$hc" ] || log "run $r: hypercore replication failed: $(tail -n 2 "$W/hcw.err" | tr '\n' ' ')"
    fi
    hc_ind=${hc:+$(awk -v e="$hc" -v n="$n" -v k="$entries" 'BEGIN { printf "%.0f", e * n / k }')}
    echo "$pub $curate $qms $hwm $anon $a_hwm ${hc_ind:-nan} $entries $ebytes $n $crrate" >>"$W/cu.txt"
    log "catch-up run $r/$RUNS: $n indicators in $entries entries of ~$ebytes payload bytes;" \
        "publish $pub/s, catch-up replicated $crrate/s (${cr}s), queryable $curate/s (${cu}s)," \
        "hypercore ${hc_ind:-n/a} ind/s," \
        "CLI query ${qms} ms, B VmHWM ${hwm} kB, RssAnon ${anon} kB"
    rm -rf "$W/cu"
done
col() { awk -v c="$1" '{ print $c }' "$W/cu.txt" | grep -v nan | median; }
kv net.catchup.runs "$RUNS"
kv net.catchup.count "$(col 10)"
kv net.catchup.entries "$(col 8)"
kv net.catchup.entry_bytes "$(col 9)"
kv net.publish_cli "$(col 1)"
kv net.catchup "$(col 2)"
kv net.catchup.replicated "$(col 11)"
kv net.cli_query_ms "$(col 3)"
# p50 and p99 (nearest rank) over every CLI query of every run
kv net.cli_query_p50_ms "$(sort -g "$W/q_all.txt" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR - 1) * 0.50) + 1]; else print "nan" }')"
kv net.cli_query_p99_ms "$(sort -g "$W/q_all.txt" | awk '{ v[NR] = $1 } END { if (NR) { i = int(NR * 0.99 + 0.999999); if (i > NR) i = NR; print v[i] } else print "nan" }')"
kv net.cli_query_n "$(wc -l <"$W/q_all.txt")"
kv net.daemon_hwm_kb "$(col 4)"
kv net.daemon_anon_kb "$(col 5)"
kv net.serving_hwm_kb "$(col 6)"
if [ "$HC_STATUS" = ok ] && [ "$(col 7)" != nan ]; then
    kv hc.catchup "$(col 7)"
    kv hc.runs "$(awk '$7 != "nan"' "$W/cu.txt" | wc -l)"
else
    [ "$HC_STATUS" = ok ] && HC_STATUS="not measured (replication failed)"
fi
kv hc.status "$HC_STATUS"
fi

# ---- 3: propagation and redundancy ----
# topology N: ring plus random chords until every node has degree 3 (at most 4); prints
# "i j" edges. Seeded, so a size always gets the same graph.
topology() {
    local n=$1 i j tries
    local -A adj=()
    local -a deg=()
    RANDOM=$((n * 7919))
    for ((i = 0; i < n; i++)); do deg[i]=0; done
    edge() { adj[$1,$2]=1; adj[$2,$1]=1; deg[$1]=$((deg[$1] + 1)); deg[$2]=$((deg[$2] + 1)); echo "$1 $2"; }
    for ((i = 0; i < n; i++)); do edge "$i" $(((i + 1) % n)); done
    for ((i = 0; i < n; i++)); do
        tries=0
        while [ "${deg[i]}" -lt 3 ] && [ "$tries" -lt 200 ]; do
            j=$((RANDOM % n)); tries=$((tries + 1))
            if [ "$j" != "$i" ] && [ -z "${adj[$i,$j]:-}" ] && [ "${deg[j]}" -lt 4 ]; then
                edge "$i" "$j"
            fi
        done
    done
}

# prop_network N BASE: N nodes in $P on ports BASE+10..., initialised, linked and started;
# waits until every link is up (60 s at most). Fails when a daemon does not come up.
prop_network() {
    local n=$1 base=$2 i j ok
    mkdir -p "$P"
    for ((i = 0; i < n; i++)); do kw "$P/n$i" init --name "P$i" >/dev/null; done
    kw "$P/n0" community create >"$P/key"
    for ((i = 1; i < n; i++)); do kw "$P/n$i" community set "$(cat "$P/key")" >/dev/null; done
    IDS=()
    for ((i = 0; i < n; i++)); do IDS[i]=$(kw "$P/n$i" id); done
    topology "$n" >"$P/edges"
    DEG=()
    for ((i = 0; i < n; i++)); do DEG[i]=0; done
    local -A link=()
    while read -r i j; do
        kw "$P/n$i" peer add "P$j" "${IDS[j]}" "127.0.0.1:$((base + 10 + j))" >/dev/null
        kw "$P/n$j" peer add "P$i" "${IDS[i]}" "127.0.0.1:$((base + 10 + i))" >/dev/null
        DEG[i]=$((DEG[i] + 1)); DEG[j]=$((DEG[j] + 1))
        link[$i,$j]=1; link[$j,$i]=1
    done <"$P/edges"
    # Every node replicates every member's feed, so every roster holds every node; the ones
    # that are not neighbours have no address (never dialled): the links are the edges.
    for ((i = 0; i < n; i++)); do
        for ((j = 0; j < n; j++)); do
            if [ "$i" != "$j" ] && [ -z "${link[$i,$j]:-}" ]; then
                kw "$P/n$i" peer add "P$j" "${IDS[j]}" >/dev/null
            fi
        done
    done
    for ((i = 0; i < n; i++)); do start "$P/n$i" $((base + 10 + i)) 30; done
    for ((i = 0; i < n; i++)); do wait_daemon "$P/n$i" || return 1; done
    for _ in $(seq 1 600); do
        ok=1
        for ((i = 0; i < n; i++)); do
            [ "$(connected "$P/n$i")" -ge "${DEG[i]}" ] || { ok=0; break; }
        done
        [ "$ok" = 1 ] && return 0
        sleep 0.1
    done
    log "$n nodes: not every link came up in 60 s; measuring anyway"
    return 0
}

want prop || SIZES=
for n in $SIZES; do
    P=$W/p$n
    # A daemon that cannot start (its port still held) fails the attempt: the next attempt
    # takes other ports of this script's block (base+10.. base+29, +40.., +70..).
    for attempt in 1 2 3; do
        NB=$((PORT_BASE + 30 * (attempt - 1)))
        if prop_network "$n" "$NB"; then
            break
        fi
        log "$n nodes: attempt $attempt failed; trying again with other ports"
        for ((i = 0; i < n; i++)); do stop "$P/n$i"; done
        rm -rf "$P"
    done
    watch=()
    for ((i = 1; i < n; i++)); do watch+=("$P/n$i"); done
    "$BENCH_CTL" prop "$KAWAN" "$P/n0" "$PROP_N" 10 "${watch[@]}" >"$P/prop.out" || true
    dirs=()
    for ((i = 0; i < n; i++)); do dirs+=("$P/n$i"); done
    "$BENCH_CTL" stats "${dirs[@]}" >"$P/stats.out" || true
    for ((i = 0; i < n; i++)); do stop "$P/n$i"; done
    rx=$(awk '$1 == "payload_bytes_received" { print $2 }' "$P/stats.out")
    new=$(awk '$1 == "payload_bytes_new" { print $2 }' "$P/stats.out")
    p50=$(awk '$1 == "p50_ms" { print $2 }' "$P/prop.out")
    p99=$(awk '$1 == "p99_ms" { print $2 }' "$P/prop.out")
    kv "net.prop.$n.p50_ms" "${p50:-nan}"
    kv "net.prop.$n.p99_ms" "${p99:-nan}"
    kv "net.prop.$n.max_ms" "$(awk '$1 == "max_ms" { print $2 }' "$P/prop.out")"
    kv "net.prop.$n.missed" "$(awk '$1 == "missed" { print $2 }' "$P/prop.out")"
    kv "net.prop.$n.publishes" "$PROP_N"
    kv "net.prop.$n.edges" "$(wc -l <"$P/edges")"
    kv "net.prop.$n.degree" "$(printf '%s\n' "${DEG[@]}" | sort -n | sed -n '1p;$p' | paste -sd-)"
    kv "net.redundancy.$n" "$(div "${rx:-0}" "${new:-0}")"
    log "$n nodes ($(wc -l <"$P/edges") links): propagation p50 ${p50:-?} ms p99 ${p99:-?} ms," \
        "redundancy $(div "${rx:-0}" "${new:-0}") ($rx / $new bytes)"
    rm -rf "$P"
done

# ---- 4: idle anti-entropy between two in-sync nodes with 100 origins ----
want idle || exit 0
I=$W/idle
mkdir -p "$I"
pa=$((PORT_BASE + 3)) pb=$((PORT_BASE + 4))
kw "$I/a" init --name IDLE-A >/dev/null
kw "$I/b" init --name IDLE-B >/dev/null
kw "$I/a" community create >"$I/key"
kw "$I/b" community set "$(cat "$I/key")" >/dev/null
kw "$I/a" peer add IDLE-B "$(kw "$I/b" id)" "127.0.0.1:$pb" >/dev/null
kw "$I/b" peer add IDLE-A "$(kw "$I/a" id)" "127.0.0.1:$pa" >/dev/null
kw "$I/a" publish --tlp green 10.255.0.1 >/dev/null
kw "$I/b" publish --tlp green 10.255.0.2 >/dev/null
# The other 98 origins: each publishes one indicator; A imports their feeds from .kwx files
# and B gets them from A, so both hold 100 feeds.
for ((k = 1; k <= AE_ORIGINS - 2; k++)); do
    o=$I/o$k
    kw "$o" init --name "O$k" >/dev/null
    kw "$o" publish --tlp green "10.254.$((k / 256)).$((k % 256))" >/dev/null
    kw "$o" export --out "$o.kwx" >/dev/null
    oid=$(kw "$o" id)
    kw "$I/a" peer add "O$k" "$oid" >/dev/null
    kw "$I/b" peer add "O$k" "$oid" >/dev/null
    kw "$I/a" import "$o.kwx" >/dev/null
    rm -rf "$o" "$o.kwx"
done
start "$I/a" "$pa" 1
start "$I/b" "$pb" 1
"$BENCH_CTL" wait "$I/b" "$AE_ORIGINS" 60 >/dev/null || log "idle: B did not catch up in 60 s"
"$BENCH_CTL" wait "$I/a" "$AE_ORIGINS" 60 >/dev/null || log "idle: A did not catch up in 60 s"
sleep 3
sock_bytes() {
    ss -tinH state established "( sport = :$pa or dport = :$pa or sport = :$pb or dport = :$pb )" \
        | grep -o 'bytes_sent:[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }'
}
wchar() { awk '$1 == "wchar:" { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }
apid=${PID[$I/a]} bpid=${PID[$I/b]}
s0=$(sock_bytes); w0=$(($(wchar "$apid") + $(wchar "$bpid"))); t0=$(now_ns)
sleep "$AE_SECS"
s1=$(sock_bytes); w1=$(($(wchar "$apid") + $(wchar "$bpid"))); t1=$(now_ns)
el=$(secs "$t0" "$t1")
stop "$I/a"
stop "$I/b"
rm -rf "$I"
kv net.idle.seconds "$el"
kv net.idle.origins "$AE_ORIGINS"
kv net.idle.sock_bytes_per_round "$(awk -v b="$((s1 - s0))" -v t="$el" 'BEGIN { printf "%.1f", b / t }')"
kv net.idle.wchar_per_round "$(awk -v b="$((w1 - w0))" -v t="$el" 'BEGIN { printf "%.1f", b / t }')"
log "idle: $((s1 - s0)) socket bytes, $((w1 - w0)) bytes written in ${el} s ($AE_ORIGINS origins)"
