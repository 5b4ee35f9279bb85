#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The community key (create, show, set) and the roster (peer add, list, remove), including
# bad node ids, bad addresses and duplicates, and how the roster drives AMBER and RED
# recipients.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=$(new_node CERT-A) || exit 1
B=$(new_node CERT-B) || exit 1
C=$(new_node CERT-C) || exit 1
IDA=$(node_id "$A")
IDB=$(node_id "$B")
IDC=$(node_id "$C")
KEY_RE='^kwc1[a-z2-7]{52}$'

# ---- community key ----
bad 1 "no community key in $A" "community show before any key" "$A" community show
ok "community create" "$A" community create
K1=$OUT
match "the key is printed alone on one line" "$K1" "$KEY_RE"
eq "community.key is mode 0600" "$(file_mode "$A/community.key")" 600
eq "community.key holds 32 bytes" "$(stat -c %s "$A/community.key")" 32
ok "community show" "$A" community show
eq "show prints the created key" "$OUT" "$K1"
bad 1 "community.key already exists \(use --force to replace it\)" "community create again" \
    "$A" community create
ok "community show after the refused create" "$A" community show
eq "the refused create changed nothing" "$OUT" "$K1"
ok "community create --force" "$A" community create --force
K2=$OUT
match "a new key" "$K2" "$KEY_RE"
check "--force made a different key"
[ "$K2" != "$K1" ] || fail "the forced key equals the old one"
ok "community set KEY on node B (the form show prints)" "$B" community set "$K2"
ok "community show on B" "$B" community show
eq "B holds A's key" "$OUT" "$K2"
eq "B's community.key is mode 0600" "$(file_mode "$B/community.key")" 600
HEX=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
ok "community set with 64 hex digits" "$C" community set "$HEX"
check "the file holds those bytes"
eq "community.key bytes" "$(od -An -tx1 -v "$C/community.key" | tr -d ' \n')" "$HEX"
ok "community show after a hex set" "$C" community show
HEXKEY=$OUT
match "shown in kwc1 form" "$HEXKEY" "$KEY_RE"
ok "community set - reads the key from stdin" "$B" community set - <<<"$HEXKEY"
ok "community show after set -" "$B" community show
eq "stdin key adopted" "$OUT" "$HEXKEY"
bad 2 "not a community key" "community set with a bad key" "$B" community set kwc1notakey
nomatch "the rejected key text is not echoed" "$ERR" "kwc1notakey"
bad 2 "not a community key" "community set with 63 hex digits" "$B" community set "${HEX:1}"
ok "community show after the bad sets" "$B" community show
eq "bad sets changed nothing" "$OUT" "$HEXKEY"
bad 2 "missing KEY" "community set without a key" "$B" community set
bad 2 "unknown community subcommand 'rotate'" "unknown community subcommand" "$B" community rotate
bad 2 "community: missing subcommand \(create, show, set\)" "community alone" "$B" community

# ---- roster ----
ok "peer list on an empty roster" "$A" peer list
eq "empty roster: nothing on stdout" "$OUT" ""
match "empty roster: a note on stderr" "$ERR" "^kawan: no peers in the roster"
ok "peer list --json on an empty roster" "$A" peer list --json
eq "empty roster --json: nothing on stdout" "$OUT" ""
ok "peer add CERT-B" "$A" peer add CERT-B "$IDB" 127.0.0.1:7401
match "peer add confirms" "$OUT" "^added CERT-B $IDB 127\.0\.0\.1:7401$"
ok "peer add CERT-C with an IPv6 address" "$A" peer add CERT-C "$IDC" '[::1]:7402'
ok "peer list --json" "$A" peer list --json
eq "two members" "$(lines "$OUT")" 2
eq "first member (name order)" "$(head -1 <<<"$OUT" | jq -r .name)" CERT-B
eq "its node id" "$(head -1 <<<"$OUT" | jq -r .node_id)" "$IDB"
eq "its address" "$(head -1 <<<"$OUT" | jq -r .address)" 127.0.0.1:7401
match "its added time" "$(head -1 <<<"$OUT" | jq -r .added)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'
eq "second member's address" "$(tail -1 <<<"$OUT" | jq -r .address)" '[::1]:7402'
ok "peer list (table)" "$A" peer list
match "table header" "$(head -1 <<<"$OUT")" '^NAME +NODE ID +ADDRESS +ADDED$'
match "table row" "$OUT" "^CERT-B +$IDB +127\.0\.0\.1:7401 +[0-9]"
eq "status counts the roster" "$(status_field "$A" roster)" 2

