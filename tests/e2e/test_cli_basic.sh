#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Round trip through the kawan CLI on one node: init, id, status, publish (values, file,
# CSV, stdin), query (normalised values, filters, table and JSON Lines), show, revoke,
# verify.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A="$KW_TMP/node-a"
UUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

# ---- help ----
check "kawan help lists the commands"
run "$KAWAN" help
[ "$RC" -eq 0 ] || fail "kawan help: exit $RC"
for c in init id publish query show revoke verify status community peer key; do
    match "kawan help names '$c'" "$OUT" "^  $c "
done
ok "kawan --help" "$A" --help
match "kawan --help lists publish" "$OUT" "^  publish "
ok "kawan publish --help" "$A" publish --help
match "publish --help describes --tlp" "$OUT" "--tlp LEVEL"
ok "kawan help query" "$A" help query
match "kawan help query describes --contains" "$OUT" "--contains S"
ok "kawan help peer add" "$A" help peer add
match "kawan help peer add shows the peer usage" "$OUT" "kawan peer add NAME NODE-ID \\[HOST:PORT\\]"

# ---- init and id ----
ok "init --name CERT-A" "$A" init --name CERT-A
ID=$OUT
match "init prints a node id" "$ID" '^kw1[a-z2-7]{52}$'
eq "data directory is mode 0700" "$(file_mode "$A")" 700
eq "identity.key is mode 0600" "$(file_mode "$A/identity.key")" 600
ok "kawan id" "$A" id
eq "kawan id prints the id init printed" "$OUT" "$ID"
check "KAWAN_DIR selects the node when --dir is absent"
OUT=$(KAWAN_DIR="$A" "$KAWAN" id) || fail "KAWAN_DIR=$A kawan id failed"
eq "kawan id through KAWAN_DIR" "$OUT" "$ID"
check "--dir is also accepted after the command"
OUT=$("$KAWAN" id --dir "$A") || fail "kawan id --dir failed"
eq "kawan id --dir DIR" "$OUT" "$ID"

# ---- status of an empty node ----
ok "status --json on a new node" "$A" status --json
eq "status node_id" "$(jq -r .node_id <<<"$OUT")" "$ID"
eq "status name" "$(jq -r .name <<<"$OUT")" "CERT-A"
eq "status indicators" "$(jq -r .indicators <<<"$OUT")" 0
eq "status entries" "$(jq -r .entries <<<"$OUT")" 0
eq "status roster" "$(jq -r .roster <<<"$OUT")" 0
eq "status forks" "$(jq -r .forks <<<"$OUT")" 0
eq "status: no daemon runs" "$(jq -r .daemon <<<"$OUT")" false
eq "status: no peers" "$(jq -c .peers <<<"$OUT")" "[]"
ok "status (table)" "$A" status
match "status shows the node id" "$OUT" "^node id +$ID$"

# ---- publish values ----
ok "publish three values of three types with every option" "$A" publish --tlp TLP:Clear \
    --label phishing --label 'campaign x' --confidence 80 --valid-until +30d \
    --description 'seen in "mail" wave' 1.2.3.4 Example.COM. 'http://Foo.Example/x?q=1'
match "publish summary" "$OUT" \
    '^published 3 indicators in 1 entries \(seq 1-1\), 0 duplicates skipped, 0 invalid skipped$'
eq "status counts 3 indicators" "$(indicators "$A")" 3

# ---- query: normalised value, JSON fields ----
ok "query --value Example.COM. --json" "$A" query --value Example.COM. --json
eq "query --value finds exactly one indicator" "$(lines "$OUT")" 1
J=$OUT
eq "json value is normalised" "$(jq -r .value <<<"$J")" example.com
eq "json type" "$(jq -r .type <<<"$J")" domain
eq "json tlp upper-case" "$(jq -r .tlp <<<"$J")" CLEAR
eq "json origin is the node id" "$(jq -r .origin <<<"$J")" "$ID"
eq "json origin_name" "$(jq -r .origin_name <<<"$J")" CERT-A
eq "json confidence" "$(jq -r .confidence <<<"$J")" 80
eq "json labels" "$(jq -c .labels <<<"$J")" '["phishing","campaign x"]'
eq "json indicator_types is an array" "$(jq -r '.indicator_types|type' <<<"$J")" array
eq "json description (quotes escaped properly)" "$(jq -r .description <<<"$J")" \
    'seen in "mail" wave'
