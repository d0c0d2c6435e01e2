#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# relay_bench.sh: kensa relaying into smtp-sink, side by side in one run with the ceiling
# (the load generator straight into the same sink) and with Postfix relaying into it.
# Loads: 2 KB messages from smtp-source, 100 KB messages from kensa-bench, at 1, 16 and 256
# connections; every point is repeated R times, interleaved (ceiling, kensa, Postfix, then
# the next repetition) so that background load on a shared machine hits all three alike, and
# the medians are printed. Everything runs on 127.0.0.1 from a temporary directory; every
# process started here is stopped on exit, whatever happens.
#
# usage: bench/relay_bench.sh [-r R] [--quick] [--conns "1 16 256"] [--kensad PATH]
#                             [--bench PATH] [--no-postfix] [--no-kensa] [--keep]
# Needs root (Postfix and smtp-sink drop to the postfix user) and the Debian packages
# postfix (smtp-sink, smtp-source) and python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=3
CONNS="1 16 256"
KENSAD=$ROOT/build/default/appliance/kensad
BENCH=""
QUICK=0
DO_KENSA=1
DO_POSTFIX=1
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    -r) REPS=$2; shift ;;
    --quick) QUICK=1 ;;
    --conns) CONNS=$2; shift ;;
    --kensad) KENSAD=$2; shift ;;
    --bench) BENCH=$2; shift ;;
    --no-postfix) DO_POSTFIX=0 ;;
    --no-kensa) DO_KENSA=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n 3,14p "$0"; exit 0 ;;
    *) echo "relay_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$BENCH" ]; then
  for b in "$ROOT"/build/h-bench/bench/kensa-bench "$ROOT"/build/default/bench/kensa-bench; do
    [ -x "$b" ] && BENCH=$b && break
  done
fi
[ -x "$BENCH" ] || { echo "relay_bench: kensa-bench not built (cmake --build ... kensa-bench)" >&2; exit 2; }
[ $DO_KENSA = 0 ] || [ -x "$KENSAD" ] || { echo "relay_bench: no kensad at $KENSAD" >&2; exit 2; }
for t in smtp-sink smtp-source python3; do
  command -v $t >/dev/null || { echo "relay_bench: $t missing" >&2; exit 2; }
done
[ $DO_POSTFIX = 0 ] || [ "$(id -u)" = 0 ] || { echo "relay_bench: Postfix needs root" >&2; exit 2; }

# Messages per point: enough for a run of a second or more through a relay, few enough that
# the whole script stays within a few minutes on a shared 2-core machine.
small_n() { case $1 in 1) echo 2000 ;; 16) echo 3000 ;; *) echo 5000 ;; esac; }
large_n() { case $1 in 1) echo 500 ;; 16) echo 800 ;; *) echo 1000 ;; esac; }
if [ $QUICK = 1 ]; then
  small_n() { echo 300; }
  large_n() { echo 100; }
fi
CLIENT_TIMEOUT=90   # one load run
DRAIN_TIMEOUT=90    # a relay handing the last accepted message to the sink
FROM=bench@example.net
TO=sink@example.org

WORK=$(mktemp -d /tmp/kensa-relay-bench.XXXXXX)
chmod 755 "$WORK"
# Postfix accepts -c DIR only for directories listed in /etc/postfix/main.cf, so its directory
# has a fixed name (listed once) instead of living in $WORK, which changes every run.
PFDIR=/tmp/kensa-bench-postfix
PIDS=()
BENCH_NAME=relay_bench
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# --- the sink: one for the whole run, so every figure is measured against the same process --
SINK_PORT=$(free_port)
smtp-sink -c -u postfix -m 2000 127.0.0.1:$SINK_PORT 1000 >"$WORK/sink.out" 2>"$WORK/sink.err" &
PIDS+=($!)
wait_greeting $SINK_PORT 10 || { echo "relay_bench: smtp-sink did not start" >&2; cat "$WORK/sink.err" >&2; exit 1; }

