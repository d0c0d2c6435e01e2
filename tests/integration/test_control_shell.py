# SPDX-License-Identifier: GPL-2.0-or-later
"""The control socket and kensa-shell against a real kensad: `kensa-shell -c` for every
command (a queue hold that survives a restart and a release that delivers to a next hop that
was down, a quarantine release that delivers the original, subscriber add/show/import, config
check and reload), the audit log, a user outside the admin group refused (by the socket's mode,
and by the SO_PEERCRED check when the file lets them through), and interactive sessions in
tmux, started as a login shell (argv[0] "-kensa-shell"): tab completion, help, show status, a
bad command's error, a quarantine release that delivers, a queue hold and release, exit and
^D."""
import grp
import os
import pwd
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

SHELL = os.path.join(h.BUILD_DIR, "control", "kensa-shell")
TMUX = shutil.which("tmux")
SETPRIV = shutil.which("setpriv")
RUNUSER = shutil.which("runuser")
DOMAIN = h.LOCAL_DOMAIN
TIMEOUT = 30


def admin_group():
    """A group with no members that is no user's primary group: only root is in it, so the
    test decides who else is (setpriv) without touching /etc/group."""
    primary = {p.pw_gid for p in pwd.getpwall()}
    for name in ("operator", "fax", "voice", "floppy", "tape"):
        try:
            g = grp.getgrnam(name)
        except KeyError:
            continue
        if not g.gr_mem and g.gr_gid not in primary:
            return g
    return None


GROUP = admin_group()


