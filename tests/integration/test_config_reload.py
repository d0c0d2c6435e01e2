# SPDX-License-Identifier: GPL-2.0-or-later
"""A running kensad takes a changed configuration file (`kensa-shell -c "config reload"` and
SIGHUP) without a restart: the next message follows the new policy and limits, a session that
was open keeps the settings it started with, an invalid file changes nothing and says why,
settings only a restart can change are named and keep their running values, a new next hop
takes the next delivery, a replaced TLS certificate is served to the next STARTTLS, and 16
clients sending mail through a series of reloads see no failure at all."""
import os
import signal
import smtplib
import ssl
import subprocess
import threading
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

SHELL = os.path.join(h.BUILD_DIR, "control", "kensa-shell")
DOMAIN = h.LOCAL_DOMAIN
TIMEOUT = 30


def infected(token, rcpt):
    return h.make_message(token, to=rcpt, body_lines=[
        "This line carries the EICAR test string:", sh.EICAR.decode("ascii")])


@unittest.skipUnless(os.path.exists(SHELL), f"kensa-shell not built: {SHELL}")
class ReloadTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        # No [policy]: nobody subscribes, nothing is scanned until a reload says so.
        cls.start_kensad({"smtp": {"max_message_bytes": 200000}})
        cls.socket = os.path.join(cls.kensad.state_dir, "control.sock")
        assert h.wait_until(lambda: os.path.exists(cls.socket), 10), "no control socket"
        cls.good_config = None

    def shell(self, command):
        return subprocess.run([SHELL, "--socket", self.socket, "-c", command],
                              capture_output=True, text=True, timeout=TIMEOUT)

    def reload(self, overrides):
        self.kensad.reconfigure(overrides)
        r = self.shell("config reload")
        self.assertEqual(r.returncode, 0, f"{r.stdout}{r.stderr}")
        return dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)

    def refused_reload(self, overrides, restore):
        self.kensad.reconfigure(overrides)
        r = self.shell("config reload")
        self.kensad.reconfigure(restore)  # the file as it was
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("configuration unchanged", r.stderr)
        return r.stderr

    def send(self, token, rcpt, data=None):
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt],
                                               data or infected(token, rcpt))])
        return o

    def test_a_policy_bad_files_and_restart_only_settings(self):
        rcpt = f"reload@{DOMAIN}"
        self.assertEqual(self.send("before", rcpt).code, 250)  # not subscribed: not scanned
        changes = self.reload({"policy": {"inbound_domains": [DOMAIN], "action": "reject"}})
        self.assertEqual(changes["applied"], "policy.inbound_domains,policy.action", changes)
        self.assertEqual(changes["restart_needed"], "-")
        o = self.send("after", rcpt)
        self.assertEqual(o.code, 554, o)  # the next message follows the new policy
        self.assertTrue(sh.log_records(self.kensad, "config_reloaded"))

        # Invalid files: the running configuration stays, and the reason names the key.
        self.assertIn("smtp.max_recipients", self.refused_reload(
            {"smtp": {"max_recipients": 0}}, {"smtp": {"max_recipients": None}}))
        self.assertIn("bogus", self.refused_reload({"smtp": {"bogus": 1}},
                                                   {"smtp": {"bogus": None}}))
        missing = os.path.join(self.kensad.dir, "missing.pem")
        self.assertIn("tls", self.refused_reload(
            {"tls": {"self_signed": False, "cert_file": missing, "key_file": missing}},
            {"tls": {"self_signed": True, "cert_file": None, "key_file": None}}))
        self.assertEqual(self.send("still", rcpt).code, 554)  # the policy of the last good file
        self.assertGreaterEqual(len(sh.log_records(self.kensad, "config_reload_failed")), 2)

        # A setting only a restart changes: named, and the running value stays.
        other = h.free_port()
        listeners = [{"name": "mx", "address": f"127.0.0.1:{other}", "tls": "starttls"}]
        changes = self.reload({"listener": listeners, "reactors": 1,
                               "hostname": "renamed.kensa.test"})
        self.assertEqual(changes["restart_needed"], "hostname,reactors,listener", changes)
        self.assertEqual(self.send("old-port", rcpt).code, 554)  # still on the old port
        with h.RawSmtp(self.kensad.port) as c:  # and still greeting with the old name
            code, lines = c.reply()
        self.assertEqual(code, 220)
        self.assertTrue(lines[0].startswith("kensa.test "), lines)
        status = dict(l.split(" ", 1) for l in self.shell("show status").stdout.splitlines()
                      if " " in l)
        self.assertEqual(status.get("reactors"), "2", status)
        self.assertEqual(status.get("config_generation"), changes["generation"], status)
        restored = [{"name": "mx", "address": f"127.0.0.1:{self.kensad.port}",
                     "tls": "starttls"}]
        changes = self.reload({"listener": restored, "reactors": 2, "hostname": "kensa.test"})
        self.assertEqual(changes["restart_needed"], "-", changes)

    def test_b_an_open_session_keeps_its_settings(self):
        rcpt = f"session@{DOMAIN}"
        big = h.make_message("big", to=rcpt, body_lines=["x" * 76] * 1500)  # ~118 KB
        s = smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=TIMEOUT)
        try:
            s.ehlo("client.example.org")
            self.reload({"smtp": {"max_message_bytes": 50000}})
            s.sendmail("sender@example.org", [rcpt], big)  # accepted: the old limit
            s.quit()
        finally:
            s.close()
        with self.assertRaises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as e:
            with smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=TIMEOUT) as s2:
                s2.sendmail("sender@example.org", [rcpt], big)
        self.assertEqual(e.exception.smtp_code, 552)
        self.reload({"smtp": {"max_message_bytes": 200000}})

    def test_c_sighup_reads_the_file_too(self):
        rcpt = f"hup@{DOMAIN}"
        self.kensad.reconfigure({"smtp": {"max_recipients": 1}})
        before = len(sh.log_records(self.kensad, "config_reloaded"))
        os.kill(self.kensad.pid, signal.SIGHUP)
        self.assertTrue(h.wait_until(
            lambda: len(sh.log_records(self.kensad, "config_reloaded")) > before, TIMEOUT))
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt, f"b@{DOMAIN}"],
                                               h.make_message("two", to=rcpt))])
        self.assertEqual((o.code, o.stage), (452, "rcpt"), o)
        self.reload({"smtp": {"max_recipients": 1000}})

    def test_d_a_new_certificate_is_served_to_the_next_starttls(self):
        cert = os.path.join(self.kensad.dir, "new-cert.pem")
        key = os.path.join(self.kensad.dir, "new-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=reloaded.kensa.test", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=TIMEOUT)

        def served_subject():
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with smtplib.SMTP("127.0.0.1", self.kensad.port, timeout=TIMEOUT) as s:
                s.starttls(context=ctx)
                der = s.sock.getpeercert(binary_form=True)
            return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                                  input=der, capture_output=True, timeout=TIMEOUT).stdout

        self.assertNotIn(b"reloaded.kensa.test", served_subject())
        changes = self.reload({"tls": {"self_signed": False, "cert_file": cert, "key_file": key}})
        self.assertIn("tls.cert_file", changes["applied"])
        self.assertIn(b"reloaded.kensa.test", served_subject())
        self.reload({"tls": {"self_signed": True, "cert_file": None, "key_file": None}})

    def test_f_a_new_next_hop_takes_the_next_delivery(self):
        hop = h.CaptureNextHop()
        hop.start()
        try:
            changes = self.reload({"delivery": {
                "next_hop": f"smtp://127.0.0.1:{hop.port}?tls=none"}})
            self.assertIn("delivery.next_hop", changes["applied"])
            rcpt = f"hop@{DOMAIN}"
            self.assertEqual(self.send("hop", rcpt, h.make_message("hop", to=rcpt)).code, 250)
            self.assertTrue(h.wait_until(lambda: rcpt in hop.messages, TIMEOUT),
                            self.kensad.diagnostics())
            self.assertEqual(self.kensad.maildir_messages(rcpt), [])
        finally:
            self.reload({"delivery": {"next_hop": self.kensad.next_hop}})
            hop.close()

    def test_e_reloads_under_load_fail_no_session(self):
        clients, max_per_client = 16, 300
        failures, sent = [], {n: 0 for n in range(clients)}
        lock = threading.Lock()
        reloads_done = threading.Event()
        stop_at = time.monotonic() + 60

        def client(n):
            rcpt = f"load{n}@{DOMAIN}"
            # Until every reload is done (bounded in count and time).
            for i in range(max_per_client):
                if reloads_done.is_set() or time.monotonic() > stop_at:
                    return
                try:
                    (o,) = sh.send_all(self.kensad.port, [
                        ("sender@example.org", [rcpt], h.make_message(f"load-{n}-{i}", to=rcpt))],
                        timeout=TIMEOUT)
                    with lock:
                        if o.code == 250:
                            sent[n] += 1
                        else:
                            failures.append((n, i, o))
                except (OSError, smtplib.SMTPException) as e:
                    with lock:
                        failures.append((n, i, repr(e)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        reloads = 0
        try:
            time.sleep(0.5)  # every client under way
            for size in (150000, 250000, 200000, 300000, 200000):
                before = sum(sent.values())
                self.reload({"smtp": {"max_message_bytes": size},
                             "policy": {"inbound_domains": [DOMAIN] if reloads % 2 else []},
                             "delivery": {"retry_max": f"{2 + reloads}s"}})
                reloads += 1
                # Mail flows between reloads too.
                h.wait_until(lambda: sum(sent.values()) > before + clients, 10)
        finally:
            reloads_done.set()
            for t in threads:
                t.join(timeout=90)
        self.assertEqual(failures, [])
        self.assertEqual(reloads, 5)
        self.assertTrue(all(sent.values()), sent)
        for n in range(clients):
            self.assertTrue(self.kensad.wait_maildir(f"load{n}@{DOMAIN}", sent[n], TIMEOUT),
                            self.kensad.diagnostics())


if __name__ == "__main__":
    unittest.main()
