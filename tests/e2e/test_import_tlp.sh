#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kawan import --format stix/misp never publishes an indicator laxer than its source marked
# it, never loosens what the node holds, and publishes only the newest copy of an id in a run:
#  - an indicator listed by a marked report (misp-stix puts the marking only there) takes the
#    report's level;
#  - a newer version whose marking does not resolve in this input keeps the level held here;
#  - across the files of a MISP directory, a newer withdrawal beats an older copy;
#  - TAXII envelopes (also an empty page), an array wrapping a bundle, STIX 2.0 input.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

F="$KW_TMP/files"
mkdir -p "$F"
A=$(new_node CERT-A)

TLP_AMBER=marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421
TLP_GREEN=marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb

# tlp_of DIR VALUE: the TLP of the current version of VALUE ("" when none is current).
tlp_of() {
    "$KAWAN" --dir "$1" query --value "$2" --json | jq -r .tlp
}

# indicator ID MODIFIED VALUE [MARKINGS]: one STIX indicator object.
indicator() {
    local marks=""
    if [ -n "${4:-}" ]; then
        marks=",\"object_marking_refs\":[\"$4\"]"
    fi
    printf '{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"2024-01-01T00:00:00.000Z","modified":"%s","valid_from":"2024-01-01T00:00:00.000Z","pattern_type":"stix","pattern":"[domain-name:value = '"'"'%s'"'"']"%s}' \
        "$1" "$2" "$3" "$marks"
}

# ---- 1. a marked report lists unmarked indicators ----
cat >"$F/report.json" <<EOF
{"type":"bundle","id":"bundle--5f1b2c3d-0000-4000-8000-000000000001","objects":[
{"type":"marking-definition","spec_version":"2.1","id":"$TLP_AMBER","created":"2022-10-01T00:00:00.000Z",
 "name":"TLP:AMBER","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
 {"extension_type":"property-extension","tlp_2_0":"amber"}}},
{"type":"report","spec_version":"2.1","id":"report--5f1b2c3d-0000-4000-8000-000000000002",
 "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Event",
 "published":"2024-01-01T00:00:00.000Z","object_marking_refs":["$TLP_AMBER"],
 "object_refs":["indicator--5f1b2c3d-0000-4000-8000-000000000003"]},
$(indicator 5f1b2c3d-0000-4000-8000-000000000003 2024-01-01T00:00:00.000Z in-report.example),
$(indicator 5f1b2c3d-0000-4000-8000-000000000004 2024-01-01T00:00:00.000Z not-in-report.example)
]}
EOF
ok "import a report marked AMBER with --tlp clear" "$A" import --format stix "$F/report.json" \
    --tlp clear
match "one AMBER, one CLEAR" "$OUT" '2 indicators published in 2 entries \(1 CLEAR, 1 AMBER\)'
match "the summary says why" "$OUT" '1 indicator raised to the TLP of a report or other container'
eq "the indicator the report lists is AMBER" "$(tlp_of "$A" in-report.example)" AMBER
eq "the one it does not list takes --tlp" "$(tlp_of "$A" not-in-report.example)" CLEAR

# A grouping inside a report: the report's marking reaches what the grouping lists.
cat >"$F/nested.json" <<EOF
{"type":"bundle","id":"bundle--5f1b2c3d-0000-4000-8000-000000000011","objects":[
{"type":"report","spec_version":"2.1","id":"report--5f1b2c3d-0000-4000-8000-000000000012",
 "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"R",
 "published":"2024-01-01T00:00:00.000Z","object_marking_refs":["$TLP_AMBER"],
 "object_refs":["grouping--5f1b2c3d-0000-4000-8000-000000000013"]},
{"type":"grouping","spec_version":"2.1","id":"grouping--5f1b2c3d-0000-4000-8000-000000000013",
 "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","context":"x",
 "object_marking_refs":["$TLP_GREEN"],
 "object_refs":["INDICATOR--5F1B2C3D-0000-4000-8000-000000000014"]},
$(indicator 5f1b2c3d-0000-4000-8000-000000000014 2024-01-01T00:00:00.000Z in-grouping.example)
]}
EOF
ok "import a grouping listed by a report" "$A" import --format stix "$F/nested.json" --tlp clear
eq "the indicator takes the report's AMBER" "$(tlp_of "$A" in-grouping.example)" AMBER

