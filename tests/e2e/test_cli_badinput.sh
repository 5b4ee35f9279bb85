#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bad input to the kawan CLI: each case gets one clear line on stderr starting with
# "kawan: ", exit code 2 for usage errors and 1 for other failures, and leaves the store
# as it was (same indicator count, `kawan verify` clean).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- no node ----
EMPTY="$KW_TMP/empty"
mkdir -m 700 "$EMPTY"
NOWHERE="$KW_TMP/does/not/exist"
NO_NODE="no node in $EMPTY \(run kawan init --name NAME first\)$"
bad 1 "$NO_NODE" "id on an empty directory" "$EMPTY" id
bad 1 "$NO_NODE" "status on an empty directory" "$EMPTY" status --json
bad 1 "$NO_NODE" "query on an empty directory" "$EMPTY" query
bad 1 "$NO_NODE" "publish on an empty directory" "$EMPTY" publish --tlp clear 1.2.3.4
bad 1 "$NO_NODE" "verify on an empty directory" "$EMPTY" verify
bad 1 "$NO_NODE" "revoke on an empty directory" "$EMPTY" revoke \
    indicator--5e2d3a1c-1b7a-4c8e-9f00-2a1b3c4d5e6f
bad 1 "$NO_NODE" "peer list on an empty directory" "$EMPTY" peer list
bad 1 "$NO_NODE" "community create on an empty directory" "$EMPTY" community create
bad 1 "$NO_NODE" "key protect on an empty directory" "$EMPTY" key protect
eq "nothing was created in the empty directory" "$(ls -A "$EMPTY")" ""
bad 1 "no node in $NOWHERE" "status on a missing directory" "$NOWHERE" status
check "the missing directory was not created"
[ ! -e "$NOWHERE" ] || fail "$NOWHERE was created"
check "the default directory is ~/.local/share/kawan"
run "$KAWAN" id
[ "$RC" -eq 1 ] || fail "kawan id without a node: exit $RC"
match "message names the default directory" "$ERR" "no node in $HOME/.local/share/kawan "

# ---- init ----
A="$KW_TMP/node-a"
bad 2 "--name NAME is required" "init without --name" "$A" init
bad 2 "node name 'bad name!' is not valid" "init with a bad name" "$A" init --name 'bad name!'
check "a refused init created nothing"
[ ! -e "$A" ] || fail "$A exists after refused inits"
ok "init" "$A" init --name CERT-A
ID=$OUT
KEYSUM=$(sha256sum <"$A/identity.key")
bad 1 "a node already exists in $A" "second init on the same directory" "$A" init --name OTHER
eq "second init left the key file alone" "$(sha256sum <"$A/identity.key")" "$KEYSUM"
ok "id after the second init" "$A" id
eq "the node id is unchanged" "$OUT" "$ID"
eq "the name is unchanged" "$(status_field "$A" name)" CERT-A

ok "publish a first indicator" "$A" publish --tlp clear first.example
BASE=$(indicators "$A")
eq "one indicator" "$BASE" 1

unchanged() {
    eq "$1: indicator count unchanged" "$(indicators "$A")" "$BASE"
}

# ---- command-line errors (exit 2) ----
bad 2 "unknown command 'frobnicate' \(see kawan help\)" "unknown command" "$A" frobnicate
bad 2 "missing command" "no command" "$A"
bad 2 "unknown option '--bogus' \(see kawan publish --help\)" "unknown option" "$A" publish \
    --tlp clear --bogus 1.2.3.4
bad 2 "unknown option '-x'" "unknown short option" "$A" query -x
bad 2 "unknown option '--frob'" "unknown global option" "$A" --frob status
bad 2 "option '--tlp' needs a value" "option without its value" "$A" publish --tlp
bad 2 "option '--json' takes no value" "flag given a value" "$A" query --json=yes
bad 2 "--tlp LEVEL is required" "publish without --tlp" "$A" publish 1.2.3.4
bad 2 "unknown TLP level 'purple'" "publish with an unknown TLP" "$A" publish --tlp purple \
    1.2.3.4
bad 2 "--confidence: '101' is not a number from 0 to 100" "confidence out of range" "$A" \
    publish --tlp clear --confidence 101 1.2.3.4
bad 2 "--confidence: 'high' is not a number" "confidence not a number" "$A" publish \
    --tlp clear --confidence high 1.2.3.4
