# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the network end-to-end tests: a set of kawan nodes in one temporary
# directory, on 127.0.0.1 only, started and stopped as real `kawan run` processes.
# Source it, then call net_init N. Everything is removed on exit.

set -euo pipefail

KAWAN=${KAWAN:?KAWAN must point to the kawan binary}
NET=$(mktemp -d "${TMPDIR:-/tmp}/kawan-net.XXXXXX")
NET_N=0
# A block of ports of its own, so tests running side by side never collide.
source "$(dirname "${BASH_SOURCE[0]}")/../support/ports.sh"
kw_ports_claim
NET_BASE=$KW_PORT_BASE
declare -A NET_PID=()

net_cleanup() {
    local rc=$?
    for i in "${!NET_PID[@]}"; do kill -TERM "${NET_PID[$i]}" 2>/dev/null || true; done
    sleep 0.2
    # A daemon that does not stop on SIGTERM within 5 s is a bug: report it, then kill it.
    for i in "${!NET_PID[@]}"; do
        for _ in $(seq 1 50); do kill -0 "${NET_PID[$i]}" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "${NET_PID[$i]}" 2>/dev/null; then
            echo "FAIL: node $i did not stop on SIGTERM" >&2
            kill -KILL "${NET_PID[$i]}" 2>/dev/null || true
            rc=1
        fi
        wait "${NET_PID[$i]}" 2>/dev/null || true
    done
    if [ "$rc" != 0 ]; then
        echo "--- logs of the failed run ---" >&2
        for f in "$NET"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 30 "$f" >&2; }; done
    fi
    rm -rf "$NET"
    kw_ports_release
    exit "$rc"
}
trap net_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
now_ms() { date +%s%3N; }

# kn I ARGS...: run kawan on node I.
kn() { local i=$1; shift; "$KAWAN" --dir "$NET/n$i" "$@"; }
net_port() { echo $((NET_BASE + $1)); }
net_id() { kn "$1" id; }

# net_init N [COMMUNITY-KEY-OF-NODE-0]: N fresh nodes sharing one community key.
net_init() {
    NET_N=$1
    for ((i = 0; i < NET_N; i++)); do kn "$i" init --name "N$i" >/dev/null; done
    kn 0 community create >"$NET/community"
    for ((i = 1; i < NET_N; i++)); do kn "$i" community set "$(cat "$NET/community")" >/dev/null; done
}

# net_member I J: J is in I's roster without an address (a member I does not dial).
net_member() { kn "$1" peer add "N$2" "$(net_id "$2")" "" >/dev/null 2>&1 \
    || kn "$1" peer add "N$2" "$(net_id "$2")" "127.0.0.1:1" >/dev/null; }
# net_link I J: I and J know each other with addresses (both dial).
net_link() {
    kn "$1" peer add "N$2" "$(net_id "$2")" "127.0.0.1:$(net_port "$2")" >/dev/null
    kn "$2" peer add "N$1" "$(net_id "$1")" "127.0.0.1:$(net_port "$1")" >/dev/null
}

net_start() {
    local i=$1 try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        local before
        before=$(grep -c "node running" "$NET/n$i.log" 2>/dev/null || true)
        # The binary itself, not the kn function: $! must be kawan's pid, not a subshell's.
        "$KAWAN" --dir "$NET/n$i" run --listen "127.0.0.1:$(net_port "$i")" \
            --anti-entropy "${NET_AE:-2}" >/dev/null 2>>"$NET/n$i.log" &
        NET_PID[$i]=$!
        # Wait until it listens; a port still held (a socket of this node's previous run)
        # makes it exit, and it is started again shortly after.
        for _ in $(seq 1 100); do
            [ "$(grep -c "node running" "$NET/n$i.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
            kill -0 "${NET_PID[$i]}" 2>/dev/null || break
            sleep 0.02
        done
        wait "${NET_PID[$i]}" 2>/dev/null || true
        sleep 0.3
    done
    fail "node $i could not start (see $NET/n$i.log)"
}
net_stop() { kill -TERM "${NET_PID[$1]}"; wait "${NET_PID[$1]}" || true; unset "NET_PID[$1]"; }
net_kill() { kill -KILL "${NET_PID[$1]}"; wait "${NET_PID[$1]}" 2>/dev/null || true; unset "NET_PID[$1]"; }
net_alive() { kill -0 "${NET_PID[$1]}" 2>/dev/null; }

# wait_for SECONDS CMD...: polls CMD until it succeeds; fails the test after SECONDS.
wait_for() {
    local limit=$1; shift
    local end=$(($(now_ms) + limit * 1000))
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

connected_count() { kn "$1" status --json | grep -o '"connected":true' | wc -l; }
has_connected() { [ "$(connected_count "$1")" -ge "$2" ]; }
has_value() { kn "$1" query --value "$2" --json 2>/dev/null | grep -q "\"value\":\"$2\""; }
lacks_value() { ! kn "$1" query --value "$2" --json 2>/dev/null | grep -q "\"value\""; }
# The feeds object of status --json, for comparing heads across nodes.
feeds_of() { kn "$1" status --json | sed -n 's/.*"feeds":\({[^}]*}\).*/\1/p'; }
log_has() { grep -q -- "$2" "$NET/n$1.log"; }
