# SPDX-License-Identifier: GPL-2.0-or-later
"""Submission with SMTP AUTH against the real kensad: smtplib, swaks and msmtp on 587
(STARTTLS) and 465 (implicit TLS) against the crypt(3) file backend and a real Dovecot;
plaintext AUTH refused; wrong passwords refused and slowed; the envelope-sender rule; the
Outlook- and Thunderbird-style AUTH LOGIN exchanges; RFC 4954 answers to bad input; the
open-relay table (every unauthenticated path to a non-local domain is refused); and
authenticated mail leaving through the outbound next hop."""
import base64
import contextlib
import os
import re
import smtplib
import socket
import subprocess
import time
import unittest

import kensa_harness as h
import submission_helpers as sub

DOMAIN = h.LOCAL_DOMAIN
ALICE, ALICE_PW = f"alice@{DOMAIN}", "alice-Secret-1"
ALICE_ALIAS = f"a.smith@{DOMAIN}"
BOB, BOB_PW = f"bob@{DOMAIN}", "bob-Secret-2"
REMOTE = "friend@remote.example"
DELIVERY_TIMEOUT = 30


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user, password):
    return b64(f"\0{user}\0{password}")


def clean_message(token, to=REMOTE, sender=ALICE):
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: submission {token}\r\n"
            f"Message-ID: <{token}@client.example.org>\r\n\r\n"
            f"token {token}\r\nline two\r\n").encode()