bad 2 "--valid-until: 2001-01-01 is not in the future" "valid-until in the past" "$A" \
    publish --tlp clear --valid-until 2001-01-01 1.2.3.4
bad 2 "--valid-until: 'soon' is not a time" "valid-until not a time" "$A" publish \
    --tlp clear --valid-until soon 1.2.3.4
bad 2 "--type: unknown type 'ipv5'" "unknown --type" "$A" publish --tlp clear --type ipv5 \
    1.2.3.4
bad 2 "nothing to publish" "publish without values" "$A" publish --tlp clear
bad 2 "give values or --file, not both" "values and --file" "$A" publish --tlp clear \
    --file /dev/null 1.2.3.4
bad 2 "--csv needs --file" "--csv without --file" "$A" publish --tlp clear --csv 1.2.3.4
bad 2 "TLP:RED needs at least one recipient \(--to NODE-OR-NAME\)" "RED without --to" "$A" \
    publish --tlp red 1.2.3.4
bad 2 "--to applies only to amber" "--to with CLEAR" "$A" publish --tlp clear --to x 1.2.3.4
bad 2 "--value: '999.1.1.1' is not an IPv4 address" "query --value with a bad value" "$A" \
    query --value 999.1.1.1
bad 2 "--since: 'yesterday' is not a time" "query --since garbage" "$A" query --since yesterday
bad 2 "--limit: '0' is not a number" "query --limit 0" "$A" query --limit 0
bad 2 "'nope' is not an indicator id" "show a malformed id" "$A" show nope
bad 2 "missing INDICATOR-ID" "show without an id" "$A" show
bad 2 "unexpected argument 'extra'" "status with an extra argument" "$A" status extra
bad 2 "help: unknown command 'frob'" "help for an unknown command" "$A" help frob
bad 2 "unknown peer subcommand 'rename'" "unknown subcommand" "$A" peer rename a b
unchanged "after the command-line errors"

# ---- other failures (exit 1) ----
bad 1 "no indicator indicator--5e2d3a1c-1b7a-4c8e-9f00-2a1b3c4d5e6f" "show an unknown id" \
    "$A" show indicator--5e2d3a1c-1b7a-4c8e-9f00-2a1b3c4d5e6f
bad 1 "no indicator" "revoke an unknown id" "$A" revoke 5e2d3a1c-1b7a-4c8e-9f00-2a1b3c4d5e6f
bad 1 "unknown origin 'CERT-NOBODY': not a roster name or node id" "query an unknown origin" \
    "$A" query --origin CERT-NOBODY
bad 1 "unknown recipient 'CERT-NOBODY': not a roster name or node id" \
    "AMBER to an unknown recipient" "$A" publish --tlp amber --to CERT-NOBODY 1.2.3.4
B=$(new_node node-b) || exit 1
IDB=$(node_id "$B")
bad 1 "unknown recipient '$IDB': that node is not in the roster" \
    "RED to a node id that is not in the roster" "$A" publish --tlp red --to "$IDB" 1.2.3.4
bad 1 "cannot open /nonexistent/list.txt" "publish a missing file" "$A" publish --tlp clear \
    --file /nonexistent/list.txt
unchanged "after the failures"

# ---- invalid values ----
{
    echo "# header comment"
    for i in $(seq 1 25); do
        echo "192.0.2.$i"
        echo "999.1.1.$i"
    done
    echo "good.example"
} >"$KW_TMP/mixed.txt"
check "publish a file with 25 invalid values among 26 valid ones"
kw "$A" publish --tlp clear --file "$KW_TMP/mixed.txt"
[ "$RC" -eq 1 ] || { show_result; fail "expected exit 1, got $RC"; }
eq "nothing on stdout" "$OUT" ""
match "the first bad value is named with its line" "$ERR" \
    "^kawan: line 3: '999\.1\.1\.1' is not an IPv4 address \(octet 999 out of range\)$"
match "the 20th bad value is listed" "$ERR" "^kawan: line 41: '999\.1\.1\.20' "
nomatch "the 21st bad value is not listed" "$ERR" "999\.1\.1\.21'"
match "the rest are counted" "$ERR" "^kawan: \.\.\. and 5 more invalid values$"
match "the last line says nothing was published" "$(tail -1 <<<"$ERR")" \
    "^kawan: nothing published: 25 invalid values \(--skip-invalid publishes the 26 valid ones\)$"