eq "json revoked" "$(jq -r .revoked <<<"$J")" false
match "json id is indicator--<uuid v4>" "$(jq -r .id <<<"$J")" "^indicator--$UUID_RE$"
for f in created modified valid_from valid_until; do
    match "json $f is RFC 3339 UTC with ms" "$(jq -r ".$f" <<<"$J")" "$TIME_RE"
done
eq "created == modified" "$(jq -r .created <<<"$J")" "$(jq -r .modified <<<"$J")"
eq "created == valid_from" "$(jq -r .created <<<"$J")" "$(jq -r .valid_from <<<"$J")"
check "valid_until is about 30 days after created"
DAYS=$(jq -r '((.valid_until|sub("\\.[0-9]+Z$";"Z")|fromdate) - (.created|sub("\\.[0-9]+Z$";"Z")|fromdate)) / 86400 | round' <<<"$J")
eq "valid_until - created in days" "$DAYS" 30
DOMAIN_ID=$(jq -r .id <<<"$J")

ok "query --value 'http://FOO.example/x?q=1' (url host normalised)" "$A" query \
    --value 'http://FOO.example/x?q=1' --json
eq "the url is found" "$(jq -r .value <<<"$OUT")" 'http://foo.example/x?q=1'
ok "query --type ipv4 --json" "$A" query --type ipv4 --json
eq "one ipv4" "$(jq -r .value <<<"$OUT")" 1.2.3.4
ok "query --contains foo.ex --json" "$A" query --contains foo.ex --json
eq "--contains finds the url" "$(jq -r .type <<<"$OUT")" url
ok "query --tlp green --json (no match)" "$A" query --tlp green --json
eq "no results: nothing on stdout with --json" "$OUT" ""
eq "no results: nothing on stderr with --json" "$ERR" ""
ok "query --tlp green (table, no match)" "$A" query --tlp green
eq "no results: empty stdout" "$OUT" ""
eq "no results: message on stderr" "$ERR" "kawan: no indicators found"
ok "query (table)" "$A" query
eq "table: header and 3 rows" "$(lines "$OUT")" 4
match "table header" "$(head -1 <<<"$OUT")" '^ID +TYPE +VALUE +TLP +ORIGIN +MODIFIED$'
match "table row names the origin" "$OUT" "^$DOMAIN_ID +domain +example\.com +CLEAR +CERT-A +[0-9T:.Z-]+$"
ok "query --limit 2 --json" "$A" query --limit 2 --json
eq "--limit 2" "$(lines "$OUT")" 2
ok "query --origin CERT-A --json" "$A" query --origin CERT-A --json
eq "--origin by name" "$(lines "$OUT")" 3
ok "query --origin <id> --json" "$A" query --origin "$ID" --json
eq "--origin by id" "$(lines "$OUT")" 3
ok "query --since 1h --json" "$A" query --since 1h --json
eq "--since 1h finds the new ones" "$(lines "$OUT")" 3
ok "query --since 2099-01-01T00:00:00Z --json" "$A" query --since 2099-01-01T00:00:00Z --json
eq "--since in the future finds none" "$(lines "$OUT")" 0

# ---- show ----
ok "show ID --json" "$A" show "$DOMAIN_ID" --json
eq "show --json is the query object" "$(jq -cS . <<<"$OUT")" "$(jq -cS . <<<"$J")"
ok "show ID (text)" "$A" show "$DOMAIN_ID"
match "show text has the value" "$OUT" '^value +example\.com$'
match "show text has the origin with its name" "$OUT" "^origin +$ID \(CERT-A\)$"
ok "show accepts a bare uuid" "$A" show "${DOMAIN_ID#indicator--}" --json
eq "show by bare uuid" "$(jq -r .id <<<"$OUT")" "$DOMAIN_ID"

