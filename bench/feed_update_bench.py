#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Update to live, side by side with clamd's RELOAD: how long a new signature set takes from
the check to serving, how much memory the swap takes, and whether scanning waits meanwhile.

kensad (scanning on, a bundle feed on a loopback HTTP server, checks triggered by SIGHUP):
  cold    the set V1, then V2 (V1 plus one signature) published while CLIENTS clients send
          3 KB messages: each a new set, so the prefilter compiles it (no cache);
  warm    kensad restarted on V2 (its prefilter cache on disk), then a SIGHUP that reloads
          the running set under the same load.
clamd (the same files in its DatabaseDirectory, ConcurrentDatabaseReload as Debian ships it):
          V1, then V2's extra file copied in and RELOAD while CLIENTS threads scan 3 KB
          messages over INSTREAM.

For each: the time to live (kensad: the signature_update record's duration, or the reload's
load_time; clamd: RELOAD to its log line "Database correctly reloaded"), the process's peak
RSS during the swap (sampled every 20 ms) against before it, and the end-of-data reply (kensad)
or scan reply (clamd) latency: steady p99 over the seconds before, and p99 and max of the
replies completed during the swap.

  sudo bench/feed_update_bench.py --set DIR [--clients 16] [--steady 5] [--no-clamd]

DIR must hold kensa's canaries (sigs/test's files: EICAR) besides the set, as /tmp/realsigs/set
of BENCHMARKS.md does. Needs root only for clamd (it drops to user clamav).
"""
import argparse
import http.server
import os
import random
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import kensa_harness as h  # noqa: E402
import scan_helpers as sh  # noqa: E402

SIGTOOL = os.path.join(h.BUILD_DIR, "feed", "kensa-sigtool")
DOMAIN = "example.test"
EXTRA = "Kensa.Bench.FeedExtra:0:*:6b656e73612d62656e63682d666565642d6578747261\n"


def sigtool(*args):
    subprocess.run([SIGTOOL, *args], check=True, stdout=subprocess.DEVNULL)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssWatch:
    """Samples a process's RSS every 20 ms; peak() over a window of time."""

    def __init__(self, pid):
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.02):
            self.samples.append((time.monotonic(), rss_kb(self.pid)))

    def peak(self, start, end):
        vals = [kb for t, kb in self.samples if start <= t <= end]
        return max(vals) if vals else 0

    def close(self):
        self.stop.set()
        self.thread.join()


class Load:
    """CLIENTS threads, each one request after the other until stopped; records (end, latency)
    of every reply, and failures."""

    def __init__(self, clients, one):
        self.done, self.failed, self.stop = [], [], threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n, one), daemon=True)
                        for n in range(clients)]
        for t in self.threads:
            t.start()

    def run(self, n, one):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                latency = one(n, i)
                self.done.append((time.monotonic(), latency))
            except Exception as e:  # a failed session is a result here
                self.failed.append(repr(e))
                time.sleep(0.05)

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def window(self, start, end):
        return sorted(lat for t, lat in self.done if start <= t <= end)


def p99(vals):
    if not vals:
        return float("nan")
    return vals[min(len(vals) - 1, int(round(0.99 * (len(vals) - 1))))]


def text3k(token):
    rng = random.Random(token)
    words = "the of and to in invoice report order meeting schedule budget review".split()
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(40)]
    return h.make_message(token, body_lines=lines, to=f"{token}@{DOMAIN}")


class Sessions:
    """One SMTP connection per client, kept open: latency of DATA to its final reply."""

    def __init__(self, port):
        self.port, self.conns = port, {}

    def __call__(self, n, i):
        s = self.conns.get(n)
        if s is None:
            s = self.conns[n] = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
            s.ehlo("bench.example.org")
        token = f"feed-{n}-{i}-{random.getrandbits(32):08x}"
        s.mail("sender@example.org")
        s.rcpt(f"{token}@{DOMAIN}")
        data = text3k(token)
        t = time.monotonic()
        code, _ = s.data(data)
        lat = time.monotonic() - t
        if code != 250:
            raise RuntimeError(f"DATA answered {code}")
        return lat


