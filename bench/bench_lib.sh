# SPDX-License-Identifier: GPL-2.0-or-later
# bench_lib.sh: what the bench scripts share, sourced by each: ports, greetings,
# the Postfix instance of PEERS.md in its own config directory, stopping what a run started,
# the medians of a results table, and smtp-sink's message counter.
# The sourcing script sets BENCH_NAME (the prefix of its messages), WORK (its temporary
# directory), PFDIR (Postfix's config directory), KEEP (1: keep both on exit) and appends the
# PID of every process it starts to the array PIDS.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Waits for a 220 greeting on 127.0.0.1:$1 (up to $2 seconds).
wait_greeting() {
  python3 - "$1" "$2" <<'EOF'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            if s.recv(512).startswith(b"220"):
                s.sendall(b"QUIT\r\n")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

# SIGTERM to one process, up to 10 s for it to go, then SIGKILL.
stop_pid() {
  local p=$1
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
# Stops every process in PIDS and the Postfix instance, then removes WORK and PFDIR (unless
# KEEP). For the EXIT trap: runs whatever happened before.
bench_cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  if [ -f "$PFDIR/main.cf" ]; then timeout 30 postfix -c "$PFDIR" stop >/dev/null 2>&1; fi
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  if [ -f "$PFDIR/queue/pid/master.pid" ]; then
    mp=$(tr -d ' ' <"$PFDIR/queue/pid/master.pid")
    [ -n "$mp" ] && kill -0 "$mp" 2>/dev/null && kill -KILL "$mp" 2>/dev/null
  fi
  wait 2>/dev/null
  if [ "$KEEP" = 1 ]; then echo "$BENCH_NAME: kept $WORK and $PFDIR" >&2
  else rm -rf "$WORK" "$PFDIR"; fi
}

# --- Postfix: the PEERS.md relay recipe, its own config directory PFDIR ----------------------
# A fresh PFDIR (stopping what a previous run left there), listed in /etc/postfix/main.cf:
# Postfix accepts -c DIR only for the directories listed there.
postfix_prepare_dir() {
  [ -f "$PFDIR/queue/pid/master.pid" ] && timeout 30 postfix -c "$PFDIR" stop >/dev/null 2>&1 || true
  rm -rf "$PFDIR"
  mkdir -p "$PFDIR/queue" "$PFDIR/data"
  chmod 755 "$PFDIR"
  chown postfix:postfix "$PFDIR/data"
  # Listed once, under the same lock the integration tests take for main.cf.
  python3 - "$PFDIR" <<'EOF'
import fcntl, os, re, sys
d, cf = sys.argv[1], "/etc/postfix/main.cf"
with open("/tmp/kensa-itest-postfix-main-cf.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        lines = open(cf).read().splitlines()
    except FileNotFoundError:
        lines = ["compatibility_level = 3.6"]
    for i, l in enumerate(lines):
        m = re.match(r"\s*alternate_config_directories\s*=(.*)$", l)
        if m:
            dirs = [x for x in re.split(r"[\s,]+", m.group(1).strip()) if x]
            if d in dirs:
                sys.exit(0)
            lines[i] = "alternate_config_directories = " + " ".join(dirs + [d])
            break
    else:
        lines.append("alternate_config_directories = " + d)
    open(cf + ".kensa-tmp", "w").write("\n".join(lines) + "\n")
    os.replace(cf + ".kensa-tmp", cf)
EOF
}
# Prints the main.cf lines of a relay for example.org to the smtp-sink on 127.0.0.1:$1; the
# caller appends its own.
postfix_relay_main_cf() {
  cat <<EOF
compatibility_level = 3.6
queue_directory = $PFDIR/queue
data_directory = $PFDIR/data
myhostname = relay.example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.org
relayhost = [127.0.0.1]:$1
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
smtp_dns_support_level = disabled
biff = no
maillog_file = $PFDIR/postfix.log
maillog_file_prefixes = /var, /tmp
EOF
}
# Writes master.cf (the smtp listener on 127.0.0.1:$1, no other inet services, no chroot),
# starts the instance and waits for its greeting; exits the script when it does not come.
postfix_start() {
  awk -v port="$1" '
    /^[ \t#]/ || NF == 0 { print; next }
    NF >= 8 && $2 == "inet" { if ($1 == "smtp") $1 = "127.0.0.1:" port; else { print "#" $0; next } }
    NF >= 8 { $5 = "n" }
    { print }' /etc/postfix/master.cf >"$PFDIR/master.cf"
  postfix -c "$PFDIR" start >"$WORK/postfix-start.out" 2>&1 || {
    echo "$BENCH_NAME: postfix start failed" >&2; cat "$WORK/postfix-start.out" >&2; tail "$PFDIR/postfix.log" >&2; exit 1; }
  wait_greeting "$1" 30 || { echo "$BENCH_NAME: Postfix did not greet" >&2; tail "$PFDIR/postfix.log" >&2; exit 1; }
}

# --- medians --------------------------------------------------------------------------------
# bench_medians RESULTS LOAD_COLUMN: runs the Python program on stdin with the results table
# RESULTS loaded: `rows` (the repetitions, not the warm-up: rep 0), `rate(row, key)` (messages
# per second over the seconds in column key, None where there are none) and
# `med(target, load, conns, key)` (the median rate over the repetitions of one point, where
# load is a value of the column LOAD_COLUMN).
bench_medians() {
  local program
  program=$(cat)
  python3 -c 'import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["rep"] != "0"]
def rate(r, key):
    if r[key] in ("NA", "") or int(r["ok"]) == 0: return None
    return int(r["ok"]) / float(r[key])
def med(target, load, conns, key="deliver_s"):
    v = [rate(r, key) for r in rows if (r["target"], r[sys.argv[2]], r["conns"]) == (target, load, conns)]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
'"$program" "$1" "$2"
}

# --- the sink's counter: smtp-sink -c writing to $WORK/sink.out (relay_bench, fleet_bench) ---
# smtp-sink -c writes "sess=.. quit=.. mesg=N" after every message, separated by CR.
sink_count() {
  python3 - "$WORK/sink.out" <<'EOF'
import re, sys
with open(sys.argv[1], "rb") as f:
    f.seek(0, 2); n = f.tell(); f.seek(max(0, n - 256))
    m = re.findall(rb"mesg=(\d+)", f.read())
print(int(m[-1]) if m else 0)
EOF
}
# Polls the sink until it has counted $1 messages (or $2 seconds pass); prints the wall clock
# (ns) when it got there, or "timeout". One process, 5 ms polls, so the poller itself costs the
# 2-core machine next to nothing.
wait_sink() {
  python3 - "$WORK/sink.out" "$1" "$2" <<'EOF'
import re, sys, time
path, want, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + limit
while True:
    with open(path, "rb") as f:
        f.seek(0, 2); n = f.tell(); f.seek(max(0, n - 256))
        m = re.findall(rb"mesg=(\d+)", f.read())
    if m and int(m[-1]) >= want:
        print(time.time_ns()); break
    if time.time() > end:
        print("timeout"); break
    time.sleep(0.005)
EOF
}
