# SPDX-License-Identifier: GPL-2.0-or-later
"""The Prometheus endpoint, end to end: kensad with [metrics] on a free port takes N messages
(some carrying EICAR), delivers them to its Maildir, and then

- a scrape of /metrics passes `promtool check metrics` (Prometheus's own linter) and its
  values are what was sent: messages queued, clean and infected, deliveries, histogram
  counts, gauges, the signature set kensad logged, the process;
- a real Prometheus server (Debian's `prometheus`, its own config and TSDB in a temp dir,
  scraping every second) reads the same values, asked through its HTTP API (/api/v1/query).

Every wait is bounded; Prometheus is stopped by PID whatever happens."""
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import kensa_harness as h
import scan_helpers as sh

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

CLEAN = 4
INFECTED = 2
SENT = CLEAN + INFECTED
REACTORS = 2  # the harness's kensad
WAIT = 30     # seconds, for each thing awaited

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """[(name, {label: value}, float)] of every sample line of the text format."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def total(samples, name, **match):
    """The sum of a metric's samples over its reactors (those whose labels match)."""
    return sum(v for n, labels, v in samples
               if n == name and all(labels.get(k) == w for k, w in match.items()))


def series(samples, name):
    return [(labels, v) for n, labels, v in samples if n == name]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


def message(token, infected, rnd):
    payload = sh.EICAR if infected else rnd.randbytes(3000)
    name = "eicar.com" if infected else "data.bin"
    return sh.render(sh.message(
        sh.top_headers(token, f"user{token}@{h.LOCAL_DOMAIN}"),
        sh.multipart("mixed", [
            sh.leaf("text/plain; charset=us-ascii", f"message {token}\r\n".encode(), cte="7bit"),
            sh.attachment(name, payload),
        ], f"b-{token}"))).data