eq "22 lines on stderr (20 values, the count, the verdict)" "$(lines "$ERR")" 22
unchanged "after the refused file"
verified "verify after the refused file" "$A"

check "publish invalid command-line values"
kw "$A" publish --tlp clear ok.example not_a_value! 1.2.3.4
[ "$RC" -eq 1 ] || { show_result; fail "expected exit 1, got $RC"; }
match "argument number named" "$ERR" "^kawan: argument 2: 'not_a_value!' "
unchanged "after the refused arguments"

check "--skip-invalid publishes the valid values and reports the others"
kw "$A" publish --tlp clear --skip-invalid --file "$KW_TMP/mixed.txt"
[ "$RC" -eq 0 ] || { show_result; fail "expected success, got $RC"; }
match "summary counts the skipped values" "$OUT" \
    '^published 26 indicators in 1 entries \(seq 2-2\), 0 duplicates skipped, 25 invalid skipped$'
match "skipped values are reported" "$ERR" "^kawan: skipped line 3: '999\.1\.1\.1' "
match "the rest of the skipped values are counted" "$ERR" "and 5 more invalid values skipped"
BASE=$((BASE + 26))
unchanged "after --skip-invalid"

printf '999.9.9.9\nnot a value\n' >"$KW_TMP/allbad.txt"
check "--skip-invalid with nothing valid"
kw "$A" publish --tlp clear --skip-invalid --file "$KW_TMP/allbad.txt"
[ "$RC" -eq 1 ] || { show_result; fail "expected exit 1, got $RC"; }
match "says all values are invalid" "$(tail -1 <<<"$ERR")" \
    "^kawan: nothing published: all 2 values are invalid$"
unchanged "after an all-invalid file"

printf '# only a comment\n\n   \n' >"$KW_TMP/novalues.txt"
bad 1 "nothing published: $KW_TMP/novalues.txt holds no values" "a file with no values" "$A" \
    publish --tlp clear --file "$KW_TMP/novalues.txt"

printf 'one.example\ntwo.example\nthr\0ee.example\n' >"$KW_TMP/nul.txt"
bad 1 "$KW_TMP/nul.txt line 3: binary data" "a file with a NUL byte" "$A" publish \
    --tlp clear --file "$KW_TMP/nul.txt"
# A line in another encoding is one invalid value, named like the others.
printf 'one.example\n\xff\xfeb\xc3(x.example\n' >"$KW_TMP/latin.txt"
check "a file with a line that is not UTF-8"
kw "$A" publish --tlp clear --file "$KW_TMP/latin.txt"
[ "$RC" -eq 1 ] || { show_result; fail "a line that is not UTF-8: exit $RC"; }
match "the line is named with its first bad byte" "$ERR" \
    "^kawan: line 2: '\\\\xff.*' is not UTF-8 text \\(invalid byte 0xff at column 1\\)$"
match "and nothing is published" "$ERR" "^kawan: nothing published: 1 invalid value"
ok "with --skip-invalid the rest is published" "$A" publish --tlp clear --skip-invalid \
    --file "$KW_TMP/latin.txt"
match "one published, one skipped" "$OUT" "^published 1 indicators .* 1 invalid skipped$"
BASE=$((BASE + 1))
# A line cut at 256 KiB inside a character is reported as too long, not as bad UTF-8.
{ head -c 262143 /dev/zero | tr '\0' a; printf '\xe2\x80\xa2tail\nlong-after.example\n'; } \
    >"$KW_TMP/long-utf8.txt"
ok "a line longer than 256 KiB with --skip-invalid" "$A" publish --tlp clear --skip-invalid \
    --file "$KW_TMP/long-utf8.txt"
match "it is skipped as too long" "$ERR" "is on a line longer than 256 KiB"
BASE=$((BASE + 1))
# CSV: a quoted field may span lines (RFC 4180); one never closed is an error, and none of
# its lines is read as a record of its own.
printf 'value,comment\nmulti-a.example,"seen talking to\n8.8.8.8,a resolver"\nmulti-b.example,x\n' \
    >"$KW_TMP/multiline.csv"
