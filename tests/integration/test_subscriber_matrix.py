# SPDX-License-Identifier: GPL-2.0-or-later
"""The subscriber matrix through the real kensad, with the subscribers in the LMDB store
(imported from CSV by kensa-subscribers): subscribed / not subscribed x inbound / outbound x
one message with mixed recipients. Each recipient gets the copy its own policy says (the
sender's outbound subscription covers every copy it sends), checked byte for byte; domain
defaults, plus addresses and an explicit opt-out under a domain default; an outbound
subscriber with action reject hears 554 at end of data; a subscription added while kensad runs
applies to the next message."""
import contextlib
import os
import random
import subprocess
import unittest

import kensa_harness as h
import scan_helpers as sh
import submission_helpers as sub

DOMAIN = h.LOCAL_DOMAIN
SUBDOMAIN = "sub.example.test"
IN_SUB = f"in-sub@{DOMAIN}"
OUT_SUB = f"out-sub@{DOMAIN}"
PLAIN = f"plain@{DOMAIN}"          # no entry, no list: not subscribed
REJECTER = f"rejecter@{DOMAIN}"    # outbound, action reject
OPTED_OUT = f"nobody@{SUBDOMAIN}"  # explicit "off" under a subscribed domain
PASSWORD = "matrix-pw"
KENSA_SUBSCRIBERS = os.path.join(h.BUILD_DIR, "appliance", "kensa-subscribers")
DELIVERY_TIMEOUT = 30

CSV = f"""address,inbound,outbound,action
{IN_SUB},on,off,default
{OUT_SUB},off,on,default
{REJECTER},off,on,reject
@{SUBDOMAIN},on,off,default
{OPTED_OUT},off,off,default
"""


