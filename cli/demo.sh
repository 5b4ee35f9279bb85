#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo`: a local network of three kawan nodes on 127.0.0.1, in throw-away directories.
# One node publishes the public IOC lists; the others receive them, verified, and answer
# queries. Everything is stopped and removed at the end.
set -euo pipefail

KAWAN=${1:-build/cli/kawan}
KAWAN=$(cd "$(dirname "$KAWAN")" && pwd)/$(basename "$KAWAN")
HERE=$(cd "$(dirname "$0")/.." && pwd)
CORPORA=${KW_CORPORA:-$HERE/../shared/corpora}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kawan-demo.XXXXXX")
NAMES=(CERT-LU CERT-EE CERT-PT)
source "$HERE/tests/support/ports.sh"
kw_ports_claim
BASE=$KW_PORT_BASE
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
    kw_ports_release
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
k() { local node=$1; shift; "$KAWAN" --dir "$WORK/$node" "$@"; }
now_ms() { date +%s%3N; }
count_of() { k "$1" status --json | sed -n 's/.*"indicators":\([0-9]*\).*/\1/p'; }

say "Three national CERT nodes, each with its own Ed25519 identity"
for i in 0 1 2; do
    printf '%-8s ' "${NAMES[$i]}"
    k "${NAMES[$i]}" init --name "${NAMES[$i]}"
done

say "A shared community key (the Noise pre-shared key) and a full roster"
k CERT-LU community create >"$WORK/community"
for i in 1 2; do k "${NAMES[$i]}" community set "$(cat "$WORK/community")" >/dev/null; done
for i in 0 1 2; do
    for j in 0 1 2; do
        [ "$i" = "$j" ] && continue
        k "${NAMES[$i]}" peer add "${NAMES[$j]}" "$(k "${NAMES[$j]}" id)" "127.0.0.1:$((BASE + j))" >/dev/null
    done
done
k CERT-LU peer list

say "Starting the nodes (kawan run) on 127.0.0.1"
for i in 0 1 2; do
    # The binary itself (not the k function), so $! is the node's own pid.
    "$KAWAN" --dir "$WORK/${NAMES[$i]}" run --listen "127.0.0.1:$((BASE + i))" \
        >/dev/null 2>"$WORK/${NAMES[$i]}.log" &
    PIDS+=($!)
done
for _ in $(seq 1 100); do
    up=$(k CERT-LU status --json | { grep -o '"connected":true' || true; } | wc -l)
    [ "$up" -ge 2 ] && break
    sleep 0.1
done
echo "CERT-LU sees $up of 2 peers connected"

say "CERT-LU publishes indicators (TLP:GREEN), signed and hash-chained"
start=$(now_ms)
if [ -d "$CORPORA/iocs/malicious" ]; then
    for f in domains:domain ipv4:ipv4 urls:url md5:md5 sha1:sha1 sha256:sha256; do
        file="$CORPORA/iocs/malicious/${f%%:*}.txt"
        printf '%-40s ' "${f%%:*}.txt"
        k CERT-LU publish --tlp green --type "${f##*:}" --label demo --skip-invalid \
            --file "$file" 2>"$WORK/skipped.txt" | tail -n 1
    done
else
    echo "(shared corpora not found: publishing a small built-in sample)"
    printf '%s\n' 198.51.100.23 203.0.113.77 evil-updates.example.net \
        http://login-secure.example.org/verify 44d88612fea8a8f36de82e1278abb02f \
        | k CERT-LU publish --tlp green --file -
fi
published=$(count_of CERT-LU)
echo "published: $published indicators in $(( $(now_ms) - start )) ms"

say "Replication to CERT-EE and CERT-PT (each entry verified before it is stored)"
for node in CERT-EE CERT-PT; do
    t0=$(now_ms)
    for _ in $(seq 1 600); do
        [ "$(count_of "$node")" = "$published" ] && break
        sleep 0.1
    done
    echo "$node holds $(count_of "$node") indicators ($(( $(now_ms) - start )) ms after the publish began)"
done

say "A single new indicator travels in milliseconds"
t0=$(now_ms)
k CERT-LU publish --tlp green --description "C2 seen today" 192.0.2.200 >/dev/null
until k CERT-PT query --value 192.0.2.200 --json 2>/dev/null | grep -q 192.0.2.200; do sleep 0.01; done
echo "192.0.2.200 queryable on CERT-PT $(( $(now_ms) - t0 )) ms after kawan publish was started"

say "TLP:AMBER for CERT-EE only: sealed, relayed as ciphertext, readable by CERT-EE alone"
k CERT-LU publish --tlp amber --to CERT-EE amber-only.example.com | tail -n 1
for _ in $(seq 1 100); do
    k CERT-EE query --value amber-only.example.com --json 2>/dev/null | grep -q amber && break
    sleep 0.05
done
printf 'CERT-EE: '; k CERT-EE query --value amber-only.example.com --json | cut -c1-120
printf 'CERT-PT: '; k CERT-PT query --value amber-only.example.com 2>&1 || true

say "Queries on CERT-PT"
if [ -f "$CORPORA/iocs/malicious/domains.txt" ]; then
    d=$(sed -n 1000p "$CORPORA/iocs/malicious/domains.txt" | tr a-z A-Z).
else
    d=EVIL-UPDATES.EXAMPLE.NET.
fi
echo "kawan query --value $d   (normalised like publish: lower case, no trailing dot)"
k CERT-PT query --value "$d"
k CERT-PT query --type sha256 --limit 3
k CERT-PT query --contains "/wp-admin/" --limit 3 || true
q0=$(now_ms); k CERT-PT query --value 192.0.2.200 >/dev/null; echo "(one point query through the CLI: $(( $(now_ms) - q0 )) ms)"

say "Status of CERT-PT"
k CERT-PT status
k CERT-PT verify

say "Stopping the nodes"
for pid in "${PIDS[@]}"; do kill -TERM "$pid"; done
for pid in "${PIDS[@]}"; do wait "$pid" || true; done
PIDS=()
tail -n 2 "$WORK/CERT-PT.log"
echo "demo finished; data removed"
