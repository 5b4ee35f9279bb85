# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the kawan end-to-end tests (bash). Source it first:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Environment: KAWAN (the binary, required), KW_CORPORA (optional shared corpora).
# Every check prints what it checks; the first failed check prints FAIL and exits 1.

set -u

if [ -z "${KAWAN:-}" ] || [ ! -x "$KAWAN" ]; then
    echo "FAIL: KAWAN must name the kawan binary (got '${KAWAN:-}')" >&2
    exit 1
fi
if ! command -v jq >/dev/null 2>&1; then
    echo "FAIL: these tests need jq (apt-get install -y jq)" >&2
    exit 1
fi

KW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kawan-e2e.XXXXXX") || exit 1
KW_PIDS=()

kw_cleanup() {
    local p
    for p in "${KW_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    rm -rf "$KW_TMP"
}
trap kw_cleanup EXIT

# Nothing from the caller's environment may point kawan at a real node.
unset KAWAN_DIR KAWAN_LOG
export HOME="$KW_TMP/home"
mkdir -p "$HOME"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

check() {
    echo "check: $*"
}

skip() {
    echo "skip: $*"
}

# run CMD...: runs a command, keeping its exit code in RC, stdout in OUT, stderr in ERR.
run() {
    "$@" >"$KW_TMP/.out" 2>"$KW_TMP/.err"
    RC=$?
    OUT=$(cat "$KW_TMP/.out")
    ERR=$(cat "$KW_TMP/.err")
}

# kw DIR ARGS...: runs kawan on the node in DIR (through run), in a session of its own so
# that it has no terminal to ask for a passphrase on, even when the tests run on one.
if setsid --help 2>&1 | grep -q -- '--wait'; then
    KW_NOTTY=(setsid --wait)
else
    KW_NOTTY=()
fi
kw() {
    local dir=$1
    shift
    run "${KW_NOTTY[@]}" "$KAWAN" --dir "$dir" "$@"
}

show_result() {
    echo "  exit code: $RC"
    echo "  stdout: $(printf '%s' "$OUT" | head -c 2000)"
    echo "  stderr: $(printf '%s' "$ERR" | head -c 2000)"
}

# ok DESC DIR ARGS...: kawan must succeed.
ok() {
    local desc=$1
    shift
    check "$desc"
    kw "$@"
    if [ "$RC" -ne 0 ]; then
        show_result >&2
        fail "$desc: expected success"
    fi
}

# bad CODE REGEX DESC DIR ARGS...: kawan must exit with CODE and print exactly one line on
# stderr, starting with "kawan: " and matching the extended regex REGEX.
bad() {
    local code=$1 regex=$2 desc=$3
    shift 3
    check "$desc"
    kw "$@"
    if [ "$RC" -ne "$code" ]; then
        show_result >&2
        fail "$desc: expected exit code $code, got $RC"
    fi
    if [ "$(printf '%s\n' "$ERR" | wc -l)" -ne 1 ] || [ -z "$ERR" ]; then
        show_result >&2
        fail "$desc: expected exactly one line on stderr"
    fi
    case "$ERR" in
    "kawan: "*) ;;
    *)
        show_result >&2
        fail "$desc: stderr does not start with 'kawan: '"
        ;;
    esac
    if ! printf '%s\n' "$ERR" | grep -Eq -- "$regex"; then
        show_result >&2
        fail "$desc: stderr does not match /$regex/"
    fi
}

# eq DESC GOT WANT
eq() {
    check "$1"
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', want '$3'"
    fi
}

# match DESC STRING REGEX (extended)
match() {
    check "$1"
    if ! printf '%s\n' "$2" | grep -Eq -- "$3"; then
        fail "$1: '$(printf '%s' "$2" | head -c 2000)' does not match /$3/"
    fi
}

# nomatch DESC STRING REGEX
nomatch() {
    check "$1"
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        fail "$1: '$(printf '%s' "$2" | head -c 2000)' matches /$3/"
    fi
}

# new_node NAME: creates and initialises a node; prints its directory. NODE_ID gets its id.
new_node() {
    local dir="$KW_TMP/$1"
    "$KAWAN" --dir "$dir" init --name "$1" >"$KW_TMP/.id" 2>"$KW_TMP/.err" \
        || fail "kawan init --name $1: $(cat "$KW_TMP/.err")"
    echo "$dir"
}

# node_id DIR
node_id() {
    "$KAWAN" --dir "$1" id 2>/dev/null
}

# status_field DIR FIELD: a field of `kawan status --json` (jq path without the dot).
status_field() {
    "$KAWAN" --dir "$1" status --json | jq -r ".$2"
}

# indicators DIR: the current indicator count.
indicators() {
    status_field "$1" indicators
}

# verified DESC DIR [ARGS...]: `kawan verify` passes.
verified() {
    local desc=$1 dir=$2
    shift 2
    ok "$desc" "$dir" verify "$@"
    match "$desc (no problems reported)" "$OUT" ": 0 problems$"
}

# file_mode PATH
file_mode() {
    stat -c %a "$1"
}

# lines STRING: the number of non-empty lines.
lines() {
    if [ -z "$1" ]; then
        echo 0
    else
        printf '%s\n' "$1" | wc -l | tr -d ' '
    fi
}

# have_corpora: whether the shared corpora are here.
have_corpora() {
    [ -n "${KW_CORPORA:-}" ] && [ -d "$KW_CORPORA/iocs" ]
}
