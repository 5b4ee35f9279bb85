#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Three nodes in a line A-B-C (A and C are members but never connect): what A publishes is
# returned by `kawan query` on C; a node that was down catches up when it comes back.
source "$(dirname "$0")/netlib.sh"

net_init 3
net_link 0 1
net_link 1 2
net_member 0 2
net_member 2 0
chmod 755 "$NET/n2"
for i in 0 1 2; do net_start "$i"; done
log_has 2 "data directory is open to other users" || fail "C did not warn about its mode-0755 data directory"
log_has 1 "open to other users" && fail "B warned about its mode-0700 data directory"
pass "a data directory opened to other users after init is warned about"
wait_for 15 has_connected 1 2 || fail "B did not connect to both A and C"
pass "B is connected to A and C"
[ "$(connected_count 0)" = 1 ] || fail "A should have exactly one session (with B)"
kn 0 status --json | grep -q '"name":"N1","node_id":"kw1[a-z2-7]*","address":"127.0.0.1:[0-9]*","connected":true' \
    || fail "status --json does not show peer N1 connected with its id and address"
pass "status --json shows live sessions"

"$KAWAN" --dir "$NET/n2" tail --json >"$NET/tail.out" 2>"$NET/tail.err" &
tail_pid=$!
"$KAWAN" --dir "$NET/n0" tail --json >"$NET/tail0.out" 2>"$NET/tail0.err" &
tail0_pid=$!
sleep 0.3
t0=$(now_ms)
kn 0 publish --tlp green --label line-test evil-line.example.com >/dev/null
wait_for 10 has_value 2 evil-line.example.com || fail "C did not receive A's indicator"
pass "indicator published on A is queryable on C after $(( $(now_ms) - t0 )) ms"
kn 2 query --value evil-line.example.com --json | grep -q "\"origin\":\"$(net_id 0)\"" \
    || fail "C reports the wrong origin"
kn 2 query --origin N0 --json | grep -q evil-line.example.com || fail "query --origin N0 on C"
kn 2 query --since 1h --json | grep -q evil-line.example.com || fail "query --since 1h on C"
pass "query --origin and --since work on a received feed"
wait_for 5 grep -q '"value":"evil-line.example.com"' "$NET/tail.out" || fail "kawan tail on C did not show the indicator"
grep -q '"labels":\["line-test"\]' "$NET/tail.out" || fail "kawan tail --json lacks the labels"
kill "$tail_pid"; wait "$tail_pid" 2>/dev/null || true
pass "kawan tail --json on C followed the new indicator"
wait_for 5 grep -q '"value":"evil-line.example.com"' "$NET/tail0.out" || fail "kawan tail on A did not show A's own publish"
kill "$tail0_pid"; wait "$tail0_pid" 2>/dev/null || true
pass "kawan tail on the publishing node shows its own publishes"

# C goes down; A publishes; C comes back and catches up. A tail on C follows across the restart.
"$KAWAN" --dir "$NET/n2" tail --json >"$NET/tail2.out" 2>"$NET/tail2.err" &
tail2_pid=$!
sleep 0.3
net_stop 2
kn 0 publish --tlp clear 198.51.100.99 >/dev/null
net_start 2
wait_for 15 has_value 2 198.51.100.99 || fail "C did not catch up after a restart"
pass "C caught up after a restart"
wait_for 10 grep -q "the node is back; following again" "$NET/tail2.err" \
    || fail "kawan tail on C did not reconnect: $(cat "$NET/tail2.err")"
kn 0 publish --tlp clear after-restart.example >/dev/null
wait_for 15 grep -q '"value":"after-restart.example"' "$NET/tail2.out" \
    || fail "kawan tail on C stopped following when C restarted: $(cat "$NET/tail2.err")"
grep -q "following again when it is back" "$NET/tail2.err" || fail "tail did not say the node stopped"
kill "$tail2_pid"; wait "$tail2_pid" 2>/dev/null || true
pass "kawan tail follows across a restart of the node"

# Publishing while A's daemon is stopped goes out when it starts.
net_stop 0
kn 0 publish --tlp green offline-publish.example.org >/dev/null
net_start 0
wait_for 15 has_value 2 offline-publish.example.org || fail "entries published offline did not go out"
pass "entries published while the daemon was stopped went out when it started"

for i in 0 1 2; do kn "$i" verify >/dev/null || fail "verify failed on node $i"; done
[ "$(feeds_of 0)" = "$(feeds_of 2)" ] || fail "feed heads differ: $(feeds_of 0) vs $(feeds_of 2)"
pass "all stores verify and feed heads agree"

# A second `kawan run` is refused and must not change where the running one is reached.
spare=$(( $(net_port 2) + 7 ))
if "$KAWAN" --dir "$NET/n0" run --listen "127.0.0.1:$spare" >/dev/null 2>"$NET/second.err"; then
    fail "a second daemon on the same data directory started"
fi
grep -q "already running" "$NET/second.err" || fail "the second daemon did not say why: $(cat "$NET/second.err")"
net_stop 0
"$KAWAN" --dir "$NET/n0" run --anti-entropy 2 >/dev/null 2>>"$NET/n0.log" &
NET_PID[0]=$!
wait_for 10 grep -q "listen=127.0.0.1:$(net_port 0) " "$NET/n0.log" \
    || fail "after a refused second daemon, A no longer listens where it did: $(grep 'node running' "$NET/n0.log" | tail -1)"
pass "a refused second daemon left the saved listen address alone"

# A roster larger than the first table the daemon makes: every member counts.
mkdir -p "$NET/many"
for k in $(seq 1 300); do
    "$KAWAN" --dir "$NET/many/m$k" init --name "M$k" >/dev/null
    kn 0 peer add "M$k" "$("$KAWAN" --dir "$NET/many/m$k" id)" >/dev/null
done
wait_for 15 sh -c "[ \"\$(\"$KAWAN\" --dir \"$NET/n0\" status --json | jq '.peers | length')\" -ge 302 ]" \
    || fail "the running daemon does not know all 302 members: $(kn 0 status --json | jq '.peers | length')"
! grep -q "roster too large" "$NET/n0.log" || fail "the daemon refused part of the roster"
kn 0 publish --tlp green after-big-roster.example >/dev/null
wait_for 15 has_value 2 after-big-roster.example || fail "replication stopped after the roster grew"
pass "a roster of 302 members is known to the running daemon, and replication goes on"

# A data directory whose path is too long for a Unix socket address (107 bytes) still gets
# its control socket, and the CLI still finds the daemon.
LONG="$NET/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))"
"$KAWAN" --dir "$LONG" init --name LONG >/dev/null
"$KAWAN" --dir "$LONG" community set "$(cat "$NET/community")" >/dev/null
"$KAWAN" --dir "$LONG" run --listen "127.0.0.1:$((spare + 1))" >/dev/null 2>>"$NET/long.log" &
NET_PID[long]=$!
wait_for 10 sh -c "\"$KAWAN\" --dir \"$LONG\" status --json | jq -e .daemon" \
    || fail "the CLI does not find the daemon of a ${#LONG}-byte data directory: $(tail -2 "$NET/long.log")"
if "$KAWAN" --dir "$LONG" run --listen "127.0.0.1:$((spare + 2))" >/dev/null 2>"$NET/long2.err"; then
    fail "a second daemon started on the long data directory"
fi
grep -q "already running" "$NET/long2.err" || fail "the second daemon did not say why"
net_stop long
[ ! -e "$LONG/control.sock" ] || fail "the control socket was left behind"
pass "a ${#LONG}-byte data directory runs a daemon the CLI can reach"
