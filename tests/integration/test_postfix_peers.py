# SPDX-License-Identifier: GPL-2.0-or-later
"""Postfix on both sides of kensad: as the next hop (bytes after kensa's trace header equal
what was sent) and as the upstream relay into kensad. Plus DSN parameters carried to the
next hop (Postfix's smtp-sink records them)."""
import os
import random
import smtplib
import unittest

import kensa_harness as h


def peers_missing():
    return not (h.have(h.POSTFIX) and h.have(h.SMTP_SINK))


def varied_messages(rcpt_for):
    """20 messages of various sizes and shapes (CRLF lines, ending in CRLF)."""
    rng = random.Random(20)
    out = []

    def add(lines, **kw):
        i = len(out)
        token = f"tok-{i:02d}-{os.urandom(4).hex()}"
        out.append((token, rcpt_for(i), h.make_message(token, body_lines=lines, to=rcpt_for(i),
                                                       **kw)))

    add([])
    add([""])
    add(["one line"])
    add(["x" * 70] * 15)                                   # ~1 KB
    add([".", "..", "...", ". leading", ".x" * 30] * 20)   # dot lines everywhere
    add(["%05d %s" % (i, "a" * 72) for i in range(130)])   # ~10 KB
    add(["%05d %s" % (i, "b" * 990) for i in range(64)])   # 998-octet lines, 64 KB
    add([rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") * 76 for _ in range(1300)])  # ~100 KB
    add(["=?utf-8?q?caf=C3=A9?= 8bit: café 日本語 ✓"] * 100,
        extra_headers=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                       "Content-Transfer-Encoding: 8bit"])
    add(["\t indented", " space first", "trailing   ", "", "", "end"])
    add(["%06d" % i + "c" * 70 for i in range(3500)])     # ~270 KB
    add(["Received: from fake (fake [10.0.0.1])", "\tby fake; Mon, 1 Jan 2024"])
    add(["." + "d" * 999] * 500)                           # 500 KB, long dot lines
    # 1 MB with long lines (5,000 octets, beyond RFC 5321's 1,000) and lines starting with "."
    long_lines = []
    while sum(len(l) + 2 for l in long_lines) < 1_000_000:
        n = len(long_lines)
        long_lines.append(("." if n % 3 == 0 else "") + "%07d" % n + "e" * 4990)
    add(long_lines)
    # 1 MB of base64-like 76-column lines
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    add(["".join(rng.choice(b64) for _ in range(76)) for _ in range(13_500)],
        extra_headers=["MIME-Version: 1.0", "Content-Type: application/octet-stream",
                       "Content-Transfer-Encoding: base64"])
    add(["x"] * 5000)                                       # many short lines
    add(["trailing dot line", "."])
    add(["folded header test"], extra_headers=["X-Folded: part one", "\tpart two",
                                               "  part three"])
    add(["-" * 998] * 3)
    add(["last message"])
    assert len(out) == 20
    return out


@unittest.skipIf(peers_missing(), "Postfix (postfix, smtp-sink) is not installed")
class PostfixNextHopTest(unittest.TestCase):
    """client --smtplib--> kensad --SMTP--> Postfix --virtual(8)--> Maildir"""

    def setUp(self):
        self.postfix = h.Postfix("kensa-nexthop", mailboxes=["@example.test"])
        self.addCleanup(self.postfix.close)
        self.postfix.start()
        self.kensad = h.Kensad(next_hop=f"smtp://127.0.0.1:{self.postfix.port}")
        self.addCleanup(self.kensad.close)
        self.kensad.start()

    def diagnostics(self):
        return self.kensad.diagnostics() + "\n" + self.postfix.diagnostics()

    def test_twenty_messages_byte_exact_through_postfix(self):
        msgs = varied_messages(lambda i: f"peer{i}@example.test")
        with smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=60) as s:
            s.ehlo("client.example.org")
            for token, rcpt, data in msgs:
                refused = s.sendmail("sender@example.org", [rcpt], data,
                                     mail_options=["BODY=8BITMIME"])
                self.assertEqual(refused, {}, token)
        ok = h.wait_until(lambda: len(self.postfix.maildir_messages("@example.test")) >= 20, 60)
        got = self.postfix.maildir_messages("@example.test")
        self.assertTrue(ok, f"{len(got)}/20 delivered by Postfix\n{self.diagnostics()}")
        by_token = {}
        for path, data in got:
            for token, _, _ in msgs:
                if f"X-Token: {token}\n".encode() in data:
                    by_token.setdefault(token, []).append(data)
        for token, rcpt, sent in msgs:
            with self.subTest(token=token, size=len(sent)):
                copies = by_token.get(token, [])
                self.assertEqual(len(copies), 1, f"{token}: {len(copies)} copies")
                rest = h.strip_postfix_virtual_headers(copies[0])
                # Postfix stores LF line endings; the sent message has only CRLF ones.
                want = h.crlf_to_lf(sent)
                self.assertEqual(h.sha256(rest), h.sha256(want),
                                 f"{token} ({len(sent)} bytes sent, {len(rest)} after headers)"
                                 f"\nsent {want[:200]!r}\ngot  {rest[:200]!r}")
                self.assertIn(f"Delivered-To: {rcpt}\n".encode(), copies[0])
        self.assertTrue(self.kensad.wait_spool_empty(20), "kensad spool not empty")
        self.assertEqual(len(self.kensad.log_events("delivery")), 20,
                         "\n".join(self.kensad.log_events("delivery")))

    def test_bdat_to_kensad_then_postfix(self):
        token = "bdat-" + os.urandom(4).hex()
        sent = h.make_message(token, to="bdat@example.test",
                              body_lines=["chunked", ".", ".dot", "x" * 3000])
        r = h.RawSmtp(self.kensad.port)
        self.addCleanup(r.close)
        r.reply()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bdat@example.test>")[0], 250)
        half = len(sent) // 2
        r.send(b"BDAT %d\r\n" % half + sent[:half])
        self.assertEqual(r.reply()[0], 250)
        r.send(b"BDAT %d LAST\r\n" % (len(sent) - half) + sent[half:])
        self.assertEqual(r.reply()[0], 250)
        r.cmd("QUIT")
        ok = h.wait_until(lambda: self.postfix.maildir_messages("@example.test"), 30)
        self.assertTrue(ok, self.diagnostics())
        (_, data), = self.postfix.maildir_messages("@example.test")
        self.assertEqual(h.strip_postfix_virtual_headers(data), h.crlf_to_lf(sent))