class SubmissionBase(h.KensadTestCase):
    """kensad with mx, submission and submissions listeners, the outbound next hop a Maildir
    of its own; extra_setup() returns the [auth] table (backend), `limits` adds to it."""
    limits = {"failure_delay": "100ms", "max_failure_delay": "800ms", "max_failures": 1000,
              "failure_window": "1m"}

    @classmethod
    def extra_setup(cls):
        return {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = h.make_tmpdir("kensa-submission-")
        cls.outbound_dir = os.path.join(cls.tmp, "outbound")
        try:
            auth = dict(cls.limits, **cls.extra_setup())
            cls.mx_port = h.free_port()
            cls.sub_port = h.free_port()
            cls.subs_port = h.free_port()
            overrides = {
                "listener": sub.submission_listeners(cls.mx_port, cls.sub_port, cls.subs_port),
                "auth": auth,
                "delivery": {"outbound_next_hop": f"maildir:{cls.outbound_dir}"},
            }
            cls.start_kensad(overrides, port=cls.mx_port)
        except Exception:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        h.remove_tmpdir(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cleanup()

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    def outbound(self, address):
        return h.read_maildirs(self.outbound_dir, address)

    def swaks_send(self, port, tls, mechanism, token, user=ALICE, password=ALICE_PW):
        """swaks authenticates and sends a clean message; returns its transcript once the
        message reached the outbound hop."""
        path = os.path.join(self.tmp, f"{token}.eml")
        with open(path, "wb") as f:
            f.write(clean_message(token, sender=user))
        rc, out = sub.swaks(port, user, password, user, REMOTE, path, tls=tls,
                            mechanism=mechanism)
        self.assertEqual(rc, 0, out)
        self.wait_outbound(REMOTE, token)
        return out

    def wait_outbound(self, address, token):
        def found():
            return [d for _p, d in self.outbound(address) if token.encode() in d]
        got = h.wait_until(found, DELIVERY_TIMEOUT, 0.1)
        self.assertTrue(got, f"no message {token} for {address} at the outbound hop\n"
                             f"{self.kensad.diagnostics()}")
        return got[0]


class FileBackendTest(SubmissionBase):
    @classmethod
    def extra_setup(cls):
        passwd = os.path.join(cls.tmp, "passwd")
        sub.write_passwd_file(passwd, [
            (ALICE, ALICE_PW, "$y$", [ALICE_ALIAS]),
            (BOB, BOB_PW, "$6$", []),
        ])
        return {"backend": "file", "passwd_file": passwd}

    # --- real clients ------------------------------------------------------------------------

    def test_smtplib_587_and_465_plain_and_login(self):
        for port, implicit in ((self.sub_port, False), (self.subs_port, True)):
            for mech, user, pw in (("PLAIN", ALICE, ALICE_PW), ("LOGIN", BOB, BOB_PW)):
                token = f"smtplib-{port}-{mech}"
                data = clean_message(token, sender=user)
                qid = sub.smtplib_send(port, user, pw, user, [REMOTE], data,
                                       implicit_tls=implicit, mechanism=mech)
                self.assertTrue(qid)
                got = self.wait_outbound(REMOTE, token)
                # Clean mail leaves byte for byte, behind kensa's trace header (ESMTPSA).
                self.assertEqual(h.strip_kensa_trace(got), data)
                self.assertRegex(got.split(b"\r\n\r\n")[0], rb"with ESMTPSA id")

    def test_swaks_587_and_465(self):
        for port, tls in ((self.sub_port, "starttls"), (self.subs_port, "implicit")):
            for mech in ("PLAIN", "LOGIN"):
                out = self.swaks_send(port, tls, mech, f"swaks-{port}-{mech}")
                self.assertRegex(out, r"<~\s+235 ")

    def test_msmtp_587_and_465(self):
        for port, tls in ((self.sub_port, "starttls"), (self.subs_port, "implicit")):
            for mech in ("plain", "login"):
                token = f"msmtp-{port}-{mech}"
                rc, out = sub.msmtp(self.kensad.dir, port, BOB, BOB_PW, BOB, [REMOTE],
                                    clean_message(token, sender=BOB), tls=tls, mechanism=mech)
                self.assertEqual(rc, 0, out)
                self.wait_outbound(REMOTE, token)

    def test_outlook_and_thunderbird_style_login(self):
        # Outlook: "AUTH LOGIN", then the user name and the password as answers to the
        # "Username:" and "Password:" challenges.
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            self.assertEqual(s.docmd("AUTH", "LOGIN"), (334, b"VXNlcm5hbWU6"))
            self.assertEqual(s.docmd(b64(ALICE)), (334, b"UGFzc3dvcmQ6"))
            code, _ = s.docmd(b64(ALICE_PW))
            self.assertEqual(code, 235)
            self.assertEqual(s.docmd("MAIL", f"FROM:<{ALICE}>")[0], 250)
        # Thunderbird (and others): the user name goes with the command as an initial response.
        with contextlib.closing(sub.smtp_client(self.subs_port, implicit_tls=True)) as s:
            self.assertEqual(s.docmd("AUTH", f"LOGIN {b64(BOB)}"), (334, b"UGFzc3dvcmQ6"))
            self.assertEqual(s.docmd(b64(BOB_PW))[0], 235)

    # --- refusals ----------------------------------------------------------------------------

    def test_plaintext_auth_refused_everywhere(self):
        for port in (self.sub_port, self.mx_port):
            with h.RawSmtp(port) as c:
                self.assertEqual(c.reply()[0], 220)
                code, lines = c.cmd("EHLO plain.example.org")
                self.assertEqual(code, 250)
                self.assertFalse(any("AUTH" in l for l in lines), lines)
                code, lines = c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))
                self.assertEqual(code, 538, lines)
                self.assertIn("5.7.11", lines[-1])
                code, lines = c.cmd("AUTH LOGIN")
                self.assertEqual(code, 538, lines)
        self.assertNotIn(ALICE_PW, self.kensad.log)

    def test_mail_before_auth_refused_on_submission(self):
        for port, implicit in ((self.sub_port, False), (self.subs_port, True)):
            with contextlib.closing(sub.smtp_client(port, implicit)) as s:
                self.assertIn("auth", s.esmtp_features)
                self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN", "LOGIN"])
                code, msg = s.docmd("MAIL", f"FROM:<{ALICE}>")
                self.assertEqual(code, 530, msg)
                self.assertIn(b"5.7.0", msg)
        # Port 587 before STARTTLS: MAIL is refused just the same.
        with h.RawSmtp(self.sub_port) as c:
            c.reply()
            c.cmd("EHLO x.example.org")
            self.assertEqual(c.cmd(f"MAIL FROM:<{ALICE}>")[0], 530)

    def test_wrong_password_refused_and_slowed(self):
        user = f"victim@{DOMAIN}"  # not in the file: refused exactly like a wrong password
        for pw in ("guess-1", "guess-2"):
            with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
                t0 = time.monotonic()
                code, msg = s.docmd("AUTH", "PLAIN " + plain(user, pw))
                self.assertGreaterEqual(time.monotonic() - t0, 0.09)  # failure_delay 100ms
                self.assertEqual(code, 535, msg)
                self.assertIn(b"5.7.8", msg)
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(ALICE, "Tr0ub4dor-3"))[0], 535)
            # The session is still usable for the right password.
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))[0], 235)
        lines = self.kensad.log_events("auth_failed")
        self.assertTrue(any(f"user={user}" in l for l in lines), lines)
        log = self.kensad.log
        for secret in ("guess-1", "guess-2", "Tr0ub4dor-3", plain(user, "guess-1")):
            self.assertNotIn(secret, log)

    def test_three_failures_close_the_session(self):
        with contextlib.closing(sub.smtp_client(self.subs_port, implicit_tls=True)) as s:
            for i in range(2):
                self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(BOB, f"no-{i}"))[0], 535)
            code, msg = s.docmd("AUTH", "PLAIN " + plain(BOB, "no-2"))
            self.assertEqual(code, 535)
            code, msg = s.getreply()
            self.assertEqual(code, 421, msg)

    def test_envelope_sender_rule(self):
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            s.login(ALICE, ALICE_PW)
            for sender, want in ((BOB, 553), ("someone@remote.example", 553), (ALICE, 250),
                                 (ALICE_ALIAS, 250), (f"alice+lists@{DOMAIN}", 250),
                                 (ALICE.upper(), 250)):
                code, msg = s.docmd("MAIL", f"FROM:<{sender}>")
                self.assertEqual(code, want, (sender, msg))
                if code == 553:
                    self.assertIn(b"5.7.1", msg)
                s.rset()

    def test_bad_auth_input_per_rfc4954(self):
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            self.assertEqual(s.docmd("AUTH", "CRAM-MD5")[0], 504)
            self.assertEqual(s.docmd("AUTH", "PLAIN")[0], 334)
            self.assertEqual(s.docmd("*"), (501, b"5.7.0 Authentication cancelled"))
            self.assertEqual(s.docmd("AUTH", "PLAIN not-base64!")[0], 501)
            self.assertEqual(s.docmd("AUTH", "PLAIN " + b64("no separators"))[0], 501)
            self.assertEqual(s.docmd("AUTH", "LOGIN")[0], 334)
            self.assertEqual(s.docmd("dXNlcg")[0], 501)  # unpadded
            code, msg = s.docmd("AUTH", "PLAIN " + "QUFB" * 5000)
            self.assertEqual(code, 500)
            self.assertIn(b"5.5.6", msg)
            self.assertEqual(s.docmd("NOOP")[0], 250)
            s.login(ALICE, ALICE_PW)
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))[0], 503)
        # AUTH inside a transaction (port 25 allows MAIL before AUTH for local domains).
        s = smtplib.SMTP("127.0.0.1", self.mx_port, timeout=30)
        with contextlib.closing(s):
            s.starttls(context=h.client_tls_context())
            s.ehlo("mx-client.example.org")
            self.assertEqual(s.docmd("MAIL", "FROM:<x@remote.example>")[0], 250)
            code, msg = s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))
            self.assertEqual(code, 503, msg)

    # --- relaying ----------------------------------------------------------------------------

    def test_open_relay_table(self):
        """Every unauthenticated RCPT that could leave for a non-local domain is refused, on
        port 25 (plain and inside TLS); an authenticated session may relay."""
        relay_attempts = [
            "x@remote.example",
            "x@remote.example.",
            "x@REMOTE.example",
            "<@example.test:x@remote.example>",        # source route ending off-site
            "<@remote.example,@example.test:x@remote.example>",
            '"x@remote.example"@example.test',           # quoted local part with '@'
            '"x@remote.example"',
            "x%remote.example@example.test",             # percent hack
            "remote.example!x@example.test",             # bang path
            "x@remote.example@example.test",
            "x@[127.0.0.1]",                             # address literals
            "x@[IPv6:::1]",
            "x@example.test.remote.example",
            "x@xn--exmple-cua.test",                     # IDN look-alike (punycode)
            "postmaster@remote.example",
            "x@remote.example%example.test",
        ]
        idn = "x@exämple.test"                            # IDN look-alike (UTF-8)
        local_ok = [f"x@{DOMAIN}", f"X@{DOMAIN.upper()}", "postmaster", "Postmaster",
                    f"<@relay.example:y@{DOMAIN}>"]

        def rcpt_code(s, rcpt):
            arg = rcpt if rcpt.startswith("<") else f"<{rcpt}>"
            code, msg = s.docmd("RCPT", f"TO:{arg}")
            return code, msg

        for tls in (False, True):
            s = smtplib.SMTP("127.0.0.1", self.mx_port, timeout=30)
            s.command_encoding = "utf-8"  # the IDN case (SMTPUTF8 is offered)
            with contextlib.closing(s):
                s.ehlo("relay-test.example.org")
                if tls:
                    s.starttls(context=h.client_tls_context())
                    s.ehlo("relay-test.example.org")
                self.assertEqual(s.docmd("MAIL", "FROM:<probe@remote.example> SMTPUTF8")[0], 250)
                for r in relay_attempts + [idn]:
                    code, msg = rcpt_code(s, r)
                    self.assertGreaterEqual(code, 500, f"{r!r} was accepted (tls={tls}): {msg}")
                for r in local_ok:
                    code, msg = rcpt_code(s, r)
                    self.assertEqual(code, 250, f"{r!r}: {msg}")
        # On the submission ports nothing gets that far without AUTH.
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            self.assertEqual(s.docmd("MAIL", "FROM:<probe@remote.example>")[0], 530)
            self.assertEqual(s.docmd("RCPT", "TO:<x@remote.example>")[0], 503)
        # Authenticated on port 25 (after STARTTLS): relaying is allowed.
        s = smtplib.SMTP("127.0.0.1", self.mx_port, timeout=30)
        with contextlib.closing(s):
            s.starttls(context=h.client_tls_context())
            s.ehlo("relay-test.example.org")
            self.assertIn("auth", s.esmtp_features)
            s.login(ALICE, ALICE_PW)
            self.assertEqual(s.docmd("MAIL", f"FROM:<{ALICE}>")[0], 250)
            self.assertEqual(rcpt_code(s, "x@remote.example")[0], 250)
        self.assertNotIn(ALICE_PW, self.kensad.log)