ok "a CSV comment over two lines" "$A" publish --tlp clear --csv --file "$KW_TMP/multiline.csv"
match "two records, two values" "$OUT" "^published 2 indicators"
ok "the resolver in the comment was not published" "$A" query --value 8.8.8.8 --json
eq "no 8.8.8.8" "$OUT" ""
BASE=$((BASE + 2))
printf 'value,comment\nstray-a.example,5" floppy\nstray-b.example,x\n' >"$KW_TMP/stray.csv"
ok "a quote inside an unquoted field is an ordinary character" "$A" publish --tlp clear --csv \
    --file "$KW_TMP/stray.csv"
match "both rows are published" "$OUT" "^published 2 indicators"
BASE=$((BASE + 2))
printf 'value\nopen-a.example\n"open-b.example\n9.9.9.9\n' >"$KW_TMP/unclosed.csv"
check "a CSV quote never closed"
kw "$A" publish --tlp clear --csv --skip-invalid --file "$KW_TMP/unclosed.csv"
[ "$RC" -eq 0 ] || { show_result; fail "unclosed quote with --skip-invalid: exit $RC"; }
match "the open record is named" "$ERR" "line 3: .* has a quoted field that is never closed"
ok "the lines after the open quote were not published" "$A" query --value 9.9.9.9 --json
eq "no 9.9.9.9" "$OUT" ""
BASE=$((BASE + 1))
head -c 4096 /bin/sh >"$KW_TMP/binary"
bad 1 "$KW_TMP/binary line [0-9]+: (binary data|not UTF-8)" "a binary file" "$A" publish \
    --tlp clear --file "$KW_TMP/binary"
printf '192.0.2.1\n' | gzip >"$KW_TMP/list.gz"
bad 1 "list.gz is gzip-compressed; decompress it first" "a gzip file" "$A" publish \
    --tlp clear --file "$KW_TMP/list.gz"
printf '\xff\xfe1\x009\x002\x00.\x000\x00.\x002\x00.\x001\x00\n\x00' >"$KW_TMP/utf16.txt"
bad 1 "utf16.txt is UTF-16LE text, not UTF-8; convert it first \(iconv -f UTF-16LE" "a UTF-16 file" \
    "$A" publish --tlp clear \
    --file "$KW_TMP/utf16.txt"
printf '1\0\0\0009\0\0\0\n\0\0\0' >"$KW_TMP/utf32.txt"
bad 1 "utf32.txt is UTF-32LE text, not UTF-8; convert it first \(iconv -f UTF-32LE" "a UTF-32 file" \
    "$A" publish --tlp clear --file "$KW_TMP/utf32.txt"
printf '\0\0\1\0\1\0\20\20\0\0' >"$KW_TMP/icon.bin"
bad 1 "icon.bin line 1: binary data" "binary data with NULs where UTF-16 would have them" "$A" \
    publish --tlp clear --file "$KW_TMP/icon.bin"
unchanged "after the binary files"
# A feed downloaded again into its path while it is being checked: nothing is published
# from the part, or the mix, that was read.
awk 'BEGIN { for (i = 0; i < 2000000; i++) printf "r%d.rewritten.example\n", i }' >"$KW_TMP/feed.txt"
for how in truncated rewritten; do
    cp "$KW_TMP/feed.txt" "$KW_TMP/live.txt"
    "$KAWAN" --dir "$A" publish --tlp clear --file "$KW_TMP/live.txt" \
        >"$KW_TMP/live.out" 2>"$KW_TMP/live.err" </dev/null &
    pid=$!
    # Until it has read some of the file (its offset in /proc), however slow the machine.
    for _ in $(seq 1 1000); do
        fd=$(ls -l "/proc/$pid/fd" 2>/dev/null | awk '/live\.txt/ { print $9; exit }')
        pos=0
        [ -n "$fd" ] && pos=$(awk '/^pos:/ { print $2 }' "/proc/$pid/fdinfo/$fd" 2>/dev/null || echo 0)
        [ "${pos:-0}" -gt 0 ] && break
        sleep 0.01
    done
    if [ "$how" = truncated ]; then : >"$KW_TMP/live.txt"; else echo new.example >"$KW_TMP/live.txt"; fi
    rc=0
    wait "$pid" || rc=$?
    check "a file $how while it is read"
    [ "$rc" = 1 ] || { cat "$KW_TMP/live.err"; fail "a file $how while it was read: exit $rc"; }
    match "it says the file changed" "$(cat "$KW_TMP/live.err")" "live.txt changed while it was being read; nothing published"
    unchanged "after a file $how while it was read"