# ---- files: comments, blank lines, CRLF, CSV, stdin ----
printf '# a comment\n\n10.0.0.1\r\n  # indented comment\n2001:DB8::1\nd41d8cd98f00b204e9800998ecf8427e\n\n' \
    >"$KW_TMP/list.txt"
ok "publish --file with comments, blank lines and CRLF" "$A" publish --tlp green \
    --file "$KW_TMP/list.txt"
match "file summary" "$OUT" '^published 3 indicators in 1 entries \(seq 2-2\)'
ok "query the IPv6 value in canonical form" "$A" query --value 2001:db8:0:0:0:0:0:1 --json
eq "ipv6 stored as RFC 5952" "$(jq -r .value <<<"$OUT")" 2001:db8::1
eq "file indicators are GREEN" "$(jq -r .tlp <<<"$OUT")" GREEN

cat >"$KW_TMP/list.csv" <<'EOF'
comment,Value,type
"first, with comma",csv-one.example,domain
"quoted ""value""","csv-two.example",
x,192.0.2.55,ipv4
EOF
ok "publish --csv with a header, quoted fields and a type column" "$A" publish --tlp clear \
    --csv --file "$KW_TMP/list.csv"
match "csv summary" "$OUT" '^published 3 indicators'
ok "csv value from a quoted field" "$A" query --value csv-two.example --json
eq "csv-two.example found" "$(jq -r .value <<<"$OUT")" csv-two.example
printf 'csv-three.example,ignored\n"CSV-Four.Example",x\n' >"$KW_TMP/nohdr.csv"
ok "publish --csv without a header (first column is the value)" "$A" publish --tlp clear \
    --csv --file "$KW_TMP/nohdr.csv"
match "csv without header summary" "$OUT" '^published 2 indicators'
# A MISP CSV export: MISP type names, to_ids and tlp: tags are honoured.
cat >"$KW_TMP/misp.csv" <<'EOF'
uuid,event_id,category,type,value,comment,to_ids,date,object_relation,attribute_tag
5f1e1a2b-0000-4000-8000-000000000001,42,Network activity,ip-dst,192.0.2.120,"C2, primary",1,1700000000,,"tlp:clear,osint:x"
5f1e1a2b-0000-4000-8000-000000000003,42,External analysis,link,https://blog.example.org/r,,0,1700000000,,
5f1e1a2b-0000-4000-8000-000000000004,42,Payload delivery,filename|md5,a.exe|0cc175b9c0f1b6a831c399e269772661,,1,1700000000,,
5f1e1a2b-0000-4000-8000-000000000005,42,Network activity,domain|ip,misp-csv.example|192.0.2.121,,True,1700000000,,
5f1e1a2b-0000-4000-8000-000000000006,42,Artifacts dropped,yara,rule x {},,1,1700000000,,
EOF
ok "publish a MISP CSV export" "$A" publish --tlp clear --csv --file "$KW_TMP/misp.csv"
match "to_ids 0 and unsupported types are skipped and counted" "$OUT" \
    '^published 4 indicators .* 1 not for detection \(to_ids 0\) skipped, 1 of MISP types kawan does not carry skipped$'
for v in 192.0.2.120 0cc175b9c0f1b6a831c399e269772661 misp-csv.example 192.0.2.121; do
    ok "the MISP CSV value $v" "$A" query --value "$v" --json
    eq "$v is there" "$(jq -r .value <<<"$OUT")" "$v"
done
ok "the link row was not published" "$A" query --value https://blog.example.org/r --json
eq "no link" "$OUT" ""
printf 'type,value,to_ids,attribute_tag\nip-dst,192.0.2.130,1,tlp:red\n' >"$KW_TMP/misp-red.csv"
check "a MISP CSV row tagged stricter than --tlp"
kw "$A" publish --tlp clear --csv --file "$KW_TMP/misp-red.csv"
[ "$RC" -eq 1 ] || { show_result; fail "a tlp:red row was published as clear"; }
match "it is refused, naming the tag" "$ERR" "is tagged tlp:red, stricter than --tlp CLEAR"

