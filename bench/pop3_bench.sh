#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# pop3_bench.sh: POP3 retrieval through kensa's POP3 proxy (scanning on for every mailbox) next
# to the same load straight into the Dovecot behind it, side by side in one run.
# A real Dovecot (the tests' recipe: POP3, passwd-file users, Maildir homes) holds 256 mailboxes
# of 63 10 KB messages and 64 of 4 5 MB messages (text + a base64 attachment of random bytes,
# every message its own bytes); kensa-pop3-bench runs 1 and 64 clients, each doing sessions back to
# back (USER/PASS, STAT, RETR 1..n, QUIT) for a fixed time. Every point runs against Dovecot
# direct, against kensad with scanning on, and against kensad with nobody subscribed (the proxy
# alone, bytes relayed unscanned), interleaved, R times, and the medians are printed with the
# ratio kensa/Dovecot. Everything runs on 127.0.0.1 from a temporary directory; every process
# started here is stopped on exit, whatever happens.
#
# usage: bench/pop3_bench.sh [-r R] [--quick] [--duration S] [--clients "1 64"]
#                            [--sizes "10k 5m"] [--kensad PATH] [--bench PATH]
#                            [--no-kensa] [--no-scan-off] [--scan-opts "KEY = VALUE"]
#                            [--pop3-opts "KEY = VALUE"]
#                            [--log-level info] [--tls] [--keep]
# --tls: the clients speak implicit TLS (as on port 995) to Dovecot's pop3s listener and to
# kensad's POP3 listener (tls = "implicit"); kensad -> Dovecot stays plaintext.
# Needs root (Dovecot's mail processes run as the dovecot user), dovecot-core and python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=3
DURATION=5
CLIENTS="1 64"
SIZES="10k 5m"
KENSAD=$ROOT/build/default/appliance/kensad
BENCH=""
DO_KENSA=1
DO_OFF=1
SCAN_OPTS=""   # extra lines for kensad's [scan] table, e.g. "whole_message_check = false"
POP3_OPTS=""   # extra lines for kensad's [pop3] table, e.g. "read_ahead_messages = 0"
LOG_LEVEL=warning   # kensad's; info logs every session (with --keep: $WORK/kensad.log)
TLS=0
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    -r) REPS=$2; shift ;;
    --quick) DURATION=2; REPS=1 ;;
    --duration) DURATION=$2; shift ;;
    --clients) CLIENTS=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --kensad) KENSAD=$2; shift ;;
    --bench) BENCH=$2; shift ;;
    --no-kensa) DO_KENSA=0; DO_OFF=0 ;;
    --no-scan-off) DO_OFF=0 ;;
    --keep) KEEP=1 ;;
    --scan-opts) SCAN_OPTS=$2; shift ;;
    --pop3-opts) POP3_OPTS=$2; shift ;;
    --log-level) LOG_LEVEL=$2; shift ;;
    --tls) TLS=1 ;;
    -h|--help) sed -n 3,20p "$0"; exit 0 ;;
    *) echo "pop3_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$BENCH" ]; then
  for b in "$ROOT"/build/pop3bench/bench/kensa-pop3-bench "$ROOT"/build/h-bench/bench/kensa-pop3-bench \
           "$ROOT"/build/default/bench/kensa-pop3-bench; do
    [ -x "$b" ] && BENCH=$b && break
  done
