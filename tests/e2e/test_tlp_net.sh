#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLP held by cryptography, on a line A-B-C (A and C are members but not connected):
#  - AMBER from A for C only: B relays the ciphertext, C reads it, B cannot.
#  - RED from A for B: B reads it, C holds the header alone.
#  - RED from A for C: C gets it once A and C connect, also after A restarted.
# After each, the raw files of every non-recipient (LMDB data file included) are searched
# for the indicator values, and for RED for a slice of the payload ciphertext.
source "$(dirname "$0")/netlib.sh"
command -v mdb_dump >/dev/null || fail "mdb_dump (lmdb-utils) is needed to read the raw payload"

net_init 3
net_link 0 1
net_link 1 2
net_member 0 2
net_member 2 0
for i in 0 1 2; do net_start "$i"; done
wait_for 15 has_connected 1 2 || fail "B did not connect to A and C"

no_leak() { # no_leak NODE BYTES...: none of the byte strings occurs in the node's files
    local node=$1; shift
    for v in "$@"; do
        if grep -r -a -F -q -- "$v" "$NET/n$node"; then fail "node $node's files contain '$v'"; fi
    done
}
# last_payload_slice NODE: 24 bytes (hex) from the middle of the newest payload of NODE's own feed
# The slice avoids the byte 0x0a: grep matches within lines, so a newline in the needle
# could never match and the search would prove nothing.
last_payload_slice() {
    local hex off s
    hex=$(mdb_dump -s payloads "$NET/n$1/store" | awk 'NR>1 && /^ /{v=$1} END{print v}')
    for ((off = 200; off + 48 <= ${#hex}; off += 2)); do
        s=${hex:off:48}
        if ! printf '%s' "$s" | fold -w2 | grep -qx 0a; then
            echo "$s"
            return
        fi
    done
}
hex_in_files() { # hex_in_files NODE HEX: is the byte string anywhere in the node's files?
    local needle
    needle=$(printf '%s' "$2" | sed 's/../\\x&/g')
    LC_ALL=C grep -r -a -q -P -- "$needle" "$NET/n$1"
}

# 1. AMBER for C only.
kn 0 publish --tlp amber --to N2 amber-for-c.example.net 203.0.113.51 >/dev/null
wait_for 15 has_value 2 amber-for-c.example.net || fail "C cannot read AMBER addressed to it"
kn 2 query --value amber-for-c.example.net --json | grep -q '"tlp":"AMBER"' || fail "tlp not AMBER on C"
kn 2 query --value amber-for-c.example.net --json | grep -q '"recipients":\[' || fail "no recipients on C"
lacks_value 1 amber-for-c.example.net || fail "B can read AMBER not addressed to it"
kn 1 status --json | grep -q '"sealed_unread":1' || fail "B does not hold the ciphertext (sealed_unread)"
no_leak 1 amber-for-c.example.net 203.0.113.51
pass "AMBER for C: B relays ciphertext only, C reads it, B's files hold no value"

# 2. RED for B.
kn 0 publish --tlp red --to N1 red-for-b.example.org 198.51.100.201 >/dev/null
wait_for 15 has_value 1 red-for-b.example.org || fail "B cannot read RED addressed to it"
slice=$(last_payload_slice 0)
[ -n "$slice" ] || fail "cannot read A's RED payload"
hex_in_files 0 "$slice" || fail "the slice search does not find the payload even on A"
wait_for 15 bash -c "$(declare -f kn feeds_of); NET=$NET KAWAN=$KAWAN; [ \"\$(feeds_of 2)\" = \"\$(feeds_of 0)\" ]" \
    || fail "C did not get the RED header"
lacks_value 2 red-for-b.example.org || fail "C can read RED not addressed to it"
kn 2 status --json | grep -q '"withheld":1' || fail "C does not hold the RED header as withheld"
no_leak 2 red-for-b.example.org 198.51.100.201
if hex_in_files 2 "$slice"; then fail "C's files contain RED ciphertext"; fi
if hex_in_files 1 "$slice"; then :; fi # B is a recipient; it may hold the ciphertext
pass "RED for B: B reads it, C holds only the header and no byte of the payload"

# 3. RED for C, who is not connected to A; A restarts before they meet.
kn 0 publish --tlp red --to N2 red-for-c.example.com >/dev/null
slice=$(last_payload_slice 0)
sleep 1
lacks_value 2 red-for-c.example.com || fail "C got RED before meeting A"
no_leak 1 red-for-c.example.com
if hex_in_files 1 "$slice"; then fail "B's files contain RED ciphertext for C"; fi
net_stop 0
net_start 0
[ "$(kn 0 status --json | jq '.peers[] | select(.name == "N2") | .red_owed')" = 1 ] \
    || fail "A's status does not show the RED delivery it owes C"
kn 0 status | grep -q "disconnected, 1 RED owed" || fail "the status table does not show it"
kn 0 peer remove N2 >/dev/null
kn 2 peer remove N0 >/dev/null
net_link 0 2
wait_for 20 has_value 2 red-for-c.example.com || fail "C did not receive RED from A once connected"
wait_for 10 bash -c "'$KAWAN' --dir '$NET/n0' status --json | jq -e '.peers[] | select(.name == \"N2\") | .red_owed == 0'" \
    || fail "A still shows the RED delivery as owed"
pass "RED for C is delivered when A and C connect, across A's restart"
no_leak 1 red-for-c.example.com
for i in 0 1 2; do kn "$i" verify >/dev/null || fail "verify failed on node $i"; done
pass "every store verifies"

# 4. Re-marking: the AMBER indicator for C is re-marked GREEN; a new version of the same id,
# so B (which could not read the AMBER version) now reads it, and both see GREEN.
id=$(kn 0 query --value amber-for-c.example.net --json | jq -r .id)
kn 0 remark "$id" --tlp green >/dev/null
wait_for 15 has_value 1 amber-for-c.example.net || fail "B cannot read the re-marked GREEN version"
[ "$(kn 1 query --value amber-for-c.example.net --json | jq -r .tlp)" = GREEN ] || fail "B: tlp not GREEN"
[ "$(kn 1 query --value amber-for-c.example.net --json | jq -r .id)" = "$id" ] || fail "B: a new id"
wait_for 15 bash -c "'$KAWAN' --dir '$NET/n2' query --value amber-for-c.example.net --json | grep -q '\"tlp\":\"GREEN\"'" \
    || fail "C still shows the AMBER version"
[ "$(kn 2 query --value amber-for-c.example.net --json | wc -l)" = 1 ] || fail "C shows two versions"
kn 1 remark "$id" --tlp clear 2>"$NET/err" && fail "B re-marked A's indicator"
grep -q "only the origin" "$NET/err" || fail "unclear refusal: $(cat "$NET/err")"
pass "re-marking AMBER -> GREEN publishes a new version of the same id that the newest TLP governs"

# 5. Re-marking stricter: B cannot read the AMBER+STRICT version for C, so it must not keep
# showing (or exporting) the GREEN one as current. The old version is revoked first, under
# GREEN: B hides it; C reads the newer AMBER+STRICT version.
kn 0 remark "$id" --tlp amber+strict --to N2 >"$NET/remark.out"
grep -q "^re-marked $id in entry seq" "$NET/remark.out" || fail "remark said: $(cat "$NET/remark.out")"
wait_for 15 bash -c "'$KAWAN' --dir '$NET/n2' query --value amber-for-c.example.net --json | grep -q '\"tlp\":\"AMBER+STRICT\"'" \
    || fail "C does not show the AMBER+STRICT version"
wait_for 15 bash -c "out=\$('$KAWAN' --dir '$NET/n1' query --value amber-for-c.example.net --json) && [ -z \"\$out\" ]" \
    || fail "B still shows the GREEN version as current"
kn 1 query --all --value amber-for-c.example.net --json | jq -e 'select(.revoked)' >/dev/null \
    || fail "B does not hold the revocation"
kn 1 export --format stix --out "$NET/b-export.json" >/dev/null
jq -e --arg id "$id" '.objects[] | select(.id == $id) | .revoked' "$NET/b-export.json" >/dev/null \
    || fail "B's STIX export still offers the indicator as current"
[ "$(kn 0 query --value amber-for-c.example.net --json | jq -r .tlp)" = AMBER+STRICT ] \
    || fail "A does not show its own AMBER+STRICT version"
kn 0 remark "$id" --tlp amber+strict --to N1 >/dev/null || fail "re-marking to other recipients failed"
wait_for 15 has_value 1 amber-for-c.example.net || fail "B, now the recipient, cannot read it"
wait_for 15 bash -c "out=\$('$KAWAN' --dir '$NET/n2' query --value amber-for-c.example.net --json) && [ -z \"\$out\" ]" \
    || fail "C, no longer a recipient, still shows it"
kn 0 publish --tlp green same-level.example >/dev/null
sid=$(kn 0 query --value same-level.example --json | jq -r .id)
kn 0 remark "$sid" --tlp green 2>"$NET/err" && fail "a re-mark to the same plaintext level was accepted"
grep -q "already TLP:GREEN; nothing to do" "$NET/err" || fail "unclear refusal: $(cat "$NET/err")"
for i in 0 1 2; do kn "$i" verify >/dev/null || fail "verify failed on node $i"; done
pass "re-marking stricter withdraws the old version from those who cannot read the new one"