check "publish --file - reads standard input"
run "$KAWAN" --dir "$A" publish --tlp clear --file - <<<$'stdin-one.example\nstdin-two.example'
[ "$RC" -eq 0 ] || { show_result; fail "publish --file -"; }
match "stdin summary" "$OUT" '^published 2 indicators'
ok "query a value from stdin" "$A" query --value stdin-two.example --json
eq "stdin value found" "$(lines "$OUT")" 1
nomatch "no spool file is left in the data directory" "$(ls -A "$A")" 'publish-stdin'
ok "publish --file from a FIFO (process substitution)" "$A" publish --tlp clear \
    --file <(printf 'fifo-one.example\nfifo-two.example\n')
match "FIFO summary" "$OUT" '^published 2 indicators'
printf 'not-this.example\nredirected.example\n' >"$KW_TMP/redirect.txt"
check "publish --file - from a regular file whose first line the shell already read"
{
    read -r _
    run "$KAWAN" --dir "$A" publish --tlp clear --file -
} <"$KW_TMP/redirect.txt"
[ "$RC" -eq 0 ] || { show_result; fail "publish --file - from a redirected file"; }
match "only the unread line is published" "$OUT" '^published 1 indicators'
ok "query the redirected value" "$A" query --value not-this.example --json
eq "the line read before kawan started is not published" "$OUT" ""

# ---- duplicates ----
ok "publishing a value again" "$A" publish --tlp clear example.com 192.0.2.200 192.0.2.200
match "duplicates are skipped and counted" "$OUT" \
    '^published 1 indicators in 1 entries \(seq [0-9]+-[0-9]+\), 2 duplicates skipped, 0 invalid skipped$'

check "publishing a value again under another TLP"
kw "$A" publish --tlp green csv-one.example
[ "$RC" -eq 0 ] || { show_result; fail "a duplicate under another TLP failed"; }
match "it is a duplicate" "$OUT" '1 duplicates skipped'
match "the warning points to kawan remark" "$ERR" \
    '^kawan: 1 of the duplicates is already published by this node under another TLP level \(kawan remark ID --tlp LEVEL changes the level\)$'

COUNT=$(indicators "$A")
eq "indicator count so far" "$COUNT" 21

# ---- revoke ----
ok "revoke the domain" "$A" revoke "$DOMAIN_ID"
match "revoke prints the new entry seq" "$OUT" "^revoked $DOMAIN_ID in entry seq [0-9]+$"
REV_SEQ=$(sed -E 's/.* seq ([0-9]+)$/\1/' <<<"$OUT")
eq "revoked indicator is no longer current" "$(indicators "$A")" $((COUNT - 1))
ok "query --value example.com --json after revoke" "$A" query --value example.com --json
eq "revoked indicator is hidden" "$OUT" ""
ok "query --value example.com --all --json" "$A" query --value example.com --all --json
eq "--all shows it" "$(lines "$OUT")" 1
eq "--all: revoked is true" "$(jq -r .revoked <<<"$OUT")" true
eq "--all: the new version lives in the revoke entry" "$(jq -r .seq <<<"$OUT")" "$REV_SEQ"
eq "--all: same created as before" "$(jq -r .created <<<"$OUT")" "$(jq -r .created <<<"$J")"
check "the new version's modified is later than the old one"
[[ "$(jq -r .modified <<<"$OUT")" > "$(jq -r .modified <<<"$J")" ]] \
    || fail "modified did not move forward: $(jq -r .modified <<<"$OUT")"
ok "query --all (table) marks it revoked" "$A" query --all --value example.com
match "table shows 'revoked'" "$OUT" "^$DOMAIN_ID .* revoked$"
ok "show a revoked indicator" "$A" show "$DOMAIN_ID"
match "show says revoked" "$OUT" '^revoked +yes$'
bad 1 "already revoked" "revoking twice" "$A" revoke "$DOMAIN_ID"

# ---- status and verify ----
ok "status --json" "$A" status --json
ENTRIES=$(jq -r .entries <<<"$OUT")
eq "feeds holds this node's head at the last seq" "$(jq -r --arg id "$ID" '.feeds[$id]' <<<"$OUT")" \
    "$ENTRIES"