@unittest.skipIf(peers_missing(), "Postfix (postfix, smtp-sink) is not installed")
class PostfixUpstreamTest(unittest.TestCase):
    """client --smtplib--> Postfix (relayhost = kensad) --SMTP+STARTTLS--> kensad --> Maildir"""

    def setUp(self):
        self.kensad = h.Kensad()
        self.addCleanup(self.kensad.close)
        self.kensad.start()
        self.postfix = h.Postfix(
            "kensa-upstream", relay_domains=[h.LOCAL_DOMAIN],
            relayhost=f"[127.0.0.1]:{self.kensad.port}",
            extra_main={"smtp_tls_security_level": "may",
                        "smtp_tls_loglevel": "1"})
        self.addCleanup(self.postfix.close)
        self.postfix.start()

    def test_postfix_relays_into_kensad(self):
        rcpts = ["up1@example.test", "up2@example.test"]
        sent = []
        with smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30) as s:
            s.ehlo("client.example.org")
            for i in range(5):
                token = f"up-{i}-{os.urandom(4).hex()}"
                data = h.make_message(token, to=rcpts[0],
                                      body_lines=[f"line {j} " + "u" * 60 for j in range(i * 50)]
                                      + [".dot line", "end"])
                self.assertEqual(s.sendmail("sender@example.org", rcpts, data), {})
                sent.append((token, data))
        for rcpt in rcpts:
            ok = self.kensad.wait_maildir(rcpt, len(sent), 60)
            got = self.kensad.maildir_messages(rcpt)
            self.assertTrue(ok, f"{rcpt}: {len(got)}/{len(sent)} arrived\n"
                                f"{self.postfix.diagnostics()}\n{self.kensad.diagnostics()}")
            self.assertEqual(len(got), len(sent))
            for token, data in sent:
                copies = [d for _, d in got if f"X-Token: {token}\r\n".encode() in d]
                self.assertEqual(len(copies), 1, token)
                rest = h.strip_kensa_trace(copies[0])
                kensa_header = copies[0][:len(copies[0]) - len(rest)]
                self.assertIn(b"from kensa-upstream.postfix.test", kensa_header)
                self.assertIn(b"with ESMTPS", kensa_header, "Postfix did not use STARTTLS")
                header, rest = h.split_header_block(rest)
                self.assertIn(b"(Postfix)", header)
                self.assertEqual(h.sha256(rest), h.sha256(data), token)


@unittest.skipIf(peers_missing(), "Postfix (postfix, smtp-sink) is not installed")
class NextHopParametersTest(unittest.TestCase):
    """DSN and envelope parameters that kensad carries to its next hop (smtp-sink -d)."""

    def setUp(self):
        self.sink = h.SmtpSink()
        self.addCleanup(self.sink.close)
        self.sink.start()
        self.kensad = h.Kensad(next_hop=f"smtp://127.0.0.1:{self.sink.port}")
        self.addCleanup(self.kensad.close)
        self.kensad.start()

    def test_dsn_parameters_carried(self):
        token = "dsn-" + os.urandom(4).hex()
        sent = h.make_message(token, to="p1@example.test")
        with smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=30) as s:
            s.ehlo("client.example.org")
            self.assertEqual(s.mail("sender@example.org",
                                    ["RET=HDRS", "ENVID=env+2Bid42", "BODY=8BITMIME"])[0], 250)
            self.assertEqual(s.rcpt("p1@example.test",
                                    ["NOTIFY=SUCCESS,FAILURE",
                                     "ORCPT=rfc822;orig1@example.test"])[0], 250)
            self.assertEqual(s.rcpt("p2@example.test", ["NOTIFY=NEVER"])[0], 250)
            self.assertEqual(s.data(sent)[0], 250)
        ok = h.wait_until(lambda: self.sink.messages(), 30)
        self.assertTrue(ok, self.kensad.diagnostics())
        self.assertTrue(self.kensad.wait_spool_empty(20))
        msgs = self.sink.messages()
        self.assertEqual(len(msgs), 1, msgs)
        env, data = msgs[0]
        mail = env["mail"].upper()
        self.assertIn("<SENDER@EXAMPLE.ORG>", mail)
        self.assertIn("RET=HDRS", mail)
        self.assertIn("ENVID=ENV+2BID42", mail)
        self.assertIn("BODY=8BITMIME", mail)
        rcpts = sorted(r.upper() for r in env["rcpt"])
        self.assertEqual(len(rcpts), 2, rcpts)
        self.assertIn("NOTIFY=SUCCESS,FAILURE", rcpts[0])
        self.assertIn("ORCPT=RFC822;ORIG1@EXAMPLE.TEST", rcpts[0])
        self.assertIn("NOTIFY=NEVER", rcpts[1])
        self.assertEqual(h.strip_kensa_trace(data), h.crlf_to_lf(sent))


if __name__ == "__main__":
    unittest.main()