# ---- 2. a newer version whose marking does not resolve keeps the level held here ----
ID2=5f1b2c3d-0000-4000-8000-000000000021
printf '[%s]' "$(indicator $ID2 2024-01-01T00:00:00.000Z held-amber.example "$TLP_AMBER")" \
    >"$F/v1.json"
ok "import version 1 as AMBER" "$A" import --format stix "$F/v1.json" --tlp clear
eq "it is AMBER" "$(tlp_of "$A" held-amber.example)" AMBER
# Version 2 names a marking-definition that came in an earlier TAXII page.
printf '{"more":false,"objects":[%s]}' "$(indicator $ID2 2024-02-01T00:00:00.000Z \
    held-amber.example marking-definition--5f1b2c3d-0000-4000-8000-0000000000ff)" >"$F/v2.json"
ok "import version 2 with an unresolved marking and --tlp clear" "$A" import --format stix \
    "$F/v2.json" --tlp clear
match "the warning says the held level was kept" "$ERR" \
    'never a level laxer than the one this node holds for the indicator \(1 kept at that level\)'
nomatch "nothing was published as CLEAR" "$OUT" 'CLEAR'
eq "version 2 is still AMBER" "$(tlp_of "$A" held-amber.example)" AMBER
eq "and it is version 2" \
    "$("$KAWAN" --dir "$A" query --value held-amber.example --json | jq -r .modified)" \
    "2024-02-01T00:00:00.000Z"
# A resolved laxer marking on a newer version is the producer's decision: it applies.
printf '[%s]' "$(indicator $ID2 2024-03-01T00:00:00.000Z held-amber.example "$TLP_GREEN")" \
    >"$F/v3.json"
ok "import version 3 marked GREEN" "$A" import --format stix "$F/v3.json" --tlp clear
eq "version 3 is GREEN" "$(tlp_of "$A" held-amber.example)" GREEN

# ---- 3. the newest copy of an id in a run counts, also across files ----
U=6a3e1f5c-2b7d-4c8e-9f01-23456789abcd
misp_event() { # FILE EVENT-UUID TIMESTAMP TO_IDS DELETED
    cat >"$1" <<EOF
{"Event":{"uuid":"$2","info":"test","date":"2024-03-01","timestamp":"$3","Tag":[],
 "Attribute":[{"uuid":"$U","type":"domain","category":"Network activity",
  "value":"misp-twice.example","to_ids":$4,"deleted":$5,"timestamp":"$3"}]}}
EOF
}
mkdir -p "$F/misp"
misp_event "$F/misp/a_new.json" 7b000000-0000-4000-8000-000000000001 1709300000 true true
misp_event "$F/misp/b_old.json" 7b000000-0000-4000-8000-000000000002 1709251200 true false
ok "import a directory whose newer file withdraws the attribute" "$A" import --format misp \
    "$F/misp" --tlp clear
eq "the older copy is not published" "$(tlp_of "$A" misp-twice.example)" ""
match "the summary counts the older copy" "$OUT" '1 older version of an indicator in the input'

# Held first, then a run holding both copies: the withdrawal wins and revokes it.
B=$(new_node CERT-B)
ok "import the old copy alone" "$B" import --format misp "$F/misp/b_old.json" --tlp clear
eq "it is published" "$(tlp_of "$B" misp-twice.example)" CLEAR
ok "import the directory" "$B" import --format misp "$F/misp" --tlp clear
match "the held version is revoked" "$OUT" '1 revocation'
eq "nothing is current any more" "$(tlp_of "$B" misp-twice.example)" ""
# The same, with the newer file read first or last: the name order does not matter.
mkdir -p "$F/misp2"
misp_event "$F/misp2/a_old.json" 7b000000-0000-4000-8000-000000000003 1709251200 true false
misp_event "$F/misp2/b_new.json" 7b000000-0000-4000-8000-000000000004 1709300000 false false
ok "import a directory whose later file withdraws it (to_ids false)" "$A" import --format misp \
    "$F/misp2" --tlp clear