eq "feed_names names this node" "$(jq -r --arg id "$ID" '.feed_names[$id]' <<<"$OUT")" CERT-A
match "store_bytes is a positive number" "$(jq -r .store_bytes <<<"$OUT")" '^[1-9][0-9]*$'
verified "verify after the round trip" "$A"
match "verify counts every entry" "$OUT" "^checked $ENTRIES entries"

# ---- the shared corpora ----
if have_corpora; then
    for f in md5 sha1; do
        FILE="$KW_CORPORA/iocs/malicious/$f.txt"
        N=$(grep -cv '^[[:space:]]*$' "$FILE")
        BEFORE=$(indicators "$A")
        ok "publish the corpus $f.txt ($N values)" "$A" publish --tlp green --type "$f" \
            --file "$FILE"
        match "corpus $f summary" "$OUT" "^published $N indicators"
        eq "status after $f.txt" "$(indicators "$A")" $((BEFORE + N))
    done
    ok "query --type sha1 --limit 5 --json" "$A" query --type sha1 --limit 5 --json
    eq "5 sha1 results" "$(lines "$OUT")" 5
    verified "verify after the corpus" "$A"
else
    skip "KW_CORPORA not present: corpus publish not run"
fi

# ---- values as reports and blocklists write them ----
D=$(new_node CERT-D)
cat >"$KW_TMP/defanged.txt" <<'EOF2'
# an advisory's indicators, defanged, and a hosts-file blocklist
hxxp://evil[.]example/dropper.exe
HXXPS[://]C2(.)Example(dot)net/gate
198.51.100[.]23
phish[at]mail[.]example
0.0.0.0 ads.tracker.example
127.0.0.1   beacon.example.org
cdn.example.com   # seen in the second wave
http://[2001:db8::7]:8443/x
EOF2
ok "publish a defanged list" "$D" publish --tlp green --file "$KW_TMP/defanged.txt"
match "the summary counts the refanged values" "$OUT" \
    '^published 8 indicators \(4 given defanged, refanged\) in 1 entries'
for v in http://evil.example/dropper.exe https://c2.example.net/gate 198.51.100.23 \
    phish@mail.example ads.tracker.example beacon.example.org cdn.example.com \
    'http://[2001:db8::7]:8443/x'; do
    ok "query $v" "$D" query --value "$v" --json
    eq "$v is stored refanged" "$(jq -r .value <<<"$OUT")" "$v"
done
ok "query with a defanged value" "$D" query --value 'hxxp://evil[.]example/dropper.exe' --json
eq "a defanged query finds the value" "$(jq -r .value <<<"$OUT")" http://evil.example/dropper.exe
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n::1 ip6-loopback\n0.0.0.0 0.0.0.0\n0.0.0.0 hosts-list.example\n127.0.0.1 hosts-a.example localhost hosts-b.example  # two\n0.0.0.0 bad..name\n' \
    >"$KW_TMP/hosts.txt"
check "a hosts file: localhost lines are skipped, every other name is a value"
run "$KAWAN" --dir "$D" publish --tlp green --file "$KW_TMP/hosts.txt"
[ "$RC" -ne 0 ] || { show_result; fail "a hosts file with a bad name was published"; }
match "the error names line 7 and its name" "$ERR" "line 7: 'bad\\.\\.name'"
nomatch "no error for the other lines" "$ERR" "line [1-6]:"
ok "the same with --skip-invalid" "$D" publish --tlp green --skip-invalid --file "$KW_TMP/hosts.txt"
match "three names published" "$OUT" '^published 3 indicators in 1 entries'
for v in hosts-list.example hosts-a.example hosts-b.example; do
    ok "query the hosts-file name $v" "$D" query --value "$v" --json
    eq "$v is there" "$(jq -r .value <<<"$OUT")" "$v"
done
ok "a STIX pattern with brackets is not refanged" "$D" publish --tlp green --type stix-pattern \
    "[file:name = 'a(.)b[at]c']"
nomatch "no refang counted" "$OUT" "refanged"
ok "query it" "$D" query --type stix-pattern --contains "a(.)b[at]c" --json
eq "stored as written" "$(jq -r .value <<<"$OUT")" "[file:name = 'a(.)b[at]c']"
verified "verify after the defanged list" "$D"

# ---- feeds as CERTs download them ----
F=$(new_node CERT-F)
# An old Mac file: lines end in a lone CR.
printf '192.0.2.1\r# second block\r198.51.100.2\r203.0.113.3\r' >"$KW_TMP/cr.txt"
ok "publish a file whose lines end in CR" "$F" publish --tlp green --file "$KW_TMP/cr.txt"
match "three values from the CR file" "$OUT" '^published 3 indicators'
# Spamhaus DROP: ';' comments, before and after the value; a Latin-1 comment line; a CSV-ish
# comment holding a quote.
printf '; Spamhaus DROP List 2026/11/28\n; Last-Modified: Sat, 28 Nov 2026\n192.0.2.0/24 ; SBL256894\n# Liste f\xfcr Kunden\n198.51.100.0/24 ; SBL666\n' \
    >"$KW_TMP/drop.txt"
ok "publish a Spamhaus DROP list" "$F" publish --tlp green --file "$KW_TMP/drop.txt"
match "two blocks published" "$OUT" '^published 2 indicators'
ok "query a DROP block" "$F" query --value 198.51.100.0/24 --json
eq "the block is a cidr" "$(jq -r .type <<<"$OUT")" cidr
# A file name keeps its ' #'; an extension that is no TLD makes a file name, not a domain.
printf 'Order #88213.pdf.exe\n' >"$KW_TMP/fn.txt"
ok "publish a file name holding ' #'" "$F" publish --tlp green --type filename --file "$KW_TMP/fn.txt"
ok "query it" "$F" query --type filename --value 'Order #88213.pdf.exe' --json
eq "the whole file name is stored" "$(jq -r .value <<<"$OUT")" 'Order #88213.pdf.exe'
ok "publish invoice.exe without a type" "$F" publish --tlp green Invoice.exe
ok "query it" "$F" query --value Invoice.exe --json
eq "it is a file name" "$(jq -r .type <<<"$OUT")" filename
# StevenBlack's hosts header.
printf '127.0.0.1 localhost\n127.0.0.1 localhost.localdomain\n127.0.0.1 local\n255.255.255.255 broadcasthost\n::1 localhost\n::1 ip6-localhost\nfe80::1%%lo0 localhost\nff00::0 ip6-localnet\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\nff02::3 ip6-allhosts\n0.0.0.0 0.0.0.0\n0.0.0.0 sb-hosts.example\n' \
    >"$KW_TMP/sbhosts.txt"
ok "publish a hosts file with StevenBlack's header" "$F" publish --tlp green --file "$KW_TMP/sbhosts.txt"
match "only the listed name" "$OUT" '^published 1 indicators'
# CSV: a comment line with a quote in it swallows nothing.
printf 'value,type\n# exported by ioc-tool, "beta\n192.0.2.10,ipv4\nevil-csv.example.com,domain\n# end of section, see "notes" later"\n198.51.100.10,ipv4\n' \
    >"$KW_TMP/cq.csv"
ok "publish a CSV with quotes in comment lines" "$F" publish --tlp green --csv --file "$KW_TMP/cq.csv"
match "three rows published" "$OUT" '^published 3 indicators'
# abuse.ch exports: a commented header, every field quoted; --column picks the value.
cat >"$KW_TMP/urlhaus.csv" <<'EOF2'
################################################################
# abuse.ch URLhaus Database Dump (CSV)                         #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3321123","2026-11-28 10:00:05","http://192.0.2.77/bins/mips","online","2026-11-28 10:00:05","malware_download","elf,mirai","https://urlhaus.abuse.ch/url/3321123/","r1"
"3321122","2026-11-28 09:59:01","https://evil-uh.example/x.apk","online","2026-11-28 09:59:01","malware_download","apk","https://urlhaus.abuse.ch/url/3321122/","r2"
EOF2
ok "publish URLhaus CSV with --column url" "$F" publish --tlp green --column url --file "$KW_TMP/urlhaus.csv"
match "two URLs published" "$OUT" '^published 2 indicators'
ok "query a URLhaus URL" "$F" query --value http://192.0.2.77/bins/mips --json
eq "it is a URL" "$(jq -r .type <<<"$OUT")" url
ok "the same with --column 3" "$F" publish --tlp green --csv --column 3 --file "$KW_TMP/urlhaus.csv"
match "held already" "$OUT" '2 duplicates'
printf 'id,value,1x\n1,col-value.example.com,col-1x.example.com\n' >"$KW_TMP/cols.csv"
ok "--column 2 with a header naming 'value'" "$F" publish --tlp green --column 2 --file "$KW_TMP/cols.csv"
match "the header is no value" "$OUT" '^published 1 indicators'
ok "--column names a header starting with a digit" "$F" publish --tlp green --column 1x --file "$KW_TMP/cols.csv"
ok "query it" "$F" query --value col-1x.example.com --json
eq "the 1x column was published" "$(jq -r .value <<<"$OUT")" col-1x.example.com
printf '# a comment with a NUL \0 in it\ncomment-nul.example.com\n' >"$KW_TMP/cnul.txt"
ok "a comment line holding a NUL is skipped" "$F" publish --tlp green --file "$KW_TMP/cnul.txt"
before=$(status_field "$F" indicators)
bad 1 "names no column 'dst_ip'" "a --column no header names" "$F" publish --tlp green \
    --column dst_ip --file "$KW_TMP/urlhaus.csv"
eq "nothing published" "$(status_field "$F" indicators)" "$before"
# Type 'ip': any address or block, in a CSV type column or as --type.
printf 'value,type\n2001:db8::50,ip\n203.0.113.128/25,IP\n192.0.2.50,ip\n' >"$KW_TMP/ip.csv"
ok "publish a CSV whose type column says ip" "$F" publish --tlp green --csv --file "$KW_TMP/ip.csv"
match "three addresses" "$OUT" '^published 3 indicators'
ok "query the IPv6 one" "$F" query --value 2001:db8::50 --json
eq "it is ipv6" "$(jq -r .type <<<"$OUT")" ipv6
check "--type ip refuses a domain"
kw "$F" publish --tlp green --type ip 192.0.2.51 ip-not.example
[ "$RC" -eq 1 ] || { show_result; fail "--type ip published a domain"; }
match "the domain is named" "$ERR" "argument 2: 'ip-not.example' is not an IP address"
# Pasted from a report: list markers, quotes, backticks and commas around the values.
printf -- '- hxxp://listed[.]example/gate.php\n* `198.51.100[.]166`,\n1. "c2-listed.example.net"\n3) <phish@listed.example>\n\xe2\x80\xa2 \xe2\x80\x9cquoted-listed.example\xe2\x80\x9d;\n' \
    >"$KW_TMP/listed.txt"
ok "publish values as a report lists them" "$F" publish --tlp green --file "$KW_TMP/listed.txt"
match "five values" "$OUT" '^published 5 indicators'
for v in http://listed.example/gate.php 198.51.100.166 c2-listed.example.net phish@listed.example \
    quoted-listed.example; do
    ok "query $v" "$F" query --value "$v" --json
    eq "$v is stored bare" "$(jq -r .value <<<"$OUT")" "$v"
done
# Checksum tools' output, and hashes named before them.
printf 'd41d8cd98f00b204e9800998ecf8427e  empty.bin\nE3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 *setup.exe\nsha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nSHA-1: da39a3ee5e6b4b0d3255bfef95601890afd80709\n' \
    >"$KW_TMP/sums.txt"
ok "publish md5sum/sha256sum output and named hashes" "$F" publish --tlp green --file "$KW_TMP/sums.txt"
match "four hashes" "$OUT" '^published 4 indicators'
ok "query the sha256sum one" "$F" query --value e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 --json
eq "it is a sha256" "$(jq -r .type <<<"$OUT")" sha256
check "a hash named for another length is refused"
kw "$F" publish --tlp green --file - <<<'md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
[ "$RC" -eq 1 ] || { show_result; fail "md5: with a sha256 was published"; }
match "it says why" "$ERR" "line 1: .* is named for a hash of another length"
ok "a named hash as an argument" "$F" publish --tlp green \
    sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
ok "query it" "$F" query --value 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae --json
eq "a sha256" "$(jq -r .type <<<"$OUT")" sha256
# A Feodo Tracker CSV: a header of names, picked by number.
printf 'first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware\n2026-11-28 10:00:00,192.0.2.201,443,online,2026-11-28,QakBot\n' \
    >"$KW_TMP/feodo.csv"
check "--column 2 over a header of names"
kw "$F" publish --tlp green --column 2 --file "$KW_TMP/feodo.csv"
[ "$RC" -eq 1 ] || { show_result; fail "a header row was taken for data silently or skipped"; }
match "it says how to read a header" "$ERR" "line 1: 'dst_ip' .*a header row\? give the column by its name: --column dst_ip"
ok "--column dst_ip over the same file" "$F" publish --tlp green --column dst_ip --file "$KW_TMP/feodo.csv"
match "one address, no header" "$OUT" '^published 1 indicators'
# A STIX pattern in a list is detected by its grammar and kept whole, ' #' and brackets too.
printf "[file:name = 'Auto #2.exe' OR url:value = 'hxxp://a[.]b']\n" >"$KW_TMP/pattern.txt"
ok "a pattern in a plain list" "$F" publish --tlp green --file "$KW_TMP/pattern.txt"
ok "query it" "$F" query --type stix-pattern --contains "Auto #2" --json
eq "kept as written" "$(jq -r .value <<<"$OUT")" "[file:name = 'Auto #2.exe' OR url:value = 'hxxp://a[.]b']"
# A comment after a no-break space, and a comment line starting with one.
printf 'nbsp-comment.example\xc2\xa0# c\n\xc2\xa0# comment\n\xe2\x80\x8b; c\n' >"$KW_TMP/nbspc.txt"
ok "comments after Unicode spaces" "$F" publish --tlp green --file "$KW_TMP/nbspc.txt"
match "one value" "$OUT" '^published 1 indicators'
# Copied from a web page: no-break and zero-width spaces around a value.
printf '\xc2\xa0nbsp-wrapped.example\xe2\x80\x8b\n' >"$KW_TMP/nbsp.txt"
ok "publish a value wrapped in Unicode spaces" "$F" publish --tlp green --file "$KW_TMP/nbsp.txt"
ok "query it" "$F" query --value nbsp-wrapped.example --json
eq "stored without the spaces" "$(jq -r .value <<<"$OUT")" nbsp-wrapped.example
verified "verify after the feeds" "$F"

# Long texts: 2,000 values with a 20,000-byte description would make entries of 1,000 too
# big for a payload (16 MiB); each entry takes fewer instead.
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "long-text-%d.example\n", i }' >"$KW_TMP/long.txt"
LONG=$(head -c 20000 /dev/zero | tr '\0' 'd')
ok "2,000 values with a 20 KB description" "$F" publish --tlp green --description "$LONG" \
    --file "$KW_TMP/long.txt"
