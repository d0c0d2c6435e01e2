# SPDX-License-Identifier: GPL-2.0-or-later
"""No loss: 2,000 messages sent by several smtplib clients while kensad is killed with SIGKILL
at random moments and restarted on the same config. Every message that got a 250 must reach
the sink (Postfix's smtp-sink, dumping each message to a file). Duplicates are counted and
reported; losses must be zero. NoLossWhileScanningTest does the same with every recipient
subscribed and every fifth message carrying EICAR: each must arrive, and cleaned."""
import base64
import collections
import os
import random
import re
import smtplib
import socket
import threading
import time
import unittest

import kensa_harness as h

MESSAGES = 2000
CLIENTS = 8
KILLS = 8
PER_CONNECTION = 20
RATE = 120  # new messages per second, all clients together: sending lasts about 17 s
SEND_DEADLINE_S = 100
DRAIN_DEADLINE_S = 120

TOKEN_RE = re.compile(rb"X-Token: (nl-\d{5}-[0-9a-f]{8})\n")


@unittest.skipIf(not h.have(h.SMTP_SINK), "Postfix's smtp-sink is not installed")
class NoLossTest(unittest.TestCase):
    POLICY = None         # [policy] overrides: None = nothing subscribed, nothing scanned
    INFECTED_EVERY = 0    # every n-th message carries EICAR (0: none)

    def setUp(self):
        self.sink = h.SmtpSink()
        self.addCleanup(self.sink.close)
        self.sink.start()
        overrides = {
            "smtp": {"command_timeout": "30s", "connection_limit_exempt": ["127.0.0.0/8"]},
            "delivery": {"max_connections_per_next_hop": 8},
        }
        if self.POLICY:
            overrides["policy"] = self.POLICY
        self.kensad = h.Kensad(overrides, next_hop=f"smtp://127.0.0.1:{self.sink.port}")
        self.addCleanup(self.kensad.close)
        self.kensad.start()

    def infected(self, i):
        return self.INFECTED_EVERY > 0 and i % self.INFECTED_EVERY == 0

    def message(self, i, token):
        body = [f"no-loss body {token}", "x" * (i % 300)]
        if not self.infected(i):
            return h.make_message(token, to=f"nl{i % 50}@example.test", body_lines=body)
        eicar = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
        parts = ["--NL", "Content-Type: text/plain", "", *body, "--NL",
                 "Content-Type: application/octet-stream; name=e.com",
                 "Content-Transfer-Encoding: base64", "",
                 base64.b64encode(eicar.encode()).decode(), "--NL--"]
        return h.make_message(token, to=f"nl{i % 50}@example.test", body_lines=parts,
                              extra_headers=("MIME-Version: 1.0",
                                             "Content-Type: multipart/mixed; boundary=NL"))

    def test_sigkill_during_traffic_loses_nothing(self):
        rng = random.Random(os.getpid())
        salt = os.urandom(4).hex()
        tokens = [f"nl-{i:05d}-{salt}" for i in range(MESSAGES)]
        pending = collections.deque(range(MESSAGES))
        lock = threading.Lock()
        acked = {}           # token -> time of its 250
        unconfirmed = set()  # tokens sent without a 250 seen (may or may not be delivered)
        errors = collections.Counter()
        resent = collections.Counter()  # token -> times it was sent again after an error
        stop = threading.Event()
        started = time.monotonic()
        send_deadline = started + SEND_DEADLINE_S

        def next_index():
            with lock:
                return pending.popleft() if pending else None

        def client(cid):
            s = None
            sent_on_conn = 0
            while not stop.is_set() and time.monotonic() < send_deadline:
                i = next_index()
                if i is None:
                    break
                delay = started + i / RATE - time.monotonic()
                if delay > 0 and not stop.is_set():
                    time.sleep(delay)
                token = tokens[i]
                msg = self.message(i, token)
                try:
                    if s is None:
                        s = smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=15)
                        s.ehlo(f"client{cid}.example.org")
                        sent_on_conn = 0
                    refused = s.sendmail("sender@example.org", [f"nl{i % 50}@example.test"], msg)
                    if refused:
                        raise smtplib.SMTPRecipientsRefused(refused)
                    with lock:
                        acked[token] = time.monotonic()
                        unconfirmed.discard(token)
                    sent_on_conn += 1
                    if sent_on_conn >= PER_CONNECTION:
                        s.quit()
                        s = None
                except (smtplib.SMTPException, OSError, socket.timeout) as e:
                    with lock:
                        errors[type(e).__name__] += 1
                        unconfirmed.add(token)
                        resent[token] += 1
                        pending.append(i)  # send it again: a duplicate is allowed, a loss not
                    if s is not None:
                        s.close()
                        s = None
                    time.sleep(0.02 + rng.random() * 0.1)
            if s is not None:
                try:
                    s.quit()
                except (smtplib.SMTPException, OSError):
                    s.close()

        # SIGKILL every 0.5-2 s (random), each followed by a restart on the same config.
        kills = []

        def killer():
            for _ in range(KILLS):
                if stop.wait(0.5 + rng.random() * 1.5):
                    return
                self.kensad.kill()
                kills.append((len(acked), time.monotonic()))
                time.sleep(rng.random() * 0.2)  # clients see refused connections meanwhile
                try:
                    self.kensad.start(timeout=30)
                except h.KensadError as e:
                    errors["restart_failed"] += 1
                    print(e)
                    return

        threads = [threading.Thread(target=client, args=(c,), daemon=True)
                   for c in range(CLIENTS)]
        kt = threading.Thread(target=killer, daemon=True)
        for t in threads:
            t.start()
        kt.start()
        for t in threads:
            t.join(SEND_DEADLINE_S + 20)
        last_ack = max(acked.values(), default=0)
        stop.set()
        kt.join(40)
        send_time = time.monotonic() - started
        print(f"\nsent {len(acked)} acked messages in {send_time:.1f}s with {len(kills)} "
              f"SIGKILLs (at acked counts {[k for k, _ in kills]}); client errors "
              f"{dict(errors)}; {len(resent)} messages sent again after an error, "
              f"{len(unconfirmed)} never got a 250")
        self.assertEqual(errors["restart_failed"], 0, self.kensad.diagnostics())
        self.assertTrue(self.kensad.running(), self.kensad.diagnostics())
        self.assertEqual(len(acked), MESSAGES,
                         f"only {len(acked)} of {MESSAGES} got a 250 in {SEND_DEADLINE_S}s")
        during = [k for k in kills if k[1] < last_ack]
        self.assertGreaterEqual(len(during), KILLS - 1,
                                f"only {len(during)} SIGKILLs happened while clients were sending")

        # Wait until every acknowledged message reached the sink and the spool is empty.
        seen = collections.defaultdict(list)  # token -> dump files
        parsed = set()

        def scan():
            for p in self.sink.files():
                if p in parsed:
                    continue
                try:
                    with open(p, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                m = TOKEN_RE.search(data)
                if m:
                    parsed.add(p)
                    seen[m.group(1).decode()].append(p)
            missing = [t for t in acked if t not in seen]
            return not missing and not self.kensad.spool_files()

        drained = h.wait_until(scan, DRAIN_DEADLINE_S, 0.5)
        missing = sorted(t for t in acked if t not in seen)
        duplicates = {t: len(ps) for t, ps in seen.items() if len(ps) > 1}
        print(f"delivered {len(seen)} distinct messages, {sum(duplicates.values())} copies of "
              f"{len(duplicates)} duplicated messages, {len(missing)} lost, spool "
              f"{len(self.kensad.spool_files())} files left")
        if duplicates:
            print("duplicates:", ", ".join(f"{t}x{n}" for t, n in sorted(duplicates.items())[:50]))
        self.assertEqual(missing, [],
                         f"{len(missing)} messages got a 250 and never reached the sink: "
                         f"{missing[:20]}\n{self.kensad.diagnostics()}")
        self.assertTrue(drained, f"spool not empty after {DRAIN_DEADLINE_S}s: "
                                 f"{self.kensad.spool_files()[:10]}")
        if self.POLICY:
            eicar_b64 = base64.b64encode(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR").decode()[:40]
            for t, paths in seen.items():
                i = int(t.split("-")[1])
                for p in paths:
                    with open(p, "rb") as f:
                        data = f.read()
                    self.assertIn(b"X-Virus-Status: ", data, t)
                    self.assertNotIn(eicar_b64.encode(), data, f"{t}: EICAR delivered in {p}")
                    if self.infected(i):
                        self.assertIn(b"X-Virus-Status: Infected", data, t)
        unreadable = self.kensad.log_events("queue_file_unreadable")
        self.assertEqual(unreadable, [], "\n".join(unreadable))
        self.assertEqual(self.kensad.stop(), 0, "kensad did not exit cleanly on SIGTERM")


class NoLossWhileScanningTest(NoLossTest):
    POLICY = {"inbound_domains": ["example.test"]}
    INFECTED_EVERY = 5


if __name__ == "__main__":
    unittest.main()