class DovecotBackendTest(SubmissionBase):
    """The same through Dovecot's authentication service (what Postfix uses)."""

    dovecot = None

    @classmethod
    def extra_setup(cls):
        cls.dovecot = sub.Dovecot([(ALICE, ALICE_PW), (BOB, BOB_PW)]).start()
        return {"backend": "dovecot", "dovecot_socket": f"unix:{cls.dovecot.auth_socket}"}

    @classmethod
    def cleanup(cls):
        if cls.dovecot is not None:
            cls.dovecot.close()
        super().cleanup()

    def test_tcp_socket(self):
        # The same Dovecot over its TCP listener, through a second kensad.
        ports = [h.free_port() for _ in range(3)]
        k = h.Kensad({"listener": sub.submission_listeners(*ports),
                      "auth": {"backend": "dovecot",
                               "dovecot_socket": f"inet:127.0.0.1:{self.dovecot.auth_port}"},
                      "delivery": {"outbound_next_hop": f"maildir:{self.outbound_dir}"}},
                     port=ports[0])
        with k:
            sub.smtplib_send(ports[2], BOB, BOB_PW, BOB, [REMOTE],
                             clean_message("dovecot-tcp", sender=BOB), implicit_tls=True)
            self.wait_outbound(REMOTE, "dovecot-tcp")

    def test_clients_authenticate_through_dovecot(self):
        for port, tls in ((self.sub_port, "starttls"), (self.subs_port, "implicit")):
            implicit = tls == "implicit"
            for mech in ("PLAIN", "LOGIN"):
                token = f"dovecot-smtplib-{port}-{mech}"
                sub.smtplib_send(port, ALICE, ALICE_PW, ALICE, [REMOTE], clean_message(token),
                                 implicit_tls=implicit, mechanism=mech)
                self.wait_outbound(REMOTE, token)
                self.swaks_send(port, tls, mech, f"dovecot-swaks-{port}-{mech}")
                token = f"dovecot-msmtp-{port}-{mech}"
                rc, out = sub.msmtp(self.kensad.dir, port, BOB, BOB_PW, BOB, [REMOTE],
                                    clean_message(token, sender=BOB), tls=tls,
                                    mechanism=mech.lower())
                self.assertEqual(rc, 0, out)
                self.wait_outbound(REMOTE, token)

    def test_wrong_password_and_unknown_user(self):
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(ALICE, "nope"))[0], 535)
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(f"ghost@{DOMAIN}", "x"))[0], 535)
        self.assertNotIn("nope", self.kensad.log)

    def test_backend_down_is_a_temporary_failure(self):
        self.dovecot.stop()
        try:
            with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
                code, msg = s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))
                self.assertEqual(code, 454, msg)
                self.assertIn(b"4.7.0", msg)
        finally:
            self.dovecot.start()
        # Back up: the next AUTH gets through (the backend reconnects).
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))[0], 235)

    def test_envelope_sender_rule(self):
        with contextlib.closing(sub.smtp_client(self.subs_port, implicit_tls=True)) as s:
            s.login(BOB, BOB_PW)
            self.assertEqual(s.docmd("MAIL", f"FROM:<{ALICE}>")[0], 553)
            self.assertEqual(s.docmd("MAIL", f"FROM:<{BOB}>")[0], 250)


