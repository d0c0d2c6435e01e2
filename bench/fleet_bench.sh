#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fleet_bench.sh: kensa behind HAProxy, side by side in one run: one kensad direct, the same
# kensad behind HAProxy (send-proxy-v2, the PROXY header on every connection), and two
# kensad behind HAProxy (round robin), all relaying into one smtp-sink. kensa-bench at 16
# connections with 3 KB and 100 KB messages; every point repeated R times, interleaved, and
# the medians printed as msg/s until the sink counted the last message, with ratios to the
# direct node. Scanning off (no [policy]): this measures the fleet's plumbing, not libclamav.
#
# usage: bench/fleet_bench.sh [-r R] [--quick] [--kensad PATH] [--bench PATH] [--keep]
# Needs haproxy, postfix (smtp-sink) and python3 (Debian packages, scripts/deps).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=3
KENSAD=$ROOT/build/default/appliance/kensad
BENCH=$ROOT/build/default/bench/kensa-bench
KEEP=0
SMALL_N=3000
LARGE_N=800
while [ $# -gt 0 ]; do
  case $1 in
    -r) REPS=$2; shift ;;
    --quick) SMALL_N=300; LARGE_N=100 ;;
    --kensad) KENSAD=$2; shift ;;
    --bench) BENCH=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n 3,11p "$0"; exit 0 ;;
    *) echo "fleet_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
for t in "$KENSAD" "$BENCH"; do [ -x "$t" ] || { echo "fleet_bench: $t not built" >&2; exit 2; }; done
for t in haproxy smtp-sink python3; do
  command -v $t >/dev/null || { echo "fleet_bench: $t missing (scripts/deps)" >&2; exit 2; }
done
CONNS=16
CLIENT_TIMEOUT=90
DRAIN_TIMEOUT=90
WORK=$(mktemp -d /tmp/kensa-fleet-bench.XXXXXX)
chmod 755 "$WORK"
PFDIR=$WORK/unused-postfix
PIDS=()
BENCH_NAME=fleet_bench
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

SINK_PORT=$(free_port)
smtp-sink -c -u postfix -m 2000 127.0.0.1:$SINK_PORT 1000 >"$WORK/sink.out" 2>"$WORK/sink.err" &
PIDS+=($!)
wait_greeting $SINK_PORT 10 || { echo "fleet_bench: smtp-sink did not start" >&2; exit 1; }

# Two nodes, each with a plain listener (direct) and a PROXY listener for HAProxy.
declare -a NODE_PORT LB_PORT NODE_PID
for i in 0 1; do
  NODE_PORT[$i]=$(free_port)
  LB_PORT[$i]=$(free_port)
  cat >"$WORK/node$i.toml" <<EOF
hostname = "node$i.bench.test"
state_dir = "$WORK/node$i"
reactors = 2
pin_reactors = false
log_level = "warning"
drain_timeout = "2s"
[metrics]
address = "off"
[[listener]]
name = "mx"
address = "127.0.0.1:${NODE_PORT[$i]}"
tls = "none"
[[listener]]
name = "lb"
address = "127.0.0.1:${LB_PORT[$i]}"
tls = "none"
proxy_protocol = true
trusted_proxies = ["127.0.0.1/32"]
[smtp]
local_domains = ["example.org"]
max_connections_per_client = 10000
[delivery]
next_hop = "smtp://127.0.0.1:$SINK_PORT"
tls = "none"
[scan]
signature_dir = "$ROOT/sigs/test"
EOF
done
start_node() {
  rm -rf "$WORK/node$1" && mkdir -p "$WORK/node$1"
  "$KENSAD" --config "$WORK/node$1.toml" >>"$WORK/node$1.log" 2>&1 &
  NODE_PID[$1]=$!
  PIDS+=(${NODE_PID[$1]})
  wait_greeting ${NODE_PORT[$1]} 20 || { echo "fleet_bench: node$1 did not start" >&2; tail "$WORK/node$1.log" >&2; exit 1; }
}
stop_node() { stop_pid "${NODE_PID[$1]}"; }