class TmuxShell:
    """kensa-shell in a tmux session, started as login(1) starts a login shell (argv[0]
    "-kensa-shell"), driven by send-keys and read back by capture-pane."""

    def __init__(self, test, socket):
        self.test = test
        self.name = f"kensa-shell-{os.getpid()}-{id(self)}"
        env = dict(os.environ, TERM="xterm")
        # argv[0] as login(1) and sshd set it for a login shell, whatever tmux's own shell is.
        login = (f"{shlex.quote(sys.executable)} -c 'import os, sys; "
                 f"os.execv(sys.argv[1], [\"-kensa-shell\"] + sys.argv[2:])' "
                 f"{shlex.quote(SHELL)} --socket {shlex.quote(socket)}")
        subprocess.run([TMUX, "-L", self.name, "new-session", "-d", "-s", self.name, "-x", "160",
                        "-y", "50", login], check=True, env=env, timeout=10)

    def screen(self):
        return subprocess.run([TMUX, "-L", self.name, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True, timeout=10).stdout

    def keys(self, *k):
        subprocess.run([TMUX, "-L", self.name, "send-keys", "-t", self.name, *k], check=True,
                       timeout=10)

    def command(self, line):
        """Types a command, Enter, and clears the screen first so that shows() sees only its
        answer (^L redraws the prompt)."""
        subprocess.run([TMUX, "-L", self.name, "clear-history", "-t", self.name], timeout=10)
        self.keys("C-l")
        self.keys(line, "Enter")

    def shows(self, pattern, timeout=10):
        ok = h.wait_until(lambda: re.search(pattern, self.screen()), timeout)
        self.test.assertTrue(ok, f"{pattern!r} not on screen:\n{self.screen()}")
        return re.search(pattern, self.screen())

    def ended(self, timeout=10):
        return h.wait_until(lambda: subprocess.run(
            [TMUX, "-L", self.name, "has-session", "-t", self.name],
            capture_output=True).returncode != 0, timeout)

    def close(self):
        subprocess.run([TMUX, "-L", self.name, "kill-server"], capture_output=True, timeout=10)


class ShellCase(h.KensadTestCase):
    hop_up = True

    @classmethod
    def setUpClass(cls):
        cls.hop = h.CaptureNextHop()
        if cls.hop_up:
            cls.hop.start()
        overrides = {
            "policy": {"inbound_domains": [DOMAIN], "action": "quarantine"},
            "delivery": {"retry_min": "1s", "retry_max": "1s"},
        }
        if GROUP is not None:
            overrides["control"] = {"admin_group": GROUP.gr_name}
        cls.start_kensad(overrides, next_hop=f"smtp://127.0.0.1:{cls.hop.port}?tls=none")
        cls.socket = os.path.join(cls.kensad.state_dir, "control.sock")
        assert h.wait_until(lambda: os.path.exists(cls.socket), 10), "no control socket"

    @classmethod
    def tearDownClass(cls):
        cls.hop.close()
        super().tearDownClass()

    def shell(self, command, stdin=None, prefix=(), socket=None):
        return subprocess.run(
            [*prefix, SHELL, "--socket", socket or self.socket, "-c", command],
            input=stdin, capture_output=True, text=True, timeout=TIMEOUT)

    def ok(self, command, stdin=None):
        r = self.shell(command, stdin)
        self.assertEqual(r.returncode, 0, f"{command}: {r.stdout}{r.stderr}")
        return r.stdout

    def failed(self, command):
        r = self.shell(command)
        self.assertEqual(r.returncode, 1, f"{command}: {r.stdout}{r.stderr}")
        return r.stderr

    def keyed(self, text):
        """{key: value} of `key value` lines (show status, show message)."""
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            out.setdefault(k, v)
        return out

    def send(self, rcpt, data, sender="sender@example.org"):
        (o,) = sh.send_all(self.kensad.port, [(sender, [rcpt], data)])
        self.assertEqual(o.code, 250, o)
        return o.queue_id



@unittest.skipUnless(os.path.exists(SHELL), f"kensa-shell not built: {SHELL}")
class ControlShellTest(ShellCase):
    # --- status, reactors, counters, connections, signatures, config, log -------------------

    def test_show_status_reactors_counters(self):
        s = self.keyed(self.ok("show status"))
        self.assertEqual(s["version"], "0.1.0")
        self.assertEqual(s["reactors"], "2")
        for key in ("uptime_seconds", "connections", "queue_messages", "signature_version",
                    "signature_age_seconds"):
            self.assertIn(key, s)
        self.assertTrue(s["spool_free_bytes"].isdigit(), s)
        self.assertGreater(int(s["spool_free_bytes"]), 0)
        reactors = self.ok("show reactors").splitlines()
        self.assertEqual([l.split()[0] for l in reactors], ["reactor=0", "reactor=1"])
        counters = self.keyed(self.ok("show counters"))
        self.assertIn("smtp_connections_total", counters)
        self.assertTrue(counters["smtp_connections_total"].isdigit())

    def test_show_connections_names_peer_listener_state(self):
        with h.RawSmtp(self.kensad.port) as c:
            c.reply()
            c.cmd("EHLO client.example.org")
            out = self.ok("show connections")
        line = [l for l in out.splitlines() if "listener=mx" in l]
        self.assertTrue(line, out)
        self.assertRegex(line[0], r"peer=127\.0\.0\.1:\d+ .*state=command age_seconds=\d+")

    def test_signatures_config_and_log(self):
        sig = self.keyed(self.ok("show signatures"))
        self.assertTrue(sig["version"])
        # No feed here: history and rollback say so; update reloads signature_dir (as SIGHUP).
        self.assertIn("no signature feed is configured", self.failed("signatures history"))
        self.assertIn("no signature feed is configured", self.failed("signatures rollback"))
        reloads = len(self.kensad.log_events("signatures_reloaded"))
        self.assertIn("reloading [scan] signature_dir", self.ok("signatures update"))
        self.assertTrue(h.wait_until(
            lambda: len(self.kensad.log_events("signatures_reloaded")) > reloads, TIMEOUT),
            self.kensad.diagnostics())
        config = self.ok("show config")
        self.assertIn("[control]", config)
        self.assertIn(f'socket = "{self.socket}"', config)
        check = self.ok("config check")
        self.assertIn("is valid", check)
        self.assertIn("\napplied -\nrestart_needed -", check)  # the file kensad runs
        reloaded = self.keyed(self.ok("config reload"))
        self.assertEqual((reloaded["applied"], reloaded["restart_needed"]), ("-", "-"))
        tail = self.ok("log tail 3").splitlines()
        self.assertEqual(len(tail), 3, tail)
        self.assertTrue(all(l.startswith("ts=") or "event=" in l for l in tail), tail)
        self.assertIn("N must be", self.failed("log tail 0"))

    # --- the quarantine -----------------------------------------------------------------------

    def test_quarantine_show_release_delete(self):
        rcpt = f"infected@{DOMAIN}"
        original = sh.build_variant("base64", "quarantine", "eicar.com", sh.EICAR,
                                    random.Random(7), rcpt).data
        qid = self.send(rcpt, original)
        other = self.send(f"other@{DOMAIN}", sh.build_variant(
            "base64", "quarantine2", "eicar.com", sh.EICAR, random.Random(8),
            f"other@{DOMAIN}").data)
        listing = self.ok("show quarantine")
        self.assertIn(f"id={qid}", listing)
        self.assertIn("envelope=yes", listing)
        shown = self.ok(f"quarantine show {qid}")
        self.assertIn("from <sender@example.org>", shown)
        self.assertIn(f"to <{rcpt}>", shown)
        self.assertIn("header:", shown)
        # The cleaned copy reaches the next hop first; the release then sends the original.
        self.assertTrue(h.wait_until(lambda: rcpt in self.hop.messages, TIMEOUT))
        self.assertNotEqual(h.strip_kensa_trace(self.hop.messages[rcpt]), original)
        out = self.ok(f"quarantine release {qid}")
        self.assertRegex(out, rf"released {qid} as \w+")
        self.assertTrue(h.wait_until(
            lambda: h.strip_kensa_trace(self.hop.messages.get(rcpt, b"")) == original, TIMEOUT),
            self.kensad.diagnostics())
        self.assertNotIn(f"id={qid}", self.ok("show quarantine"))
        self.assertEqual(self.ok(f"quarantine delete {other}").strip(), f"deleted {other}")
        self.assertNotIn(f"id={other}", self.ok("show quarantine"))
        self.assertIn("no quarantined message", self.failed(f"quarantine release {other}"))

    # --- subscribers --------------------------------------------------------------------------

    def test_subscriber_add_show_import_remove(self):
        self.ok("subscriber add carol@example.test --inbound off --action reject")
        shown = self.ok("subscriber show carol@example.test")
        self.assertIn("carol@example.test", shown)
        self.assertRegex(shown, r"inbound\W+off")
        out = self.ok("subscriber import", stdin="address,inbound,outbound,action\ndave@example.test,on,off,remove\n")
        self.assertIn("imported 1 rows", out)
        self.assertRegex(self.ok("subscriber show dave@example.test"), r"outbound\W+off")
        self.ok("subscriber remove carol@example.test")
        self.assertIn("not subscribed", self.ok("subscriber show carol@example.test"))
        r = self.shell("subscriber import", stdin="not,a,valid,row,at,all\n")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("nothing was imported", r.stderr)

    # --- usage, connection errors, refusal ----------------------------------------------------

    def test_usage_and_connection_errors_exit_2(self):
        r = self.shell("frobnicate now")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown command "frobnicate now"', r.stderr)
        self.assertEqual(self.shell("queue hold").returncode, 2)
        r = self.shell("show status", socket=os.path.join(self.kensad.dir, "nothing.sock"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot reach kensad", r.stderr)
        r = self.shell("help queue")
        self.assertEqual(r.returncode, 0)
        self.assertIn("queue hold ID", r.stdout)

    @unittest.skipUnless(GROUP and SETPRIV and RUNUSER, "needs a memberless group, setpriv, runuser")
    def test_outsiders_are_refused(self):
        st = os.stat(self.socket)
        self.assertEqual(oct(st.st_mode & 0o777), "0o660")
        self.assertEqual(st.st_gid, GROUP.gr_gid)
        # The file's mode keeps out a user who is not in the group at all.
        r = self.shell("show status", prefix=[RUNUSER, "-u", "nobody", "--"])
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("Permission denied", r.stderr)
        # A process that holds the group only as a supplementary group it was handed (not a
        # member by the group database) passes the file but not SO_PEERCRED's check.
        nobody = pwd.getpwnam("nobody")
        r = self.shell("queue flush", prefix=[
            SETPRIV, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
            f"--groups={GROUP.gr_gid}", "--"])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("permission denied: uid", r.stderr)
        self.assertTrue(h.wait_until(
            lambda: any(e.get("user") == "nobody" for e in sh.log_records(self.kensad, "control_refused")),
            5), self.kensad.diagnostics())
        # Running with the admin group as its group is membership.
        r = self.shell("show status", prefix=[
            SETPRIV, f"--reuid={nobody.pw_uid}", f"--regid={GROUP.gr_gid}", "--clear-groups", "--"])
        self.assertEqual(r.returncode, 0, r)

    # --- interactive, as a person uses it -----------------------------------------------------

    @unittest.skipUnless(TMUX, "tmux is not installed")
    def test_interactive_session_in_tmux(self):
        t = TmuxShell(self, self.socket)
        try:
            t.shows(r"kensa>")  # capture-pane drops trailing blanks
            t.keys("show st", "Tab")
            t.shows(r"kensa> show status")
            t.keys("Enter")
            t.shows(r"version 0\.1\.0")
            t.shows(r"reactors 2")
            t.command("help queue")
            t.shows(r"queue hold ID\s+keep a message")
            t.command("frobnicate")
            t.shows(r'% unknown command "frobnicate"; try help')
            t.command("queue ?")
            t.shows(r"queue release ID")
            # A quarantine release, as an operator does it: list, look, release.
            rcpt = f"tmux-infected@{DOMAIN}"
            original = sh.build_variant("base64", "tmux-quarantine", "eicar.com", sh.EICAR,
                                        random.Random(9), rcpt).data
            qid = self.send(rcpt, original)
            self.assertTrue(h.wait_until(lambda: rcpt in self.hop.messages, TIMEOUT))
            t.command("show quarantine")
            t.shows(rf"id={qid}")
            t.command(f"quarantine show {qid}")
            t.shows(rf"to <{re.escape(rcpt)}>")
            t.command(f"quarantine release {qid}")
            t.shows(rf"released {qid} as \w+")
            self.assertTrue(h.wait_until(
                lambda: h.strip_kensa_trace(self.hop.messages.get(rcpt, b"")) == original,
                TIMEOUT), self.kensad.diagnostics())
            t.command(f"quarantine release {qid}")
            t.shows(r"% .*no quarantined message")
            t.keys("exit", "Enter")
            self.assertTrue(t.ended(), "the shell did not end on exit")
        finally:
            t.close()


@unittest.skipUnless(os.path.exists(SHELL), f"kensa-shell not built: {SHELL}")
class QueueHoldTest(ShellCase):
    hop_up = False  # down until the test starts it: mail waits in the queue

    def test_queue_hold_survives_restart_release_delivers(self):
        rcpt = f"held@{DOMAIN}"
        qid = self.send(rcpt, h.make_message("held-one", to=rcpt))
        doomed = self.send(f"doomed@{DOMAIN}", h.make_message("doomed", to=f"doomed@{DOMAIN}"))
        self.assertIn(f"id={qid}", self.ok("show queue"))
        self.assertEqual(self.ok(f"queue hold {qid}").strip(), f"held {qid}")
        m = self.keyed(self.ok(f"show message {qid}"))
        self.assertEqual(m["state"], "held")
        self.assertEqual(m["from"], "<sender@example.org>")
        self.assertIn(f"to <{rcpt}> pending", self.ok(f"show message {qid}"))
        self.assertEqual(m["verdict"].lower(), "clean")
        # The next hop is down, so an attempt may be under way (a refused connect, slower
        # under the sanitizers): kensad then says "try again in a moment", and so does this.
        deletes = []

        def deleted():
            deletes.append(self.shell(f"queue delete {doomed}"))
            return deletes[-1].returncode == 0

        self.assertTrue(h.wait_until(deleted, TIMEOUT), deletes[-1])
        self.assertEqual(deletes[-1].stdout.strip(), f"deleted {doomed}")
        self.assertTrue(all("being delivered now" in r.stderr for r in deletes[:-1]), deletes)
        self.assertIn("no queued message", self.failed(f"show message {doomed}"))
        # The hold is in the queue file: a restart keeps it.
        type(self).kensad.restart()
        self.assertEqual(self.keyed(self.ok(f"show message {qid}"))["state"], "held")
        self.hop.start()
        self.assertIn("flushed", self.ok("queue flush"))
        time.sleep(3)  # a retry's worth: a held message must not go
        self.assertNotIn(rcpt, self.hop.messages)
        self.assertEqual(self.ok(f"queue release {qid}").strip(), f"released {qid}")
        self.assertTrue(h.wait_until(lambda: rcpt in self.hop.messages, TIMEOUT),
                        self.kensad.diagnostics())
        self.assertTrue(h.wait_until(lambda: f"id={qid}" not in self.ok("show queue"), TIMEOUT))
        self.assertIn("no queued message", self.failed(f"queue hold {qid}"))
        self.assertIn("not a queue id", self.failed("queue hold ../../etc"))
        audit = sh.log_records(self.kensad, "control_audit")
        commands = [r.get("command") for r in audit]
        self.assertIn(f"queue hold {qid}", commands)
        self.assertIn(f"queue release {qid}", commands)
        held = [r for r in audit if r.get("command") == f"queue hold {qid}"][0]
        self.assertEqual((held.get("user"), held.get("uid"), held.get("result")),
                         ("root", "0", "ok"))

    @unittest.skipUnless(TMUX, "tmux is not installed")
    def test_queue_hold_and_release_in_tmux(self):
        self.hop.close()  # down (the other test of the class starts it): mail waits
        rcpt = f"tmux-held@{DOMAIN}"
        qid = self.send(rcpt, h.make_message("tmux-held", to=rcpt))
        t = TmuxShell(self, self.socket)
        try:
            t.shows(r"kensa>")
            t.command("show queue")
            t.shows(rf"id={qid}")
            t.command(f"queue hold {qid}")
            t.shows(rf"held {qid}")
            t.command(f"show message {qid}")
            t.shows(r"state held")
            self.hop.start()
            t.command("queue flush")
            t.shows(r"flushed")
            time.sleep(3)  # a retry's worth: a held message must not go
            self.assertNotIn(rcpt, self.hop.messages)
            t.command(f"queue release {qid}")
            t.shows(rf"released {qid}")
            self.assertTrue(h.wait_until(lambda: rcpt in self.hop.messages, TIMEOUT),
                            self.kensad.diagnostics())
            t.keys("C-d")  # end of input ends the session too
            self.assertTrue(t.ended(), "the shell did not end on ^D")
        finally:
            t.close()
            self.hop.close()  # as the class started: down


if __name__ == "__main__":
    unittest.main()