class FailureLimitTest(SubmissionBase):
    """Failures from one client address slow every later failure (doubling up to the cap);
    after max_failures AUTH answers 454 without asking the backend, even for the right
    password, until the window passes."""
    limits = {"failure_delay": "150ms", "max_failure_delay": "600ms", "max_failures": 4,
              "failure_window": "3s"}

    @classmethod
    def extra_setup(cls):
        passwd = os.path.join(cls.tmp, "passwd")
        sub.write_passwd_file(passwd, [(ALICE, ALICE_PW, "$y$", [])])
        return {"backend": "file", "passwd_file": passwd}

    def test_slowed_blocked_then_released(self):
        times = []
        for i in range(4):  # a different user each time: the client address is what counts
            with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
                t0 = time.monotonic()
                self.assertEqual(s.docmd("AUTH", "PLAIN " + plain(f"u{i}@{DOMAIN}", "x"))[0], 535)
                times.append(time.monotonic() - t0)
        # 150, 300, 600, 600 ms (capped), give or take the hashing.
        self.assertGreaterEqual(times[0], 0.14, times)
        self.assertGreaterEqual(times[1], 0.29, times)
        self.assertGreaterEqual(times[2], 0.59, times)
        self.assertLess(times[3], 2.0, times)
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            code, msg = s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))
            self.assertEqual(code, 454, msg)
        self.assertTrue(h.wait_until(lambda: self._auth_ok(), 10, 0.5),
                        "AUTH still refused after the window\n" + self.kensad.diagnostics())

    def _auth_ok(self):
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            return s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))[0] == 235