bad 1 "a peer named 'CERT-B' is already in the roster" "duplicate name" "$A" peer add CERT-B \
    "$(node_id "$(new_node spare)")" 127.0.0.1:7409
bad 1 "node $IDB is already in the roster as 'CERT-B'" "duplicate id" "$A" peer add CERT-B2 \
    "$IDB" 127.0.0.1:7409
bad 1 "is this node's own id" "own id" "$A" peer add SELF "$IDA" 127.0.0.1:7409
bad 2 "'kw1notanid' is not a node id" "an id that does not decode" "$A" peer add X kw1notanid \
    127.0.0.1:7409
bad 2 "is not a node id" "an id one character short" "$A" peer add X "${IDB%?}" 127.0.0.1:7409
bad 2 "is not a node id" "63 hex digits" "$A" peer add X "${HEX:1}" 127.0.0.1:7409
bad 2 "peer name 'bad name' is not valid" "a name with a space" "$A" peer add 'bad name' \
    "$(node_id "$KW_TMP/spare")" 127.0.0.1:7409
bad 2 "is not valid" "a 64-character name" "$A" peer add "$(printf 'n%.0s' $(seq 1 64))" \
    "$(node_id "$KW_TMP/spare")" 127.0.0.1:7409
bad 2 "'127.0.0.1' is not an address" "an address without a port" "$A" peer add X \
    "$(node_id "$KW_TMP/spare")" 127.0.0.1
bad 2 "'host:0' is not an address" "port 0" "$A" peer add X "$(node_id "$KW_TMP/spare")" host:0
bad 2 "'host:70000' is not an address" "port 70000" "$A" peer add X \
    "$(node_id "$KW_TMP/spare")" host:70000
bad 2 "is not an address" "an IPv6 address without brackets" "$A" peer add X \
    "$(node_id "$KW_TMP/spare")" ::1:7400
bad 2 "missing NAME NODE-ID" "peer add with too few arguments" "$A" peer add X
bad 2 "'' is not an address" "an empty address" "$A" peer add X "$(node_id "$KW_TMP/spare")" ''
bad 2 "unexpected argument 'extra'" "peer add with too many arguments" "$A" peer add X \
    "$(node_id "$KW_TMP/spare")" host:1 extra
bad 2 "unknown peer subcommand 'rename'" "unknown peer subcommand" "$A" peer rename X Y
ok "peer list --json after the refused adds" "$A" peer list --json
eq "the refused adds changed nothing" "$(lines "$OUT")" 2