fi
[ -x "$BENCH" ] || { echo "pop3_bench: kensa-pop3-bench not built (cmake --build ... --target kensa-pop3-bench)" >&2; exit 2; }
[ $DO_KENSA = 0 ] || [ -x "$KENSAD" ] || { echo "pop3_bench: no kensad at $KENSAD" >&2; exit 2; }
DOVECOT=$(command -v dovecot || echo /usr/sbin/dovecot)
for t in "$DOVECOT" doveadm python3; do
  command -v "$t" >/dev/null || { echo "pop3_bench: $t missing (scripts/deps installs dovecot-core)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "pop3_bench: needs root (Dovecot's mail processes run as dovecot)" >&2; exit 2; }

# Mailboxes per size and messages in each. Every message has its own bytes, and the sessions
# walk the mailboxes round robin from the first, so as long as a point opens no mailbox twice
# neither kensa's POP3 verdict cache nor libclamav's clean-file cache can answer a RETR (kensad
# is also restarted before every kensa point). Sized for kensa's rates on a 2-core machine at
# 5 s per point; the script warns when a kensa point opened more sessions than there are
# mailboxes.
boxes() { case $1 in 10k) echo 256 ;; 5m) echo 64 ;; esac; }
per_box() { case $1 in 10k) echo 63 ;; 5m) echo 4 ;; esac; }
size_bytes() { case $1 in 10k) echo 10240 ;; 5m) echo 5242880 ;; esac; }
CLIENT_TIMEOUT=60   # a RETR that makes no progress for this long fails its session
PASSWORD=bench

# The mail store and kensad's state on tmpfs: both targets read the same files from memory, and
# writing ~1.3 GB of mail to the shared disk would not slow down the points that follow it.
WORK=$(mktemp -d /dev/shm/kensa-pop3-bench.XXXXXX)
chmod 755 "$WORK"
PFDIR=""   # bench_lib's cleanup also stops a Postfix instance; there is none here
PIDS=()
BENCH_NAME=pop3_bench
# shellcheck source=bench/bench_lib.sh
. "$ROOT/bench/bench_lib.sh"

