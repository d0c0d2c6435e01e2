# SPDX-License-Identifier: GPL-2.0-or-later
"""SMTP AUTH failure limits against the real kensad (crypt(3) file backend, STARTTLS on the
submission port), as a hostile network would probe them:

- parallel sessions from one address cannot all reach the backend: a check counts from its
  start, so at most max_failures of them are asked, the rest get 454 4.7.0;
- guesses at one user from many addresses do not lock its owner out: the right password from
  an address that has not tried the user is answered 235 at once, while an address that has
  already guessed at that user gets no more checks of it.

Source addresses are taken from 127/8 (loopback accepts all of it)."""
import contextlib
import os
import smtplib
import threading
import time
import base64

import kensa_harness as h
import submission_helpers as sub

DOMAIN = h.LOCAL_DOMAIN
DEMO, DEMO_PW = f"demo@{DOMAIN}", "demo-Secret-1"
MAX_FAILURES = 10
SESSION_TIMEOUT = 20


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def tls_session(port, source="127.0.0.1"):
    """smtplib from `source`, STARTTLS done and EHLO sent again, ready for AUTH."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=SESSION_TIMEOUT, source_address=(source, 0))
    s.ehlo("client.example.org")
    s.starttls(context=h.client_tls_context())
    s.ehlo("client.example.org")
    return s


def auth(port, user, password, source="127.0.0.1"):
    """(code, seconds the AUTH took) of one AUTH PLAIN in a fresh session from `source`."""
    with contextlib.closing(tls_session(port, source)) as s:
        t0 = time.monotonic()
        code, _ = s.docmd("AUTH", "PLAIN " + plain(user, password))
        return code, time.monotonic() - t0


class AuthLimitBase(h.KensadTestCase):
    """One kensad per class (each test needs 127.0.0.1 clean), the demo passwd file, small
    delays so failures cost milliseconds."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = h.make_tmpdir("kensa-auth-limits-")
        try:
            passwd = os.path.join(cls.tmp, "passwd")
            sub.write_passwd_file(passwd, [(DEMO, DEMO_PW, "$y$", [])])
            ports = [h.free_port() for _ in range(3)]
            cls.sub_port = ports[1]
            cls.start_kensad({
                "listener": sub.submission_listeners(*ports),
                "auth": {"backend": "file", "passwd_file": passwd,
                         "max_failures": MAX_FAILURES, "failure_window": "1m",
                         "failure_delay": "50ms", "max_failure_delay": "200ms"},
                "smtp": {"max_connections_per_client": 100},
            }, port=ports[0])
        except Exception:
            h.remove_tmpdir(cls.tmp)
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        h.remove_tmpdir(cls.tmp)

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    def auth_log(self, result):
        return [l for l in self.kensad.log_events("auth_failed") if f" result={result}" in l]


class ParallelFailuresTest(AuthLimitBase):
    def test_parallel_sessions_get_at_most_max_failures_checks(self):
        n = 30
        sessions, codes, errors = [None] * n, [None] * n, []
        ready = threading.Barrier(n, timeout=60)

        def one(i):
            try:
                sessions[i] = tls_session(self.sub_port)
                ready.wait()  # every session is inside TLS before any AUTH is sent
                # A different user each time: the address is what is limited.
                codes[i] = sessions[i].docmd("AUTH", "PLAIN " + plain(f"u{i}@{DOMAIN}", "x"))[0]
            except Exception as e:  # pylint: disable=broad-except
                errors.append(f"session {i}: {e!r}")
                with contextlib.suppress(threading.BrokenBarrierError):
                    ready.abort()
            finally:
                if sessions[i] is not None:
                    with contextlib.suppress(Exception):
                        sessions[i].close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in threads), "sessions hung")
        self.assertEqual(errors, [])
        checked = codes.count(535)
        self.assertLessEqual(checked, MAX_FAILURES, codes)
        self.assertGreaterEqual(checked, 1, codes)
        self.assertEqual(codes.count(454), n - checked, codes)
        # The log agrees: at most max_failures backend failures, every other one refused.
        self.assertTrue(h.wait_until(
            lambda: len(self.auth_log("failed")) + len(self.auth_log("tempfail")) >= n, 10),
            self.kensad.diagnostics())
        self.assertLessEqual(len(self.auth_log("failed")), MAX_FAILURES)
        refused = self.auth_log("tempfail")
        self.assertEqual(len(refused), n - checked)
        self.assertTrue(all("too many recent failures" in l for l in refused), refused[:3])


class DistributedGuessingTest(AuthLimitBase):
    def test_owner_logs_in_from_a_clean_address(self):
        guessers = [f"127.0.0.{i}" for i in range(2, 14)]  # 12 addresses, one guess each
        for source in guessers:
            code, _ = auth(self.sub_port, DEMO, f"guess-{source}", source)
            self.assertEqual(code, 535, source)
        # An address that has already guessed at demo is not asked again, even with the
        # right password: that is what keeps guessing from many addresses bounded.
        code, _ = auth(self.sub_port, DEMO, DEMO_PW, guessers[0])
        self.assertEqual(code, 454)
        code, _ = auth(self.sub_port, DEMO, "another-guess", guessers[-1])
        self.assertEqual(code, 454)
        # The owner, from an address that has not tried demo: in promptly.
        code, took = auth(self.sub_port, DEMO, DEMO_PW, "127.0.0.1")
        self.assertEqual(code, 235, self.kensad.diagnostics())
        self.assertLess(took, 3.0)
        self.assertTrue(h.wait_until(lambda: len(self.auth_log("tempfail")) >= 2, 10))
        self.assertEqual(len(self.auth_log("failed")), len(guessers))
        self.assertTrue(all("for this user from this address" in l
                            for l in self.auth_log("tempfail")), self.auth_log("tempfail"))