SPARE=$(node_id "$KW_TMP/spare")
# The same key as 64 hex digits: base32 (upper case, padded) decoded by coreutils.
SPARE_HEX=$(printf '%s====' "$(tr a-z A-Z <<<"${SPARE#kw1}")" | base32 -d | od -An -tx1 -v \
    | tr -d ' \n')
match "hex form of the spare id" "$SPARE_HEX" '^[0-9a-f]{64}$'
ok "peer add with a hex node id" "$A" peer add spare "$SPARE_HEX" 10.0.0.9:7400
ok "peer list --json shows the kw1 form" "$A" peer list --json
eq "hex id stored as the same key" "$(jq -r 'select(.name=="spare")|.node_id' <<<"$OUT")" \
    "$SPARE"
ok "peer remove spare" "$A" peer remove spare
ok "peer add without an address" "$A" peer add spare "$SPARE"
match "no address" "$OUT" "^added spare $SPARE \(no address\)$"
ok "peer list --json: empty address" "$A" peer list --json
eq "address is empty" "$(jq -r 'select(.name=="spare")|.address' <<<"$OUT")" ""
ok "peer list (table) with an empty address" "$A" peer list
match "table row without an address" "$OUT" "^spare +$SPARE( +[0-9T:.Z-]+)?"
ok "peer remove spare (again)" "$A" peer remove spare
match "peer remove confirms" "$OUT" "^removed spare kw1"
bad 1 "no peer 'spare' in the roster" "removing it again" "$A" peer remove spare
bad 1 "no peer 'NOPE' in the roster" "removing an unknown name" "$A" peer remove NOPE
eq "roster after remove" "$(status_field "$A" roster)" 2

# ---- the roster drives sealed recipients ----
ok "publish AMBER without --to" "$A" publish --tlp amber amber.example
ok "query the AMBER indicator" "$A" query --value amber.example --json
eq "AMBER goes to every roster member and the publisher" \
    "$(jq -c '.recipients|sort' <<<"$OUT")" '["CERT-A","CERT-B","CERT-C"]'
ok "publish RED --to CERT-B" "$A" publish --tlp red --to CERT-B red.example
ok "query the RED indicator" "$A" query --value red.example --json
eq "RED goes to the named recipient and the publisher" "$(jq -c '.recipients|sort' <<<"$OUT")" \
    '["CERT-A","CERT-B"]'
eq "tlp RED" "$(jq -r .tlp <<<"$OUT")" RED
ok "publish AMBER+STRICT --to <node id of C>" "$A" publish --tlp amber+strict --to "$IDC" \
    strict.example
ok "query the AMBER+STRICT indicator" "$A" query --value strict.example --json
eq "recipients by id resolve to names" "$(jq -c '.recipients|sort' <<<"$OUT")" \
    '["CERT-A","CERT-C"]'
RED_ID=$("$KAWAN" --dir "$A" query --value red.example --json | jq -r .id)
ok "revoke the RED indicator" "$A" revoke "$RED_ID"
ok "query the revoked RED indicator" "$A" query --value red.example --all --json
eq "the revocation keeps TLP RED" "$(jq -r .tlp <<<"$OUT")" RED
eq "the revocation keeps the recipients" "$(jq -c '.recipients|sort' <<<"$OUT")" \
    '["CERT-A","CERT-B"]'
ok "peer remove CERT-C" "$A" peer remove "$IDC"
match "remove by node id" "$OUT" "^removed CERT-C $IDC$"
bad 1 "unknown recipient 'CERT-C'" "a removed peer is no longer a recipient" "$A" publish \
    --tlp amber --to CERT-C later.example
ok "query after removing C" "$A" query --value strict.example --json
eq "a former member shows as its node id" "$(jq -c '.recipients|sort' <<<"$OUT")" \
    "$(jq -cn --arg c "$IDC" '["CERT-A",$c]|sort')"
verified "verify" "$A"

# ---- indicators from another origin (carried by a .kwx file) ----
if "$KAWAN" help import >/dev/null 2>&1; then
    ok "B adds A to its roster" "$B" peer add CERT-A "$IDA" 127.0.0.1:7400
    ok "A publishes a GREEN indicator" "$A" publish --tlp green foreign.example
    FOREIGN=$("$KAWAN" --dir "$A" query --value foreign.example --json | jq -r .id)
    ok "A exports its feed" "$A" export --out "$KW_TMP/a.kwx"
    ok "B imports A's feed" "$B" import "$KW_TMP/a.kwx"
    ok "B finds A's indicator" "$B" query --value foreign.example --json
    eq "origin is A's node id" "$(jq -r .origin <<<"$OUT")" "$IDA"
    eq "origin_name is B's roster name for A" "$(jq -r .origin_name <<<"$OUT")" CERT-A
    ok "B: query --origin CERT-A" "$B" query --origin CERT-A --value foreign.example --json
    eq "--origin by roster name on B" "$(jq -r .id <<<"$OUT")" "$FOREIGN"
    B_SEQS=$(status_field "$B" entries)
    bad 1 "$FOREIGN was published by CERT-A: only the origin may revoke it" \
        "B cannot revoke A's indicator" "$B" revoke "$FOREIGN"
    eq "the refused revoke wrote nothing" "$(status_field "$B" entries)" "$B_SEQS"
    ok "B still holds it, not revoked" "$B" show "$FOREIGN" --json
    eq "not revoked" "$(jq -r .revoked <<<"$OUT")" false
    verified "verify on B" "$B"
else
    skip "kawan import is not built: the foreign-revoke case is not run"
fi

echo "PASS: test_cli_peers"
