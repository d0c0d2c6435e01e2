# SPDX-License-Identifier: GPL-2.0-or-later
"""The ESMTP server of kensad against smtplib, swaks and raw sockets: extensions, TLS,
SMTPUTF8, 8BITMIME, SIZE, relay control, recipient limits, BDAT, bad input and timeouts.
Delivery goes to kensad's own Maildir so that delivered bytes can be compared exactly."""
import os
import random
import smtplib
import ssl
import subprocess
import time
import unittest

import kensa_harness as h

MAX_MESSAGE = 200_000
MAX_RECIPIENTS = 5
MAX_ERRORS = 10


def swaks_has_tls():
    r = subprocess.run(["perl", "-MNet::SSLeay", "-e", "1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return r.returncode == 0


class SmtpProtocolTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_kensad({
            "smtp": {
                "max_message_bytes": MAX_MESSAGE,
                "max_recipients": MAX_RECIPIENTS,
                "max_errors_per_session": MAX_ERRORS,
                "command_timeout": "2s",
                "data_timeout": "3s",
            },
        })

    def setUp(self):
        self.port = self.kensad.port
        self.rcpt = f"{self._testMethodName}@example.test"

    def tearDown(self):
        self.assertTrue(self.kensad.running(),
                        "kensad is no longer running\n" + self.kensad.diagnostics())

    # helpers

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=15)
        self.addCleanup(self._quit, s)
        return s

    @staticmethod
    def _quit(s):
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()

    def raw(self, **kw):
        r = h.RawSmtp(self.port, **kw)
        self.addCleanup(r.close)
        code, _ = r.reply()
        self.assertEqual(code, 220)
        return r

    def delivered(self, address, count=1, timeout=20):
        ok = self.kensad.wait_maildir(address, count, timeout)
        msgs = self.kensad.maildir_messages(address)
        self.assertTrue(ok, f"{count} message(s) for {address} not delivered in {timeout}s "
                            f"(got {len(msgs)})\n{self.kensad.diagnostics()}")
        return msgs

    def assert_delivered_exactly(self, address, sent):
        msgs = self.delivered(address)
        self.assertEqual(len(msgs), 1, [p for p, _ in msgs])
        body = h.strip_kensa_trace(msgs[0][1])
        self.assertEqual(h.sha256(body), h.sha256(sent),
                         f"delivered bytes differ\nsent {sent[:300]!r}\ngot  {body[:300]!r}")
        return msgs[0][1]

    def assert_nothing_delivered(self, address, wait=1.5):
        time.sleep(wait)
        self.assertEqual(self.kensad.maildir_messages(address), [])

    # extensions

    def test_ehlo_keywords(self):
        s = self.smtp()
        code, _ = s.ehlo("client.example.org")
        self.assertEqual(code, 250)
        for kw in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes",
                   "starttls", "dsn", "chunking"):
            self.assertTrue(s.has_extn(kw), f"EHLO lacks {kw.upper()}: {s.esmtp_features}")
        self.assertEqual(s.esmtp_features["size"].strip(), str(MAX_MESSAGE))

    def test_helo_noop_rset_vrfy_help(self):
        r = self.raw()
        self.assertEqual(r.cmd("HELO client.example.org")[0], 250)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<a@example.org>")[0], 250)
        self.assertEqual(r.cmd("RSET")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<x@example.test>")[0], 503)  # no MAIL after RSET
        self.assertEqual(r.cmd("VRFY someone")[0], 252)
        self.assertIn(r.cmd("HELP")[0], (211, 214))
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assertTrue(r.closed_by_peer())

    # plain delivery

    def test_plain_send_delivered_byte_exact(self):
        token = "plain-" + os.urandom(6).hex()
        sent = h.make_message(token, to=self.rcpt, body_lines=[
            "first line", ".a line starting with a dot", "..two dots", ".", " . ",
            "trailing spaces   ", "\ttab", "", "last"])
        s = self.smtp()
        s.ehlo("client.example.org")
        self.assertEqual(s.mail("sender@example.org")[0], 250)
        self.assertEqual(s.rcpt(self.rcpt)[0], 250)
        code, text = s.data(sent)
        self.assertEqual(code, 250, text)
        self.assertRegex(text.decode(), r"^2\.0\.0 ")
        full = self.assert_delivered_exactly(self.rcpt, sent)
        header, _ = h.split_header_block(full)
        self.assertIn(b"by kensa.test (kensa) with ESMTP", header)
        self.assertIn(f"for <{self.rcpt}>".encode(), header)
        lines = [l for l in self.kensad.log_events("message") if "result=queued" in l]
        self.assertTrue(lines, "no 'message' log line with result=queued")

    def test_two_messages_one_session_and_multiple_recipients(self):
        a, b = "multi-a@example.test", "multi-b@example.test"
        m1 = h.make_message("m1-" + os.urandom(4).hex(), to=a)
        m2 = h.make_message("m2-" + os.urandom(4).hex(), to=b)
        s = self.smtp()
        self.assertEqual(s.sendmail("s@example.org", [a, b], m1), {})
        self.assertEqual(s.sendmail("s@example.org", [b], m2), {})
        got_a = self.delivered(a, 1)
        got_b = self.delivered(b, 2)
        self.assertEqual(len(got_a), 1)
        self.assertEqual(len(got_b), 2)
        self.assertEqual(h.strip_kensa_trace(got_a[0][1]), m1)
        self.assertEqual(sorted(h.strip_kensa_trace(d) for _, d in got_b), sorted([m1, m2]))

    # TLS

    def test_starttls_then_send(self):
        token = "tls-" + os.urandom(6).hex()
        sent = h.make_message(token, to=self.rcpt)
        s = self.smtp()
        s.ehlo("client.example.org")
        code, _ = s.starttls(context=h.client_tls_context())
        self.assertEqual(code, 220)
        self.assertIsInstance(s.sock, ssl.SSLSocket)
        s.ehlo("client.example.org")
        self.assertFalse(s.has_extn("starttls"), "STARTTLS offered again inside TLS")
        self.assertEqual(s.sendmail("s@example.org", [self.rcpt], sent), {})
        full = self.assert_delivered_exactly(self.rcpt, sent)
        header, _ = h.split_header_block(full)
        self.assertIn(b"with ESMTPS", header)

    def test_starttls_discards_pipelined_commands(self):
        # RFC 3207 command injection: anything pipelined behind STARTTLS must be discarded.
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        r.send(b"STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
        code, _ = r.reply()
        self.assertEqual(code, 220)
        tls = h.client_tls_context().wrap_socket(r.sock, server_hostname="kensa.test")
        r.sock = tls
        r.buf = b""
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        code, text = r.cmd(f"RCPT TO:<{self.rcpt}>")
        self.assertEqual(code, 503, f"injected MAIL was executed: {code} {text}")
        self.assertEqual(r.cmd("QUIT")[0], 221)

    # SMTPUTF8 and 8BITMIME

    def test_smtputf8_address(self):
        rcpt = "用户@example.test"
        sender = "δοκιμή@example.org"
        token = "utf8-" + os.urandom(6).hex()
        sent = h.make_message(token, to=rcpt, sender=sender, subject="héllo 世界",
                              body_lines=["grüße", "日本語のテキスト"])
        s = self.smtp()
        s.ehlo("client.example.org")
        self.assertEqual(s.sendmail(sender, [rcpt], sent, mail_options=["SMTPUTF8",
                                                                        "BODY=8BITMIME"]), {})
        self.assert_delivered_exactly(rcpt, sent)

    def test_utf8_address_without_smtputf8_refused(self):
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        code, text = r.cmd("MAIL FROM:<δοκιμή@example.org>".encode("utf-8"))
        self.assertGreaterEqual(code, 500, f"non-ASCII sender without SMTPUTF8: {code} {text}")

    def test_8bitmime_body(self):
        token = "8bit-" + os.urandom(6).hex()
        sent = h.make_message(token, to=self.rcpt,
                              extra_headers=["MIME-Version: 1.0",
                                             "Content-Type: text/plain; charset=iso-8859-1",
                                             "Content-Transfer-Encoding: 8bit"])
        sent += b"caf\xe9 na\xefve \xff\xfe\x80\r\n" + "日本".encode() + b"\r\n"
        s = self.smtp()
        s.ehlo("client.example.org")
        self.assertEqual(s.sendmail("s@example.org", [self.rcpt], sent,
                                    mail_options=["BODY=8BITMIME"]), {})
        self.assert_delivered_exactly(self.rcpt, sent)

    # SIZE

    def test_declared_size_over_limit_refused(self):
        s = self.smtp()
        s.ehlo("client.example.org")
        code, text = s.mail("s@example.org", [f"SIZE={MAX_MESSAGE + 1}"])
        self.assertEqual(code, 552, text)
        code, text = s.mail("s@example.org", [f"SIZE={MAX_MESSAGE // 2}"])
        self.assertEqual(code, 250, f"session unusable after SIZE refusal: {text}")
        self.assertEqual(s.rset()[0], 250)

    def test_actual_size_over_limit_refused(self):
        body = ["%06d " % i + "y" * 70 for i in range(MAX_MESSAGE // 70 + 100)]
        sent = h.make_message("big-" + os.urandom(4).hex(), to=self.rcpt, body_lines=body)
        self.assertGreater(len(sent), MAX_MESSAGE)
        s = self.smtp()
        s.ehlo("client.example.org")
        self.assertEqual(s.mail("s@example.org")[0], 250)
        self.assertEqual(s.rcpt(self.rcpt)[0], 250)
        try:
            code, text = s.data(sent)
        except smtplib.SMTPServerDisconnected as e:
            self.fail(f"kensad closed instead of answering 552: {e}")
        self.assertEqual(code, 552, text)
        self.assertEqual(s.noop()[0], 250, "session unusable after 552")
        small = h.make_message("small-" + os.urandom(4).hex(), to=self.rcpt)
        self.assertEqual(s.sendmail("s@example.org", [self.rcpt], small), {})
        msgs = self.delivered(self.rcpt)
        time.sleep(0.5)
        msgs = self.kensad.maildir_messages(self.rcpt)
        self.assertEqual(len(msgs), 1, "the oversized message was delivered")
        self.assertEqual(h.strip_kensa_trace(msgs[0][1]), small)

    # relay control and limits

    def test_relay_denied(self):
        s = self.smtp()
        s.ehlo("client.example.org")
        self.assertEqual(s.mail("s@example.org")[0], 250)
        for rcpt in ("victim@example.org", "x@sub.example.test", "x@example.test.evil.org"):
            code, text = s.rcpt(rcpt)
            self.assertEqual(code, 550, f"{rcpt}: {text}")
            self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertEqual(s.rcpt(self.rcpt)[0], 250)

    def test_too_many_recipients(self):
        rcpts = [f"many{i}@example.test" for i in range(MAX_RECIPIENTS + 1)]
        s = self.smtp()
        s.ehlo("client.example.org")
        self.assertEqual(s.mail("s@example.org")[0], 250)
        for r in rcpts[:MAX_RECIPIENTS]:
            self.assertEqual(s.rcpt(r)[0], 250)
        code, text = s.rcpt(rcpts[-1])
        self.assertEqual(code, 452, text)
        sent = h.make_message("many-" + os.urandom(4).hex())
        code, text = s.data(sent)
        self.assertEqual(code, 250, text)
        for r in rcpts[:MAX_RECIPIENTS]:
            self.assertEqual(len(self.delivered(r)), 1)
        self.assert_nothing_delivered(rcpts[-1], wait=0.5)

    # BDAT

    def test_bdat_chunks_byte_exact(self):
        chunks = [
            b"From: <s@example.org>\r\nTo: <" + self.rcpt.encode() + b">\r\nSubject: bdat\r\n",
            b"\r\nfirst chunk ends with CRLF.CRLF\r\n.\r\n",
            b".leading dot is not stuffed in BDAT\r\n..two\r\nQUIT\r\n",
            (b"x" * 998 + b"\r\n") * 100,  # a large chunk; lines within max_data_line_bytes
            b"last line\r\n",
        ]
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org> BODY=8BITMIME")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        # the first chunks one by one, the rest pipelined in a single write
        for c in chunks[:2]:
            r.send(b"BDAT %d\r\n" % len(c) + c)
            self.assertEqual(r.reply()[0], 250)
        tail = b""
        for i, c in enumerate(chunks[2:]):
            last = i == len(chunks) - 3
            tail += b"BDAT %d%s\r\n" % (len(c), b" LAST" if last else b"") + c
        r.send(tail)
        replies = [r.reply() for _ in chunks[2:]]
        self.assertEqual([c for c, _ in replies], [250] * len(chunks[2:]), replies)
        self.assertRegex(replies[-1][1][0], r"^2\.0\.0 ")
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assert_delivered_exactly(self.rcpt, b"".join(chunks))

    def test_bdat_zero_last(self):
        body = b"Subject: zero last\r\n\r\nbody\r\n"
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        r.send(b"BDAT %d\r\n" % len(body) + body)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.cmd("BDAT 0 LAST")[0], 250)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assert_delivered_exactly(self.rcpt, body)

    def test_bdat_over_size_limit(self):
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        chunk = b"z" * 78 + b"\r\n"
        data = chunk * (MAX_MESSAGE // len(chunk) + 10)
        r.send(b"BDAT %d LAST\r\n" % len(data) + data)
        code, text = r.reply()
        self.assertEqual(code, 552, text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assert_nothing_delivered(self.rcpt)

    # swaks

    def swaks(self, *args):
        if not h.have(h.SWAKS):
            self.skipTest("swaks is not installed")
        token = "swaks-" + os.urandom(6).hex()
        cmd = [h.SWAKS, "--server", f"127.0.0.1:{self.port}", "--from", "s@example.org",
               "--to", self.rcpt, "--helo", "swaks.example.org", "--timeout", "15",
               "--header", f"X-Token: {token}", "--body", f"swaks body {token}", *args]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        msgs = self.delivered(self.rcpt)
        self.assertEqual(len(msgs), 1)
        self.assertIn(token.encode(), msgs[0][1])
        return out

    def test_swaks_pipeline(self):
        out = self.swaks("--pipeline")
        self.assertIn("250", out)

    def test_swaks_pipeline_tls(self):
        if not swaks_has_tls():
            self.skipTest("swaks --tls needs Perl's Net::SSLeay (Debian libnet-ssleay-perl), "
                          "which is not installed")
        out = self.swaks("--pipeline", "--tls")
        self.assertIn("TLS started", out)

    # bad input

    def test_overlong_command_line(self):
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        code, text = r.cmd("NOOP " + "x" * 5000)
        self.assertEqual(code, 500, text)
        self.assertEqual(r.cmd("NOOP")[0], 250, "session did not continue after 500")
        # a much longer line, sent in pieces, is answered once and skipped to its end
        r.send(b"MAIL FROM:<" + b"a" * 100_000)
        time.sleep(0.2)
        r.send(b"b" * 100_000 + b"@example.org>\r\n")
        self.assertEqual(r.reply()[0], 500)
        self.assertEqual(r.cmd("NOOP")[0], 250, "more than one reply to one overlong line")
        self.assertEqual(r.cmd(f"MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd("QUIT")[0], 221)

    def test_binary_garbage_errors_then_421(self):
        rng = random.Random(1234)
        r = self.raw()
        lines = []
        for _ in range(MAX_ERRORS + 5):
            junk = bytes(rng.choice([b for b in range(256) if b not in (10, 13)])
                         for _ in range(rng.randint(1, 200)))
            lines.append(junk + b"\r\n")
        r.send(b"".join(lines))
        codes = []
        for _ in range(MAX_ERRORS + 5):
            try:
                code, _ = r.reply()
            except (EOFError, ConnectionResetError):
                break
            codes.append(code)
            if code == 421:
                break
        self.assertIn(421, codes, f"no 421 after {MAX_ERRORS} errors: {codes}")
        self.assertTrue(all(500 <= c < 600 for c in codes[:-1]), codes)
        self.assertLessEqual(len(codes), MAX_ERRORS + 1, codes)
        self.assertTrue(r.closed_by_peer(), "connection not closed after 421")
        # fully random bytes, bare CR/LF and NULs included, and a TLS ClientHello
        for seed in range(3):
            g = h.RawSmtp(self.port)
            g.reply()
            g.send(random.Random(seed).randbytes(64 * 1024))
            g.closed_by_peer(timeout=3)
            g.close()
        g = h.RawSmtp(self.port)
        g.reply()
        g.send(bytes.fromhex("16030100a5010000a10303") + os.urandom(200))
        g.closed_by_peer(timeout=3)
        g.close()
        # still serving
        r2 = self.raw()
        self.assertEqual(r2.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r2.cmd("QUIT")[0], 221)

    def test_idle_timeout_421(self):
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        start = time.monotonic()
        r.sock.settimeout(10)
        code, text = r.reply()
        elapsed = time.monotonic() - start
        self.assertEqual(code, 421, text)
        self.assertGreater(elapsed, 1.5, "timed out before command_timeout (2s)")
        self.assertLess(elapsed, 8)
        self.assertTrue(r.closed_by_peer())

    def test_slow_data_timeout(self):
        r = self.raw()
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: slow\r\n\r\npart of a message\r\n")
        r.sock.settimeout(12)
        start = time.monotonic()
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertLess(time.monotonic() - start, 10)
        self.assertTrue(r.closed_by_peer())
        self.assert_nothing_delivered(self.rcpt)


class DataLineAndEmptyMessageTest(h.KensadTestCase):
    """[smtp] max_data_line_bytes (default 1048576) and empty messages, on kensad's defaults
    (a 50 MB message limit, so that a 10 MB line is refused for its length, not its size)."""

    @classmethod
    def setUpClass(cls):
        cls.start_kensad({})

    def setUp(self):
        self.port = self.kensad.port
        self.rcpt = f"{self._testMethodName}@example.test"

    # The same helpers as SmtpProtocolTest (not a subclass: its tests would run here again).
    raw = SmtpProtocolTest.raw
    delivered = SmtpProtocolTest.delivered
    assert_delivered_exactly = SmtpProtocolTest.assert_delivered_exactly
    assert_nothing_delivered = SmtpProtocolTest.assert_nothing_delivered

    def envelope(self):
        r = self.raw(timeout=30)
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{self.rcpt}>")[0], 250)
        return r

    def test_ten_megabyte_line_refused_not_relayed(self):
        r = self.envelope()
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: one long line\r\n\r\n")
        piece = b"x" * (1 << 20)
        for _ in range(10):
            r.send(piece)
        r.send(b"\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertRegex(text[0], r"^5\.6\.0 .*line longer than 1048576")
        self.assertEqual(r.cmd("NOOP")[0], 250, "session unusable after the refusal")
        self.assertTrue(self.kensad.wait_spool_empty(5), self.kensad.spool_files())
        self.assert_nothing_delivered(self.rcpt)

    def test_long_real_world_line_passes_byte_for_byte(self):
        sent = (b"Subject: unwrapped html\r\nContent-Type: text/html\r\n\r\n<p>" +
                b"h" * 200_000 + b"</p>\r\n")
        r = self.envelope()
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(sent + b".\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assert_delivered_exactly(self.rcpt, sent)

    def test_bdat_zero_last_alone_refused_nothing_queued(self):
        r = self.envelope()
        code, text = r.cmd("BDAT 0 LAST")
        self.assertEqual(code, 554, text)
        self.assertRegex(text[0], r"^5\.6\.0 Message is empty")
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertTrue(self.kensad.wait_spool_empty(5), self.kensad.spool_files())
        self.assert_nothing_delivered(self.rcpt)


if __name__ == "__main__":
    unittest.main()
