# SPDX-License-Identifier: GPL-2.0-or-later
"""Clean mail to a subscriber leaves byte for byte as it came: kensa prepends its Received,
X-Virus-Scanned and X-Virus-Status header fields and changes nothing else.

Two sets: messages generated here (plain, 8bit UTF-8, attachments of every kind, nested
message/rfc822, lines at the length limit, dots at line starts, base64 with junk in it) and
every message of CPython's email test data, CRLF-normalised the way SMTP carries it."""
import collections
import glob
import os
import random
import unittest

import kensa_harness as h
import scan_helpers as sh

DOMAIN = h.LOCAL_DOMAIN
DELIVERY_TIMEOUT = 60

# CPython messages that kensa does not pass as clean, each with the reason. Empty: all pass.
EXPECTED_NOT_CLEAN = {}


def _hdrs(token, **kw):
    return sh.top_headers(token, f"{token}@{DOMAIN}", **kw)


def generated(rnd):
    """[(name, bytes)] of clean messages built here, CRLF line endings."""
    out = []

    def add(name, entity, headers=None):
        out.append((name, sh.render(sh.message(headers or _hdrs(name), entity)).data))

    add("gen-plain", sh.leaf("text/plain; charset=us-ascii",
                             b"Hello,\r\n\r\nJust plain ASCII text.\r\n", cte="7bit"))
    utf8 = ("こんにちは、世界。メールの本文です。\r\n"
            "Grüße aus Köln — naïve café, ½ € — Ελληνικά — русский текст.\r\n").encode()
    add("gen-8bit-utf8", sh.leaf("text/plain; charset=utf-8", utf8 * 20, cte="8bit"),
        headers=_hdrs("gen-8bit-utf8", subject="=?UTF-8?B?44Oh44O844Or44Gu5Lu25ZCN?="))
    pdf = (b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\r\n<< /Type /Catalog /Pages 2 0 R >>\r\n"
           b"endobj\r\n2 0 obj\r\n<< /Length 400 /Filter /FlateDecode >>\r\nstream\r\n" +
           rnd.randbytes(400) + b"\r\nendstream\r\nendobj\r\ntrailer\r\n<< /Root 1 0 R >>\r\n"
           b"%%EOF\r\n")
    text_zip = sh.zip_bytes([("readme.txt", b"read me\n" * 200),
                             ("notes/todo.txt", "やること\n".encode() * 50)])
    add("gen-attachments", sh.multipart("mixed", [
        sh.leaf("text/plain; charset=utf-8", b"See the attachments.", cte="7bit"),
        sh.attachment("random.bin", rnd.randbytes(50_000)),
        sh.attachment("report.pdf", pdf, content_type="application/pdf"),
        sh.attachment("texts.zip", text_zip, content_type="application/zip"),
        sh.attachment("small.bin", rnd.randbytes(700), encoding="quoted-printable"),
    ], "b-attach", preamble=b"preamble text\r\n", epilogue=b"epilogue text\r\n"))
    inner = sh.message(
        [("From", "<a@example.org>"), ("To", "<b@example.test>"), ("Subject", "inner"),
         ("MIME-Version", "1.0")],
        sh.multipart("mixed", [
            sh.leaf("text/plain", b"inner text", cte="7bit"),
            sh.rfc822(sh.message([("Subject", "innermost")],
                                 sh.leaf("text/html", b"<p>deepest</p>", cte="7bit"))),
            sh.attachment("inner.bin", rnd.randbytes(2000)),
        ], "b-inner"))
    add("gen-nested-rfc822", sh.multipart("mixed", [
        sh.leaf("text/plain", b"forwarded below", cte="7bit"), sh.rfc822(inner)], "b-outer"))
    long_lines = sh.CRLF.join([b"x" * 998, b"y" * 997 + b" ", b"=" * 990, b"", b"z" * 76,
                               b"\t" + b"w" * 997])
    add("gen-long-lines", sh.leaf("text/plain", long_lines, cte="7bit"),
        headers=_hdrs("gen-long-lines") + [
            ("X-Long", "v" * 980), ("X-Folded", " \r\n\t".join(["word" * 50] * 40))])
    dots = sh.CRLF.join([b".", b"..", b"...", b".hidden", b". space", b"", b".",
                         b"line . with dot", b".\t", b".."])
    add("gen-dots", sh.multipart("mixed", [
        sh.leaf("text/plain", dots, cte="7bit"),
        sh.leaf("text/plain", b".\r\n.\r\n.", cte="7bit")], "b-dots"))
    junk = sh.b64_lines(rnd.randbytes(3000)).split(sh.CRLF)
    junk = sh.CRLF.join([junk[0] + b"!!", junk[1][:30], b"@@@ not base64 @@@"] + junk[2:20] +
                        [b"QUJD=", b"=====", b"QQ", b"A"])
    add("gen-base64-junk", sh.multipart("mixed", [
        sh.leaf("text/plain", b"odd base64 follows", cte="7bit"),
        sh.leaf("application/octet-stream", junk, cte="base64"),
        sh.leaf("image/png; name=x.png", sh.b64_lines(b"\x89PNG\r\n\x1a\n" + rnd.randbytes(900)),
                cte="base64")], "b-junk"))
    add("gen-no-mime", sh.leaf("text/plain", b"no MIME-Version here\r\n", cte="7bit"),
        headers=_hdrs("gen-no-mime")[:-1])
    return out


