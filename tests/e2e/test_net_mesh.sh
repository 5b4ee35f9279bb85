#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Ten nodes in a random connected topology, each publishing its own indicators: all converge
# to identical feed heads (waited for with a deadline; the time is reported). Then a
# partition into two halves that both publish, healed: all converge again.
source "$(dirname "$0")/netlib.sh"

N=10
net_init $N
# A random spanning tree (connected), plus a few random extra links.
declare -A linked=()
link() {
    local a=$1 b=$2
    [ "$a" = "$b" ] && return
    [ -n "${linked[$a-$b]:-}" ] && return
    linked[$a-$b]=1
    linked[$b-$a]=1
    net_link "$a" "$b"
}
for ((i = 1; i < N; i++)); do link "$i" $((RANDOM % i)); done
for ((k = 0; k < 5; k++)); do link $((RANDOM % N)) $((RANDOM % N)); done
# Everyone is a member of everyone's roster (a full roster), linked or not.
for ((i = 0; i < N; i++)); do
    for ((j = 0; j < N; j++)); do
        [ "$i" = "$j" ] || [ -n "${linked[$i-$j]:-}" ] || net_member "$i" "$j"
    done
done
echo "links: ${!linked[*]}"
for ((i = 0; i < N; i++)); do net_start "$i"; done

t0=$(now_ms)
for ((i = 0; i < N; i++)); do
    kn "$i" publish --tlp green "node$i-a.example.com" "node$i-b.example.com" >/dev/null
done
converged() {
    local ref
    ref=$(feeds_of 0)
    [ "$(echo "$ref" | grep -o 'kw1' | wc -l)" = "$N" ] || return 1
    for ((i = 1; i < N; i++)); do [ "$(feeds_of "$i")" = "$ref" ] || return 1; done
}
wait_for 60 converged || { for ((i = 0; i < N; i++)); do echo "n$i $(feeds_of "$i")"; done; fail "no convergence within 60 s"; }
pass "$N nodes converged to identical feed heads in $(( $(now_ms) - t0 )) ms"
has_value 7 node3-b.example.com || fail "node 7 cannot query node 3's indicator"

# Partition: cut every link between nodes 0-4 and 5-9 (roster removal disconnects a running
# node within seconds), let both halves publish, then heal by adding the links back.
cut=()
for key in "${!linked[@]}"; do
    a=${key%-*} b=${key#*-}
    if [ "$a" -lt 5 ] && [ "$b" -ge 5 ]; then cut+=("$a-$b"); fi
done
for key in "${cut[@]}"; do
    a=${key%-*} b=${key#*-}
    kn "$a" peer remove "N$b" >/dev/null
    kn "$b" peer remove "N$a" >/dev/null
done
echo "cut links: ${cut[*]:-none}"
sleep 3
for ((i = 0; i < N; i++)); do kn "$i" publish --tlp clear "part$i.example.org" >/dev/null; done
sleep 2
has_value 0 part9.example.org && [ "${#cut[@]}" -gt 0 ] && fail "the partition did not hold"
for key in "${cut[@]}"; do net_link "${key%-*}" "${key#*-}"; done
t0=$(now_ms)
wait_for 60 converged || fail "no convergence after the partition healed"
pass "after a partition in which both halves published, all converged in $(( $(now_ms) - t0 )) ms"
for ((i = 0; i < N; i++)); do kn "$i" verify >/dev/null || fail "verify failed on node $i"; done
pass "every store verifies"
