# SPDX-License-Identifier: GPL-2.0-or-later
"""Every file of Debian's clamav-testfiles, and EICAR, attached six ways to a message sent to a
subscriber: each delivered copy has exactly the infected part replaced by a notice naming the
virus, every other byte as sent, valid MIME with as many leaves as before, and clamscan finds
nothing left in any of them.

The ways: (a) base64, (b) quoted-printable, (c) uuencoded inside a text/plain body,
(d) inside message/rfc822 three levels deep, (e) inside multipart/alternative, (f) inside a
zip made with Python's zipfile. Every message is multipart/mixed: a clean text part, the
infected part, a clean binary attachment (random bytes, base64)."""
import random
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

VARIANTS = sh.VARIANTS
SUBSCRIBED_DOMAIN = h.LOCAL_DOMAIN
MAX_MESSAGE = 32 << 20
DELIVERY_TIMEOUT = 120

# (variant, file) that kensa must call unscannable rather than infected, with the reason. The
# part is still replaced (unscannable is treated as infected by default).
EXPECTED_UNSCANNABLE = {
    ("zip", "clam_cache_emax.tgz"): (
        "Heuristics.Limits.Exceeded.MaxRecursion",
        "the file is built to sit at libclamav's default recursion limit (17); one more zip "
        "level exceeds it, and clamscan -d sigs/test says the same of that zip"),
}


class ScanTestfilesTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require(testfiles=True, clamscan=True)
        cls.files = sh.testfiles()
        rnd = random.Random(20240101)
        cls.sent = {}  # variant -> [(filename, recipient, Rendered, Outcome)]
        with cls.kensad_started({
            "smtp": {"max_message_bytes": MAX_MESSAGE, "data_timeout": "120s"},
            "policy": {"inbound_domains": [SUBSCRIBED_DOMAIN]},
        }):
            started = time.monotonic()
            for v in VARIANTS:
                items, meta = [], []
                for i, (name, data) in enumerate(cls.files):
                    token = f"{v}-{i:02d}"
                    r = sh.build_variant(v, token, name, data, rnd, f"{token}@{SUBSCRIBED_DOMAIN}")
                    rcpt = f"{token}@{SUBSCRIBED_DOMAIN}"
                    items.append(("sender@example.org", [rcpt], r.data))
                    meta.append((name, rcpt, r))
                outcomes = sh.send_all(cls.kensad.port, items, timeout=120)
                cls.sent[v] = [m + (o,) for m, o in zip(meta, outcomes)]
            cls.send_seconds = time.monotonic() - started
            cls.kensad.wait_spool_empty(DELIVERY_TIMEOUT)

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    # checks of one delivered copy

    def check_copy(self, variant, name, rcpt, rendered, outcome, records):
        self.assertEqual(outcome.code, 250, f"{name}: DATA answered {outcome}")
        msgs = self.kensad.maildir_messages(rcpt)
        self.assertEqual(len(msgs), 1, f"{name}: {len(msgs)} copies delivered to {rcpt}")
        path, delivered = msgs[0]
        qid = sh.queue_id_of(delivered)
        self.assertEqual(qid, outcome.queue_id, f"{name}: queue id of the copy vs the 250")
        recs = records.get(qid, [])
        self.assertEqual(len(recs), 1, f"{name}: message events for {qid}: {recs}")
        rec = recs[0]
        expected = EXPECTED_UNSCANNABLE.get((variant, name))
        self.assertEqual(rec.get("verdict"), "unscannable" if expected else "infected",
                         f"{name}: {rec}")
        if expected:
            self.assertEqual(sh.virus_names(rec), [expected[0]], f"{name}: {rec}")
        self.assertEqual(rec.get("result"), "queued", f"{name}: {rec}")
        names = sh.virus_names(rec)
        self.assertTrue(names, f"{name}: no virus name logged: {rec}")

        fields, body = sh.split_scan_headers(delivered)
        self.assertTrue(fields["X-Virus-Status"].startswith(
            "Unscannable" if expected else "Infected"),
                        f"{name}: X-Virus-Status: {fields['X-Virus-Status']}")
        for n in names:
            self.assertIn(n, fields["X-Virus-Status"], f"{name}: virus name in X-Virus-Status")
        self.assertIn("kensa", fields["X-Virus-Scanned"])

        original = rendered.data
        start, end = sh.changed_region(original, body)
        t0, t1 = rendered.target_range
        self.assertLess(start, end, f"{name}: delivered copy is identical to the original")
        self.assertTrue(
            t0 <= start and end <= t1,
            f"{name}: changed bytes {start}-{end} of the original are outside the infected "
            f"part {t0}-{t1}\noriginal around the change: {original[max(0, start - 80):start + 80]!r}"
            f"\ndelivered around the change: {body[max(0, start - 80):start + 80]!r}")

        orig_leaves = sh.leaves_of(original)
        self.assertEqual(len(orig_leaves), rendered.leaves, f"{name}: the builder's own count")
        got_leaves = sh.leaves_of(body)
        self.assertEqual(len(got_leaves), len(orig_leaves),
                         f"{name}: leaf parts before/after: "
                         f"{[p.get_content_type() for p in orig_leaves]} / "
                         f"{[p.get_content_type() for p in got_leaves]}")
        notice = got_leaves[rendered.target_leaf]
        self.assertEqual(notice.get_content_type(), "text/plain", f"{name}: {notice.items()}")
        self.assertEqual((notice.get_content_charset() or "").lower(), "utf-8",
                         f"{name}: {notice.items()}")
        self.assertEqual(notice.get("Content-Transfer-Encoding", "").lower(), "base64",
                         f"{name}: {notice.items()}")
        text = notice.get_payload(decode=True).decode("utf-8")  # strict: must be UTF-8
        self.assertTrue(any(n in text for n in names),
                        f"{name}: the notice names none of {names}:\n{text}")
        return path

    def check_variant(self, variant):
        records = sh.message_records(self.kensad)
        self.assertEqual(len(self.sent[variant]), len(self.files))
        for name, rcpt, rendered, outcome in self.sent[variant]:
            with self.subTest(file=name):
                self.check_copy(variant, name, rcpt, rendered, outcome, records)

    def test_a_base64(self):
        self.check_variant("base64")

    def test_b_quoted_printable(self):
        self.check_variant("qp")

    def test_c_uuencode_in_text(self):
        self.check_variant("uuencode")

    def test_d_rfc822_three_deep(self):
        self.check_variant("rfc822")

    def test_e_multipart_alternative(self):
        self.check_variant("alternative")

    def test_f_zip(self):
        self.check_variant("zip")

    def test_log_one_infected_event_per_message(self):
        recs = sh.log_records(self.kensad, "message")
        total = sum(len(v) for v in self.sent.values())
        self.assertEqual(len(recs), total, "one 'message' event per message sent")
        verdicts = [r.get("verdict") for r in recs]
        self.assertEqual(verdicts.count("unscannable"), len(EXPECTED_UNSCANNABLE), recs)
        self.assertEqual(verdicts.count("infected"), total - len(EXPECTED_UNSCANNABLE), recs)
        ids = [r.get("id") for r in recs]
        self.assertEqual(len(set(ids)), total, "queue ids of the message events are distinct")

    def test_clamscan_finds_nothing_delivered(self):
        # Not vacuous: the same signatures find every bare test file.
        bare = sh.clamscan([sh.TESTFILES_DIR])
        found = [l for l in bare.stdout.splitlines() if l.endswith(" FOUND")]
        self.assertEqual(bare.returncode, 1, bare.stdout[-3000:])
        self.assertEqual(len(found), len(self.files) - 1,  # EICAR is not in that directory
                         "clamscan -d sigs/test over clamav-testfiles:\n" + bare.stdout[-3000:])
        paths = [p for p, _ in self.kensad.maildir_messages()]
        total = sum(len(v) for v in self.sent.values())
        self.assertEqual(len(paths), total, "delivered copies")
        r = sh.clamscan(paths)
        hits = [l for l in r.stdout.splitlines() if l.endswith(" FOUND")]
        self.assertEqual((r.returncode, hits), (0, []), r.stdout[-3000:])


if __name__ == "__main__":
    unittest.main()