done
verified "verify after the bad files" "$A"

# ---- damaged or exposed key file ----
cp -p "$A/identity.key" "$KW_TMP/identity.key.good"
printf 'this is not a key file at all, just some text padding it out to 86 bytes..........\n' \
    >"$A/identity.key"
bad 1 "$A/identity.key is damaged or not a kawan key file$" "a key file of garbage: publish" \
    "$A" publish --tlp clear 1.2.3.4
bad 1 "$A/identity.key is damaged or not a kawan key file$" "a key file of garbage: id" "$A" id
cp -p "$KW_TMP/identity.key.good" "$A/identity.key"
# Byte 20 inverted (a fixed value would leave 1 key in 256 unchanged).
B20=$(head -c 21 "$KW_TMP/identity.key.good" | tail -c 1 | od -An -tu1 | tr -d ' ')
printf "\\x$(printf '%02x' $((B20 ^ 255)))" | dd of="$A/identity.key" bs=1 seek=20 conv=notrunc \
    2>/dev/null
cmp -s "$KW_TMP/identity.key.good" "$A/identity.key" && fail "the key file was not changed"
bad 1 "$A/identity.key is damaged or not a kawan key file$" "a key file with one byte changed" \
    "$A" publish --tlp clear 1.2.3.4
head -c 40 "$KW_TMP/identity.key.good" >"$A/identity.key"
bad 1 "$A/identity.key is damaged or not a kawan key file$" "a truncated key file" "$A" \
    verify
cp -p "$KW_TMP/identity.key.good" "$A/identity.key"
chmod 644 "$A/identity.key"
bad 1 "$A/identity.key: permission denied, or readable by others" \
    "a key file readable by others" "$A" publish --tlp clear 1.2.3.4
chmod 600 "$A/identity.key"
cp -p "$B/identity.key" "$A/identity.key"
bad 1 "does not belong to the store" "another node's key file" "$A" publish --tlp clear \
    1.2.3.4
cp -p "$KW_TMP/identity.key.good" "$A/identity.key"
unchanged "after the key file cases"
verified "verify with the key restored" "$A"

# ---- passphrase-protected key ----
printf 'correct horse battery staple\n' >"$KW_TMP/pass"
printf 'wrong\n' >"$KW_TMP/wrong"
ok "key protect --passphrase-fd" "$A" key protect --passphrase-fd 3 3<"$KW_TMP/pass"
PROTECTED=$(sha256sum <"$A/identity.key")
bad 1 "wrong passphrase for $A/identity.key$" "publish with a wrong passphrase" "$A" publish \
    --tlp clear 1.2.3.4 --passphrase-fd 3 3<"$KW_TMP/wrong"
bad 1 "no terminal to ask for the passphrase \(use --passphrase-fd N\)" \
    "publish with a protected key and no terminal" "$A" publish --tlp clear 1.2.3.4 </dev/null
bad 1 "wrong passphrase" "key unprotect with a wrong passphrase" "$A" key unprotect \
    --passphrase-fd 3 3<"$KW_TMP/wrong"
eq "a wrong passphrase changed nothing" "$(sha256sum <"$A/identity.key")" "$PROTECTED"
bad 1 "already protected by a passphrase" "key protect twice" "$A" key protect \
    --passphrase-fd 3 3<"$KW_TMP/pass"
printf '\n' >"$KW_TMP/empty-pass"
bad 1 "empty passphrase" "an empty passphrase" "$A" verify --passphrase-fd 3 \
    3<"$KW_TMP/empty-pass"
unchanged "after the passphrase failures"
ok "key unprotect with the right passphrase" "$A" key unprotect --passphrase-fd 3 \
    3<"$KW_TMP/pass"
verified "verify at the end" "$A"
unchanged "at the end"

