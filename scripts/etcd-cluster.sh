#!/usr/bin/env bash
# Starts a three-member etcd cluster on loopback (Debian's etcd-server, default
# settings: WAL fsync on), the yardstick of docs/benchmarks.md. Members listen
# for clients on 2379, 22379 and 32379. Stop it with Ctrl-C; the data directory
# is temporary.
#
#   bash scripts/etcd-cluster.sh            # in one terminal
#   target/release/gemtrail bench-etcd      # in another
set -euo pipefail
command -v etcd >/dev/null 2>&1 || {
    echo "etcd-cluster: installing etcd-server"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq etcd-server
}
data=$(mktemp -d -t gemtrail-etcd-XXXXXX)
cluster="e1=http://127.0.0.1:2380,e2=http://127.0.0.1:22380,e3=http://127.0.0.1:32380"
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT INT TERM
for member in 1 2 3; do
    case $member in 1) base=2379 ;; 2) base=22379 ;; 3) base=32379 ;; esac
    etcd --name "e$member" --data-dir "$data/e$member" \
        --listen-client-urls "http://127.0.0.1:$base" --advertise-client-urls "http://127.0.0.1:$base" \
        --listen-peer-urls "http://127.0.0.1:$((base + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((base + 1))" \
        --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token gemtrail-yardstick \
        >"$data/e$member.log" 2>&1 &
    pids+=($!)
done
echo "etcd-cluster: three members on 127.0.0.1:2379, :22379, :32379 (data in $data); Ctrl-C stops them"
wait
