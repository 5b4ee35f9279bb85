#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fork (issue 4): the origin member M signs two different valid entries with the same seq
# (hostile-peer fork, holding M's key) and feeds one to node A and the other to node B at the
# same moment. A and B are linked, so each receives the other's version from its peer: both
# must detect the fork (status --json forks >= 1, M listed under "forked", a FORK log line),
# freeze M's feed, keep serving each other, and still verify. A member C that was away
# during all this (linked to A only, started afterwards, holding nothing of M's) must learn
# of the fork from the evidence A hands it when their session comes up: M's feed frozen
# from the fork's seq, the entries before it still received.
source "$(dirname "$0")/netlib.sh"

HP=${KW_BIN_DIR:?KW_BIN_DIR must point to the build tests directory}/hostile-peer
[ -x "$HP" ] || fail "hostile-peer is not built ($HP)"

net_init 4 # n0 = A, n1 = B, n2 = M (the origin; never runs a daemon), n3 = C (late)
net_link 0 1
net_link 0 3
net_member 0 2
net_member 1 2
net_member 3 2
kn 2 publish --tlp green fork-base.example.net >/dev/null # M's seq 1; the fork is at seq 2
for i in 0 1; do net_start "$i"; done
wait_for 15 has_connected 0 1 || fail "A and B did not connect"
pass "A and B are connected"

m_id=$(net_id 2)
"$HP" --dir "$NET/n2" --origin-dir "$NET/n2" --wait 1 --retry 5 \
    --connect "127.0.0.1:$(net_port 0)" --target-id "$(net_id 0)" \
    --connect "127.0.0.1:$(net_port 1)" --target-id "$(net_id 1)" fork >"$NET/fork.out" \
    || { cat "$NET/fork.out"; fail "hostile-peer fork did not run"; }
sed 's/^/  hostile-peer: /' "$NET/fork.out"
grep -q "sending seq 2 with fork-a.hostile.example" "$NET/fork.out" \
    || fail "hostile-peer did not send the forked entries"

forks_of() { kn "$1" status --json | sed -n 's/.*"forks":\([0-9]*\).*/\1/p'; }
has_fork() { [ "$(forks_of "$1")" -ge 1 ]; }
for i in 0 1; do
    name=$([ "$i" = 0 ] && echo A || echo B)
    wait_for 15 has_fork "$i" || fail "$name did not detect the fork (forks=$(forks_of "$i"))"
    kn "$i" status --json | grep -q "\"forked\":\[[^]]*\"$m_id\"" \
        || fail "$name's status --json does not list M under forked"
    log_has "$i" "FORK" || fail "$name's log does not say FORK"
    pass "$name detected the fork: forks=$(forks_of "$i"), M listed as forked, FORK logged"
done

# The feed is frozen at the fork: each node holds exactly one of the two entries at seq 2.
for i in 0 1; do
    a=$(has_value "$i" fork-a.hostile.example && echo 1 || echo 0)
    b=$(has_value "$i" fork-b.hostile.example && echo 1 || echo 0)
    [ $((a + b)) -le 1 ] || fail "node $i indexes both sides of the fork"
done
pass "neither node indexes both sides of the fork"

for i in 0 1; do net_alive "$i" || fail "node $i died"; done
kn 0 publish --tlp green after-fork-from-a.example.net >/dev/null
kn 1 publish --tlp green after-fork-from-b.example.net >/dev/null
wait_for 10 has_value 1 after-fork-from-a.example.net || fail "B no longer receives from A"
wait_for 10 has_value 0 after-fork-from-b.example.net || fail "A no longer receives from B"
pass "A and B keep serving each other after the fork"
for i in 0 1; do kn "$i" verify >/dev/null || fail "verify failed on node $i"; done
pass "both stores verify"

net_start 3
wait_for 15 has_connected 3 1 || fail "C did not connect to A"
wait_for 15 has_fork 3 || fail "C did not learn of the fork (forks=$(forks_of 3))"
kn 3 status --json | grep -q "\"forked\":\[[^]]*\"$m_id\"" \
    || fail "C's status --json does not list M under forked"
log_has 3 "fork evidence received" || fail "C's log does not say it received fork evidence"
wait_for 15 has_value 3 fork-base.example.net || fail "C did not receive M's entry before the fork"
a=$(has_value 3 fork-a.hostile.example && echo 1 || echo 0)
b=$(has_value 3 fork-b.hostile.example && echo 1 || echo 0)
[ $((a + b)) -le 1 ] || fail "C indexes both sides of the fork"
kn 3 verify >/dev/null || fail "verify failed on C"
pass "C, away during the fork, learnt of it on connecting: M frozen, seq 1 received, C verifies"
