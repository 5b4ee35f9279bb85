#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash safety: `kill -9` at random moments, at least 20 times in all,
#  - of `kawan run` while it receives a large feed: every restart opens the store, `kawan
#    verify` passes, the feed head never goes back (nothing committed is lost), and it
#    catches up completely, without duplicates;
#  - of `kawan publish` while it writes: the store verifies, the count never goes back, and
#    a rerun completes the work (already published values are skipped, not doubled).
source "$(dirname "$0")/netlib.sh"

N_VALUES=${KW_CRASH_VALUES:-200000}
awk -v n="$N_VALUES" 'BEGIN { for (i = 0; i < n; i++) printf "host%d.crash-test.example\n", i }' \
    >"$NET/values.txt"
head_of() { kn "$1" status --json | sed -n 's/.*"feeds":{[^}]*"'"$2"'":\([0-9]*\).*/\1/p'; }
count_of() { kn "$1" status --json | sed -n 's/.*"indicators":\([0-9]*\).*/\1/p'; }
queued_of() { kn "$1" status --json | sed -n 's/.*"queued":\([0-9]*\).*/\1/p'; }

net_init 3
net_link 0 1
kn 0 publish --tlp green --file "$NET/values.txt" >/dev/null
A=$(net_id 0)
want_head=$(head_of 0 "$A")
want_count=$(count_of 0)
echo "A holds $want_count indicators in $want_head entries"
net_start 0

kills=0
last=0
queued_seen=0 # kills that left stored entries waiting for the index
for round in $(seq 1 10); do
    net_start 1
    sleep "$(printf '0.%03d' $((RANDOM % 250)))"
    net_kill 1
    kills=$((kills + 1))
    kn 1 verify >/dev/null || fail "verify failed after kill -9 number $kills of kawan run"
    h=$(head_of 1 "$A"); h=${h:-0}
    [ "$h" -ge "$last" ] || fail "B's head went back from $last to $h after a crash"
    q=$(queued_of 1)
    if [ "${q:-0}" -gt 0 ]; then
        queued_seen=$((queued_seen + 1))
        # A query while entries wait for the index says that it did not search them.
        kn 1 query --value host0.crash-test.example 2>&1 >/dev/null \
            | grep -q "received entr.* not indexed yet and not searched" \
            || fail "a query with $q entries waiting for the index does not say so"
    fi
    printf '%s ' "$h"
    last=$h
done
echo
echo "B held $last of $want_head entries after $kills crashes while receiving;" \
    "$queued_seen of them left entries waiting for the index"
net_start 1
wait_for 120 bash -c "[ \"\$('$KAWAN' --dir '$NET/n1' status --json | sed -n 's/.*\"indicators\":\\([0-9]*\\).*/\\1/p')\" = '$want_count' ]" \
    || fail "B did not catch up after the crashes: $(count_of 1) of $want_count"
[ "$(head_of 1 "$A")" = "$want_head" ] || fail "B's head differs from A's"
[ "$(queued_of 1)" = 0 ] || fail "B still has $(queued_of 1) entries waiting for the index"
kn 1 verify >/dev/null || fail "verify failed on B after catching up"
pass "kawan run survived $kills kill -9 while receiving; caught up with nothing lost or doubled"

# kawan publish, killed while it writes.
last=0
for round in $(seq 1 12); do
    kn 2 publish --tlp green --file "$NET/values.txt" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % 900)))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    kn 2 verify >/dev/null || fail "verify failed after kill -9 of kawan publish (round $round)"
    c=$(count_of 2)
    [ "$c" -ge "$last" ] || fail "the indicator count went back from $last to $c"
    last=$c
done
kn 2 publish --tlp green --file "$NET/values.txt" >/dev/null || fail "the rerun of publish failed"
[ "$(count_of 2)" = "$N_VALUES" ] || fail "after the rerun: $(count_of 2) indicators, not $N_VALUES"
kn 2 verify >/dev/null || fail "verify failed after the rerun"
pass "kawan publish killed 12 times, then rerun: all $N_VALUES indicators once, store verifies"
[ "$kills" -ge 20 ] || fail "only $kills kills"
pass "$kills kill -9 in all"
