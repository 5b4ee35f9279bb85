#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Connections that must be refused or closed, each logged with its reason, while the node
# keeps serving its real peers: wrong community key, a node not in the roster, random bytes,
# a huge length prefix, and a connection that sends nothing.
source "$(dirname "$0")/netlib.sh"

net_init 4
net_link 0 1
# Node 2: in node 0's roster and knows node 0, but holds another community key.
net_link 0 2
kn 2 community create --force >/dev/null
# Node 3: knows node 0, but node 0 does not know it.
kn 3 peer add N0 "$(net_id 0)" "127.0.0.1:$(net_port 0)" >/dev/null
for i in 0 1 2 3; do net_start "$i"; done
wait_for 15 has_connected 0 1 || fail "0 and 1 did not connect"
pass "honest peers connected"

wait_for 15 log_has 0 "not a roster member" || fail "node 0 did not log the stranger's rejection"
pass "a node not in the roster is rejected and logged"
wait_for 15 log_has 2 "wrong community key" || fail "node 2 did not log the community key failure"
wait_for 15 log_has 0 "community key" || fail "node 0 did not log the community key failure"
kn 0 status --json | grep -q '"name":"N2"[^}]*"connected":false' || fail "N2 shows as connected"
pass "a node with the wrong community key cannot connect, and both sides say why"

port=$(net_port 0)
# Random bytes.
exec 3<>"/dev/tcp/127.0.0.1/$port"
head -c 140000 /dev/urandom >&3 || true
exec 3>&-
# A huge length prefix, then silence; and a connection that sends nothing at all.
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf '\xff\xff\x01\x02' >&4
exec 5<>"/dev/tcp/127.0.0.1/$port"
wait_for 15 log_has 0 "handshake timeout" || fail "silent connections were not closed"
exec 4>&- 5>&-
log_has 0 "handshake failed" || fail "random bytes were not reported"
pass "random bytes, a huge length prefix and a silent connection are closed and logged"

net_alive 0 || fail "node 0 died"
kn 1 publish --tlp green still-serving.example.net >/dev/null
wait_for 10 has_value 0 still-serving.example.net || fail "node 0 stopped serving its peers"
pass "node 0 stays up and keeps serving honest peers"