def subscribers(db, *args):
    p = subprocess.run([KENSA_SUBSCRIBERS, "--db", db, *args], capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


class SubscriberMatrixTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        if not h.have(KENSA_SUBSCRIBERS):
            raise RuntimeError(f"not built: {KENSA_SUBSCRIBERS}")
        cls.rnd = random.Random("matrix")
        cls.tmp = h.make_tmpdir("kensa-matrix-")
        try:
            cls.outbound_dir = os.path.join(cls.tmp, "outbound")
            passwd = os.path.join(cls.tmp, "passwd")
            sub.write_passwd_file(passwd, [(a, PASSWORD, "$6$", []) for a in
                                           (OUT_SUB, PLAIN, REJECTER, IN_SUB)])
            ports = [h.free_port() for _ in range(3)]
            cls.sub_port = ports[1]
            k = h.Kensad({
                "listener": sub.submission_listeners(*ports),
                "smtp": {"local_domains": [DOMAIN, SUBDOMAIN]},
                "auth": {"backend": "file", "passwd_file": passwd},
                "delivery": {"outbound_next_hop": f"maildir:{cls.outbound_dir}"},
            }, port=ports[0])
            cls.kensad = k
            cls.db = os.path.join(k.state_dir, "subscribers")
            csv_path = os.path.join(cls.tmp, "subscribers.csv")
            with open(csv_path, "w", encoding="utf-8") as f:
                f.write(CSV)
            rc, out = subscribers(cls.db, "import", csv_path)
            if rc != 0:
                raise RuntimeError(f"kensa-subscribers import failed: {out}")
            k.start()
        except Exception:
            if cls.kensad is not None:
                cls.kensad.close()
            h.remove_tmpdir(cls.tmp)
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        h.remove_tmpdir(cls.tmp)

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    # --- helpers -----------------------------------------------------------------------------

    def eicar(self, token, to):
        return sh.build_variant("base64", token, "eicar.com", sh.EICAR, self.rnd, to)

    def copy_for(self, root, address, token):
        def found():
            return [d for _p, d in h.read_maildirs(root, address) if token.encode() in d]
        got = h.wait_until(found, DELIVERY_TIMEOUT, 0.1)
        self.assertTrue(got, f"no copy of {token} for {address} in {root}\n"
                             f"{self.kensad.diagnostics()}")
        self.assertEqual(len(got), 1, f"copies of {token} for {address}")
        return got[0]

    def assert_original(self, delivered, rendered, who):
        self.assertFalse(sh.has_scan_headers(delivered), f"{who} got a scanned copy")
        self.assertEqual(h.strip_kensa_trace(delivered), rendered.data,
                         f"{who}'s copy is not the original byte for byte")

    def assert_cleaned(self, delivered, rendered, who):
        fields, body = sh.split_scan_headers(delivered)
        self.assertNotIn(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE", body, who)
        with self.subTest(who=who):
            sh.check_cleaned(self, fields, body, rendered)

    def submit(self, user, rcpts, data):
        return sub.smtplib_send(self.sub_port, user, PASSWORD, user, rcpts, data)

    # --- the matrix --------------------------------------------------------------------------

    def test_inbound_mixed_recipients(self):
        rcpts = [IN_SUB, PLAIN, f"in-sub+news@{DOMAIN}", f"x@{SUBDOMAIN}", OPTED_OUT, OUT_SUB]
        r = self.eicar("inbound-mix", IN_SUB)
        (o,) = sh.send_all(self.kensad.port, [("stranger@remote.example", rcpts, r.data)])
        self.assertEqual(o.code, 250, o)
        local = self.kensad.maildir
        self.assert_cleaned(self.copy_for(local, IN_SUB, "inbound-mix"), r, IN_SUB)
        self.assert_cleaned(self.copy_for(local, f"in-sub+news@{DOMAIN}", "inbound-mix"), r,
                            "plus address")
        self.assert_cleaned(self.copy_for(local, f"x@{SUBDOMAIN}", "inbound-mix"), r,
                            "domain default")
        self.assert_original(self.copy_for(local, PLAIN, "inbound-mix"), r, PLAIN)
        self.assert_original(self.copy_for(local, OPTED_OUT, "inbound-mix"), r, OPTED_OUT)
        # out-sub subscribed outbound only: what it receives is not scanned for it.
        self.assert_original(self.copy_for(local, OUT_SUB, "inbound-mix"), r, OUT_SUB)

    def test_outbound_subscriber_covers_every_copy(self):
        rcpts = ["friend@remote.example", PLAIN]
        r = self.eicar("outbound-sub", "friend@remote.example")
        self.assertTrue(self.submit(OUT_SUB, rcpts, r.data))
        for a in rcpts:  # submission leaves through the outbound hop, local recipients too
            self.assert_cleaned(self.copy_for(self.outbound_dir, a, "outbound-sub"), r, a)

    def test_outbound_non_subscriber_recipients_decide(self):
        rcpts = ["friend2@remote.example", IN_SUB, PLAIN]
        r = self.eicar("outbound-plain", "friend2@remote.example")
        self.assertTrue(self.submit(PLAIN, rcpts, r.data))
        out = self.outbound_dir
        self.assert_original(self.copy_for(out, "friend2@remote.example", "outbound-plain"), r,
                             "remote recipient of a non-subscriber")
        self.assert_cleaned(self.copy_for(out, IN_SUB, "outbound-plain"), r, IN_SUB)
        self.assert_original(self.copy_for(out, PLAIN, "outbound-plain"), r, PLAIN)

    def test_clean_outbound_mail_byte_for_byte(self):
        data = (f"From: <{OUT_SUB}>\r\nTo: <friend3@remote.example>\r\nSubject: clean\r\n"
                "Message-ID: <outbound-clean@example.test>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\noutbound-clean body\r\n"
                ".leading dot\r\n\r\n").encode()
        self.assertTrue(self.submit(OUT_SUB, ["friend3@remote.example"], data))
        got = self.copy_for(self.outbound_dir, "friend3@remote.example", "outbound-clean")
        fields, rest = sh.split_scan_headers(got)
        self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
        self.assertEqual(rest, data)

    def test_outbound_reject_names_the_virus_at_end_of_data(self):
        r = self.eicar("outbound-reject", "friend4@remote.example")
        with contextlib.closing(sub.smtp_client(self.sub_port)) as s:
            s.login(REJECTER, PASSWORD)
            self.assertEqual(s.docmd("MAIL", f"FROM:<{REJECTER}>")[0], 250)
            self.assertEqual(s.docmd("RCPT", "TO:<friend4@remote.example>")[0], 250)
            code, msg = s.data(r.data)  # smtplib returns the final reply after the data
            self.assertEqual(code, 554, msg)
            self.assertIn(b"5.7.1", msg)
            self.assertIn(b"EICAR", msg)
        self.assertFalse(h.read_maildirs(self.outbound_dir, "friend4@remote.example"))

    def test_subscription_added_while_running(self):
        late = f"late@{DOMAIN}"
        r1 = self.eicar("late-before", late)
        (o,) = sh.send_all(self.kensad.port, [("s@remote.example", [late], r1.data)])
        self.assertEqual(o.code, 250, o)
        self.assert_original(self.copy_for(self.kensad.maildir, late, "late-before"), r1, late)
        rc, out = subscribers(self.db, "add", late, "--inbound", "on", "--outbound", "off")
        self.assertEqual(rc, 0, out)
        rc, out = subscribers(self.db, "show", late)
        self.assertEqual(rc, 0, out)
        self.assertIn(late, out)
        r2 = self.eicar("late-after", late)
        (o,) = sh.send_all(self.kensad.port, [("s@remote.example", [late], r2.data)])
        self.assertEqual(o.code, 250, o)
        self.assert_cleaned(self.copy_for(self.kensad.maildir, late, "late-after"), r2, late)


if __name__ == "__main__":
    unittest.main()