def cpython_messages():
    paths = sorted(glob.glob(os.path.join(sh.CPYTHON_EMAIL_DATA, "msg_*.txt")) +
                   glob.glob(os.path.join(sh.CPYTHON_EMAIL_DATA, "*.eml")))
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(("cpython-" + os.path.basename(p), sh.crlf_normalise(f.read())))
    return out


class ScanCleanTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require(cpython=True)
        cls.messages = generated(random.Random(7)) + cpython_messages()
        with cls.kensad_started({"policy": {"inbound_domains": [DOMAIN]}}):
            items = []
            for i, (name, data) in enumerate(cls.messages):
                items.append(("sender@example.org", [f"clean-{i:03d}@{DOMAIN}"], data))
            cls.outcomes = sh.send_all(cls.kensad.port, items)
            cls.kensad.wait_spool_empty(DELIVERY_TIMEOUT)

    def test_cpython_set_present(self):
        names = [n for n, _ in self.messages if n.startswith("cpython-")]
        self.assertGreaterEqual(len(names), 40, names)

    def test_clean_mail_byte_for_byte(self):
        records = sh.message_records(self.kensad)
        for i, ((name, data), outcome) in enumerate(zip(self.messages, self.outcomes)):
            with self.subTest(message=name):
                self.assertEqual(outcome.code, 250, f"{name}: {outcome}")
                rec = records.get(outcome.queue_id, [])
                self.assertEqual(len(rec), 1, f"{name}: message events {rec}")
                if name in EXPECTED_NOT_CLEAN:
                    self.assertNotEqual(rec[0].get("verdict"), "clean",
                                        f"{name} is listed as not clean: "
                                        f"{EXPECTED_NOT_CLEAN[name]}; remove it from the list")
                    continue
                self.assertEqual(rec[0].get("verdict"), "clean", f"{name}: {rec[0]}")
                msgs = self.kensad.maildir_messages(f"clean-{i:03d}@{DOMAIN}")
                self.assertEqual(len(msgs), 1, f"{name}: copies delivered")
                fields, body = sh.split_scan_headers(msgs[0][1])
                self.assertTrue(fields["X-Virus-Status"].startswith("Clean"),
                                f"{name}: {fields}")
                if body != data:
                    start, end = sh.changed_region(data, body)
                    self.fail(f"{name}: delivered bytes differ from {start} to {end} "
                              f"(of {len(data)}; got {len(body)})\nsent "
                              f"{data[max(0, start - 60):start + 60]!r}\ngot  "
                              f"{body[max(0, start - 60):start + 60]!r}")

    def test_plain_messages_have_their_second_reading_predicted(self):
        # Plain 7-bit messages (as most generated here are) skip libclamav's own reading of the
        # whole message; the others (8-bit, quoted-printable, rfc822, broken) still get it.
        recs = sh.log_records(self.kensad, "message")
        readings = collections.Counter(r.get("second_reading") for r in recs)
        self.assertGreater(readings["predicted"], 0, readings)
        self.assertGreater(readings["engine"], 0, readings)
        self.assertEqual(set(readings) - {"predicted", "engine"}, set(), readings)

    def test_small_plain_messages_are_scanned_on_their_reactor(self):
        # Under reactor_scan_max_bytes, a message whose every object the prefilter types and
        # clears (and whose second reading is predicted) needs no libclamav call and is scanned
        # on its reactor; the others on the worker, with libclamav.
        recs = sh.log_records(self.kensad, "message")
        where = collections.Counter(r.get("scanned_on") for r in recs)
        self.assertGreater(where["reactor"], 0, where)
        self.assertGreater(where["worker"], 0, where)
        self.assertEqual(set(where) - {"reactor", "worker"}, set(), where)
        for r in recs:
            if r.get("scanned_on") == "reactor":
                self.assertEqual((r.get("scans"), r.get("second_reading")), ("0", "predicted"), r)

    def test_all_events_clean(self):
        recs = sh.log_records(self.kensad, "message")
        self.assertEqual(len(recs), len(self.messages))
        not_clean = [r for r in recs if r.get("verdict") != "clean"]
        self.assertEqual(len(not_clean), len(EXPECTED_NOT_CLEAN), not_clean)

if __name__ == "__main__":
    unittest.main()