class OutboundRelayTest(unittest.TestCase):
    """Authenticated mail leaves through outbound_next_hop, which requires STARTTLS by
    default: a real Postfix relay offering it gets the mail (over TLS); smtp-sink, which
    does not offer it, gets nothing and the message stays queued."""

    def setUp(self):
        self.tmp = h.make_tmpdir("kensa-outbound-")
        self.addCleanup(h.remove_tmpdir, self.tmp)
        self.passwd = os.path.join(self.tmp, "passwd")
        sub.write_passwd_file(self.passwd, [(ALICE, ALICE_PW, "$6$", [])])

    def kensad(self, relay_port):
        ports = [h.free_port() for _ in range(3)]
        k = h.Kensad({"listener": sub.submission_listeners(*ports),
                      "auth": {"backend": "file", "passwd_file": self.passwd},
                      "delivery": {"outbound_next_hop": f"smtp://127.0.0.1:{relay_port}"}},
                     port=ports[0])
        self.addCleanup(k.close)
        k.start()
        return k, ports[1]

    def test_postfix_relay_with_starttls(self):
        cert = os.path.join(self.tmp, "relay.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=relay.postfix.test", "-keyout", cert, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        os.chmod(cert, 0o644)
        relay = h.Postfix("kensa-outbound-relay", mailboxes=[BOB], extra_main={
            "smtpd_tls_cert_file": cert, "smtpd_tls_key_file": cert,
            "smtpd_tls_security_level": "may", "smtpd_tls_loglevel": "1"})
        self.addCleanup(relay.close)
        relay.start()
        k, port = self.kensad(relay.port)
        data = clean_message("via-postfix", to=BOB)
        sub.smtplib_send(port, ALICE, ALICE_PW, ALICE, [BOB], data)
        ok = h.wait_until(lambda: relay.maildir_messages(BOB), DELIVERY_TIMEOUT, 0.2)
        self.assertTrue(ok, k.diagnostics() + relay.diagnostics())
        self.assertIn(b"via-postfix", relay.maildir_messages(BOB)[0][1])
        log = k.log
        self.assertRegex(
            log, r'event=delivery .*relay="smtp://127\.0\.0\.1:\d+\?tls=required" result=delivered')
        with open(relay.log_path, encoding="utf-8", errors="replace") as f:
            self.assertIn("TLS connection established from", f.read())

    def test_relay_without_starttls_is_not_used(self):
        sink = h.SmtpSink()
        self.addCleanup(sink.close)
        sink.start()
        k, port = self.kensad(sink.port)
        sub.smtplib_send(port, ALICE, ALICE_PW, ALICE, [REMOTE], clean_message("no-tls"))
        deferred = h.wait_until(
            lambda: [l for l in k.log_events("delivery") if "result=deferred" in l],
            DELIVERY_TIMEOUT, 0.2)
        self.assertTrue(deferred, k.diagnostics())
        self.assertRegex(deferred[0], r"(?i)tls")
        self.assertFalse(sink.messages())
        self.assertTrue(k.spool_files(), "the message must stay queued")


if __name__ == "__main__":
    unittest.main()