match "all of them, in more entries" "$OUT" '^published 2000 indicators in [3-9] entries'
ok "query one" "$F" query --value long-text-1999.example --json
eq "with its description" "$(jq -r '.description | length' <<<"$OUT")" 20000
# The same from STIX, where each indicator brings its own text.
awk -v d="$LONG" 'BEGIN { printf "{\"type\":\"bundle\",\"id\":\"bundle--6a3b8a4e-3f0e-4b8e-9a4e-1b2c3d4e5f60\",\"objects\":["
    for (i = 0; i < 1500; i++) printf "%s{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--6a3b8a4e-3f0e-4b8e-9a4e-%012d\",\"created\":\"2026-11-01T00:00:00.000Z\",\"modified\":\"2026-11-01T00:00:00.000Z\",\"pattern\":\"[domain-name:value = %cstix-long-%d.example%c]\",\"pattern_type\":\"stix\",\"valid_from\":\"2026-11-01T00:00:00Z\",\"description\":\"%s\"}", (i ? "," : ""), i, 39, i, 39, d
    printf "]}" }' >"$KW_TMP/long.json"
ok "1,500 STIX indicators with 20 KB descriptions" "$F" import --format stix --tlp green \
    "$KW_TMP/long.json"
match "all of them" "$OUT" '1500 indicators published in [2-9] entries'
verified "verify after the long texts" "$F"

echo "PASS: test_cli_basic"
