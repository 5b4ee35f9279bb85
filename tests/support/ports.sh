# SPDX-License-Identifier: Apache-2.0
# Listening ports for the scripts that start kawan nodes on 127.0.0.1 (the demo, the
# end-to-end tests, the benchmarks). Source it, call kw_ports_claim, use the 100 ports from
# $KW_PORT_BASE, and call kw_ports_release on exit.
#
# A block is taken only when no TCP socket on this machine uses any of its ports (read from
# /proc/net/tcp*, so a leftover listener or a connection is seen too), and it is claimed by
# an atomic mkdir, so scripts running side by side never pick the same block. Blocks lie
# below the kernel's ephemeral range (32768 and up by default), where outgoing connections
# take their local ports.

KW_PORTS_DIR=${TMPDIR:-/tmp}/kawan-ports
KW_PORT_BASE=

# The local ports of every TCP socket (any state), one decimal number per line.
kw__ports_in_use() {
    local f line port
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        while read -r _ line _; do
            port=${line##*:}
            [[ $port =~ ^[0-9A-Fa-f]{4}$ ]] && echo $((16#$port))
        done <"$f"
    done
}

# kw__block_free BASE: no socket uses BASE..BASE+99.
kw__block_free() {
    local p
    for p in $(kw__ports_in_use); do
        if [ "$p" -ge "$1" ] && [ "$p" -lt $(($1 + 100)) ]; then return 1; fi
    done
}

kw_ports_claim() {
    local b owner try
    mkdir -p "$KW_PORTS_DIR"
    for try in $(seq 1 200); do
        b=$((10000 + (RANDOM % 220) * 100)) # 10000..31999
        if ! mkdir "$KW_PORTS_DIR/$b" 2>/dev/null; then
            # Claimed. A claim whose owner is gone is removed for later callers; this call
            # moves on either way, so two callers never race for the same stale claim.
            owner=$(cat "$KW_PORTS_DIR/$b/pid" 2>/dev/null || true)
            if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
                rm -rf "$KW_PORTS_DIR/$b"
            fi
            continue
        fi
        echo "$$" >"$KW_PORTS_DIR/$b/pid"
        if kw__block_free "$b"; then
            KW_PORT_BASE=$b
            return 0
        fi
        rm -rf "$KW_PORTS_DIR/$b"
    done
    echo "no free block of 100 TCP ports on 127.0.0.1 between 10000 and 31999" >&2
    return 1
}

kw_ports_release() {
    if [ -n "$KW_PORT_BASE" ]; then rm -rf "${KW_PORTS_DIR:?}/$KW_PORT_BASE"; fi
    KW_PORT_BASE=
}
