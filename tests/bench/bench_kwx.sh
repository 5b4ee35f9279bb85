#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Air-gap benchmark: publish 1,000,000 indicators on one node, then export and import them as
# .kwx (to a second node) and as STIX 2.1 (to a third), and print the rates beside the publish
# rate measured in the same run, and the file sizes against the entries' msgpack payloads.
# It prints figures and never fails on speed (tests/bench/).
#
#   KAWAN=build/cli/kawan KW_CORPORA=../shared/corpora tests/bench/bench_kwx.sh [COUNT]
#
# The values are every line of $KW_CORPORA/iocs/{malicious,benign}/*.txt that kawan accepts
# (about 976,000), topped up to COUNT (default 1,000,000) with IPv4 addresses from 10/8.
set -euo pipefail

COUNT=${1:-1000000}
: "${KAWAN:?KAWAN must name the kawan binary}"
: "${KW_CORPORA:?KW_CORPORA must name the shared corpora}"
[ -d "$KW_CORPORA/iocs" ] || {
    echo "bench_kwx: no $KW_CORPORA/iocs" >&2
    exit 1
}

W=$(mktemp -d "${TMPDIR:-/tmp}/kawan-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
unset KAWAN_DIR KAWAN_LOG

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
kw() { "$KAWAN" --dir "$@"; }
# last_number TEXT REGEX: the first number after the regex in TEXT.
num_after() { printf '%s\n' "$1" | sed -nE "s/.*$2 ?\\(?([0-9]+).*/\\1/p" | head -1; }

for n in a b c; do
    kw "$W/$n" init --name "BENCH-$n" >/dev/null
done
kw "$W/b" peer add BENCH-a "$(kw "$W/a" id)" 127.0.0.1:9 >/dev/null

cat "$KW_CORPORA"/iocs/malicious/*.txt "$KW_CORPORA"/iocs/benign/*.txt >"$W/iocs.txt"

# ---- publish ----
t0=$(now)
out=$(kw "$W/a" publish --tlp green --skip-invalid --file "$W/iocs.txt" 2>/dev/null)
got=$(printf '%s\n' "$out" | sed -nE 's/^published ([0-9]+) indicators.*/\1/p')
if [ "$got" -lt "$COUNT" ]; then
    awk -v n=$((COUNT - got)) 'BEGIN { for (i = 0; i < n; i++)
        printf "10.%d.%d.%d\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' >"$W/pad.txt"
    kw "$W/a" publish --tlp green --file "$W/pad.txt" >/dev/null
fi
t1=$(now)
total=$(kw "$W/a" status --json | jq -r .indicators)
entries=$(kw "$W/a" status --json | jq -r .entries)

# ---- kwx ----
t2=$(now)
out=$(kw "$W/a" export --out "$W/a.kwx")
t3=$(now)
payload=$(printf '%s\n' "$out" | sed -nE 's/.*with payload \(([0-9]+) payload bytes\).*/\1/p')
kwx_size=$(stat -c %s "$W/a.kwx")
t4=$(now)
kw "$W/b" import "$W/a.kwx" >/dev/null
t5=$(now)
b_total=$(kw "$W/b" status --json | jq -r .indicators)
t6=$(now)
kw "$W/b" import "$W/a.kwx" >/dev/null
t7=$(now)

# ---- STIX ----
t8=$(now)
kw "$W/a" export --format stix --out "$W/a.json" >/dev/null
t9=$(now)
stix_size=$(stat -c %s "$W/a.json")
t10=$(now)
kw "$W/c" import --format stix "$W/a.json" --tlp green >/dev/null
t11=$(now)
c_total=$(kw "$W/c" status --json | jq -r .indicators)

printf '\nkawan air-gap benchmark: %s indicators in %s entries (%s cores)\n\n' "$total" "$entries" \
    "$(nproc)"
printf '%-34s %10s %14s\n' "step" "seconds" "indicators/s"
printf '%-34s %10s %14s\n' "publish (kawan publish --file)" "$(secs "$t0" "$t1")" \
    "$(rate "$total" "$t0" "$t1")"
printf '%-34s %10s %14s\n' "export .kwx" "$(secs "$t2" "$t3")" "$(rate "$total" "$t2" "$t3")"
printf '%-34s %10s %14s\n' "import .kwx (new node)" "$(secs "$t4" "$t5")" \
    "$(rate "$b_total" "$t4" "$t5")"
printf '%-34s %10s %14s\n' "import .kwx again (all held)" "$(secs "$t6" "$t7")" \
    "$(rate "$b_total" "$t6" "$t7")"
printf '%-34s %10s %14s\n' "export STIX 2.1" "$(secs "$t8" "$t9")" "$(rate "$total" "$t8" "$t9")"
printf '%-34s %10s %14s\n' "import STIX 2.1 (new node)" "$(secs "$t10" "$t11")" \
    "$(rate "$c_total" "$t10" "$t11")"
printf '\n.kwx import / publish rate: %s\n' "$(awk -v a="$(rate "$b_total" "$t4" "$t5")" \
    -v b="$(rate "$total" "$t0" "$t1")" 'BEGIN { printf "%.2f", a / b }')"
printf '.kwx file: %s bytes; msgpack payloads: %s bytes; ratio %s\n' "$kwx_size" "$payload" \
    "$(awk -v a="$kwx_size" -v b="$payload" 'BEGIN { printf "%.4f", a / b }')"
printf 'STIX file: %s bytes; ratio to the payloads %s\n' "$stix_size" \
    "$(awk -v a="$stix_size" -v b="$payload" 'BEGIN { printf "%.2f", a / b }')"
printf 'indicators: published %s, after .kwx import %s, after STIX import %s\n' "$total" \
    "$b_total" "$c_total"