DC=$WORK/dovecot
# SIGTERM to Dovecot's whole process group (its auth and pop3 processes outlive the master
# while clients are connected), up to 10 s, then SIGKILL.
stop_dovecot() {
  local pid pgid
  pid=$(cat "$DC/run/master.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') || pgid=""
  if [ -z "$pgid" ] || [ "$pgid" = "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then pgid=""; fi
  if [ -n "$pgid" ]; then kill -TERM -- "-$pgid" 2>/dev/null || true; else kill -TERM "$pid" 2>/dev/null || true; fi
  for _ in $(seq 100); do
    if [ -n "$pgid" ]; then kill -0 -- "-$pgid" 2>/dev/null || break; else kill -0 "$pid" 2>/dev/null || break; fi
    sleep 0.1
  done
  if [ -n "$pgid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$DC/run/master.pid"
}
cleanup() {
  set +e
  stop_dovecot
  bench_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for a +OK greeting on 127.0.0.1:$1 (up to $2 seconds; $3 = tls: implicit TLS).
wait_pop3() {
  python3 - "$1" "$2" "${3:-plain}" <<'EOF'
import socket, ssl, sys, time
port, limit, tls = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "tls"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
end = time.time() + limit
while time.time() < end:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            s = ctx.wrap_socket(raw) if tls else raw
            if s.recv(512).startswith(b"+OK"):
                s.sendall(b"QUIT\r\n")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

# --- the mailboxes: b10k0..b10k63@example.test and b5m0..b5m63@example.test -----------------
mkdir -p "$DC/run" "$DC/home"
HASH=$(doveadm pw -s SHA512-CRYPT -p "$PASSWORD")
DUID=$(id -u dovecot)
DGID=$(id -g dovecot)
echo "pop3_bench: writing the mailboxes into $DC/home" >&2
for s in $SIZES; do
  for i in $(seq 0 $(($(boxes "$s") - 1))); do
    echo "b$s$i@example.test:$HASH:$DUID:$DGID::$DC/home/b$s$i@example.test"
  done
done >"$DC/passwd"
# Realistic MIME, clean: a text/plain part (with lines starting with "." to be dot-stuffed) and
# a base64 application/octet-stream attachment of random bytes (its own bytes in every
# message), LF line ends as Maildir stores them; the file
# name carries S= (size) and W= (size with CRLF) so Dovecot need not read a file for STAT/LIST.
for s in $SIZES; do
  python3 - "$DC/home" "$s" "$(size_bytes "$s")" "$(boxes "$s")" "$(per_box "$s")" <<'EOF'
import base64, os, sys, time
home, tag, target, boxes, per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
prose = ("Hello,\n\nplease find attached the figures for this quarter. The totals in the second "
         "sheet are provisional until the audit closes; the first sheet is final. Tell me if "
         "anything does not add up.\n\nBest regards,\nTaro Yamada\nAccounts, Example Trading\n"
         # Lines that POP3 must dot-stuff (a lone "." would end the response early).
         ".\n..\n.signature follows\n")
now = int(time.time())
n = 0
for b in range(boxes):
    box = os.path.join(home, f"b{tag}{b}@example.test")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, d), exist_ok=True)
    for m in range(per):
        n += 1
        boundary = f"=_kensa_bench_{tag}_{b}_{m}"
        head = (f"Return-Path: <sender{m}@example.net>\n"
                f"Received: from mx.example.net (mx.example.net [192.0.2.10])\n"
                f"\tby mail.example.test with ESMTP id {n:08X}; Wed, 02 Dec 2026 12:00:00 +0000\n"
                f"From: Taro Yamada <sender{m}@example.net>\n"
                f"To: <b{tag}{b}@example.test>\n"
                f"Subject: Quarterly figures {m}\n"
                f"Date: Wed, 02 Dec 2026 12:00:00 +0000\n"
                f"Message-ID: <{tag}.{b}.{m}.{now}@example.net>\n"
                f"MIME-Version: 1.0\n"
                f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n"
                f"This is a multi-part message in MIME format.\n\n"
                f"--{boundary}\n"
                f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"
                f"{prose}\n"
                f"--{boundary}\n"
                f"Content-Type: application/octet-stream; name=\"figures-{m}.bin\"\n"
                f"Content-Disposition: attachment; filename=\"figures-{m}.bin\"\n"
                f"Content-Transfer-Encoding: base64\n\n")
        tail = f"\n--{boundary}--\n"
        # base64 with 76-character lines (77 bytes a line with LF) for 57 raw bytes a line.
        room = max(0, target - len(head) - len(tail))
        raw = os.urandom(max(57, room // 77 * 57))
        body = base64.encodebytes(raw).decode().rstrip("\n")
        data = (head + body + tail).encode()
        lines = data.count(b"\n")
        name = f"{now}.M{m}P{b}.bench,S={len(data)},W={len(data) + lines}:2,S"
        with open(os.path.join(box, "cur", name), "wb") as f:
            f.write(data)
EOF
done
chown -R dovecot:dovecot "$DC/home"

DC_PORT=$(free_port)
DC_CLIENT_PORT=$DC_PORT   # where the clients go for Dovecot direct
DC_SSL="ssl = no"
DC_POP3S=""
BENCH_TLS=()
if [ $TLS = 1 ]; then
  command -v openssl >/dev/null || { echo "pop3_bench: --tls needs openssl" >&2; exit 2; }
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
  DC_CLIENT_PORT=$(free_port)
  DC_SSL="ssl = yes
ssl_cert = <$WORK/tls/cert.pem
ssl_key = <$WORK/tls/key.pem"
  DC_POP3S="  inet_listener pop3s {
    port = $DC_CLIENT_PORT
    ssl = yes
  }"
  BENCH_TLS=(--tls)
fi
cat >"$DC/dovecot.conf" <<EOF
protocols = pop3
listen = 127.0.0.1
base_dir = $DC/run
state_dir = $DC/run
log_path = $DC/dovecot.log
$DC_SSL
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
first_valid_uid = 1
service pop3-login {
  inet_listener pop3 {
    port = $DC_PORT
  }
$DC_POP3S
  chroot =
}
service anvil {
  chroot =
}
passdb {
  driver = passwd-file
  args = $DC/passwd
}
userdb {
  driver = passwd-file
  args = $DC/passwd
}
EOF
# The master daemonizes (its own process group; stop_dovecot signals the group).
"$DOVECOT" -c "$DC/dovecot.conf" >"$DC/dovecot.out" 2>&1 </dev/null || {
  echo "pop3_bench: dovecot did not start" >&2; cat "$DC/dovecot.out" >&2; tail "$DC/dovecot.log" >&2; exit 1; }
wait_pop3 "$DC_PORT" 20 || { echo "pop3_bench: Dovecot is not answering" >&2; tail "$DC/dovecot.log" >&2; exit 1; }
if [ $TLS = 1 ]; then
  wait_pop3 "$DC_CLIENT_PORT" 20 tls || { echo "pop3_bench: Dovecot's pop3s is not answering" >&2; tail "$DC/dovecot.log" >&2; exit 1; }
fi

# --- kensad: one SMTP listener (its startup checks need one), the POP3 proxy to Dovecot ------
KENSAD_PID=""
if [ $DO_KENSA = 1 ]; then
  KENSA_PORT=$(free_port)
  SMTP_PORT=$(free_port)
  # A copy, so that a rebuild of build/default during the run cannot change the binary.
  cp "$KENSAD" "$WORK/kensad"
  echo "pop3_bench: kensad $KENSAD ($(stat -c %y "$KENSAD" | cut -c1-19), sha256 $(sha256sum "$KENSAD" | cut -c1-12))" >&2
  KENSAD=$WORK/kensad
  cat >"$WORK/kensad-base.toml" <<EOF
hostname = "kensa.bench.test"
state_dir = "$WORK/kensa"
reactors = 2
pin_reactors = false
log_level = "$LOG_LEVEL"
drain_timeout = "2s"

# Several kensads run side by side here: none serves the metrics port (idle without scrapes).
[metrics]
address = "off"

[[listener]]
name = "mx"
address = "127.0.0.1:$SMTP_PORT"
tls = "none"

[[listener]]
name = "pop3"
address = "127.0.0.1:$KENSA_PORT"
protocol = "pop3"
tls = "$([ $TLS = 1 ] && echo implicit || echo none)"
$([ $TLS = 1 ] && printf '\n[tls]\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/tls/cert.pem" "$WORK/tls/key.pem")

[smtp]
local_domains = ["example.test"]

[pop3]
backend = "127.0.0.1:$DC_PORT"
plaintext_auth = true
$POP3_OPTS

[scan]
signature_dir = "$ROOT/sigs/test"
engine_temp_dir = "/dev/shm"
$SCAN_OPTS
EOF
  # scan on: every mailbox subscribes to inbound, so every RETR is scanned.
  { cat "$WORK/kensad-base.toml"; printf '\n[policy]\ninbound_domains = ["example.test"]\n'; } >"$WORK/kensad-kensa.toml"
  # scan off: no [policy], nobody subscribes: the proxy relays RETR bytes unscanned.
  cp "$WORK/kensad-base.toml" "$WORK/kensad-kensa_off.toml"
fi
# A fresh kensad before every kensa point: caches (its verdict cache, libclamav's clean-file
# cache) start empty, and one point's leftovers cannot skew the next.
start_kensad() {
  rm -rf "$WORK/kensa" && mkdir -p "$WORK/kensa"
  "$KENSAD" --config "$WORK/kensad-$1.toml" >>"$WORK/kensad.log" 2>&1 &
  KENSAD_PID=$!
  PIDS+=("$KENSAD_PID")
  wait_pop3 "$KENSA_PORT" 30 "$([ $TLS = 1 ] && echo tls || echo plain)" || { echo "pop3_bench: kensad did not start" >&2; tail -20 "$WORK/kensad.log" >&2; exit 1; }
}
stop_kensad() {
  [ -n "$KENSAD_PID" ] || return 0
  stop_pid "$KENSAD_PID"
  KENSAD_PID=""
}
# Busy and total jiffies of the whole machine so far (/proc/stat's first line).
machine_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
# CPU seconds (user + system) of a process so far.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo NA
}

# --- warm-up: Dovecot builds its index of every mailbox on first access ----------------------
for s in $SIZES; do
  timeout 120 "$BENCH" --server 127.0.0.1:"$DC_PORT" --clients 8 --duration_s 2 \
    --user_format "b$s%d@example.test" --mailboxes "$(boxes "$s")" --password $PASSWORD \
    --max_retr_per_session 1 --timeout_s $CLIENT_TIMEOUT >"$WORK/warmup-$s.out" 2>&1 || {
    echo "pop3_bench: warm-up against Dovecot failed" >&2; cat "$WORK/warmup-$s.out" >&2; tail "$DC/dovecot.log" >&2; exit 1; }
done

# --- one measured point -------------------------------------------------------------------
RESULTS=$WORK/results.tsv
printf 'target\tsize\tclients\trep\tmsgs\tbytes\tsecs\tp50_ms\tp99_ms\tsessions\terrors\tkensad_cpu_s\tclient_cpu_s\tbusy\n' >"$RESULTS"
field() { grep -o " $1=[0-9.]*" "$2" | head -1 | cut -d= -f2; }
# run_point TARGET PORT SIZE CLIENTS REP
run_point() {
  local target=$1 port=$2 size=$3 clients=$4 rep=$5 out rc c0 c1 cpu msgs opened m0 m1 busy
  out=$WORK/$target-$size-$clients-$rep.out
  case $target in kensa*) stop_kensad; start_kensad "$target"; c0=$(cpu_s "$KENSAD_PID") ;; esac
  rc=0
  m0=$(machine_jiffies)
  timeout $((DURATION + CLIENT_TIMEOUT + 30)) "$BENCH" --server 127.0.0.1:"$port" --clients "$clients" \
    --duration_s "$DURATION" --user_format "b$size%d@example.test" --mailboxes "$(boxes "$size")" \
    --password $PASSWORD --timeout_s $CLIENT_TIMEOUT "${BENCH_TLS[@]}" --label "$target" >"$out" 2>&1 || rc=$?
  m1=$(machine_jiffies)
  # Share of both cores busy during the point (everything on the machine, the load included).
  busy=$(python3 -c "a, b = '$m0'.split(), '$m1'.split(); print(f'{(int(b[0]) - int(a[0])) / max(1, int(b[1]) - int(a[1])):.2f}')")
  cpu=NA
  if [ "$target" != dovecot ]; then
    c1=$(cpu_s "$KENSAD_PID")
    cpu=$(python3 -c "print(f'{$c1 - $c0:.2f}')" 2>/dev/null || echo NA)
  fi
  msgs=$(field msgs "$out"); msgs=${msgs:-0}
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$size" "$clients" "$rep" \
    "$msgs" "$(field bytes "$out")" "$(field secs "$out")" "$(field retr_p50_ms "$out")" \
    "$(field retr_p99_ms "$out")" "$(field sessions "$out")" "$(field errors "$out")" "$cpu" \
    "$(field client_cpu_s "$out")" "$busy" >>"$RESULTS"
  printf '  %-9s %3s %2s clients rep %s: %s busy=%s\n' "$target" "$size" "$clients" "$rep" \
    "$(grep -o 'msgs=.*' "$out" | head -1)" "$busy" >&2
  if [ "$target" != dovecot ]; then
    printf '  %-9s CPU %ss, VmHWM %s, open descriptors %s after the point\n' "$target" "$cpu" \
      "$(awk '/VmHWM/ { print $2 $3 }' /proc/$KENSAD_PID/status 2>/dev/null)" \
      "$(ls /proc/$KENSAD_PID/fd 2>/dev/null | wc -l)" >&2
    opened=$(field opened "$out"); opened=${opened:-0}
    [ "$target" != kensa ] || [ "$opened" -le "$(boxes "$size")" ] || printf '  %-9s %s sessions on %s mailboxes: some opened twice, caches may have answered RETRs\n' \
      kensa "$opened" "$(boxes "$size")" >&2
  fi
  if [ $rc != 0 ]; then sed 's/^/    | /' "$out" | tail -6 >&2; fi
}

echo "pop3_bench: Dovecot 127.0.0.1:$DC_CLIENT_PORT${KENSA_PORT:+, kensad :$KENSA_PORT}; clients $([ $TLS = 1 ] && echo "with implicit TLS" || echo plaintext); ${DURATION}s per point, $REPS repetitions; work dir $WORK" >&2
for rep in $(seq "$REPS"); do
  for size in $SIZES; do
    for c in $CLIENTS; do
      # Alternate the order, so a drift in background load hits every target alike.
      order="dovecot"
      [ $DO_KENSA = 0 ] || order="$order kensa"
      [ $DO_OFF = 0 ] || order="$order kensa_off"
      [ $((rep % 2)) = 1 ] || order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
      for t in $order; do
        if [ "$t" = dovecot ]; then run_point dovecot "$DC_CLIENT_PORT" "$size" "$c" "$rep"
        else run_point "$t" "$KENSA_PORT" "$size" "$c" "$rep"; fi
      done
    done
  done
done
stop_kensad

# --- medians and ratios --------------------------------------------------------------------
python3 - "$RESULTS" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def vals(t, s, c, f):
    out = []
    for r in rows:
        if (r["target"], r["size"], r["clients"]) != (t, s, c) or not r["secs"] or float(r["secs"]) <= 0:
            continue
        out.append(f(r))
    return out
def med(t, s, c, f):
    v = [x for x in vals(t, s, c, f) if x is not None]
    return statistics.median(v) if v else None
msgs = lambda r: int(r["msgs"]) / float(r["secs"])
mbs = lambda r: int(r["bytes"] or 0) / float(r["secs"]) / 1e6
p99 = lambda r: float(r["p99_ms"]) if r["p99_ms"] else None
fmt = lambda x, d=0: f"{x:.{d}f}" if x is not None else "NA"
ratio = lambda a, b: f"{a / b:.2f}" if a and b else "NA"
points = sorted({(r["size"], r["clients"]) for r in rows}, key=lambda p: (p[0] != "10k", int(p[1])))
reps = len({r["rep"] for r in rows})
print(f"Medians of {reps} repetition(s). msgs/s and MB/s (10^6 bytes of RETR body) over the whole point.")
print("| size | clients | Dovecot msgs/s (MB/s) | kensa scan on msgs/s (MB/s) | kensa scan off msgs/s (MB/s) | on/Dovecot | off/Dovecot | RETR p99 ms Dovecot / on / off | errors Dovecot / on / off |")
print("|---|---|---|---|---|---|---|---|---|")
extra = []
for s, c in points:
    T = ("dovecot", "kensa", "kensa_off")
    m = {t: med(t, s, c, msgs) for t in T}
    b = {t: med(t, s, c, mbs) for t in T}
    e = {t: sum(int(r["errors"] or 0) for r in rows if (r["target"], r["size"], r["clients"]) == (t, s, c)) for t in T}
    label = "10 KB" if s == "10k" else "5 MB"
    d = 0 if s == "10k" else 1
    cell = lambda t: f"{fmt(m[t], d)} ({fmt(b[t], 1)})"
    print(f"| {label} | {c} | {cell('dovecot')} | {cell('kensa')} | {cell('kensa_off')} "
          f"| {ratio(m['kensa'], m['dovecot'])} | {ratio(m['kensa_off'], m['dovecot'])} "
          f"| {' / '.join(fmt(med(t, s, c, p99), 1) for t in T)} | {' / '.join(str(e[t]) for t in T)} |")
    per = lambda r: int(r["bytes"] or 0) / int(r["msgs"]) if int(r["msgs"] or 0) else None
    busy = lambda r: float(r["busy"]) if r["busy"] else None
    kcpu = lambda r: float(r["kensad_cpu_s"]) / float(r["secs"]) if r["kensad_cpu_s"] not in ("", "NA") else None
    ccpu = lambda r: float(r["client_cpu_s"]) / float(r["secs"]) if r["client_cpu_s"] else None
    extra.append(f"{label} x {c} (Dovecot / on / off): bytes per RETR {' / '.join(fmt(med(t, s, c, per)) for t in T)}; "
                 f"machine busy (both cores = 1.00) {' / '.join(fmt(med(t, s, c, busy), 2) for t in T)}; "
                 f"cores used by kensad - / {' / '.join(fmt(med(t, s, c, kcpu), 2) for t in T[1:])}, "
                 f"by the client {' / '.join(fmt(med(t, s, c, ccpu), 2) for t in T)}")
print()
print("\n".join(extra))
EOF
echo "pop3_bench: per-run rows in $RESULTS (kept with --keep)" >&2
