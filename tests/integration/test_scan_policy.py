# SPDX-License-Identifier: GPL-2.0-or-later
"""Who gets scanned and what happens to what is found: split delivery (a subscriber gets the
cleaned copy, a non-subscriber the original), outbound subscription, action reject,
unscannable content (an encrypted zip) under both unscannable policies, quarantine; and
kensa-scan's exit status and output, with --engine-only compared against the default path."""
import os
import random
import re
import subprocess
import tempfile
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

DOMAIN = h.LOCAL_DOMAIN
SUB = f"sub@{DOMAIN}"
ENC_SUB = f"enc@{DOMAIN}"
OTHER = f"other@{DOMAIN}"
OUT_SENDER = "out@example.org"
DELIVERY_TIMEOUT = 30
UNSCANNABLE_WORDS = re.compile(r"could not be scanned|cannot be scanned|unscannable", re.I)


def eicar_message(token, to, rnd):
    return sh.build_variant("base64", token, "eicar.com", sh.EICAR, rnd, to)


def encrypted_zip(workdir):
    """A zip encrypted with `zip -P secret` (ZipCrypto), of a text file."""
    src = os.path.join(workdir, "secret.txt")
    with open(src, "wb") as f:
        f.write(b"the contents nobody can read without the password\n" * 20)
    out = os.path.join(workdir, "secret.zip")
    subprocess.run([sh.ZIP, "-q", "-j", "-P", "secret", out, src], check=True, timeout=30)
    with open(out, "rb") as f:
        return f.read()


def encrypted_zip_message(token, to, data, rnd):
    body = sh.multipart("mixed", [
        sh.text_part(token),
        sh.attachment("secret.zip", data, content_type="application/zip", target=True),
        sh.attachment("random.bin", rnd.randbytes(1000))], f"enc-{token}")
    return sh.render(sh.message(sh.top_headers(token, to), body))


class KensadCase(h.KensadTestCase):
    """Base: one kensad per class, with `overrides`."""
    overrides = {}

    @classmethod
    def setUpClass(cls):
        sh.require(zip_command=True)
        cls.rnd = random.Random(cls.__name__)
        cls.start_kensad(cls.overrides)

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    def send(self, sender, rcpts, data):
        (o,) = sh.send_all(self.kensad.port, [(sender, rcpts, data)])
        return o

    def delivered_one(self, rcpt):
        ok = self.kensad.wait_maildir(rcpt, 1, DELIVERY_TIMEOUT)
        msgs = self.kensad.maildir_messages(rcpt)
        self.assertTrue(ok, f"nothing delivered to {rcpt}\n{self.kensad.diagnostics()}")
        self.assertEqual(len(msgs), 1, f"copies for {rcpt}")
        return msgs[0][1]

    def record(self, queue_id):
        recs = sh.message_records(self.kensad).get(queue_id, [])
        self.assertEqual(len(recs), 1, f"message events for {queue_id}: {recs}")
        return recs[0]

    def assert_cleaned(self, delivered, rendered, status="Infected"):
        """The copy has the scan headers and only the target part replaced by a notice.
        Returns the notice text."""
        fields, body = sh.split_scan_headers(delivered)
        return sh.check_cleaned(self, fields, body, rendered, status)


class RemovePolicyTest(KensadCase):
    overrides = {"policy": {"inbound_addresses": [SUB, ENC_SUB], "outbound_addresses": [OUT_SENDER]}}

    def test_split_delivery(self):
        r = eicar_message("split", SUB, self.rnd)
        o = self.send("sender@example.org", [SUB, OTHER], r.data)
        self.assertEqual(o.code, 250, o)
        rec = self.record(o.queue_id)
        self.assertEqual(rec.get("verdict"), "infected", rec)
        # Small, but its EICAR part needs libclamav: the reactor's attempt gave it to the worker.
        self.assertEqual(rec.get("scanned_on"), "worker", rec)
        names = sh.virus_names(rec)
        self.assertTrue(names, rec)
        notice = self.assert_cleaned(self.delivered_one(SUB), r)
        self.assertTrue(any(n in notice for n in names), notice)
        original = self.delivered_one(OTHER)
        rest = h.strip_kensa_trace(original)
        self.assertFalse(sh.has_scan_headers(original),
                         f"the non-subscriber's copy has X-Virus headers: {rest[:300]!r}")
        self.assertEqual(rest, r.data, "the non-subscriber's copy is not the original")

    def test_outbound_scans_every_recipient(self):
        a, b = f"out-a@{DOMAIN}", f"out-b@{DOMAIN}"
        r = eicar_message("outbound", a, self.rnd)
        o = self.send(OUT_SENDER, [a, b], r.data)
        self.assertEqual(o.code, 250, o)
        self.assertEqual(self.record(o.queue_id).get("verdict"), "infected")
        for rcpt in (a, b):
            with self.subTest(rcpt=rcpt):
                self.assert_cleaned(self.delivered_one(rcpt), r)

    def test_nobody_subscribed_not_scanned(self):
        a = f"nosub@{DOMAIN}"
        r = eicar_message("nosub", a, self.rnd)
        o = self.send("sender@example.org", [a], r.data)
        self.assertEqual(o.code, 250, o)
        got = self.delivered_one(a)
        self.assertFalse(sh.has_scan_headers(got))
        self.assertEqual(h.strip_kensa_trace(got), r.data)

    def test_unscannable_default_is_a_notice(self):
        with tempfile.TemporaryDirectory() as d:
            data = encrypted_zip(d)
        r = encrypted_zip_message("enc-default", ENC_SUB, data, self.rnd)
        o = self.send("sender@example.org", [ENC_SUB], r.data)
        self.assertEqual(o.code, 250, o)
        rec = self.record(o.queue_id)
        self.assertEqual(rec.get("verdict"), "unscannable", rec)
        got = self.delivered_one(ENC_SUB)
        self.assertEqual(sh.queue_id_of(got), o.queue_id)
        notice = self.assert_cleaned(got, r, status="Unscannable")
        self.assertRegex(notice, UNSCANNABLE_WORDS)
        for n in sh.virus_names(rec):  # the reason, e.g. Heuristics.Encrypted.Zip
            self.assertIn(n, notice)


