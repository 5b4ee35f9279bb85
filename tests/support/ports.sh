# SPDX-License-Identifier: Apache-2.0
# Listening ports for the scripts that start kawan nodes on 127.0.0.1 (the demo, the
# end-to-end tests, the benchmarks). Source it, call kw_ports_claim, use the 100 ports from
# $KW_PORT_BASE, and call kw_ports_release on exit.
#
# A block is taken only when no TCP socket on this machine uses any of its ports (read from
# /proc/net/tcp*, so a leftover listener or a connection is seen too), and while an
# exclusive flock on the block's lock file is held: scripts running side by side never pick
# the same block, and the kernel drops the lock of a script that dies (the nodes it started
# inherit the descriptor, so the block stays taken while they run). Blocks lie below the
# kernel's ephemeral range (32768 and up by default), where outgoing connections take their
# local ports.

KW_PORTS_DIR=${TMPDIR:-/tmp}/kawan-ports-$(id -u)
KW_PORT_BASE=
KW_PORT_FD=

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
    local b try
    mkdir -p "$KW_PORTS_DIR"
    for try in $(seq 1 200); do
        b=$((10000 + (RANDOM % 220) * 100)) # 10000..31999
        exec {KW_PORT_FD}>>"$KW_PORTS_DIR/$b.lock"
        if flock -n "$KW_PORT_FD" && kw__block_free "$b"; then
            KW_PORT_BASE=$b
            return 0
        fi
        exec {KW_PORT_FD}>&-
    done
    KW_PORT_FD=
    echo "no free block of 100 TCP ports on 127.0.0.1 between 10000 and 31999" >&2
    return 1
}

kw_ports_release() {
    if [ -n "$KW_PORT_FD" ]; then exec {KW_PORT_FD}>&-; fi
    KW_PORT_FD=
    KW_PORT_BASE=
}