# --- kensad: relay only, no TLS, two reactors, fsync before 250 as always -------------------
if [ $DO_KENSA = 1 ]; then
  KENSA_PORT=$(free_port)
  mkdir -p "$WORK/kensa"
  cat >"$WORK/kensad.toml" <<EOF
hostname = "kensa.bench.test"
state_dir = "$WORK/kensa"
reactors = 2
pin_reactors = false
log_level = "warning"
drain_timeout = "2s"

# Several kensads run side by side here: none serves the metrics port (idle without scrapes).
[metrics]
address = "off"

[[listener]]
name = "mx"
address = "127.0.0.1:$KENSA_PORT"
tls = "none"

[smtp]
local_domains = ["example.org"]
max_connections_per_client = 10000

[delivery]
next_hop = "smtp://127.0.0.1:$SINK_PORT"
tls = "none"

# No [policy]: no address subscribes, so this measures relaying alone (see scan_bench.sh).
[scan]
signature_dir = "$ROOT/sigs/test"
EOF
fi
KENSAD_PID=""
# Each repetition gets a fresh kensad and spool, so one repetition's leftovers (a queue still
# draining, descriptors it leaked: see BENCHMARKS.md) cannot skew the next. Postfix keeps
# running: its queue is empty between points because every point waits for the sink.
start_kensad() {
  rm -rf "$WORK/kensa" && mkdir -p "$WORK/kensa"
  "$KENSAD" --config "$WORK/kensad.toml" >>"$WORK/kensad.log" 2>&1 &
  KENSAD_PID=$!
  PIDS+=($KENSAD_PID)
  wait_greeting $KENSA_PORT 20 || { echo "relay_bench: kensad did not start" >&2; tail -20 "$WORK/kensad.log" >&2; exit 1; }
}
stop_kensad() {
  [ -n "$KENSAD_PID" ] || return 0
  stop_pid "$KENSAD_PID"
  KENSAD_PID=""
}

# --- Postfix: the PEERS.md relay recipe, its own config directory ---------------------------
if [ $DO_POSTFIX = 1 ]; then
  PF_PORT=$(free_port)
  postfix_prepare_dir
  { postfix_relay_main_cf "$SINK_PORT"; cat <<EOF
# 256 client connections need 256 smtpd processes; Postfix's default limit is 100.
default_process_limit = 300
EOF
  } >"$PFDIR/main.cf"
  postfix_start "$PF_PORT"
fi