eq "the older copy is not published" "$(tlp_of "$A" misp-twice.example)" ""
# A newer copy that is not a withdrawal wins over an older one too.
mkdir -p "$F/misp3"
misp_event "$F/misp3/a_new.json" 7b000000-0000-4000-8000-000000000005 1709300000 true false
sed -i 's/misp-twice.example/misp-newer.example/' "$F/misp3/a_new.json"
misp_event "$F/misp3/b_old.json" 7b000000-0000-4000-8000-000000000006 1709251200 true false
ok "import two live copies" "$A" import --format misp "$F/misp3" --tlp clear
match "one published" "$OUT" '1 indicator published'
eq "the newer value is current" "$(tlp_of "$A" misp-newer.example)" CLEAR
eq "the older value is not" "$(tlp_of "$A" misp-twice.example)" ""

# ---- 4. document shapes ----
C=$(new_node CERT-C)
printf '{"more":false}' >"$F/empty-page.json"
ok "an empty TAXII page" "$C" import --format stix "$F/empty-page.json" --tlp clear
match "imports nothing" "$OUT" '0 indicators published'
printf '{}' >"$F/empty-object.json"
bad 1 "an empty JSON object, not a STIX bundle, TAXII envelope or object" "an empty object" \
    "$C" import --format stix "$F/empty-object.json" --tlp clear
printf '[{"type":"bundle","id":"bundle--5f1b2c3d-0000-4000-8000-000000000031","objects":[%s]}]' \
    "$(indicator 5f1b2c3d-0000-4000-8000-000000000032 2024-01-01T00:00:00.000Z wrapped.example)" \
    >"$F/wrapped.json"
ok "an array wrapping a bundle" "$C" import --format stix "$F/wrapped.json" --tlp green
match "its indicator is imported" "$OUT" '1 indicator published in 1 entry \(1 GREEN\)'
eq "it is held" "$(tlp_of "$C" wrapped.example)" GREEN

printf '{"type":"bundle","id":"bundle--5f1b2c3d-0000-4000-8000-000000000041","spec_version":"2.0","objects":[{"type":"indicator","id":"indicator--5f1b2c3d-0000-4000-8000-000000000042","created":"2017-01-01T00:00:00Z","modified":"2017-01-01T00:00:00Z","valid_from":"2017-01-01T00:00:00Z","labels":["x"],"pattern":"[domain-name:value = '"'"'v20.example'"'"']"}]}' \
    >"$F/v20.json"
ok "a STIX 2.0 bundle" "$C" import --format stix "$F/v20.json" --tlp green
match "the summary names STIX 2.0" "$OUT" '1 unsupported \(STIX 2.0: 1\)'

# ---- a newer RED version without --to is held back whole ----
R=$(new_node CERT-R)
P=$(new_node CERT-P)
ok "roster" "$R" peer add CERT-P "$(node_id "$P")" 127.0.0.1:1
TLP_RED=marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed
printf '[%s]' "$(indicator 5f1b2c3d-0000-4000-8000-000000000070 2024-01-01T00:00:00.000Z red-held.example "$TLP_RED")" \
    >"$F/red1.json"
printf '[%s]' "$(indicator 5f1b2c3d-0000-4000-8000-000000000070 2024-03-01T00:00:00.000Z red-held.example "$TLP_RED")" \
    >"$F/red2.json"
ok "import a RED indicator for CERT-P" "$R" import --format stix "$F/red1.json" --tlp clear --to CERT-P
ok "import its newer version without --to" "$R" import --format stix "$F/red2.json" --tlp clear
nomatch "nothing is revoked ahead of a version that is held back" "$OUT" 'revoked ahead'
match "the newer version is held back" "$OUT" '1 TLP:RED held back'
eq "the held version is still current" "$(tlp_of "$R" red-held.example)" RED
ok "the same with --to" "$R" import --format stix "$F/red2.json" --tlp clear --to CERT-P
eq "now the newer version is current" "$("$KAWAN" --dir "$R" query --value red-held.example --json | jq -r .modified)" \
    2024-03-01T00:00:00.000Z

echo "test_import_tlp: PASS"