printf '0.0.0.0 hosts-ok.example 192.0.2.9\n' >"$KW_TMP/hosts-ip.txt"
check "an address where a hosts file has names"
kw "$A" publish --tlp clear --file "$KW_TMP/hosts-ip.txt"
[ "$RC" -eq 1 ] || { show_result; fail "an address in a hosts line was published"; }
match "it is refused as a name" "$ERR" "line 1: '192.0.2.9' has an all-numeric top-level label"
printf 'type,value,to_ids\nip-dst,192.0.2.140,\nip-dst,192.0.2.141,0\n' >"$KW_TMP/misp-noids.csv"
check "a MISP CSV whose rows are not for detection (to_ids empty or 0)"
kw "$A" publish --tlp clear --csv --file "$KW_TMP/misp-noids.csv"
[ "$RC" -eq 1 ] || { show_result; fail "rows without to_ids were published"; }
match "it says why nothing is published" "$ERR" "holds no values to publish \(2 not for detection"
check "import from an empty standard input"
kw "$A" import --format stix - --tlp clear </dev/null
[ "$RC" -eq 1 ] || { show_result; fail "an empty standard input was imported"; }
match "it says so" "$ERR" "^kawan: standard input is empty; nothing imported$"
unchanged "after the hosts, MISP CSV and empty-input cases"

# ---- standard descriptors closed ----
# Started by a supervisor with 0, 1 and 2 closed, kawan must not write its messages (here
# the warnings about skipped values) into whatever file it opens next: the store.
printf 'not..valid\n192.0.2.77\n' >"$KW_TMP/closed-fds.txt"
check "publish with stdin, stdout and stderr closed"
"$KAWAN" --dir "$A" publish --tlp clear --skip-invalid --file "$KW_TMP/closed-fds.txt" \
    <&- >&- 2>&-
[ $? -eq 0 ] || fail "publish with closed descriptors failed"
verified "verify after the closed-descriptor publish" "$A"
eq "the value was published" "$(indicators "$A")" "$((BASE + 1))"
check "publish --file - with stdin closed reads nothing"
"$KAWAN" --dir "$A" publish --tlp clear --file - <&- 2>"$KW_TMP/closed-in.err"
[ $? -eq 1 ] || fail "publish --file - with stdin closed did not fail"
match "it says standard input is empty" "$(cat "$KW_TMP/closed-in.err")" \
    "standard input holds no values"
verified "verify at the very end" "$A"

# Line ends: LF, CR and CRLF mixed with lines around the 256 KiB limit, from a file and from a
# pipe written in uneven pieces; where a read stops must never change where a line ends, and
# both readings (check, then publish) must agree.
M=262144
for seed in 1 2 3 4; do
    RANDOM=$seed
    : >"$KW_TMP/ends.txt"
    doms=0 longs=0
    for i in $(seq 1 24); do
        if [ $((RANDOM % 4)) = 0 ]; then
            lens=($((M - 2)) $((M - 1)) $M $((M + 1)) $((2 * M - 1)) 100)
            head -c "${lens[$((RANDOM % 6))]}" /dev/zero | tr '\0' a >>"$KW_TMP/ends.txt"
            longs=$((longs + 1))
        else
            printf 'e%d-%d.ends.example' "$seed" "$i" >>"$KW_TMP/ends.txt"
            doms=$((doms + 1))
        fi
        ends=('\n' '\r' '\r\n')
        printf "${ends[$((RANDOM % 3))]}" >>"$KW_TMP/ends.txt"
    done
    size=$(stat -c %s "$KW_TMP/ends.txt")
    pieces=(1 2 3 4096 65536 262143 262144 300000)
    for how in file pipe; do
        E=$(new_node "ENDS-$seed-$how")
        if [ "$how" = file ]; then
            kw "$E" publish --tlp green --skip-invalid --file "$KW_TMP/ends.txt"
        else
            off=0
            : >"$KW_TMP/ends.plan"
            while [ "$off" -lt "$size" ]; do
                n=${pieces[$((RANDOM % 8))]}
                echo "$off $n" >>"$KW_TMP/ends.plan"
                off=$((off + n))
            done
            run "$KAWAN" --dir "$E" publish --tlp green --skip-invalid --file - < <(
                while read -r o n; do
                    tail -c +$((o + 1)) "$KW_TMP/ends.txt" | head -c "$n"
                    [ "$n" -gt 4096 ] && sleep 0.01
                done <"$KW_TMP/ends.plan")
        fi
        check "line ends, seed $seed, from a $how"
        [ "$RC" -eq 0 ] || { show_result; fail "line ends, seed $seed, $how: exit $RC"; }
        match "seed $seed, $how: every name once, every long line invalid" "$OUT" \
            "^published $doms indicators .* $longs invalid skipped"
        nomatch "seed $seed, $how: the two readings agree" "$ERR" "changed while"
    done
done

echo "PASS: test_cli_badinput"
