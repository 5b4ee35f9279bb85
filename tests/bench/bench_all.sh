#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: runs every kawan benchmark on this machine and prints ONE table: each row a
# figure with its unit, the limit or the peer system measured in the same run, the ratio,
# the target from the issues, and how many runs the figure is the median of. Benchmarks
# print figures; nothing here fails on speed.
#
#   tests/bench/bench_all.sh BUILD_DIR [--quick] [--out DIR] [--replot]
#
# BUILD_DIR holds a RelWithDebInfo build (cli/kawan, tests/bench/bench_*). --quick uses
# smaller sizes (under 3 minutes on a 2-core machine; the full run is under 15). The table
# (Markdown), the raw figures (results.kv), the machine description and the scaling plot
# (performance-scaling.png, with gnuplot, installed from Debian when missing) are left in
# DIR (default BUILD_DIR/bench-results). --replot runs nothing: it makes the table and the
# plot again from DIR/results.kv. docs/performance.md explains every figure.
set -euo pipefail

BUILD=${1:?usage: bench_all.sh BUILD_DIR [--quick] [--out DIR]}
shift
QUICK=0
OUT=
REPLOT=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    --replot) REPLOT=1 ;;
    *) echo "usage: bench_all.sh BUILD_DIR [--quick] [--out DIR] [--replot]" >&2; exit 2 ;;
    esac
    shift
done
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-$BUILD/bench-results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
KV=$OUT/results.kv
[ "$REPLOT" = 1 ] && [ -s "$KV" ] || { REPLOT=0; : >"$KV"; }
export KAWAN=$BUILD/cli/kawan
export BENCH_CTL=$BUILD/tests/bench/bench_ctl
export KW_CORPORA=${KW_CORPORA:-$SRC/../shared/corpora}
B=$BUILD/tests/bench
T0=$(date +%s)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kawan-bench-all.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

step() { echo "== $* ($(($(date +%s) - T0)) s)" >&2; }
kv() { echo "$1 $2" >>"$KV"; }
get() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); v = $0 } END { print (v == "" ? "nan" : v) }' "$KV"; }

[ "$REPLOT" = 1 ] && QUICK=$([ "$(get mode)" = quick ] && echo 1 || echo 0)
if [ "$QUICK" = 1 ]; then
    SIZES="10000:3 100000:3 1000000:1"; SEALED=20000; TR="--mb 100 --runs 3"
else
    SIZES="10000:5 100000:5 1000000:3"; SEALED=100000; TR="--mb 400 --runs 5"
fi

if [ "$REPLOT" = 0 ]; then
for f in "$KAWAN" "$BENCH_CTL" "$B/bench_store" "$B/bench_transport" "$B/bench_noise"; do
    [ -x "$f" ] || { echo "bench_all: $f is missing: build first" >&2; exit 1; }
done
[ -d "$KW_CORPORA/iocs" ] || { echo "bench_all: no IOC corpus in $KW_CORPORA/iocs" >&2; exit 1; }

# gnuplot draws the scaling plot and ss (iproute2) counts the bytes on the wire; like the
# Makefile's other targets, install what is missing.
missing=
command -v gnuplot >/dev/null || missing="$missing gnuplot-nox"
command -v ss >/dev/null || missing="$missing iproute2"
if [ -n "$missing" ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    step "installing$missing"
    # shellcheck disable=SC2086
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        $missing; } >"$TMP/apt.log" 2>&1 || echo "bench_all: cannot install$missing" >&2
fi

# ---- the machine ----
{
    echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "mode $([ "$QUICK" = 1 ] && echo quick || echo full)"
    echo "nproc $(nproc)"
    echo "cpu $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
    echo "mem_gib $(awk '/MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel $(uname -r)"
    echo "virt $(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -1)"
    echo "tmpfs $(df -T "${TMPDIR:-/tmp}" 2>/dev/null | awk 'NR == 2 { print $2 }')"
    echo "load_before $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD -- 2>/dev/null || echo +changes)"
} >>"$KV"

