# SPDX-License-Identifier: GPL-2.0-or-later
"""SMTP smuggling: every bare-LF / bare-CR variant of the end-of-data sequence, followed by a
smuggled transaction and then the real CRLF.CRLF. kensad must refuse the transaction (550)
and no second message may ever appear."""
import os
import time
import unittest

import kensa_harness as h

REAL_END = b"\r\n.\r\n"

# End-of-data look-alikes with a bare CR or a bare LF. None of them contains CRLF.CRLF.
BARE_VARIANTS = [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r", b"\r.\r\n", b"\r\n.\r\r\n",
    b"\r.\n", b"\n.\r", b"\n.\r\r\n", b"\r\r\n.\r\r\n", b"\n\n.\n\n", b"\r\r.\r\r",
    b"\r\n.\n\r\n", b"\n.\n\r\n", b"\r.\r\r\n", b"\r\n\n.\r\n\n", b"\n\r.\n\r",
]

# Not bare line endings, but not the end of data either: one message at most, whatever
# kensad answers.
OTHER_VARIANTS = [b"\r\n .\r\n", b"\r\n..\r\n", b"\r\n.\t\r\n", b"\r\n.\x00\r\n", b"\r\n. \r\n"]


def smuggled(victim):
    return (b"MAIL FROM:<evil@example.org>\r\n"
            b"RCPT TO:<" + victim.encode() + b">\r\n"
            b"DATA\r\n"
            b"From: <evil@example.org>\r\n"
            b"To: <" + victim.encode() + b">\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"SMUGGLED-PAYLOAD")


class SmugglingTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        for v in BARE_VARIANTS + OTHER_VARIANTS:
            assert REAL_END not in v, v
        cls.start_kensad()

    def tearDown(self):
        self.assertTrue(self.kensad.running(), self.kensad.diagnostics())

    def attempt(self, victim, variant, split_writes=False):
        """Sends one transaction whose data holds `variant` and a smuggled transaction before
        the real end of data. Returns (reply code to the data, replies to QUIT)."""
        r = h.RawSmtp(self.kensad.port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply()[0], 220)
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<sender@example.org>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{victim}>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        payload = (b"From: <sender@example.org>\r\nTo: <" + victim.encode() +
                   b">\r\nSubject: legit\r\n\r\nLEGIT-BODY" + variant + smuggled(victim) +
                   REAL_END)
        if split_writes:
            for i in range(0, len(payload), 7):
                r.send(payload[i:i + 7])
                time.sleep(0.002)
        else:
            r.send(payload)
        code, text = r.reply()
        # Whatever happened, the next reply must be QUIT's: a smuggled MAIL/RCPT/DATA would
        # have produced replies of its own.
        r.send(b"QUIT\r\n")
        quit_code, quit_text = r.reply()
        return code, text, quit_code, quit_text

    def delivered_to(self, victim):
        self.kensad.wait_spool_empty(15)
        time.sleep(0.3)
        return [h.strip_kensa_trace(d) for _, d in self.kensad.maildir_messages(victim)]

    def assert_no_second_message(self, victim, msgs):
        self.assertLessEqual(len(msgs), 1, f"{victim}: {len(msgs)} messages: {msgs!r}")
        for m in msgs:
            self.assertFalse(m.startswith(b"From: <evil@example.org>"),
                             f"smuggled message delivered on its own: {m!r}")

    def test_bare_line_ending_variants(self):
        for i, variant in enumerate(BARE_VARIANTS):
            with self.subTest(variant=variant):
                victim = f"victim{i}@example.test"
                code, text, quit_code, quit_text = self.attempt(victim, variant)
                self.assertEqual(code, 550, f"{variant!r}: data answered {code} {text}")
                self.assertEqual(quit_code, 221,
                                 f"{variant!r}: extra reply {quit_code} {quit_text}: the "
                                 "smuggled commands were executed")
                msgs = self.delivered_to(victim)
                self.assert_no_second_message(victim, msgs)
                self.assertEqual(msgs, [], f"{variant!r}: refused message was delivered")

    def test_bare_line_ending_variants_split_across_writes(self):
        for i, variant in enumerate(BARE_VARIANTS[:8]):
            with self.subTest(variant=variant):
                victim = f"split{i}@example.test"
                code, text, quit_code, _ = self.attempt(victim, variant, split_writes=True)
                self.assertEqual(code, 550, f"{variant!r}: data answered {code} {text}")
                self.assertEqual(quit_code, 221)
                self.assertEqual(self.delivered_to(victim), [])

    def test_other_dot_lines_stay_inside_one_message(self):
        for i, variant in enumerate(OTHER_VARIANTS):
            with self.subTest(variant=variant):
                victim = f"other{i}@example.test"
                code, text, quit_code, quit_text = self.attempt(victim, variant)
                self.assertEqual(quit_code, 221, f"{variant!r}: extra reply {quit_code}")
                msgs = self.delivered_to(victim)
                self.assert_no_second_message(victim, msgs)
                if code == 250:
                    self.assertEqual(len(msgs), 1)
                    self.assertIn(b"SMUGGLED-PAYLOAD", msgs[0])  # inside the one message
                else:
                    self.assertGreaterEqual(code, 500, f"{variant!r}: {code} {text}")
                    self.assertEqual(msgs, [])

    def test_bare_lf_inside_data_refused(self):
        victim = "barelf@example.test"
        r = h.RawSmtp(self.kensad.port)
        self.addCleanup(r.close)
        r.reply()
        r.cmd("EHLO client.example.org")
        r.cmd("MAIL FROM:<sender@example.org>")
        r.cmd(f"RCPT TO:<{victim}>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: x\r\n\r\nline one\nline two\r\nline\rthree\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 550, text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(self.delivered_to(victim), [])

    def test_real_end_split_across_writes_is_one_message(self):
        victim = "realsplit@example.test"
        body = b"Subject: split\r\n\r\nhello\r\n"
        r = h.RawSmtp(self.kensad.port)
        self.addCleanup(r.close)
        r.reply()
        r.cmd("EHLO client.example.org")
        r.cmd("MAIL FROM:<sender@example.org>")
        r.cmd(f"RCPT TO:<{victim}>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(body[:-2])
        for piece in (b"\r", b"\n.", b"\r", b"\n"):
            time.sleep(0.05)
            r.send(piece)
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assertEqual(self.delivered_to(victim), [body])

    def test_smuggling_in_second_transaction_of_session(self):
        victim = "second@example.test"
        r = h.RawSmtp(self.kensad.port)
        self.addCleanup(r.close)
        r.reply()
        r.cmd("EHLO client.example.org")
        good = b"Subject: first\r\n\r\nfirst message\r\n"
        r.cmd("MAIL FROM:<sender@example.org>")
        r.cmd(f"RCPT TO:<{victim}>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(good + b".\r\n")
        self.assertEqual(r.reply()[0], 250)
        r.cmd("MAIL FROM:<sender@example.org>")
        r.cmd(f"RCPT TO:<{victim}>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(b"Subject: second\r\n\r\nSECOND" + b"\n.\n" + smuggled(victim) + REAL_END)
        self.assertEqual(r.reply()[0], 550)
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assertEqual(self.delivered_to(victim), [good])


if __name__ == "__main__":
    unittest.main()