def report(name, load, watch, before_start, swap_start, swap_end, live_s):
    steady = load.window(before_start, swap_start)
    during = load.window(swap_start, swap_end)
    rss_before = watch.peak(before_start, swap_start)
    rss_peak = watch.peak(swap_start, swap_end + 1.0)
    row = (f"| {name} | {live_s:.2f} | {rss_before / 1024:.0f} | {rss_peak / 1024:.0f} | "
           f"{len(steady)} | {p99(steady) * 1000:.1f} | {len(during)} | "
           f"{p99(during) * 1000:.1f} | {(during[-1] if during else float('nan')) * 1000:.1f} | "
           f"{len(load.failed)} |")
    print(row, flush=True)
    for f in load.failed[:3]:
        print(f"  failed: {f}", flush=True)
    return row


def feed_server(path_holder):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            with open(path_holder[0], "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("ETag", '"%s"' % os.path.basename(path_holder[0]))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def wait_record(kensad, event, before, timeout=600):
    ok = h.wait_until(lambda: len(sh.log_records(kensad, event)) > before, timeout)
    if not ok:
        raise SystemExit(f"no {event} record\n{kensad.diagnostics()}")
    return sh.log_records(kensad, event)[-1]


def seconds(text):
    """'12.345s' or '850ms' (absl durations as logged) in seconds."""
    text = text.strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    total, num = 0.0, ""
    for unit, mul in (("h", 3600), ("m", 60), ("s", 1)):
        if unit in text:
            num, text = text.split(unit, 1)
            total += float(num) * mul
    return total


def swap_under_load(a, kensad, event, before_hup):
    """Steady load, then SIGHUP; returns (SIGHUP time, time of the record, the load, the
    record of `event` it caused). The load runs one more second after the record."""
    load = Load(a.clients, Sessions(kensad.port))
    time.sleep(a.steady)
    before = len(sh.log_records(kensad, event))
    before_hup()
    t0 = time.monotonic()
    os.kill(kensad.pid, signal.SIGHUP)
    rec = wait_record(kensad, event, before)
    t1 = time.monotonic()
    time.sleep(1.0)
    load.close()
    return t0, t1, load, rec


def run_kensad(a, tmp, v1, v2):
    serving = [v1]
    srv = feed_server(serving)
    kensad = h.Kensad({
        "policy": {"inbound_domains": [DOMAIN]},
        "metrics": {"address": "off"},
        "signatures": {
            "poll_interval": "24h", "poll_jitter": "0s", "retry_min": "24h", "retry_max": "24h",
            "max_download_bytes": 4 << 30, "keep_sets": 3,
            "feed": [{"name": "bench", "url": f"http://127.0.0.1:{srv.server_address[1]}/b",
                      "public_keys": [os.path.join(tmp, "key.pub")]}],
        },
    })
    rows = []
    try:
        kensad.start(timeout=600)
        watch = RssWatch(kensad.pid)
        rec = wait_record(kensad, "signature_update", 0)
        print(f"kensad: V1 {rec.get('result')} in {rec.get('duration')} at start", flush=True)
        t0, t1, load, rec = swap_under_load(a, kensad, "signature_update",
                                            lambda: serving.__setitem__(0, v2))
        if rec.get("result") != "published":
            raise SystemExit(f"V2 not published: {rec}")
        rows.append(report("kensad, new set (prefilter cold)", load, watch, t0 - a.steady, t0, t1,
                           seconds(rec.get("duration", "0s"))))
        watch.close()
        kensad.stop()

        # Warm: the same set again, its prefilter databases cached on disk.
        kensad.start(timeout=600)
        rec = sh.log_records(kensad, "signatures_loaded")[-1]
        print(f"kensad: restart on V2 in {rec.get('load_time')} "
              f"(prefilter from cache: {rec.get('prefilter_from_cache')})", flush=True)
        watch = RssWatch(kensad.pid)
        t0, t1, load, rec = swap_under_load(a, kensad, "signatures_reloaded", lambda: None)
        rows.append(report(f"kensad, reload (prefilter cache: {rec.get('prefilter_from_cache')})",
                           load, watch, t0 - a.steady, t0, t1, seconds(rec.get("load_time", "0s"))))
        watch.close()
    finally:
        kensad.stop()
        kensad.close(check=False)
        srv.shutdown()
    return rows


def clamd_scan(sock_path):
    def one(n, i):
        data = text3k(f"clamd-{n}-{i}-{random.getrandbits(32):08x}")
        t = time.monotonic()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(sock_path)
            s.sendall(b"zINSTREAM\0" + len(data).to_bytes(4, "big") + data + b"\0\0\0\0")
            reply = b""
            while not reply.endswith(b"\0"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        if not reply.endswith(b"OK\0"):
            raise RuntimeError(f"clamd: {reply!r}")
        return time.monotonic() - t
    return one


def run_clamd(a, tmp, set_dir):
    d = os.path.join(tmp, "clamd")
    db = os.path.join(d, "db")
    os.makedirs(db)
    for f in os.listdir(set_dir):
        p = os.path.join(set_dir, f)
        if os.path.isfile(p) and not f.endswith(".md"):
            shutil.copy(p, db)
    sock = os.path.join(d, "clamd.sock")
    log = os.path.join(d, "clamd.log")
    scan_tmp = tempfile.mkdtemp(prefix="feed-bench-clamd-", dir="/dev/shm")
    with open(os.path.join(d, "clamd.conf"), "w") as f:
        f.write(f"LocalSocket {sock}\nLocalSocketMode 666\nDatabaseDirectory {db}\n"
                f"TemporaryDirectory {scan_tmp}\nForeground yes\nUser clamav\nLogFile {log}\n"
                "LogTime yes\nMaxThreads 16\nSelfCheck 0\n")
    subprocess.run(["chown", "-R", "clamav:clamav", d, scan_tmp], check=True)
    proc = subprocess.Popen(["clamd", "-c", os.path.join(d, "clamd.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t = time.monotonic()
        if not h.wait_until(lambda: os.path.exists(sock) or proc.poll() is not None, 600) \
                or proc.poll() is not None:
            raise SystemExit("clamd did not start: " + open(log, errors="replace").read()[-2000:])
        print(f"clamd: started in {time.monotonic() - t:.1f} s", flush=True)
        watch = RssWatch(proc.pid)
        load = Load(a.clients, clamd_scan(sock))
        time.sleep(a.steady)
        with open(os.path.join(db, "kensa-bench-extra.ndb"), "w") as f:
            f.write(EXTRA)
        subprocess.run(["chown", "clamav:clamav", os.path.join(db, "kensa-bench-extra.ndb")])
        logged = open(log, errors="replace").read().count("Database correctly reloaded")
        t0 = time.monotonic()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(sock)
            s.sendall(b"zRELOAD\0")
            s.recv(64)
        ok = h.wait_until(lambda: open(log, errors="replace").read().count(
            "Database correctly reloaded") > logged, 600, interval=0.02)
        t1 = time.monotonic()
        time.sleep(1.0)
        load.close()
        if not ok:
            raise SystemExit("clamd did not reload")
        row = report("clamd RELOAD", load, watch, t0 - a.steady, t0, t1, t1 - t0)
        watch.close()
        return [row]
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(scan_tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", required=True, help="signature directory (with kensa's canaries)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--steady", type=float, default=5.0, help="seconds of load before the swap")
    ap.add_argument("--no-clamd", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="feed-bench-")
    os.chmod(tmp, 0o755)  # clamd runs as user clamav and reads its files below here
    try:
        sigtool("keygen", "-o", os.path.join(tmp, "key"))
        v2_dir = os.path.join(tmp, "v2")
        shutil.copytree(a.set, v2_dir)
        with open(os.path.join(v2_dir, "kensa-bench-extra.ndb"), "w") as f:
            f.write(EXTRA)
        bundles = []
        for src, version in ((a.set, "2026.12.1"), (v2_dir, "2026.12.2")):
            unsigned = os.path.join(tmp, version + ".unsigned.tar.gz")
            sigtool("build", src, "--version", version, "-o", unsigned)
            out = os.path.join(tmp, version + ".tar.gz")
            sigtool("sign", unsigned, "--key", os.path.join(tmp, "key.key"), "-o", out)
            bundles.append(out)
        print("| update | to live (s) | RSS before (MB) | peak RSS during (MB) | replies before "
              "| steady p99 (ms) | replies during | p99 during (ms) | max during (ms) | failed |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        rows = run_kensad(a, tmp, *bundles)
        if not a.no_clamd:
            rows += run_clamd(a, tmp, a.set)
        print("\n".join(["", "| update | to live (s) | RSS before (MB) | peak RSS during (MB) "
                         "| replies before | steady p99 (ms) | replies during | p99 during (ms) "
                         "| max during (ms) | failed |", "|---|---|---|---|---|---|---|---|---|---|"]
                        + rows))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