# HAProxy frontends: one node, and both nodes.
FRONT1=$(free_port)
FRONT2=$(free_port)
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4000
defaults
    mode tcp
    timeout connect 2s
    timeout client 90s
    timeout server 90s
frontend one
    bind 127.0.0.1:$FRONT1
    default_backend one
frontend two
    bind 127.0.0.1:$FRONT2
    default_backend two
backend one
    server node0 127.0.0.1:${LB_PORT[0]} send-proxy-v2
backend two
    balance roundrobin
    server node0 127.0.0.1:${LB_PORT[0]} send-proxy-v2
    server node1 127.0.0.1:${LB_PORT[1]} send-proxy-v2
EOF
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)

RESULTS=$WORK/results.tsv
printf 'target\tsize\tconns\trep\tsent\tok\taccept_s\tdeliver_s\n' >"$RESULTS"
run_point() {
  local target=$1 port=$2 size=$3 rep=$4 n ok rc t0 t1 t2 base out acc del
  if [ "$size" = 3072 ]; then n=$SMALL_N; else n=$LARGE_N; fi
  base=$(sink_count)
  out=$WORK/$target-$size-$rep.out
  t0=$(date +%s%N)
  rc=0
  timeout $((CLIENT_TIMEOUT + 10)) "$BENCH" --server 127.0.0.1:"$port" --connections $CONNS \
    --messages "$n" --size "$size" --pipelining --from bench@example.net --to sink@example.org \
    --timeout_s $CLIENT_TIMEOUT --label "$target" >"$out" 2>&1 || rc=$?
  ok=$(grep -o ' ok=[0-9]*' "$out" | head -1 | cut -d= -f2)
  ok=${ok:-0}
  t1=$(date +%s%N)
  if [ "$ok" -gt 0 ]; then t2=$(wait_sink $((base + ok)) $DRAIN_TIMEOUT); else t2=timeout; fi
  acc=$(python3 -c "print(f'{($t1-$t0)/1e9:.3f}')")
  if [ "$t2" = timeout ]; then del=NA; else del=$(python3 -c "print(f'{($t2-$t0)/1e9:.3f}')"); fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$size" $CONNS "$rep" "$n" "$ok" "$acc" "$del" >>"$RESULTS"
  printf '  %-8s %6s B rep %s: %5s/%s ok, accepted in %ss, delivered in %ss\n' \
    "$target" "$size" "$rep" "$ok" "$n" "$acc" "$del" >&2
}

echo "fleet_bench: sink :$SINK_PORT, nodes :${NODE_PORT[*]} (PROXY :${LB_PORT[*]}), HAProxy :$FRONT1 (one) :$FRONT2 (two); $REPS repetitions; $WORK" >&2
start_node 0
start_node 1
wait_greeting $FRONT2 10 || { echo "fleet_bench: HAProxy did not start" >&2; cat "$WORK/haproxy.log" >&2; exit 1; }
for rep in $(seq "$REPS"); do
  for size in 3072 102400; do
    run_point direct "${NODE_PORT[0]}" $size "$rep"
    run_point haproxy1 "$FRONT1" $size "$rep"
    run_point haproxy2 "$FRONT2" $size "$rep"
  done
done

bench_medians "$RESULTS" size <<'EOF'
fmt = lambda x: f"{x:7.0f}" if x is not None else "     NA"
ratio = lambda a, b: f"{a / b:5.2f}" if a and b else "   NA"
print("Medians of delivered msg/s (16 connections, kensa-bench --pipelining, scanning off).")
print("| size | one node direct | one node behind HAProxy | two nodes behind HAProxy | HAProxy 1 / direct | HAProxy 2 / direct |")
print("|---|---|---|---|---|---|")
for size in sorted({r["size"] for r in rows}, key=int):
    d, h1, h2 = (med(t, size, "16") for t in ("direct", "haproxy1", "haproxy2"))
    print(f"| {int(size) // 1024} KB | {fmt(d)} | {fmt(h1)} | {fmt(h2)} | {ratio(h1, d)} | {ratio(h2, d)} |")
EOF
