# SPDX-License-Identifier: GPL-2.0-or-later
"""Signature reloads (SIGHUP) under load and with bad or new databases.

- 100 SIGHUPs while 4 client threads send 300 clean and infected messages: every session and
  every message succeeds, every copy carries the right verdict.
- A corrupt .ndb in the signature directory: the reload fails, is logged, and the old set
  keeps scanning (EICAR still found).
- A new .ndb that matches an attachment sent clean before: after the reload the same message
  is found infected (the verdict cache does not answer with the old set's verdict)."""
import os
import random
import shutil
import signal
import threading
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

DOMAIN = h.LOCAL_DOMAIN
THREADS = 4
MESSAGES = 300
SIGHUPS = 100
SIGHUP_INTERVAL = 0.03
LOAD_TIMEOUT = 60
PER_CONNECTION = 15
DELIVERY_TIMEOUT = 60
RELOAD_TIMEOUT = 30


class ScanReloadTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.tmp = h.make_tmpdir("kensa-sigs-")
        cls.sig_dir = os.path.join(cls.tmp, "sigs")
        shutil.copytree(h.TEST_SIGS, cls.sig_dir)
        try:
            cls.start_kensad({
                "scan": {"signature_dir": cls.sig_dir},
                "policy": {"inbound_domains": [DOMAIN]},
            })
        except Exception:
            h.remove_tmpdir(cls.tmp)
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        h.remove_tmpdir(cls.tmp)

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    # helpers

    def reload_events(self):
        return [(i, sh.parse_log_line(l)) for i, l in enumerate(self.kensad.log.splitlines())
                if " event=signatures_reload" in l or " event=sighup " in l + " "]

    def wait_reloads_settled(self):
        """Until the last SIGHUP logged is followed by a reload result (reloads coalesce)."""
        def settled():
            ev = self.reload_events()
            hups = [i for i, r in ev if r["event"] == "sighup"]
            done = [i for i, r in ev if r["event"] != "sighup"]
            return hups and done and done[-1] > hups[-1]
        self.assertTrue(h.wait_until(settled, RELOAD_TIMEOUT),
                        "reloads did not settle\n" + self.kensad.diagnostics())

    def reload(self, expect_event):
        """SIGHUP and wait for the next `expect_event` (signatures_reloaded or _failed)."""
        self.wait_reloads_settled()
        before = len(sh.log_records(self.kensad, expect_event))
        os.kill(self.kensad.pid, signal.SIGHUP)
        ok = h.wait_until(lambda: len(sh.log_records(self.kensad, expect_event)) > before,
                          RELOAD_TIMEOUT)
        self.assertTrue(ok, f"no {expect_event} after SIGHUP\n{self.kensad.diagnostics()}")
        self.wait_reloads_settled()
        return sh.log_records(self.kensad, expect_event)[-1]

    def send_one(self, rendered, rcpt):
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt], rendered.data)])
        self.assertEqual(o.code, 250, o)
        self.assertTrue(self.kensad.wait_maildir(rcpt, 1, DELIVERY_TIMEOUT), rcpt)
        msgs = [m for _, m in self.kensad.maildir_messages(rcpt)
                if sh.queue_id_of(m) == o.queue_id]
        self.assertEqual(len(msgs), 1)
        rec = sh.message_records(self.kensad)[o.queue_id]
        return rec[0], msgs[0]

    def assert_infected_copy(self, delivered, rendered):
        fields, body = sh.split_scan_headers(delivered)
        self.assertTrue(fields["X-Virus-Status"].startswith("Infected"), fields)
        start, end = sh.changed_region(rendered.data, body)
        t0, t1 = rendered.target_range
        self.assertTrue(start < end and t0 <= start and end <= t1,
                        f"changed {start}-{end}, infected part {t0}-{t1}")

    # tests (run in name order: load, then corrupt, then new signature)

    def test_1_sighup_storm_under_load(self):
        rnd = random.Random(5)
        plan = []  # (thread, rcpt, Rendered, infected)
        for i in range(MESSAGES):
            rcpt = f"load-{i:03d}@{DOMAIN}"
            if i % 3 == 0:
                plan.append((i % THREADS, rcpt,
                             sh.build_variant("base64", f"load-{i}", "eicar.com", sh.EICAR, rnd,
                                              rcpt), True))
            else:
                body = sh.multipart("mixed", [sh.text_part(f"load-{i}"),
                                              sh.attachment("r.bin", rnd.randbytes(2000))],
                                    f"load-{i}")
                plan.append((i % THREADS, rcpt,
                             sh.render(sh.message(sh.top_headers(f"load-{i}", rcpt), body)),
                             False))
        results, errors = {}, []
        # The storm is spread over the load: a client starts a connection whose last message
        # is the k-th of the plan only once k/MESSAGES of the SIGHUPs went out, so neither runs
        # ahead of the other (gating on the first message let fast clients end early).
        progress = threading.Condition()
        hups = 0

        def client(t):
            mine = [(k, p) for k, p in enumerate(plan) if p[0] == t]
            try:
                for c in range(0, len(mine), PER_CONNECTION):
                    chunk = mine[c:c + PER_CONNECTION]
                    with progress:
                        progress.wait_for(
                            lambda: hups >= chunk[-1][0] * SIGHUPS // MESSAGES or
                            time.monotonic() > deadline, LOAD_TIMEOUT)
                    outs = sh.send_all(self.kensad.port, [("sender@example.org", [p[1]],
                                                           p[2].data) for _, p in chunk])
                    for (_, p), o in zip(chunk, outs):
                        results[p[1]] = o
            except Exception as e:  # a failed session: reported below
                errors.append(f"client {t}: {type(e).__name__}: {e}")

        threads = [threading.Thread(target=client, args=(t,), daemon=True)
                   for t in range(THREADS)]
        deadline = time.monotonic() + LOAD_TIMEOUT
        for t in threads:
            t.start()
        during_load = 0
        while hups < SIGHUPS and time.monotonic() < deadline:
            os.kill(self.kensad.pid, signal.SIGHUP)
            with progress:
                hups += 1
                progress.notify_all()
            during_load += any(t.is_alive() for t in threads)
            time.sleep(SIGHUP_INTERVAL)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.assertFalse(any(t.is_alive() for t in threads),
                         f"clients still running after {LOAD_TIMEOUT}s")
        self.assertEqual(hups, SIGHUPS)
        self.assertGreaterEqual(during_load, SIGHUPS * 9 // 10, "SIGHUPs sent while clients ran")
        self.assertEqual(errors, [], self.kensad.diagnostics())
        bad = {r: o for r, o in results.items() if o.code != 250}
        self.assertEqual(bad, {})
        self.assertEqual(len(results), MESSAGES)
        self.assertTrue(self.kensad.running())
        self.wait_reloads_settled()
        self.assertTrue(sh.log_records(self.kensad, "signatures_reloaded"),
                        "no reload happened")
        self.assertEqual(sh.log_records(self.kensad, "signatures_reload_failed"), [])

        self.assertTrue(self.kensad.wait_spool_empty(DELIVERY_TIMEOUT),
                        self.kensad.diagnostics())
        records = sh.message_records(self.kensad)
        for _, rcpt, rendered, infected in plan:
            with self.subTest(rcpt=rcpt):
                msgs = self.kensad.maildir_messages(rcpt)
                self.assertEqual(len(msgs), 1)
                qid = results[rcpt].queue_id
                self.assertEqual(sh.queue_id_of(msgs[0][1]), qid)
                self.assertEqual(records[qid][0].get("verdict"),
                                 "infected" if infected else "clean")
                if infected:
                    self.assert_infected_copy(msgs[0][1], rendered)
                else:
                    fields, body = sh.split_scan_headers(msgs[0][1])
                    self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
                    self.assertEqual(body, rendered.data)

    def test_2_corrupt_database_keeps_old_set(self):
        corrupt = os.path.join(self.sig_dir, "corrupt.ndb")
        with open(corrupt, "w") as f:
            f.write("this is not a signature\nKensa.Broken:0:*:zz-not-hex\n")
        try:
            failed = self.reload("signatures_reload_failed")
            self.assertEqual(failed.get("level"), "error", failed)
            self.assertIn("corrupt.ndb", failed.get("error", ""), failed)
            current = (sh.log_records(self.kensad, "signatures_reloaded") or
                       sh.log_records(self.kensad, "signatures_loaded"))[-1]
            self.assertEqual(failed.get("kept"), current.get("version"), failed)
            rnd = random.Random(9)
            rcpt = f"after-corrupt@{DOMAIN}"
            r = sh.build_variant("base64", "after-corrupt", "eicar.com", sh.EICAR, rnd, rcpt)
            rec, got = self.send_one(r, rcpt)
            self.assertEqual(rec.get("verdict"), "infected", rec)
            self.assert_infected_copy(got, r)
        finally:
            os.unlink(corrupt)

    def test_3_new_signature_catches_what_was_clean(self):
        rnd = random.Random(13)
        marker = b"kensa-reload-marker-" + os.urandom(16).hex().encode()
        payload = rnd.randbytes(5000) + marker + rnd.randbytes(5000)

        def message(token, rcpt):
            body = sh.multipart("mixed", [
                sh.text_part(token),
                sh.attachment("payload.bin", payload, target=True),
                sh.attachment("other.bin", rnd.randbytes(1000))], f"b-{token}")
            return sh.render(sh.message(sh.top_headers(token, rcpt), body))

        before_rcpt, after_rcpt = f"before-sig@{DOMAIN}", f"after-sig@{DOMAIN}"
        r = message("before-sig", before_rcpt)
        rec, got = self.send_one(r, before_rcpt)
        self.assertEqual(rec.get("verdict"), "clean", rec)
        self.assertEqual(sh.strip_scan_headers(got), r.data)

        old = sh.log_records(self.kensad, "signatures_reloaded") or \
            sh.log_records(self.kensad, "signatures_loaded")
        with open(os.path.join(self.sig_dir, "kensa-reload.ndb"), "w") as f:
            f.write(f"Kensa.Test.Reload:0:*:{marker.hex()}\n")
        new = self.reload("signatures_reloaded")
        self.assertNotEqual(new.get("version"), old[-1].get("version"),
                            "a new database, the same signature version")

        r2 = message("after-sig", after_rcpt)
        rec, got = self.send_one(r2, after_rcpt)
        self.assertEqual(rec.get("verdict"), "infected", rec)
        self.assertTrue(any(n.startswith("Kensa.Test.Reload") for n in sh.virus_names(rec)), rec)
        self.assert_infected_copy(got, r2)


if __name__ == "__main__":
    unittest.main()