# --- one measured point -------------------------------------------------------------------
RESULTS=$WORK/results.tsv
printf 'target\tsize\tconns\trep\tsent\tok\taccept_s\tdeliver_s\n' >"$RESULTS"
# run_point TARGET PORT SIZE CONNS REP: load into PORT; for a relay, wait until the sink has
# every accepted message. accept_s: until the load generator got its last reply;
# deliver_s: until the sink counted the last message (for the ceiling the two are one).
run_point() {
  local target=$1 port=$2 size=$3 conns=$4 rep=$5 n ok rc t0 t1 t2 base out
  if [ "$size" = 2048 ]; then n=$(small_n "$conns"); else n=$(large_n "$conns"); fi
  base=$(sink_count)
  out=$WORK/$target-$size-$conns-$rep.out
  t0=$(date +%s%N)
  if [ "$size" = 2048 ]; then
    # -d: one session per connection for all its messages, as kensa-bench does.
    rc=0
    timeout $CLIENT_TIMEOUT smtp-source -d -s "$conns" -m "$n" -l 2048 -f $FROM -t $TO \
      127.0.0.1:"$port" >"$out" 2>&1 || rc=$?
    ok=$([ $rc = 0 ] && echo "$n" || echo 0)
  else
    rc=0
    timeout $((CLIENT_TIMEOUT + 10)) "$BENCH" --server 127.0.0.1:"$port" --connections "$conns" \
      --messages "$n" --size "$size" --pipelining --from $FROM --to $TO \
      --timeout_s $CLIENT_TIMEOUT --label "$target" >"$out" 2>&1 || rc=$?
    ok=$(grep -o ' ok=[0-9]*' "$out" | head -1 | cut -d= -f2)
    ok=${ok:-0}
  fi
  t1=$(date +%s%N)
  if [ "$ok" -gt 0 ]; then t2=$(wait_sink $((base + ok)) $DRAIN_TIMEOUT); else t2=timeout; fi
  local acc del
  acc=$(python3 -c "print(f'{($t1-$t0)/1e9:.3f}')")
  if [ "$t2" = timeout ]; then del=NA; else del=$(python3 -c "print(f'{($t2-$t0)/1e9:.3f}')"); fi
  [ "$target" = ceiling ] && del=$acc
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$size" "$conns" "$rep" "$n" "$ok" "$acc" "$del" >>"$RESULTS"
  printf '  %-8s %6s B %3s conn rep %s: %5s/%s ok, accepted in %ss, delivered in %ss\n' \
    "$target" "$size" "$conns" "$rep" "$ok" "$n" "$acc" "$del" >&2
  if [ "$target" = kensa ] && [ -n "$KENSAD_PID" ]; then
    printf '  %-8s open descriptors after the point: %s\n' kensa \
      "$(ls /proc/$KENSAD_PID/fd 2>/dev/null | wc -l)" >&2
  fi
  if [ "$ok" != "$n" ]; then sed 's/^/    | /' "$out" | tail -3 >&2; fi
}

echo "relay_bench: sink 127.0.0.1:$SINK_PORT${KENSA_PORT:+, kensad :$KENSA_PORT}${PF_PORT:+, Postfix :$PF_PORT}; $REPS repetitions; work dir $WORK" >&2
for rep in $(seq "$REPS"); do
  [ $DO_KENSA = 0 ] || { stop_kensad; start_kensad; }
  for size in 2048 102400; do
    for c in $CONNS; do
      run_point ceiling $SINK_PORT $size "$c" "$rep"
      [ $DO_KENSA = 0 ] || run_point kensa "$KENSA_PORT" $size "$c" "$rep"
      [ $DO_POSTFIX = 0 ] || run_point postfix "$PF_PORT" $size "$c" "$rep"
    done
  done
done

# --- medians and ratios --------------------------------------------------------------------
bench_medians "$RESULTS" size <<'EOF'
fmt = lambda x: f"{x:9.0f}" if x is not None else "       NA"
ratio = lambda a, b: f"{a / b:6.2f}" if a and b else "    NA"
points = sorted({(r["size"], r["conns"]) for r in rows}, key=lambda p: (int(p[0]), int(p[1])))
print("Medians of msg/s (delivered = the sink counted it; accepted = the client got its 250).")
print("kensad and Postfix both fsync the message before their 250.")
print("| size | conns | ceiling | kensa delivered | kensa accepted | Postfix delivered | Postfix accepted | kensa/Postfix | kensa/ceiling | kensa MB/s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for size, conns in points:
    ce = med("ceiling", size, conns, "accept_s")
    kd, ka = med("kensa", size, conns, "deliver_s"), med("kensa", size, conns, "accept_s")
    pd, pa = med("postfix", size, conns, "deliver_s"), med("postfix", size, conns, "accept_s")
    mb = f"{kd * int(size) / 1e6:.1f}" if kd else "NA"
    label = "2 KB" if size == "2048" else f"{int(size) // 1024} KB"
    print(f"| {label} | {conns} | {fmt(ce)} | {fmt(kd)} | {fmt(ka)} | {fmt(pd)} | {fmt(pa)} "
          f"| {ratio(kd, pd)} | {ratio(kd, ce)} | {mb} |")
EOF
echo "relay_bench: 2 KB load: smtp-source -d -l 2048; 100 KB load: kensa-bench --pipelining; per-run rows above (kept with --keep in $RESULTS)" >&2
