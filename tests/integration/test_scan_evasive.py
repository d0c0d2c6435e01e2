# SPDX-License-Identifier: GPL-2.0-or-later
"""Evasive MIME: EICAR hidden the ways attackers hide attachments from scanners that read MIME
differently from mail clients (duplicate boundary and Content-Transfer-Encoding headers, RFC
2231 boundaries, junk in base64, a part without its blank line, a missing close delimiter,
RFC 2046's boundary-prefix rule, uuencode in the epilogue, base64 message/rfc822, bare LF, ...).

Each must be found by the per-part reading alone (kensa-scan with whole_message_check = false),
be delivered by kensad as "Infected" with a part replaced, and the delivered copy must be clean
for clamscan and for kensa-scan with the same signatures."""
import base64
import binascii
import io
import os
import subprocess
import tempfile
import unittest
import zipfile

import kensa_harness as h
import scan_helpers as sh

DOMAIN = "example.test"
E = sh.EICAR
HEAD = b"From: a@example.org\r\nTo: b@example.test\r\nSubject: evasive\r\nMIME-Version: 1.0\r\n"
B64 = base64.encodebytes(E).replace(b"\n", b"\r\n")
OCTET_B64 = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"


def uuencoded():
    lines = [binascii.b2a_uu(E[i:i + 45]).replace(b"\n", b"\r\n") for i in range(0, len(E), 45)]
    return b"begin 644 e.com\r\n" + b"".join(lines) + b"`\r\nend\r\n"


def samples():
    mixed = b"Content-Type: multipart/mixed; boundary=X\r\n\r\n"
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/b/e.com", E)
    inner = b"Subject: inner\r\n" + OCTET_B64 + b"\r\n" + B64
    junk = b"".join(bytes([c]) + b"!" for c in B64.replace(b"\r\n", b""))
    return {
        "dup_boundary": HEAD + b'Content-Type: multipart/mixed; boundary="aaa"; boundary="bbb"'
        b"\r\n\r\n--aaa\r\nContent-Type: text/plain\r\n\r\nhi\r\n--bbb\r\n" + OCTET_B64 +
        b"\r\n" + B64 + b"--bbb--\r\n--aaa--\r\n",
        "dup_cte": HEAD + mixed + b"--X\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64\r\n\r\n" + B64 +
        b"--X--\r\n",
        "cte_comment": HEAD + mixed + b"--X\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: (x) BaSe64 \r\n\r\n" + B64 + b"--X--\r\n",
        "b64_junk": HEAD + OCTET_B64 + b"\r\n" + junk + b"\r\n",
        "rfc2231_boundary": HEAD + b'Content-Type: multipart/mixed;\r\n boundary*0="ab";\r\n'
        b' boundary*1="cd"\r\n\r\n--abcd\r\n' + OCTET_B64 + b"\r\n" + B64 + b"--abcd--\r\n",
        "uu_epilogue": HEAD + mixed + b"--X\r\nContent-Type: text/plain\r\n\r\nhi\r\n--X--\r\n" +
        uuencoded(),
        "no_blank_line": HEAD + mixed + b"--X\r\n" + OCTET_B64 + B64 + b"--X--\r\n",
        "rfc822_base64": HEAD + mixed + b"--X\r\nContent-Type: message/rfc822\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" +
        base64.encodebytes(inner).replace(b"\n", b"\r\n") + b"--X--\r\n",
        "space_before_colon": HEAD + b"Content-Type :\tmultipart/mixed;\r\n\tboundary=X\r\n\r\n"
        b"--X\r\n" + OCTET_B64 + b"\r\n" + B64 + b"--X--\r\n",
        "qp_soft_breaks": HEAD + b"Content-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
        b"".join(bytes([c]) + b"=\r\n" for c in E) + b"\r\n",
        "no_close_delimiter": HEAD + mixed + b"--X\r\n" + OCTET_B64 + b"\r\n" + B64,
        "boundary_prefix_rule": HEAD + mixed + b"--X\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--Xjunk\r\n" + OCTET_B64 + b"\r\n" + B64 + b"--X--\r\n",
        "zip_in_single_part": HEAD + b"Content-Type: application/zip\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" +
        base64.encodebytes(zbuf.getvalue()).replace(b"\n", b"\r\n"),
        "x_uuencode": HEAD + b"Content-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\n" + uuencoded(),
        "nul_in_header": HEAD + b"X-Foo: a\x00b\r\n" + mixed + b"--X\r\n" + OCTET_B64 + b"\r\n" +
        B64 + b"--X--\r\n",
    }


class EvasiveMimeTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require(clamscan=True, kensa_scan=True)
        cls.samples = samples()
        cls.work = tempfile.mkdtemp(prefix="kensa-evasive-")
        cls.start_kensad({"policy": {"inbound_domains": [DOMAIN]}})

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        h.remove_tmpdir(cls.work)

    def write(self, sub, name, data):
        d = os.path.join(self.work, sub)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, name + ".eml")
        with open(p, "wb") as f:
            f.write(data)
        return p

    def kensa_scan(self, paths, *args):
        cfg = os.path.join(self.work, "parts-only.toml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(f'[scan]\nsignature_dir = "{h.TEST_SIGS}"\nwhole_message_check = false\n')
        return subprocess.run([h.KENSA_SCAN, "--no-summary", "--config", cfg, *args, *paths],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120)

    def test_per_part_reading_finds_every_sample(self):
        paths = [self.write("sent", n, d) for n, d in self.samples.items()]
        # Bare LF line endings never pass kensad's SMTP (smuggling protection), but files do.
        paths.append(self.write("sent", "lf_only", self.samples["dup_cte"].replace(b"\r\n", b"\n")))
        r = self.kensa_scan(paths)
        self.assertEqual(r.returncode, 1, r.stdout)
        for p in paths:
            self.assertIn(f"{p}: Kensa.Test.EICAR", r.stdout, r.stdout)

    def test_delivered_copies_are_cleaned(self):
        names = sorted(self.samples)
        items = [("a@example.org", [f"{n}@{DOMAIN}"], self.samples[n]) for n in names]
        outs = sh.send_all(self.kensad.port, items)
        self.assertEqual([o.code for o in outs], [250] * len(names), outs)
        delivered = []
        for n in names:
            rcpt = f"{n}@{DOMAIN}"
            self.assertTrue(self.kensad.wait_maildir(rcpt, 1, 30), n)
            data = self.kensad.maildir_messages(rcpt)[0][1]
            fields, _ = sh.split_scan_headers(data)
            self.assertTrue(fields["X-Virus-Status"].startswith("Infected"), (n, fields))
            delivered.append(self.write("delivered", n, data))
        r = sh.clamscan(delivered)
        self.assertEqual(r.returncode, 0, r.stdout)
        r = self.kensa_scan(delivered)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_whole_message_reading_is_counted_when_it_alone_finds(self):
        # A header field is in no part: only libclamav's reading of the raw message sees it.
        header_only = (b"From: a@example.org\r\nTo: b@example.test\r\nSubject: " + E +
                       b"\r\n\r\nhello\r\n")
        in_part = self.samples["dup_cte"]
        outs = sh.send_all(self.kensad.port, [
            ("a@example.org", [f"header-only@{DOMAIN}"], header_only),
            ("a@example.org", [f"in-part@{DOMAIN}"], in_part)])
        self.assertEqual([o.code for o in outs], [250, 250], outs)
        records = sh.message_records(self.kensad)
        first, second = (records[o.queue_id][0] for o in outs)
        self.assertEqual(first.get("verdict"), "infected", first)
        self.assertEqual(first.get("second_opinion_only"), "1", first)
        self.assertEqual(second.get("verdict"), "infected", second)
        self.assertEqual(second.get("second_opinion_only"), "0", second)


if __name__ == "__main__":
    unittest.main()
