#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Disk full and permission errors during writes: one clear line, a non-zero exit, and a
# store that still opens and verifies. The disk is an 8 MiB tmpfs (needs root to mount; the
# test reports itself skipped, exit 77, elsewhere).
set -euo pipefail
KAWAN=${KAWAN:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
[ "$(id -u)" = 0 ] || { echo "skipped: mounting a small tmpfs needs root"; exit 77; }
W=$(mktemp -d "${TMPDIR:-/tmp}/kawan-full.XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    umount "$W/disk" 2>/dev/null || true
    rm -rf "$W"
    kw_ports_release 2>/dev/null || true
}
trap cleanup EXIT
mkdir "$W/disk"
mount -t tmpfs -o size=8m tmpfs "$W/disk" || { echo "skipped: cannot mount tmpfs here"; exit 77; }
D=$W/disk/node
"$KAWAN" --dir "$D" init --name FULL >/dev/null
# A receiving node on the same disk, and its sender elsewhere, made before the disk fills.
source "$(dirname "$0")/../support/ports.sh"
kw_ports_claim
R=$W/disk/receiver
S=$W/sender
"$KAWAN" --dir "$R" init --name RECV >/dev/null
"$KAWAN" --dir "$S" init --name SEND >/dev/null
"$KAWAN" --dir "$S" community create >"$W/community"
"$KAWAN" --dir "$R" community set - <"$W/community" >/dev/null
"$KAWAN" --dir "$S" peer add RECV "$("$KAWAN" --dir "$R" id)" "127.0.0.1:$((KW_PORT_BASE + 1))" >/dev/null
"$KAWAN" --dir "$R" peer add SEND "$("$KAWAN" --dir "$S" id)" "127.0.0.1:$KW_PORT_BASE" >/dev/null
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "h%d.full.example\n", i }' >"$W/values.txt"

if "$KAWAN" --dir "$D" publish --tlp green --file "$W/values.txt" >"$W/out" 2>"$W/err"; then
    fail "publish on a full disk succeeded"
fi
[ "$(wc -l <"$W/err")" = 1 ] || fail "expected one line on stderr, got: $(cat "$W/err")"
grep -q "^kawan: .*no space left on device" "$W/err" || fail "unclear error: $(cat "$W/err")"
pass "publish on a full disk: $(cat "$W/err")"
"$KAWAN" --dir "$D" verify >/dev/null || fail "the store does not verify after the disk filled"
n=$("$KAWAN" --dir "$D" status --json | jq .indicators)
"$KAWAN" --dir "$D" query --limit 1 --json | grep -q full.example || fail "committed indicators unreadable"
pass "the store opens and verifies; the $n indicators committed before the disk filled are intact"
if "$KAWAN" --dir "$D" publish --tlp green one-more.full.example 2>"$W/err"; then :; fi
"$KAWAN" --dir "$D" verify >/dev/null || fail "verify after a second attempt"

# A daemon whose disk is full stops storing what it receives: its status says so. (The
# failed publish freed its copy of the input: fill the disk again, but for 128 KiB.)
avail=$(df --output=avail -B 65536 "$W/disk" | tail -n 1)
[ "$avail" -gt 2 ] && dd if=/dev/zero of="$W/disk/filler" bs=65536 count=$((avail - 2)) 2>/dev/null || true
head -n 20000 "$W/values.txt" | sed 's/full/sent/' >"$W/sent.txt"
"$KAWAN" --dir "$S" publish --tlp green --file "$W/sent.txt" >/dev/null
"$KAWAN" --dir "$S" run --listen "127.0.0.1:$KW_PORT_BASE" 2>"$W/s.log" &
PIDS+=($!)
"$KAWAN" --dir "$R" run --listen "127.0.0.1:$((KW_PORT_BASE + 1))" 2>"$W/r.log" &
PIDS+=($!)
for _ in $(seq 1 200); do
    "$KAWAN" --dir "$R" status --json 2>/dev/null | jq -e '.store_error.message' >/dev/null && break
    sleep 0.1
done
"$KAWAN" --dir "$R" status --json | jq -e '.store_error.message | test("storing received entries failed")' \
    >/dev/null || fail "the full receiver status shows no store error: $(tail -2 "$W/r.log")"
"$KAWAN" --dir "$R" status | grep -q "^STORE ERROR  storing received entries failed: .*replication is stalled" \
    || fail "the status text does not show the store error"
pass "a receiver on a full disk: $("$KAWAN" --dir "$R" status | grep '^STORE ERROR')"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
PIDS=()
"$KAWAN" --dir "$R" verify >/dev/null || fail "the full receiver's store does not verify"

# Permission errors: the data directory belongs to another user.
P=$W/perm
"$KAWAN" --dir "$P" init --name PERM >/dev/null
chmod 700 "$P"
if setpriv --reuid=65534 --regid=65534 --clear-groups "$KAWAN" --dir "$P" publish --tlp clear \
    192.0.2.1 >"$W/out" 2>"$W/err"; then
    fail "publish into a directory the user cannot access succeeded"
fi
[ "$(wc -l <"$W/err")" = 1 ] || fail "expected one line on stderr, got: $(cat "$W/err")"
grep -qi "permission\|cannot" "$W/err" || fail "unclear error: $(cat "$W/err")"
pass "no access to the data directory: $(cat "$W/err")"
"$KAWAN" --dir "$P" verify >/dev/null || fail "store harmed"
pass "store unharmed"
