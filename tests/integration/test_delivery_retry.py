# SPDX-License-Identifier: GPL-2.0-or-later
"""Delivery and the spool's promises: a next hop down for 30 s (mail waits, then arrives), a
permanent failure (an RFC 3464 DSN reaches the sender, never the null sender), a client that
disconnects mid-DATA (nothing delivered) and a full spool disk (452, nothing corrupted)."""
import email
import email.policy
import os
import smtplib
import socket
import struct
import subprocess
import time
import unittest

import kensa_harness as h

DOWN_FOR_S = 30


def queue_id_of(reply_text):
    """'2.0.0 Ok: queued as ID' -> 'ID'."""
    if isinstance(reply_text, bytes):
        reply_text = reply_text.decode()
    return reply_text.split()[-1]


def send_one(port, sender, rcpts, data, **kw):
    """Sends one message; returns (code, text) of the reply to the end of data."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.example.org")
        code, text = s.mail(sender, kw.get("mail_options", []))
        if code != 250:
            return code, text
        for r in rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                return code, text
        try:
            return s.data(data)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error
        except (smtplib.SMTPServerDisconnected, ConnectionError) as e:
            return -1, f"connection lost: {e!r}".encode()


@unittest.skipIf(not h.have(h.SMTP_SINK), "Postfix's smtp-sink is not installed")
class NextHopDownTest(unittest.TestCase):

    def test_next_hop_down_30s_then_delivered(self):
        hop_port = h.free_port()
        kensad = h.Kensad(next_hop=f"smtp://127.0.0.1:{hop_port}")
        self.addCleanup(kensad.close)
        kensad.start()
        sent = []
        for i in range(3):
            data = h.make_message(f"down-{i}-{os.urandom(4).hex()}", to=f"down{i}@example.test")
            code, text = send_one(kensad.port, "sender@example.org", [f"down{i}@example.test"],
                                  data)
            self.assertEqual(code, 250, text)
            sent.append(data)
        up_at = time.monotonic() + DOWN_FOR_S
        # Meanwhile the mail waits in the spool, retried with backoff (retry_max 2s).
        while time.monotonic() < up_at:
            self.assertEqual(len(kensad.spool_files()), 3, "queue changed while the hop is down")
            self.assertTrue(kensad.running(), kensad.diagnostics())
            time.sleep(1)
        deferred = [l for l in kensad.log_events("delivery") if "result=deferred" in l]
        self.assertGreaterEqual(len(deferred), 3 * 5, f"too few retries in {DOWN_FOR_S}s:\n"
                                + "\n".join(deferred))
        self.assertEqual([l for l in kensad.log_events("delivery") if "result=bounced" in l], [])

        sink = h.SmtpSink(port=hop_port)
        self.addCleanup(sink.close)
        sink.start()
        came = time.monotonic()
        ok = h.wait_until(lambda: len(sink.messages()) >= 3 and not kensad.spool_files(), 20)
        self.assertTrue(ok, f"not delivered within 20 s of the next hop coming back "
                            f"({len(sink.messages())}/3)\n{kensad.diagnostics()}")
        print(f"\ndelivered {time.monotonic() - came:.1f}s after the next hop came back")
        got = sorted(h.strip_kensa_trace(m) for _, m in sink.messages())
        self.assertEqual(got, sorted(h.crlf_to_lf(d) for d in sent))


@unittest.skipIf(not h.have(h.POSTFIX), "Postfix is not installed")
class DsnTest(unittest.TestCase):
    """kensad -> Postfix, where bad@example.test does not exist (550 5.1.1 at RCPT)."""

    def setUp(self):
        self.postfix = h.Postfix("kensa-dsn", mailboxes=["sender@example.test",
                                                          "good@example.test"])
        self.addCleanup(self.postfix.close)
        self.postfix.start()
        self.kensad = h.Kensad(next_hop=f"smtp://127.0.0.1:{self.postfix.port}")
        self.addCleanup(self.kensad.close)
        self.kensad.start()

    def diagnostics(self):
        return self.kensad.diagnostics() + "\n" + self.postfix.diagnostics()

    def test_permanent_failure_gives_dsn_to_sender(self):
        token = "dsn-" + os.urandom(4).hex()
        data = h.make_message(token, sender="sender@example.test", to="good@example.test")
        code, text = send_one(self.kensad.port, "sender@example.test",
                              ["good@example.test", "bad@example.test"], data)
        self.assertEqual(code, 250, text)
        qid = queue_id_of(text)
        ok = h.wait_until(lambda: self.postfix.maildir_messages("sender@example.test")
                          and self.postfix.maildir_messages("good@example.test"), 30)
        self.assertTrue(ok, self.diagnostics())
        good = self.postfix.maildir_messages("good@example.test")
        self.assertEqual(len(good), 1)
        self.assertEqual(h.strip_postfix_virtual_headers(good[0][1]), h.crlf_to_lf(data))
        dsns = self.postfix.maildir_messages("sender@example.test")
        self.assertEqual(len(dsns), 1, "expected exactly one DSN")
        raw = dsns[0][1]
        self.assertTrue(raw.startswith(b"Return-Path: <>\n"),
                        f"DSN not sent with the null sender: {raw[:100]!r}")
        dsn = email.message_from_bytes(h.strip_postfix_virtual_headers(raw),
                                       policy=email.policy.compat32)
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        self.assertIn("sender@example.test", dsn["To"])
        self.assertIn("MAILER-DAEMON", dsn["From"].upper())
        parts = dsn.get_payload()
        self.assertGreaterEqual(len(parts), 2)
        self.assertEqual(parts[0].get_content_maintype(), "text")
        self.assertEqual(parts[1].get_content_type(), "message/delivery-status")
        blocks = parts[1].get_payload()
        self.assertGreaterEqual(len(blocks), 2, "no per-recipient block")
        self.assertIn("kensa.test", blocks[0]["Reporting-MTA"])
        recipients = blocks[1:]
        self.assertEqual(len(recipients), 1, [dict(b) for b in recipients])
        r = recipients[0]
        self.assertIn("bad@example.test", r["Final-Recipient"])
        self.assertEqual(r["Action"].strip().lower(), "failed")
        self.assertTrue(r["Status"].strip().startswith("5.1.1"), r["Status"])
        self.assertIn("550", r["Diagnostic-Code"])
        self.assertEqual(len(parts), 3, "no returned message part")
        self.assertIn(parts[2].get_content_type(), ("message/rfc822", "text/rfc822-headers"))
        self.assertIn(token, parts[2].as_string())
        self.assertTrue([l for l in self.kensad.log_events("dsn") if f"id={qid}" in l],
                        self.kensad.diagnostics())

    def test_null_sender_never_gets_dsn(self):
        data = h.make_message("null-" + os.urandom(4).hex(), sender="", to="bad@example.test")
        code, text = send_one(self.kensad.port, "", ["bad@example.test"], data)
        self.assertEqual(code, 250, text)
        qid = queue_id_of(text)
        ok = h.wait_until(lambda: [l for l in self.kensad.log_events("delivery")
                                   if f"id={qid}" in l and "result=bounced" in l], 30)
        self.assertTrue(ok, self.diagnostics())
        time.sleep(3)
        self.assertEqual([l for l in self.kensad.log_events("dsn") if f"id={qid}" in l], [])
        self.assertEqual(self.kensad.spool_files(), [])
        self.assertEqual(self.postfix.maildir_messages(), [])

    def test_notify_never_gets_no_dsn(self):
        with smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=30) as s:
            s.ehlo("client.example.org")
            self.assertEqual(s.mail("sender@example.test")[0], 250)
            self.assertEqual(s.rcpt("bad@example.test", ["NOTIFY=NEVER"])[0], 250)
            code, text = s.data(h.make_message("never-" + os.urandom(4).hex()))
            self.assertEqual(code, 250)
        qid = queue_id_of(text)
        ok = h.wait_until(lambda: [l for l in self.kensad.log_events("delivery")
                                   if f"id={qid}" in l and "result=bounced" in l], 30)
        self.assertTrue(ok, self.diagnostics())
        time.sleep(2)
        self.assertEqual(self.postfix.maildir_messages("sender@example.test"), [])


class SpoolAndClientFailureTest(unittest.TestCase):
    """kensad delivering into its own Maildir."""

    def start_kensad(self, overrides=None):
        kensad = h.Kensad(overrides)
        self.addCleanup(kensad.close)
        kensad.start()
        return kensad

    def open_data(self, kensad, rcpt):
        r = h.RawSmtp(kensad.port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply()[0], 220)
        self.assertEqual(r.cmd("EHLO client.example.org")[0], 250)
        self.assertEqual(r.cmd("MAIL FROM:<s@example.org>")[0], 250)
        self.assertEqual(r.cmd(f"RCPT TO:<{rcpt}>")[0], 250)
        return r

    def test_client_disconnect_mid_data_delivers_nothing(self):
        kensad = self.start_kensad()
        cases = ["fin", "rst", "bdat-fin", "bdat-rst", "before-dot"]
        for case in cases:
            rcpt = f"gone-{case}@example.test"
            r = self.open_data(kensad, rcpt)
            if case.startswith("bdat"):
                r.send(b"BDAT 100000 LAST\r\n" + b"Subject: cut\r\n\r\n" + b"x" * 50_000)
            else:
                self.assertEqual(r.cmd("DATA")[0], 354)
                r.send(b"Subject: cut\r\n\r\n" + b"partial line\r\n" * 3000)
                if case == "before-dot":
                    r.send(b"almost the end\r\n")  # CRLF sent, "." never comes
            time.sleep(0.3)
            if case.endswith("rst"):
                r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            r.close()
        self.assertTrue(kensad.wait_spool_empty(10), kensad.spool_files())
        time.sleep(2)
        for case in cases:
            self.assertEqual(kensad.maildir_messages(f"gone-{case}@example.test"), [], case)
        self.assertEqual(kensad.spool_files(), [])
        # and the daemon goes on serving
        data = h.make_message("after-" + os.urandom(4).hex(), to="after@example.test")
        self.assertEqual(send_one(kensad.port, "s@example.org", ["after@example.test"],
                                  data)[0], 250)
        self.assertTrue(kensad.wait_maildir("after@example.test", 1, 20))

    def test_spool_min_free_bytes_gives_452(self):
        kensad = self.start_kensad({"spool": {"min_free_bytes": 10**15}})
        data = h.make_message("full-" + os.urandom(4).hex(), to="full@example.test")
        code, text = send_one(kensad.port, "s@example.org", ["full@example.test"], data)
        self.assertEqual(code, 452, text)
        self.assertTrue(text.startswith(b"4.3.1"), text)
        self.assertEqual(kensad.spool_files(), [])
        self.assertTrue(kensad.log_events("spool_full"), kensad.diagnostics())
        # With space again (same state dir), mail flows and the spool is sound.
        self.assertEqual(kensad.stop(), 0)
        kensad.reconfigure({"spool": {"min_free_bytes": 1}})
        kensad.start()
        code, text = send_one(kensad.port, "s@example.org", ["full@example.test"], data)
        self.assertEqual(code, 250, text)
        self.assertTrue(kensad.wait_maildir("full@example.test", 1, 20), kensad.diagnostics())
        (_, got), = kensad.maildir_messages("full@example.test")
        self.assertEqual(h.strip_kensa_trace(got), data)
        self.assertEqual(kensad.log_events("queue_file_unreadable"), [])

    def test_spool_disk_really_full_gives_452(self):
        kensad = h.Kensad()
        self.addCleanup(kensad.close)
        mnt = os.path.join(kensad.dir, "spool-tmpfs")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a small tmpfs for the spool (needs root and "
                          f"CAP_SYS_ADMIN): {r.stdout.decode(errors='replace').strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        self.addCleanup(kensad.kill)
        kensad.reconfigure({"spool": {"dir": mnt, "min_free_bytes": 1 << 20}})
        kensad.start()
        small = h.make_message("small-" + os.urandom(4).hex(), to="tmpfs@example.test")
        code, text = send_one(kensad.port, "s@example.org", ["tmpfs@example.test"], small)
        self.assertEqual(code, 250, text)
        self.assertTrue(kensad.wait_maildir("tmpfs@example.test", 1, 20))
        self.assertTrue(kensad.wait_spool_empty(10))
        big = h.make_message("big-" + os.urandom(4).hex(), to="tmpfs@example.test",
                             body_lines=["%07d " % i + "f" * 90 for i in range(90_000)])
        self.assertGreater(len(big), 8 << 20)
        code, text = send_one(kensad.port, "s@example.org", ["tmpfs@example.test"], big)
        self.assertEqual(code, 452, f"disk full while receiving: {code} {text}")
        self.assertTrue(kensad.running(), kensad.diagnostics())
        self.assertTrue(kensad.wait_spool_empty(10), f"partial queue file left: "
                                                     f"{kensad.spool_files()}")
        # space is back: mail flows again, and a restart recovers a sound spool
        code, text = send_one(kensad.port, "s@example.org", ["tmpfs@example.test"], small)
        if code != 250:
            st = os.statvfs(mnt)
            held = [l for l in (os.readlink(f"/proc/{kensad.pid}/fd/{fd}")
                                for fd in os.listdir(f"/proc/{kensad.pid}/fd"))
                    if l.startswith(mnt) and l.endswith("(deleted)")]
            self.fail(f"after the failed message: {code} {text}; the spool holds no files but "
                      f"its file system has {st.f_bavail * st.f_frsize} bytes free and kensad "
                      f"still holds {len(held)} deleted queue files open: {held[:4]}")
        self.assertTrue(kensad.wait_maildir("tmpfs@example.test", 2, 20), kensad.diagnostics())
        msgs = kensad.maildir_messages("tmpfs@example.test")
        self.assertEqual([h.strip_kensa_trace(d) for _, d in msgs], [small, small])
        self.assertEqual(kensad.stop(), 0)
        kensad.start()
        self.assertEqual(kensad.log_events("queue_file_unreadable"), [])
        self.assertEqual(kensad.spool_files(), [])


if __name__ == "__main__":
    unittest.main()
