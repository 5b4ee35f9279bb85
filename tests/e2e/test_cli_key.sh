#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Passphrase protection of the identity key: init --passphrase, key protect/unprotect, and
# commands that sign asking for the passphrase (read from --passphrase-fd here).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A="$KW_TMP/node-a"
printf 'a long and secret passphrase\n' >"$KW_TMP/pass"
printf 'not it\n' >"$KW_TMP/wrong"

bad 1 "no terminal to ask for the passphrase" "init --passphrase without a terminal or fd" "$A" \
    init --name CERT-A --passphrase </dev/null
check "the refused init left nothing behind"
[ ! -e "$A" ] || fail "$A exists after a refused init"
ok "init --passphrase --passphrase-fd 3" "$A" init --name CERT-A --passphrase \
    --passphrase-fd 3 3<"$KW_TMP/pass"
ID=$OUT
match "init printed the id" "$ID" '^kw1[a-z2-7]{52}$'
eq "identity.key is mode 0600" "$(file_mode "$A/identity.key")" 600
nomatch "the passphrase is not in the key file" "$(strings "$A/identity.key")" "secret passphrase"
ok "id needs no passphrase" "$A" id
eq "id" "$OUT" "$ID"
ok "status needs no passphrase" "$A" status --json
bad 1 "no terminal to ask for the passphrase" "publish needs the passphrase" "$A" publish \
    --tlp clear 1.2.3.4 </dev/null
bad 1 "wrong passphrase for $A/identity.key$" "publish with a wrong passphrase" "$A" publish \
    --tlp clear 1.2.3.4 --passphrase-fd 3 3<"$KW_TMP/wrong"
eq "nothing published with a wrong passphrase" "$(indicators "$A")" 0
ok "publish with the passphrase" "$A" publish --tlp clear 1.2.3.4 --passphrase-fd 3 \
    3<"$KW_TMP/pass"
eq "published with the passphrase" "$(indicators "$A")" 1
nomatch "the passphrase is never printed" "$OUT$ERR" "secret passphrase"

SEALED=$(sha256sum <"$A/identity.key")
ok "key unprotect" "$A" key unprotect --passphrase-fd 3 3<"$KW_TMP/pass"
check "the key file changed"
[ "$(sha256sum <"$A/identity.key")" != "$SEALED" ] || fail "key unprotect left the file as it was"
eq "the unprotected key file is mode 0600" "$(file_mode "$A/identity.key")" 600
ok "publish without a passphrase now" "$A" publish --tlp clear 5.6.7.8 </dev/null
ok "id after unprotect" "$A" id
eq "same node id" "$OUT" "$ID"
bad 1 "is not protected by a passphrase" "key unprotect twice" "$A" key unprotect
ok "key protect again" "$A" key protect --passphrase-fd 3 3<"$KW_TMP/pass"
bad 1 "wrong passphrase" "verify with a wrong passphrase" "$A" verify --passphrase-fd 3 \
    3<"$KW_TMP/wrong"
verified "verify with the passphrase" "$A" --passphrase-fd 3 3<"$KW_TMP/pass"
eq "indicators at the end" "$(indicators "$A")" 2

echo "PASS: test_cli_key"