class UnscannablePassTest(KensadCase):
    overrides = {"policy": {"inbound_domains": [DOMAIN], "unscannable": "pass"}}

    def test_encrypted_zip_delivered_unchanged(self):
        with tempfile.TemporaryDirectory() as d:
            data = encrypted_zip(d)
        rcpt = f"pass@{DOMAIN}"
        r = encrypted_zip_message("enc-pass", rcpt, data, self.rnd)
        o = self.send("sender@example.org", [rcpt], r.data)
        self.assertEqual(o.code, 250, o)
        self.assertNotEqual(self.record(o.queue_id).get("verdict"), "infected")
        body = sh.strip_scan_headers(self.delivered_one(rcpt))
        self.assertEqual(body, r.data, "an unscannable part under unscannable=pass was changed")

    def test_infected_still_cleaned(self):
        rcpt = f"pass-eicar@{DOMAIN}"
        r = eicar_message("pass-eicar", rcpt, self.rnd)
        o = self.send("sender@example.org", [rcpt], r.data)
        self.assertEqual(o.code, 250, o)
        self.assert_cleaned(self.delivered_one(rcpt), r)


class RejectPolicyTest(KensadCase):
    overrides = {"policy": {"inbound_domains": [DOMAIN], "action": "reject"}}

    def test_infected_refused_554_clean_accepted(self):
        rcpt, clean_rcpt = f"rej@{DOMAIN}", f"rej-clean@{DOMAIN}"
        r = eicar_message("reject", rcpt, self.rnd)
        clean = sh.render(sh.message(sh.top_headers("reject-clean", clean_rcpt),
                                     sh.text_part("reject-clean")))
        # One session: the refusal ends only that transaction.
        o_bad, o_good = sh.send_all(self.kensad.port, [
            ("sender@example.org", [rcpt], r.data),
            ("sender@example.org", [clean_rcpt], clean.data)])
        self.assertEqual(o_bad.code, 554, o_bad)
        self.assertRegex(o_bad.text, r"^5\.7\.1 ")
        refused = [x for x in sh.log_records(self.kensad, "message")
                   if x.get("result") == "refused"]
        self.assertEqual(len(refused), 1, refused)
        self.assertEqual(refused[0].get("verdict"), "infected")
        names = sh.virus_names(refused[0])
        self.assertTrue(names, refused[0])
        for n in names:
            self.assertIn(n, o_bad.text)
        self.assertEqual(o_good.code, 250, o_good)
        got = self.delivered_one(clean_rcpt)
        self.assertEqual(sh.strip_scan_headers(got), clean.data)
        self.assertTrue(self.kensad.wait_spool_empty(DELIVERY_TIMEOUT))
        time.sleep(0.5)
        self.assertEqual(self.kensad.maildir_messages(rcpt), [], "a refused message delivered")


class QuarantinePolicyTest(KensadCase):
    overrides = {"policy": {"inbound_domains": [DOMAIN], "action": "quarantine"}}

    def test_original_quarantined_subscriber_gets_cleaned_copy(self):
        rcpt = f"quar@{DOMAIN}"
        r = eicar_message("quarantine", rcpt, self.rnd)
        o = self.send("sender@example.org", [rcpt], r.data)
        self.assertEqual(o.code, 250, o)
        rec = self.record(o.queue_id)
        self.assertEqual((rec.get("verdict"), rec.get("action")), ("infected", "quarantine"))
        path = os.path.join(self.kensad.state_dir, "quarantine", f"{o.queue_id}.eml")
        self.assertTrue(os.path.isfile(path), f"{path} missing: "
                        f"{os.listdir(os.path.dirname(path)) if os.path.isdir(os.path.dirname(path)) else 'no dir'}")
        with open(path, "rb") as f:
            kept = f.read()
        self.assertEqual(kept, r.data, "the quarantined original differs from what was sent")
        self.assert_cleaned(self.delivered_one(rcpt), r)

    def test_clean_not_quarantined(self):
        rcpt = f"quar-clean@{DOMAIN}"
        clean = sh.render(sh.message(sh.top_headers("quar-clean", rcpt), sh.text_part("q")))
        o = self.send("sender@example.org", [rcpt], clean.data)
        self.assertEqual(o.code, 250, o)
        self.assertEqual(sh.strip_scan_headers(self.delivered_one(rcpt)), clean.data)
        self.assertFalse(os.path.exists(
            os.path.join(self.kensad.state_dir, "quarantine", f"{o.queue_id}.eml")))


