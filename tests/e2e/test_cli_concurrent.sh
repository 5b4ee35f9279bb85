#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Several `kawan publish` processes at once on one store: all succeed, nothing is lost, and
# the node's feed stays one unbroken hash chain (kawan verify).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=$(new_node CERT-A) || exit 1
ID=$(node_id "$A")
N=15000

for w in one two three; do
    seq 1 $N | sed "s/^/host-/; s/\$/.$w.example/" >"$KW_TMP/$w.txt"
done
# Some values in all three lists: each may be published once only.
printf 'shared-%d.example\n' $(seq 1 500) | tee -a "$KW_TMP/one.txt" "$KW_TMP/two.txt" \
    >>"$KW_TMP/three.txt"

check "three publish processes started at the same time"
for w in one two three; do
    "$KAWAN" --dir "$A" publish --tlp green --label "$w" --file "$KW_TMP/$w.txt" \
        >"$KW_TMP/$w.out" 2>"$KW_TMP/$w.err" &
    KW_PIDS+=($!)
done
# Readers run while the writers write.
READS=0
while kill -0 "${KW_PIDS[@]}" 2>/dev/null; do
    "$KAWAN" --dir "$A" query --contains host-1 --limit 3 --json >/dev/null 2>"$KW_TMP/q.err" \
        || fail "a query during the publishes failed: $(cat "$KW_TMP/q.err")"
    READS=$((READS + 1))
done
for i in 0 1 2; do
    wait "${KW_PIDS[$i]}"
    rc=$?
    w=$( (echo one; echo two; echo three) | sed -n "$((i + 1))p")
    eq "publish '$w' exit code (stderr: $(cat "$KW_TMP/$w.err"))" "$rc" 0
    match "publish '$w' summary" "$(cat "$KW_TMP/$w.out")" \
        '^published [0-9]+ indicators in [0-9]+ entries \(seq [0-9]+-[0-9]+\), [0-9]+ duplicates skipped, 0 invalid skipped$'
done
KW_PIDS=()
echo "  ($READS queries ran during the publishes)"

check "every value is published exactly once"
PUBLISHED=0
DUPS=0
ENTRIES=0
for w in one two three; do
    s=$(cat "$KW_TMP/$w.out")
    PUBLISHED=$((PUBLISHED + $(sed -E 's/^published ([0-9]+) .*/\1/' <<<"$s")))
    ENTRIES=$((ENTRIES + $(sed -E 's/.* in ([0-9]+) entries.*/\1/' <<<"$s")))
    DUPS=$((DUPS + $(sed -E 's/.*, ([0-9]+) duplicates.*/\1/' <<<"$s")))
done
eq "indicators reported published" "$PUBLISHED" $((3 * N + 500))
eq "shared values counted as duplicates" "$DUPS" 1000
eq "status: current indicators" "$(indicators "$A")" $((3 * N + 500))
eq "status: entries" "$(status_field "$A" entries)" "$ENTRIES"
eq "status: the feed head is the last entry (no gap)" \
    "$("$KAWAN" --dir "$A" status --json | jq -r --arg id "$ID" '.feeds[$id]')" "$ENTRIES"
for w in one two three; do
    ok "query --contains .$w.example --limit 1 --json" "$A" query --contains ".$w.example" \
        --limit 1 --json
    eq "a '$w' value carries its label" "$(jq -r '.labels[0]' <<<"$OUT")" "$w"
done
ok "query --value shared-77.example --json" "$A" query --value shared-77.example --json
eq "a shared value is held once" "$(lines "$OUT")" 1
verified "verify: one unbroken chain" "$A"
match "verify checked every entry" "$OUT" "^checked $ENTRIES entries, $ENTRIES payloads, $((3 * N + 500)) indicators"

check "many small publishes at once"
for i in $(seq 1 8); do
    "$KAWAN" --dir "$A" publish --tlp clear "small-$i.example" "198.51.100.$i" \
        >"$KW_TMP/small-$i.out" 2>&1 &
    KW_PIDS+=($!)
done
for i in $(seq 1 8); do
    wait "${KW_PIDS[$((i - 1))]}" || fail "small publish $i failed: $(cat "$KW_TMP/small-$i.out")"
done
KW_PIDS=()
eq "status after the small publishes" "$(indicators "$A")" $((3 * N + 500 + 16))
eq "the feed head after the small publishes" \
    "$("$KAWAN" --dir "$A" status --json | jq -r --arg id "$ID" '.feeds[$id]')" $((ENTRIES + 8))
verified "verify after the small publishes" "$A"

echo "PASS: test_cli_concurrent"