# ---- local: publish, queries, LMDB and Ed25519 limits, at each size ----
for sz in $SIZES; do
    n=${sz%%:*} runs=${sz##*:}
    step "bench_store $n indicators, $runs runs"
    extra=()
    [ "$n" = 100000 ] && extra=(--sealed "$SEALED")
    "$B/bench_store" --count "$n" --runs "$runs" "${extra[@]}" --kv "$KV" >"$OUT/bench_store.$n.txt"
done

step "bench_transport"
# shellcheck disable=SC2086
"$B/bench_transport" $TR --kv "$KV" >"$OUT/bench_transport.txt"

step "bench_noise"
"$B/bench_noise" >"$OUT/bench_noise.txt"
kv noise.handshakes "$(awk '/IKpsk2 handshake/ { print $(NF - 1) }' "$OUT/bench_noise.txt")"
kv noise.runs "$(sed -nE 's/.*median of ([0-9]+) runs.*/\1/p' "$OUT/bench_noise.txt")"

step "bench_net.sh"
if [ "$QUICK" = 1 ]; then
    bash "$HERE/bench_net.sh" --quick --kv "$KV" 2>"$OUT/bench_net.log" || echo "bench_net: failed (see $OUT/bench_net.log)" >&2
else
    bash "$HERE/bench_net.sh" --kv "$KV" 2>"$OUT/bench_net.log" || echo "bench_net: failed (see $OUT/bench_net.log)" >&2
fi

# The .kwx import rate comes from tests/bench/bench_kwx.sh (air gap), when it is there.
if [ -f "$HERE/bench_kwx.sh" ]; then
    step "bench_kwx.sh"
    if [ "$QUICK" = 1 ]; then
        # A small copy of the corpus (4,000 lines a file) in the temp directory.
        mkdir -p "$TMP/corpora/iocs/malicious" "$TMP/corpora/iocs/benign"
        for f in "$KW_CORPORA"/iocs/*/*.txt; do
            sub=$(basename "$(dirname "$f")")
            head -n 4000 "$f" >"$TMP/corpora/iocs/$sub/$(basename "$f")"
        done
        KW_CORPORA=$TMP/corpora bash "$HERE/bench_kwx.sh" 40000 >"$OUT/bench_kwx.txt" 2>&1 || true
    else
        bash "$HERE/bench_kwx.sh" 1000000 >"$OUT/bench_kwx.txt" 2>&1 || true
    fi
    x=$OUT/bench_kwx.txt
    kv kwx.count "$(sed -nE 's/.*benchmark: ([0-9]+) indicators.*/\1/p' "$x")"
    kv kwx.publish "$(awk '/^publish \(kawan publish/ { print $NF }' "$x")"
    kv kwx.import "$(awk '/^import .kwx \(new node\)/ { print $NF }' "$x")"
    kv kwx.export "$(awk '/^export .kwx/ { print $NF }' "$x")"
    kv kwx.stix_import "$(awk '/^import STIX/ { print $NF }' "$x")"
    kv kwx.file_bytes "$(sed -nE 's/^.kwx file: ([0-9]+) bytes.*/\1/p' "$x")"
    kv kwx.payload_bytes "$(sed -nE 's/.*msgpack payloads: ([0-9]+) bytes.*/\1/p' "$x")"
fi
echo "load_after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$KV"
echo "seconds $(($(date +%s) - T0))" >>"$KV"
fi

# ---- the table ----
# fmt N: a number with thousands separators (no decimals), or as it is when not a number.
fmt() { awk -v v="$1" 'BEGIN { if (v !~ /^-?[0-9.]+$/) { print v; exit }
    s = sprintf("%.0f", v); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }
dec() { awk -v v="$1" -v d="${2:-1}" 'BEGIN { if (v !~ /^-?[0-9.]+$/) print v; else printf "%.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'; }
# met EXPR: "yes"/"no" from an awk condition over the variables given as NAME=VALUE.
met() {
    local cond=$1 a=() v
    shift
    for v in "$@"; do
        num "${v#*=}" || { echo "-"; return; }
        a+=(-v "$v")
    done
    awk "${a[@]}" "BEGIN { print (($cond) ? \"yes\" : \"no\") }" 2>/dev/null || echo "-"
}
num() { [[ "$1" =~ ^-?[0-9.]+$ ]]; }

TABLE=$OUT/table.md
{
    M=$(get mode)
    virt=$(get virt)
    [ "$virt" = nan ] || [ -z "$virt" ] && virt= || virt=", $virt guest"
    echo "kawan benchmark, $M run of $(get date), commit $(get commit): $(get nproc) cores ($(get cpu)$virt), $(get mem_gib) GiB, Linux $(get kernel), temp files on $(get tmpfs); load average $(get load_before) before, $(get load_after) after; $(get seconds) s."
    echo
    echo "| figure | kawan | limit or peer (same run) | ratio | target (issue) | met | runs |"
    echo "|---|---:|---|---:|---|:-:|---:|"
    row() { echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"; }

    N=1000000
    p=$(get store.$N.publish) seq=$(get store.$N.raw_seq) rnd=$(get store.$N.raw_rand) r=$(get store.$N.runs)
    same=$(get store.$N.raw_same) rb=$(get store.$N.rec_bytes) ob=$(get store.$N.obj_bytes)
    n_ind=$(get store.$N.indicators)
    row "publish, in-process, end to end ($(fmt "$n_ind") indicators)" "$(fmt "$p") ind/s" \
        "LMDB put, sequential keys, batches of 10,000, one record per indicator holding kawan's $(dec "$rb" 0) B per indicator: $(fmt "$same")/s" \
        "$(ratio "$p" "$same")" "ratio >= 0.5 (#8)" "$(met 'p / s >= 0.5' p="$p" s="$same")" "$r"
    row "publish, in-process, end to end ($(fmt "$n_ind") indicators)" "$(fmt "$p") ind/s" \
        "LMDB put, sequential keys, batches of 10,000, records of the \`objects\` value size ($(dec "$ob" 0) B): $(fmt "$seq")/s" \
        "$(ratio "$p" "$seq")" "-" "-" "$r"
    row "publish, in-process, end to end ($(fmt "$n_ind") indicators)" "$(fmt "$p") ind/s" \
        "LMDB put, random keys, batches of 10,000, \`objects\`-size records: $(fmt "$rnd")/s" "$(ratio "$p" "$rnd")" \
        "ratio >= 1.0; >= 250,000/s (#2)" \
        "$(met 'p / s >= 1.0' p="$p" s="$rnd"); $(met 'p >= 250000' p="$p")" "$r"
    q50=$(get store.$N.query_p50) g50=$(get store.$N.get_p50)
    q99=$(get store.$N.query_p99) g99=$(get store.$N.get_p99)
    row "point query, in-process, hot, p50" "$(dec "$q50") us" "LMDB get p50 (read txn + get), hot: $(dec "$g50") us" \
        "$(ratio "$q50" "$g50")" "-" "-" "$r"
    row "point query, in-process, hot, p99" "$(dec "$q99") us" "LMDB get p99 (read txn + get), hot: $(dec "$g99") us" \
        "$(ratio "$q99" "$g99")" "ratio <= 20 (#8); <= 20 us (#2)" \
        "$(met 'q / g <= 20' q="$q99" g="$g99"); $(met 'q <= 20' q="$q99")" "$r"
    qc=$(get store.$N.query_cold_p99) gc=$(get store.$N.get_cold_p99)
    row "point query, in-process, cold (first pass after publish), p99" "$(dec "$qc") us" \
        "LMDB get p99, cold: $(dec "$gc") us" "$(ratio "$qc" "$gc")" "-" "-" "$r"
    cq50=$(get net.cli_query_p50_ms) cq99=$(get net.cli_query_p99_ms) cqn=$(get net.cli_query_n)
    row "\`kawan query --value\` through the CLI, $(fmt "$(get net.catchup.count)")-indicator store, wall, p50" \
        "$(dec "$cq50" 1) ms" "-" "-" "< 20 ms (#2)" "$(met 'q < 20' q="$cq50")" \
        "1 ($cqn queries: 21 x $(get net.catchup.runs))"
    row "\`kawan query --value\` through the CLI (the same), p99" "$(dec "$cq99" 1) ms" "-" "-" \
        "< 20 ms (#2)" "$(met 'q < 20' q="$cq99")" "1 ($cqn queries: 21 x $(get net.catchup.runs))"
    bpi=$(get store.$N.bytes_per_ind)
    row "store bytes per indicator (data file blocks)" "$(dec "$bpi" 0) B" \
        "keys and values of kawan's records: $(dec "$rb" 0) B" "$(ratio "$bpi" "$rb")" "-" "-" "$r"
    an=$(get store.$N.peak_anon_mib)
    row "peak RssAnon while publishing $(fmt "$n_ind")" "$(dec "$an") MiB" "-" "-" "< 64 MiB (#2)" \
        "$(met 'a < 64' a="$an")" "$r"
    row "Ed25519 sign (limit: one per 1,000-indicator entry)" "-" "$(fmt "$(get store.$N.sign)")/s" "-" "-" "-" "$r"
    row "Ed25519 verify (limit: one per entry received)" "-" "$(fmt "$(get store.$N.verify)")/s" "-" "-" "-" "$r"
    cp_=$(get net.publish_cli)
    row "\`kawan publish --file\` (CLI), $(fmt "$(get net.catchup.count)") indicators" "$(fmt "$cp_") ind/s" \
        "in-process publish: $(fmt "$p")/s" "$(ratio "$cp_" "$p")" "-" "-" "$(get net.catchup.runs)"
    if [ "$(get kwx.import)" != nan ]; then
        ki=$(get kwx.import) kp=$(get kwx.publish)
        row "\`kawan import\` .kwx, $(fmt "$(get kwx.count)") indicators" "$(fmt "$ki") ind/s" \
            "\`kawan publish --file\` in the same run: $(fmt "$kp")/s" "$(ratio "$ki" "$kp")" \
            ">= 0.7 (#6)" "$(met 'i / p >= 0.7' i="$ki" p="$kp")" "1"
        kf=$(get kwx.file_bytes) kb=$(get kwx.payload_bytes)
        row ".kwx file size" "$(fmt "$kf") B" "msgpack payloads: $(fmt "$kb") B" "$(ratio "$kf" "$kb")" \
            "<= 1.2 (#6)" "$(met 'f / b <= 1.2' f="$kf" b="$kb")" "1"
    fi
    sa=$(get seal.amber10) sc=$(get seal.clear) sr=$(get seal.ratio)
    row "publish AMBER sealed for 10 recipients, $(fmt "$(get seal.count)") indicators" "$(fmt "$sa") ind/s" \
        "publish CLEAR, same values: $(fmt "$sc")/s" "$(dec "$sr" 2) (time)" "time <= 1.5x CLEAR (#5)" \
        "$(met 'r <= 1.5' r="$sr")" "$(get seal.runs)"

    cu=$(get net.catchup) cr=$(get net.catchup.replicated) hc=$(get hc.catchup) hs=$(get hc.status)
    cn=$(fmt "$(get net.catchup.count)")
    if [ "$hs" = ok ]; then
        hcell="Hypercore $(get hc.version), same entries and bytes: $(fmt "$hc") ind/s"
        row "catch-up: fresh node pulls $cn indicators from one peer, replicated (every entry verified and committed)" \
            "$(fmt "$cr") ind/s" "$hcell" "$(ratio "$cr" "$hc")" "ratio >= 3 (#8)" \
            "$(met 'c / h >= 3' c="$cr" h="$hc")" "$(get net.catchup.runs)"
        row "catch-up (the same), queryable (every indicator indexed)" "$(fmt "$cu") ind/s" "$hcell" \
            "$(ratio "$cu" "$hc")" ">= 200,000/s (#4)" "$(met 'c >= 200000' c="$cu")" "$(get net.catchup.runs)"
    else
        row "catch-up: fresh node pulls $cn indicators from one peer, replicated (every entry verified and committed)" \
            "$(fmt "$cr") ind/s" "Hypercore: $hs" "-" "ratio >= 3 (#8)" "-" "$(get net.catchup.runs)"
        row "catch-up (the same), queryable (every indicator indexed)" "$(fmt "$cu") ind/s" "-" "-" \
            ">= 200,000/s (#4)" "$(met 'c >= 200000' c="$cu")" "$(get net.catchup.runs)"
    fi
    row "catch-up (the same), queryable" "$(fmt "$cu") ind/s" "local \`kawan publish --file\` of the data: $(fmt "$cp_")/s" \
        "$(ratio "$cu" "$cp_")" "-" "-" "$(get net.catchup.runs)"
    n=20 # the largest network; the scaling rows below have every size
    p50=$(get net.prop.$n.p50_ms) p99=$(get net.prop.$n.p99_ms) pn=$(get net.prop.$n.publishes)
    row "propagation, $n nodes (degree $(get net.prop.$n.degree)), p50" "$(dec "$p50") ms" "-" "-" "-" "-" \
        "1 ($pn publishes)"
    row "propagation, $n nodes, p99" "$(dec "$p99") ms" "-" "-" "< 250 ms (#4)" "$(met 'p < 250' p="$p99")" \
        "1 ($pn publishes)"
    rf=$(get net.redundancy.$n)
    row "redundancy, $n nodes (payload bytes received / unique)" "$rf" \
        "flooding: about the degree, $(get net.prop.$n.degree)" "-" "<= 1.3 (#4)" "$(met 'r <= 1.3' r="$rf")" \
        "1 ($pn publishes)"
    ib=$(get net.idle.sock_bytes_per_round)
    row "idle anti-entropy round, 2 in-sync nodes, $(get net.idle.origins) origins" "$(dec "$ib" 0) B" \
        "bytes written by both daemons: $(dec "$(get net.idle.wchar_per_round)" 0) B/round" "-" "< 4 KiB (#4)" \
        "$(met 'b < 4096' b="$ib")" "1 ($(dec "$(get net.idle.seconds)" 0) rounds)"
    hw=$(get net.daemon_hwm_kb) da=$(get net.daemon_anon_kb)
    row "daemon memory after catching up $(fmt "$(get net.catchup.count)") indicators: peak RSS (VmHWM)" \
        "$(dec "$(awk -v k="$hw" 'BEGIN { print k / 1024 }')") MiB" \
        "of which anonymous (peak RssAnon): $(dec "$(awk -v k="$da" 'BEGIN { print k / 1024 }')") MiB" "-" "-" "-" \
        "$(get net.catchup.runs)"
    ts=$(get transport.session) tc=$(get transport.chacha) tt=$(get transport.tcp)
    row "transport: kawan session on loopback, 1 MiB messages" "$(fmt "$ts") MB/s" \
        "ChaCha20-Poly1305, one core: $(fmt "$tc") MB/s" "$(ratio "$ts" "$tc")" ">= 0.6 (#3)" \
        "$(met 's / c >= 0.6' s="$ts" c="$tc")" "$(get transport.runs)"
    row "transport (the same)" "$(fmt "$ts") MB/s" "raw loopback TCP: $(fmt "$tt") MB/s" "$(ratio "$ts" "$tt")" \
        "-" "-" "$(get transport.runs)"
    hsk=$(get noise.handshakes)
    row "Noise IKpsk2 handshakes, both sides in one thread" "$(fmt "$hsk")/s" "-" "-" ">= 2,000/s (#3)" \
        "$(met 'h >= 2000' h="$hsk")" "$(get noise.runs)"

    # Scaling rows.
    for sz in $SIZES; do
        n=${sz%%:*}
        p=$(get store.$n.publish) same=$(get store.$n.raw_same)
        row "scaling: publish, in-process, $(fmt "$(get store.$n.indicators)") indicators" "$(fmt "$p") ind/s" \
            "LMDB put, sequential keys, kawan's bytes per indicator: $(fmt "$same")/s" "$(ratio "$p" "$same")" "-" "-" "$(get store.$n.runs)"
    done
    for sz in $SIZES; do
        n=${sz%%:*}
        q50=$(get store.$n.query_p50) q99=$(get store.$n.query_p99) g99=$(get store.$n.get_p99)
        row "scaling: point query p50 / p99, $(fmt "$(get store.$n.indicators)") indicators" \
            "$(dec "$q50") / $(dec "$q99") us" "LMDB get p99: $(dec "$g99") us" "$(ratio "$q99" "$g99")" "-" "-" \
            "$(get store.$n.runs)"
    done
    for n in 5 10 20; do
        row "scaling: propagation p50 / p99, $n nodes ($(get net.prop.$n.edges) links)" \
            "$(dec "$(get net.prop.$n.p50_ms)") / $(dec "$(get net.prop.$n.p99_ms)") ms" \
            "redundancy $(get net.redundancy.$n)" "-" "-" "-" "1 ($(get net.prop.$n.publishes) publishes)"
    done
    echo
    echo "Ratios are kawan / the limit or peer (for times, kawan's time / the limit's). runs: the figure is the median of that many runs; propagation percentiles are over the publishes of one run. ind/s = indicators per second; MB = 10^6 bytes."
} >"$TABLE"

# ---- the scaling plot ----
{
    for sz in $SIZES; do
        n=${sz%%:*}
        echo "$(get store.$n.indicators) $(get store.$n.publish) $(get store.$n.raw_same) $(get store.$n.raw_rand) $(get store.$n.query_p50) $(get store.$n.query_p99) $(get store.$n.get_p99)"
    done
} >"$OUT/scaling-store.dat"
for n in 5 10 20; do echo "$n $(get net.prop.$n.p50_ms) $(get net.prop.$n.p99_ms)"; done >"$OUT/scaling-prop.dat"
if command -v gnuplot >/dev/null; then
    term="pngcairo size 1500,450 font 'sans,10'"
    gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1 || term="png size 1500,450"
    gnuplot <<EOF 2>"$OUT/gnuplot.log" || echo "bench_all: gnuplot failed (see $OUT/gnuplot.log)" >&2
set terminal $term
set output '$OUT/performance-scaling.png'
set multiplot layout 1,3 title "kawan scaling ($(get mode) run $(get date), $(get nproc) cores, load $(get load_before))"
set logscale x
set grid
set key top left
set format x "10^{%L}"
set xlabel 'indicators in the store'
set ylabel 'thousand indicators/s (puts/s)'
set offsets 0, 0, graph 0.3, 0
set title 'publish rate (in-process) vs LMDB puts'
set yrange [0:*]
plot '$OUT/scaling-store.dat' using 1:(\$2/1000) with linespoints lw 2 pt 7 title 'kawan publish', \
     '' using 1:(\$3/1000) with linespoints dt 2 pt 6 title 'LMDB put, sequential, kawan bytes/record', \
     '' using 1:(\$4/1000) with linespoints dt 3 pt 4 title 'LMDB put, random keys'
set title 'point query latency (in-process)'
set ylabel 'microseconds'
set offsets 0, 0, graph 0.2, 0
plot '$OUT/scaling-store.dat' using 1:5 with linespoints lw 2 pt 7 title 'kawan p50', \
     '' using 1:6 with linespoints lw 2 pt 5 title 'kawan p99', \
     '' using 1:7 with linespoints dt 2 pt 6 title 'LMDB get p99'
unset logscale x
set format x "%g"
set xlabel 'nodes (degree 3-4)'
set xtics (5, 10, 20)
set xrange [0:22]
set title 'propagation, publish to last node (target: p99 < 250 ms)'
set ylabel 'milliseconds'
plot '$OUT/scaling-prop.dat' using 1:2 with linespoints lw 2 pt 7 title 'p50', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'p99'
unset multiplot
EOF
fi

cat "$TABLE"
echo
echo "(table: $TABLE; raw figures: $KV; plot: $OUT/performance-scaling.png; logs in $OUT)"