# --- kensa-scan --------------------------------------------------------------------------------

RESULT_LINE = re.compile(r"^(.*): (OK|(.+) FOUND|(.+) ERROR)$")


def parse_kensa_scan(stdout):
    """{path: "OK" | "FOUND <name>" | "ERROR ..."} from kensa-scan's per-file lines (the
    detail lines `PATH: part ...` are skipped)."""
    out = {}
    for line in stdout.splitlines():
        if ": part " in line:
            continue
        m = RESULT_LINE.match(line)
        if m:
            path = m.group(1)
            out[path] = ("OK" if m.group(2) == "OK" else
                         f"FOUND {m.group(3)}" if m.group(3) else f"ERROR {m.group(4)}")
    return out


class KensaScanTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sh.require(kensa_scan=True)
        cls.dir = h.make_tmpdir("kensa-scan-")

    @classmethod
    def tearDownClass(cls):
        h.remove_tmpdir(cls.dir)

    def kensa_scan(self, *args, timeout=300):
        return subprocess.run([h.KENSA_SCAN, "-d", h.TEST_SIGS, "--no-summary", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, env=dict(os.environ, TMPDIR=self.dir))

    def write(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_exit_status_and_output(self):
        rnd = random.Random(3)
        clean = self.write("clean.eml", sh.render(sh.message(
            sh.top_headers("ks-clean", SUB), sh.text_part("ks-clean"))).data)
        infected = self.write("infected.eml", eicar_message("ks-infected", SUB, rnd).data)
        bare = self.write("eicar.com", sh.EICAR)
        missing = os.path.join(self.dir, "does-not-exist.eml")

        r = self.kensa_scan(clean)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"{clean}: OK"), r.stderr)
        names = []
        for p in (infected, bare):
            r = self.kensa_scan(p)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            first = r.stdout.splitlines()[0]
            m = re.fullmatch(re.escape(p) + r": (\S.*) FOUND", first)
            self.assertTrue(m, f"first line {first!r}")
            names.append(m.group(1))
        self.assertEqual(names[0], names[1], "EICAR named differently in a message and bare")
        self.assertTrue(names[0].startswith("Kensa.Test.EICAR"), names)  # sigs/test/README.md
        r = self.kensa_scan(missing)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(missing, r.stdout + r.stderr)
        r = self.kensa_scan(clean, missing)
        self.assertEqual(r.returncode, 2, "an error wins over clean")

    def test_engine_only_agrees_with_default(self):
        sh.require(testfiles=True, kensa_scan=True)
        rnd = random.Random(11)
        d = os.path.join(self.dir, "differential")
        os.mkdir(d)
        paths, expect = [], {}
        for v in sh.VARIANTS:
            for i, (name, data) in enumerate(sh.testfiles()):
                p = os.path.join(d, f"{v}-{i:02d}.eml")
                with open(p, "wb") as f:
                    f.write(sh.build_variant(v, f"{v}-{i:02d}", name, data, rnd, SUB).data)
                paths.append(p)
                expect[p] = "FOUND"
        for i in range(5):  # clean ones too, with the same clean parts (cache hits by default)
            p = os.path.join(d, f"clean-{i}.eml")
            with open(p, "wb") as f:
                f.write(sh.render(sh.message(sh.top_headers(f"c{i}", SUB), sh.multipart(
                    "mixed", [sh.text_part("same"), sh.attachment("same.bin", b"\x00\x01" * 999)],
                    f"c{i}"))).data)
            paths.append(p)
            expect[p] = "OK"
        default = self.kensa_scan(*paths)
        engine_only = self.kensa_scan("--engine-only", *paths)
        a, b = parse_kensa_scan(default.stdout), parse_kensa_scan(engine_only.stdout)
        self.assertEqual(set(a), set(paths), default.stderr[-2000:])
        self.assertEqual(set(b), set(paths), engine_only.stderr[-2000:])
        diff = {p: (a[p], b[p]) for p in paths if a[p] != b[p]}
        self.assertEqual(diff, {}, "default and --engine-only verdicts differ")
        wrong = {p: a[p] for p in paths if not a[p].startswith(expect[p])}
        self.assertEqual(wrong, {}, "verdicts other than expected")
        self.assertEqual((default.returncode, engine_only.returncode), (1, 1))


if __name__ == "__main__":
    unittest.main()