class Prometheus:
    """A Prometheus server in its own temp dir on a free loopback port, scraping `target`
    every second. Stopped (SIGTERM, then SIGKILL) by close()."""

    def __init__(self, target):
        self.dir = h.make_tmpdir("prometheus-")
        self.port = h.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.dir, "prometheus.log")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: kensad\n"
                    "    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.args = [PROMETHEUS, f"--config.file={config}",
                     f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                     f"--web.listen-address=127.0.0.1:{self.port}"]
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.log()}")
        try:
            return http_get(f"{self.url}/-/ready", timeout=2)[0] == 200
        except (OSError, urllib.error.URLError):
            return False

    def query(self, promql):
        """The instant vector of `promql` as [(labels, float)]."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        status, body = http_get(url)
        reply = json.loads(body)
        if status != 200 or reply.get("status") != "success":
            raise AssertionError(f"query {promql}: {status} {body}")
        return [(r["metric"], float(r["value"][1])) for r in reply["data"]["result"]]

    def scalar(self, promql):
        """The one value of `promql`, or None while it has no sample."""
        result = self.query(promql)
        return result[0][1] if len(result) == 1 else None

    def log(self):
        return h.tail(self.log_path, 4000)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        h.remove_tmpdir(self.dir)


class MetricsTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        cls.started = time.time()
        cls.metrics_port = h.free_port()
        overrides = {
            "metrics": {"address": f"127.0.0.1:{cls.metrics_port}"},
            # Every example.test recipient is scanned; infected parts are cleaned and the
            # message delivered, so every message counts as queued and delivered.
            "policy": {"inbound_domains": [h.LOCAL_DOMAIN], "action": "remove"},
        }
        with cls.kensad_started(overrides) as kensad:
            rnd = random.Random(19)
            cls.outcomes = []
            # One connection per message, so that both reactors are likely to take some.
            for i in range(SENT):
                data = message(f"m{i}", infected=i < INFECTED, rnd=rnd)
                cls.outcomes += sh.send_all(kensad.port, [
                    ("sender@example.org", [f"userm{i}@{h.LOCAL_DOMAIN}"], data)])
            if not h.wait_until(lambda: len(kensad.maildir_messages()) >= SENT, WAIT):
                raise AssertionError(f"not delivered\n{kensad.diagnostics()}")
            if not kensad.wait_spool_empty(WAIT):
                raise AssertionError(f"spool not empty\n{kensad.diagnostics()}")

    def scrape(self):
        status, text = http_get(f"http://127.0.0.1:{self.metrics_port}/metrics")
        self.assertEqual(status, 200)
        return text

    def scrape_when(self, predicate):
        """Scrapes until predicate(samples) holds (bounded); the last samples either way."""
        samples = []

        def check():
            nonlocal samples
            samples = parse_exposition(self.scrape())
            return predicate(samples)
        h.wait_until(check, WAIT, 0.2)
        return samples

    def test_every_message_was_accepted(self):
        self.assertEqual([o.code for o in self.outcomes], [250] * SENT, self.outcomes)

    def test_scrape_passes_promtool_and_matches_what_was_sent(self):
        if not h.have(PROMTOOL):
            self.skipTest("promtool (Debian package prometheus) is not installed")
        text = self.scrape()
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(lint.returncode, 0, f"promtool check metrics:\n{lint.stdout}")
        # The deliveries are done; the counters that follow them may lag a scrape behind.
        s = self.scrape_when(lambda s: total(s, "kensa_deliveries_total") >= SENT and
                             total(s, "kensa_connections_open") == 0)
        self.assertEqual(total(s, "kensa_messages_queued_total"), SENT)
        self.assertEqual(total(s, "kensa_messages_clean_total"), CLEAN)
        self.assertEqual(total(s, "kensa_messages_infected_total"), INFECTED)
        self.assertEqual(total(s, "kensa_messages_virus_rejected_total"), 0)
        self.assertEqual(total(s, "kensa_deliveries_total"), SENT)
        self.assertEqual(total(s, "kensa_deliveries_deferred_total"), 0)
        # The harness's greeting check and the other tests connect too.
        self.assertGreaterEqual(total(s, "kensa_smtp_connections_total"), SENT)
        # Every per-reactor series has one sample per reactor, labelled 0 and 1.
        for name in ("kensa_messages_queued_total", "kensa_connections_open",
                     "kensa_queue_messages", "kensa_smtp_end_of_data_reply_seconds_count"):
            self.assertEqual(sorted(l["reactor"] for l, _ in series(s, name)),
                             [str(r) for r in range(REACTORS)], name)
        # Histograms: one observation per reply, per delivery, per part scanned.
        self.assertEqual(total(s, "kensa_smtp_end_of_data_reply_seconds_count"), SENT)
        self.assertEqual(total(s, "kensa_smtp_end_of_data_reply_seconds_bucket", le="+Inf"),
                         SENT)
        self.assertEqual(total(s, "kensa_delivery_latency_seconds_count"), SENT)
        parts = total(s, "kensa_scan_parts_total")
        self.assertGreaterEqual(parts, 2 * SENT)  # a text and an attachment each
        self.assertEqual(total(s, "kensa_scan_part_seconds_count"), parts)
        for name in ("kensa_smtp_end_of_data_reply_seconds", "kensa_delivery_latency_seconds",
                     "kensa_scan_part_seconds"):
            for r in range(REACTORS):
                buckets = sorted(
                    (float(l["le"]), v) for l, v in series(s, f"{name}_bucket")
                    if l["reactor"] == str(r))
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts), f"{name} reactor {r}: cumulative")
                self.assertTrue(math.isinf(buckets[-1][0]))
                self.assertEqual(buckets[-1][1], total(s, f"{name}_count", reactor=str(r)))
            self.assertLess(total(s, f"{name}_sum"), SENT * WAIT)
        # Gauges: the queue is empty, no client is connected.
        self.assertEqual(total(s, "kensa_queue_messages"), 0)
        self.assertEqual(total(s, "kensa_queue_oldest_message_age_seconds"), 0)
        self.assertEqual(total(s, "kensa_connections_open"), 0)
        # The signature set kensad logged at start, loaded a moment ago.
        loaded = sh.log_records(self.kensad, "signatures_loaded")
        self.assertEqual(len(loaded), 1)
        info = series(s, "kensa_signature_info")
        self.assertEqual(info, [({"version": loaded[0]["version"]}, 1.0)])
        age = total(s, "kensa_signature_age_seconds")
        self.assertGreaterEqual(age, 0)
        self.assertLess(age, time.time() - self.started + 1)
        # The process: its resident memory as /proc says, its start during this test.
        rss = total(s, "kensa_process_resident_memory_bytes")
        self.assertLess(abs(rss - self.kensad.rss_kb() * 1024), rss / 2)
        start = total(s, "kensa_process_start_time_seconds")
        self.assertGreaterEqual(start, self.started - 1)
        self.assertLessEqual(start, time.time())

    def test_open_connections_are_counted_while_open(self):
        with h.RawSmtp(self.kensad.port) as client:
            self.assertEqual(client.reply()[0], 220)
            s = self.scrape_when(lambda s: total(s, "kensa_connections_open") == 1)
            self.assertEqual(total(s, "kensa_connections_open"), 1)
            client.cmd("QUIT")
        s = self.scrape_when(lambda s: total(s, "kensa_connections_open") == 0)
        self.assertEqual(total(s, "kensa_connections_open"), 0)

    def test_a_real_prometheus_scrapes_the_same_values(self):
        if not h.have(PROMETHEUS):
            self.skipTest("prometheus (Debian package prometheus) is not installed")
        # Settled first (the other tests may have left a connection closing).
        s = self.scrape_when(lambda s: total(s, "kensa_connections_open") == 0)
        version = series(s, "kensa_signature_info")[0][0]["version"]
        prom = Prometheus(f"127.0.0.1:{self.metrics_port}")
        self.addCleanup(prom.close)
        prom.start()
        self.assertTrue(h.wait_until(prom.ready, WAIT, 0.2), f"not ready:\n{prom.log()}")
        # Up once its first scrape succeeded (a failed one says up 0).
        self.assertTrue(h.wait_until(lambda: prom.scalar('up{job="kensad"}') == 1, WAIT, 0.5),
                        f"no successful scrape:\n{prom.log()}")
        expected = {
            "sum(kensa_messages_queued_total)": SENT,
            "sum(kensa_messages_infected_total)": INFECTED,
            "sum(kensa_messages_clean_total)": CLEAN,
            "sum(kensa_deliveries_total)": SENT,
            "sum(kensa_smtp_end_of_data_reply_seconds_count)": SENT,
            "sum(kensa_delivery_latency_seconds_count)": SENT,
            "sum(kensa_scan_part_seconds_count)": total(s, "kensa_scan_parts_total"),
            "count(kensa_messages_queued_total)": REACTORS,
            "sum(kensa_queue_messages)": 0,
            "sum(kensa_connections_open)": 0,
        }
        got = {}
        for promql, want in expected.items():
            h.wait_until(lambda: prom.scalar(promql) == want, WAIT, 0.5)
            got[promql] = prom.scalar(promql)
        self.assertEqual(got, expected)
        info = prom.query("kensa_signature_info")
        self.assertEqual([(m["version"], v) for m, v in info], [(version, 1.0)])
        # Prometheus can compute with the buckets: a median between 0 and the largest bound.
        median = prom.scalar("histogram_quantile(0.5, "
                             "sum by (le) (kensa_smtp_end_of_data_reply_seconds_bucket))")
        self.assertIsNotNone(median)
        self.assertGreater(median, 0)
        self.assertLess(median, 60)
        rss = prom.scalar("kensa_process_resident_memory_bytes")
        self.assertIsNotNone(rss)
        self.assertGreater(rss, 1 << 20)


if __name__ == "__main__":
    unittest.main()
