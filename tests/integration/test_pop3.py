# SPDX-License-Identifier: GPL-2.0-or-later
"""The POP3 proxy of the real kensad in front of a real Dovecot (and of a fake backend for the
failures Dovecot cannot be made to show on cue).

- Retrieval: for a mailbox subscribed to inbound, RETR through kensa is Dovecot's RETR plus
  the two scan header fields (X-Virus-Scanned, X-Virus-Status, the same values as an SMTP
  delivery gets), for several clean messages (dot-stuffed lines, 5 MB); for a mailbox that
  is not subscribed it is byte for byte Dovecot's, EICAR included. Clients: poplib (STLS and
  implicit TLS), fetchmail (STLS and implicit TLS), openssl s_client.
- An EICAR attachment is replaced by a notice (RETR and a TOP that reaches it); TOP n 0 and
  TOP n 5 answer Dovecot's lines.
- STAT, LIST, UIDL answer what Dovecot answers (LIST sizes are the backend's); DELE + RSET
  keeps, DELE + QUIT removes the message in Dovecot.
- Authentication: USER/PASS and AUTH PLAIN (initial response and continuation) inside TLS;
  USER, PASS, AUTH before STLS refused with [AUTH]; a wrong password refused; CAPA lists only
  what kensa supports.
- A signature added while kensad runs (SIGHUP) catches a message stored before it existed.
- Bad input on a raw socket: overlong lines, unknown commands, odd arguments (the session
  stays in step), pipelining answered in order, commands injected behind STLS discarded.
- Big RETRs waiting do not hold up other sessions; a client leaving mid-RETR changes nothing.
- TLS to the backend (backend_tls starttls and implicit, Dovecot with a certificate);
  plaintext_auth = true offers and accepts USER/PASS and AUTH PLAIN before STLS.
- The backend: down (login gets -ERR [SYS/TEMP]), stopped in the middle of a large RETR, a
  fake backend that closes in the middle of a message (subscribed and not), one that stalls
  past backend_timeout (at login and in a scanned RETR) and one that trickles within it; a
  subscriber's message over max_message_bytes must not make the mailbox unfetchable.

Every wait is bounded; every peer is stopped by PID."""
import base64
import contextlib
import os
import poplib
import random
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import unittest

import kensa_harness as h
import scan_helpers as sh
import submission_helpers as sub

DOMAIN = h.LOCAL_DOMAIN
SUB, SUB_PW = f"sub@{DOMAIN}", "sub-Secret-1"          # subscribed to inbound
PLAIN, PLAIN_PW = f"plain@{DOMAIN}", "plain-Secret-2"  # not subscribed
LATE, LATE_PW = f"late@{DOMAIN}", "late-Secret-3"      # subscribed; the late signature
DELE, DELE_PW = f"dele@{DOMAIN}", "dele-Secret-4"      # subscribed; DELE/RSET/QUIT
WALK, WALK_PW = f"walk@{DOMAIN}", "walk-Secret-5"      # subscribed; read-ahead
USERS = [(SUB, SUB_PW), (PLAIN, PLAIN_PW), (LATE, LATE_PW), (DELE, DELE_PW), (WALK, WALK_PW)]
SUBSCRIBED = [SUB, LATE, DELE, WALK]
TIMEOUT = 30
RELOAD_TIMEOUT = 30
FETCHMAIL = shutil.which("fetchmail") or "/usr/bin/fetchmail"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
CRLF = b"\r\n"
STALL = 6  # seconds a stalling fake backend keeps quiet (kensa's backend_timeout there: 2s)


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain_response(user, password):
    return b64(f"\0{user}\0{password}")


# --- what kensa prepends on POP3 ---------------------------------------------------------------

def split_pop_scan_headers(data):
    """({name: value}, rest) for a RETR answer that starts with X-Virus-Scanned then
    X-Virus-Status (nothing before them); AssertionError otherwise."""
    fields, rest = {}, data
    for name in sh.SCAN_HEADER_NAMES:
        prefix = name.encode() + b":"
        if not rest.startswith(prefix):
            raise AssertionError(f"no {name} field where expected: {rest[:300]!r}")
        field, rest = h.split_header_block(rest)
        fields[name] = sh.unfold(field[len(prefix):]).decode("utf-8", "replace")
    return fields, rest


def has_pop_scan_headers(data):
    return any(data.startswith(n.encode() + b":") for n in sh.SCAN_HEADER_NAMES)


# --- POP3 clients --------------------------------------------------------------------------------

def read_multiline(readline):
    """The body of a multi-line answer, read with readline() up to the "." line: bytes exactly
    as sent, less the dot-stuffing. Raises poplib.error_proto when the connection ends first
    (a message that was not terminated by "." must never look complete)."""
    out = bytearray()
    while True:
        line = readline()
        if not line:
            raise poplib.error_proto(f"-ERR EOF after {len(out)} bytes of a multi-line answer")
        if line == b".\r\n":
            return bytes(out)
        if not line.endswith(CRLF):
            raise poplib.error_proto(f"-ERR line without CRLF at EOF: {line[-80:]!r}")
        out += line[1:] if line.startswith(b".") else line


def long_raw(p, cmd):
    """cmd on a poplib session; (status line, body bytes exact) of its multi-line answer."""
    p._putcmd(cmd)
    resp = p._getresp()
    return resp, read_multiline(p.file.readline)


def direct(dovecot, user, password):
    """poplib straight to Dovecot (plaintext: the test's Dovecot allows it)."""
    p = poplib.POP3("127.0.0.1", dovecot.pop3_port, timeout=TIMEOUT)
    p.user(user)
    p.pass_(password)
    return p


def quit_quietly(p):
    with contextlib.suppress(poplib.error_proto, OSError, EOFError):
        p.quit()
    with contextlib.suppress(OSError):
        p.close()


class RawPop3:
    """Bytes exactly as given, answers read line by line; every read has a timeout.
    implicit: TLS from the first byte."""

    def __init__(self, port, implicit=False, timeout=15):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.tls = False
        if implicit:
            self.starttls()

    def starttls(self):
        self.sock = h.client_tls_context().wrap_socket(self.sock)
        self.tls = True

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def line(self):
        line = self.readline()
        if not line:
            raise EOFError("connection closed")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def multiline(self):
        return read_multiline(self.readline)

    def nothing_within(self, seconds):
        """True when the server sends nothing (and keeps the connection) for `seconds`."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            return True
        finally:
            self.sock.settimeout(15)
        self.buf += chunk
        return False

    def closed_within(self, seconds):
        self.sock.settimeout(seconds)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except (socket.timeout, TimeoutError):
            return False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def pop3_tls_answers(port):
    with contextlib.suppress(OSError, ssl.SSLError, EOFError):
        with RawPop3(port, implicit=True, timeout=3) as r:
            return r.line().startswith("+OK")
    return False


def pop3_listeners(mx_port, pop3_port, pop3s_port):
    return [
        {"name": "mx", "address": f"127.0.0.1:{mx_port}", "tls": "starttls"},
        {"name": "pop3", "address": f"127.0.0.1:{pop3_port}", "protocol": "pop3",
         "tls": "starttls"},
        {"name": "pop3s", "address": f"127.0.0.1:{pop3s_port}", "protocol": "pop3",
         "tls": "implicit"},
    ]


# --- messages ------------------------------------------------------------------------------------

def dotted_message(token, to):
    return h.make_message(token, to=to, body_lines=[
        "First line.", ".a line starting with a dot", "..two dots", ".", " .", "..",
        "....", "last line"])


def big_message(token, to, rnd, size=5 * 1024 * 1024):
    """A clean multipart message of about `size` bytes (a base64 attachment of random bytes)."""
    body = sh.multipart("mixed", [sh.text_part(token),
                                  sh.attachment("big.bin", rnd.randbytes(size * 3 // 4))],
                        f"big-{token}")
    return sh.render(sh.message(sh.top_headers(token, to), body)).data


def eicar_message(token, to, rnd):
    return sh.build_variant("base64", token, "eicar.com", sh.EICAR, rnd, to)


class Pop3Base(h.KensadTestCase):
    """kensad with an smtp listener (the harness waits for it), a pop3 STLS and a pop3
    implicit-TLS listener, in front of `backend` (a Dovecot unless a class says otherwise)."""
    pop3_extra = {}
    policy = {"inbound_addresses": SUBSCRIBED}

    @classmethod
    def start_proxy(cls, backend_port, scan=None):
        cls.pop3_port, cls.pop3s_port = h.free_port(), h.free_port()
        mx = h.free_port()
        overrides = {
            "listener": pop3_listeners(mx, cls.pop3_port, cls.pop3s_port),
            "pop3": dict({"backend": f"127.0.0.1:{backend_port}"}, **cls.pop3_extra),
            "policy": cls.policy,
        }
        if scan:
            overrides["scan"] = scan
        with cls.kensad_started(overrides, port=mx) as k:
            ok = h.wait_until(lambda: sub.pop3_answers(cls.pop3_port)
                              and pop3_tls_answers(cls.pop3s_port), 15, 0.1)
            if not ok:
                raise h.KensadError("the POP3 listeners do not greet\n" + k.diagnostics())

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    def proxy(self, user=None, password=None, implicit=False):
        """poplib through kensa: STLS on the pop3 listener or implicit TLS on pop3s; logged
        in when user is given."""
        if implicit:
            p = poplib.POP3_SSL("127.0.0.1", self.pop3s_port, timeout=TIMEOUT,
                                context=h.client_tls_context())
        else:
            p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=TIMEOUT)
            p.stls(context=h.client_tls_context())
        if user:
            p.user(user)
            p.pass_(password)
        return p


# --- against a real Dovecot ----------------------------------------------------------------------

class Pop3ProxyTest(Pop3Base):
    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.rnd = random.Random("pop3")
        cls.tmp = h.make_tmpdir("kensa-pop3-")
        cls.dovecot = None
        try:
            cls.sig_dir = os.path.join(cls.tmp, "sigs")
            shutil.copytree(h.TEST_SIGS, cls.sig_dir)
            cls.dovecot = sub.Dovecot(USERS)
            cls.plant()
            cls.dovecot.start()
            cls.start_proxy(cls.dovecot.pop3_port, scan={"signature_dir": cls.sig_dir})
        except Exception:
            cls.cleanup()
            raise

    @classmethod
    def plant(cls):
        d = cls.dovecot
        # The same four messages for SUB and PLAIN (To: names a list both read).
        to = f"list@{DOMAIN}"
        cls.clean = {"small": h.make_message("small", to=to),
                     "dotted": dotted_message("dotted", to),
                     "big": big_message("big", to, cls.rnd)}
        cls.infected = eicar_message("infected", to, cls.rnd)
        # Stored without a final line break, and with LF line ends: Dovecot serves both with
        # CRLF line ends (and a final CRLF), which is what kensa must keep.
        cls.clean["noeol"] = h.make_message("noeol", to=to)[:-2]
        cls.clean["lf"] = h.make_message("lf", to=to, body_lines=[
            "line one", ".", "..dot", "", "last"]).replace(CRLF, b"\n")
        for mailbox in (SUB, PLAIN):
            for token in ("small", "dotted", "big"):
                d.deliver(mailbox, cls.clean[token])
            d.deliver(mailbox, cls.infected.data)
            for token in ("noeol", "lf"):
                d.deliver(mailbox, cls.clean[token])
        cls.index = {"small": 1, "dotted": 2, "big": 3, "infected": 4, "noeol": 5, "lf": 6}
        cls.served = dict(cls.clean)  # what Dovecot's RETR gives
        cls.served["noeol"] = cls.clean["noeol"] + CRLF
        cls.served["lf"] = cls.clean["lf"].replace(b"\n", CRLF)
        # LATE: one clean message whose attachment carries a marker no signature knows yet.
        cls.marker = b"kensa-pop3-late-" + os.urandom(12).hex().encode()
        payload = cls.rnd.randbytes(4000) + cls.marker + cls.rnd.randbytes(4000)
        body = sh.multipart("mixed", [
            sh.text_part("late"), sh.attachment("payload.bin", payload, target=True),
            sh.attachment("other.bin", cls.rnd.randbytes(1000))], "late-boundary")
        cls.late = sh.render(sh.message(sh.top_headers("late", LATE), body))
        d.deliver(LATE, cls.late.data)
        for i in range(3):
            d.deliver(DELE, h.make_message(f"dele-{i}", to=DELE))
        # WALK: a mailbox to download in order. 4 is infected; 6 is larger than
        # [pop3] read_ahead_max_bytes (256 KiB), so it is never read ahead.
        cls.walk = [h.make_message("walk-1", to=WALK), dotted_message("walk-2", WALK),
                    h.make_message("walk-3", to=WALK), None,
                    big_message("walk-5", WALK, cls.rnd, size=20000),
                    big_message("walk-6", WALK, cls.rnd, size=300 * 1024),
                    h.make_message("walk-7", to=WALK), h.make_message("walk-8", to=WALK)]
        cls.walk_infected = eicar_message("walk-4", WALK, cls.rnd)
        for m in cls.walk:
            d.deliver(WALK, m if m is not None else cls.walk_infected.data)

    @classmethod
    def cleanup(cls):
        if cls.dovecot is not None:
            cls.dovecot.close()
        h.remove_tmpdir(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cleanup()

    # helpers

    def dovecot_retr(self, user, password, which):
        p = direct(self.dovecot, user, password)
        try:
            return long_raw(p, f"RETR {which}")[1]
        finally:
            quit_quietly(p)

    def assert_cleaned(self, got, rendered):
        """Like test_scan_policy's: scan headers, only the target part replaced by a
        UTF-8 text/plain notice. Returns the notice."""
        fields, body = split_pop_scan_headers(got)
        return sh.check_cleaned(self, fields, body, rendered)

    def smtp_scan_fields(self):
        """The scan header fields an SMTP delivery of a clean message to SUB gets."""
        if not hasattr(type(self), "_smtp_fields"):
            data = h.make_message("smtp-reference", to=SUB)
            (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [SUB], data)])
            self.assertEqual(o.code, 250, o)
            self.assertTrue(self.kensad.wait_maildir(SUB, 1, TIMEOUT), self.kensad.diagnostics())
            got = self.kensad.maildir_messages(SUB)[0][1]
            type(self)._smtp_fields = sh.split_scan_headers(got)[0]
        return type(self)._smtp_fields

    # retrieval

    def test_clean_subscribed_is_dovecot_plus_scan_headers(self):
        smtp_fields = self.smtp_scan_fields()
        for implicit in (False, True):
            p = self.proxy(SUB, SUB_PW, implicit=implicit)
            try:
                for token in ("small", "dotted", "big", "noeol", "lf"):
                    with self.subTest(token=token, implicit=implicit):
                        want = self.dovecot_retr(SUB, SUB_PW, self.index[token])
                        self.assertEqual(want, self.served[token])
                        _, got = long_raw(p, f"RETR {self.index[token]}")
                        fields, rest = split_pop_scan_headers(got)
                        self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
                        self.assertEqual(fields, smtp_fields,
                                         "POP3 and SMTP delivery prepend different fields")
                        self.assertEqual(len(rest), len(want))
                        self.assertTrue(rest == want, "the clean message was changed")
                # poplib's own retr() (lines, dot-unstuffed) agrees.
                _, lines, _ = p.retr(self.index["dotted"])
                got = CRLF.join(lines) + CRLF
                self.assertEqual(split_pop_scan_headers(got)[1], self.served["dotted"])
            finally:
                quit_quietly(p)

    def test_clean_unsubscribed_is_byte_identical(self):
        for implicit in (False, True):
            p = self.proxy(PLAIN, PLAIN_PW, implicit=implicit)
            try:
                for token, n in self.index.items():
                    with self.subTest(token=token, implicit=implicit):
                        want = self.dovecot_retr(PLAIN, PLAIN_PW, n)
                        _, got = long_raw(p, f"RETR {n}")
                        self.assertFalse(has_pop_scan_headers(got), got[:200])
                        self.assertEqual(len(got), len(want))
                        self.assertTrue(got == want, f"{token}: differs from Dovecot's")
                        _, top = long_raw(p, f"TOP {n} 3")
                        d = direct(self.dovecot, PLAIN, PLAIN_PW)
                        try:
                            self.assertEqual(top, long_raw(d, f"TOP {n} 3")[1])
                        finally:
                            quit_quietly(d)
            finally:
                quit_quietly(p)

    def test_infected_is_cleaned_and_top(self):
        n = self.index["infected"]
        p = self.proxy(SUB, SUB_PW)
        d = direct(self.dovecot, SUB, SUB_PW)
        try:
            self.assertEqual(long_raw(d, f"RETR {n}")[1], self.infected.data)
            _, got = long_raw(p, f"RETR {n}")
            notice = self.assert_cleaned(got, self.infected)
            self.assertIn("Eicar", notice.replace("EICAR", "Eicar"), notice)
            # TOP that reaches the attachment is scanned like RETR.
            _, got = long_raw(p, f"TOP {n} 100000")
            self.assert_cleaned(got, self.infected)
            for lines in (0, 5):
                with self.subTest(top=lines):
                    _, want = long_raw(d, f"TOP {n} {lines}")
                    _, got = long_raw(p, f"TOP {n} {lines}")
                    if has_pop_scan_headers(got):
                        fields, got = split_pop_scan_headers(got)
                        self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
                    self.assertEqual(got, want)
                    self.assertNotIn(sh.EICAR, got)
        finally:
            quit_quietly(p)
            quit_quietly(d)
        # Fetched again (kensa's verdict cache may rebuild it from the cached edits): the
        # same cleaning, every time, in other sessions too.
        for implicit in (True, False):
            p = self.proxy(SUB, SUB_PW, implicit=implicit)
            try:
                for _ in range(2):
                    self.assert_cleaned(long_raw(p, f"RETR {n}")[1], self.infected)
            finally:
                quit_quietly(p)

    # the rest of the transaction state passes through

    def test_stat_list_uidl_as_dovecot(self):
        for user, password in ((SUB, SUB_PW), (PLAIN, PLAIN_PW)):
            with self.subTest(user=user):
                p = self.proxy(user, password, implicit=user == PLAIN)
                d = direct(self.dovecot, user, password)
                try:
                    self.assertEqual(p.stat(), d.stat())
                    self.assertEqual(p.list()[1], d.list()[1])
                    self.assertEqual(p.uidl()[1], d.uidl()[1])
                    for n in self.index.values():
                        self.assertEqual(p.list(n), d.list(n))
                        self.assertEqual(p.uidl(n), d.uidl(n))
                    for bad in ("LIST 99", "UIDL 99", "RETR 99", "TOP 99 0", "DELE 99"):
                        with self.assertRaises(poplib.error_proto, msg=bad):
                            p._shortcmd(bad)
                    self.assertTrue(p.noop().startswith(b"+OK"))
                finally:
                    quit_quietly(p)
                    quit_quietly(d)

    def test_dele_rset_quit(self):
        d = direct(self.dovecot, DELE, DELE_PW)
        uidls = d.uidl()[1]
        quit_quietly(d)
        self.assertEqual(len(uidls), 3)
        # DELE then RSET: nothing removed.
        p = self.proxy(DELE, DELE_PW)
        p.dele(1)
        with self.assertRaises(poplib.error_proto):
            p.retr(1)
        self.assertEqual(p.stat()[0], 2)
        p.rset()
        self.assertEqual(p.stat()[0], 3)
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.assertEqual(self.dovecot.maildir_count(DELE), 3)
        # DELE then QUIT: removed in Dovecot.
        p = self.proxy(DELE, DELE_PW, implicit=True)
        p.dele(2)
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.assertTrue(h.wait_until(lambda: self.dovecot.maildir_count(DELE) == 2, 10),
                        "DELE + QUIT did not remove the message in Dovecot")
        d = direct(self.dovecot, DELE, DELE_PW)
        try:
            self.assertEqual(d.uidl()[1], [b"1 " + uidls[0].split()[1],
                                           b"2 " + uidls[2].split()[1]])
        finally:
            quit_quietly(d)
        # A session that ends without QUIT removes nothing.
        p = self.proxy(DELE, DELE_PW)
        p.dele(1)
        p.close()
        time.sleep(0.5)
        self.assertEqual(self.dovecot.maildir_count(DELE), 2)

    # read-ahead

    def walk_log(self, since):
        """(command, read_ahead) of WALK's pop3_message lines logged after `since` lines."""
        out = []
        for line in self.kensad.log_events("pop3_message")[since:]:
            if f"user={WALK}" in line:
                cmd = re.search(r'command="([^"]*)"', line).group(1)
                out.append((cmd, re.search(r" read_ahead=(\w+)", line).group(1)))
        return out

    def test_read_ahead_walk_gets_what_each_retr_would_get(self):
        """A client downloading its mailbox (RETR and DELE in turn, as most do) is answered
        from messages kensa fetched and scanned ahead, and gets exactly what it would get
        without read-ahead: Dovecot's bytes with the scan fields, the infected one cleaned."""
        smtp_fields = self.smtp_scan_fields()
        d = direct(self.dovecot, WALK, WALK_PW)
        try:
            want = [long_raw(d, f"RETR {n}")[1] for n in range(1, len(self.walk) + 1)]
        finally:
            quit_quietly(d)
        for implicit in (False, True):
            since = len(self.kensad.log_events("pop3_message"))
            p = self.proxy(WALK, WALK_PW, implicit=implicit)
            try:
                for n in range(1, len(self.walk) + 1):
                    with self.subTest(n=n, implicit=implicit):
                        _, got = long_raw(p, f"RETR {n}")
                        if n == 4:
                            self.assert_cleaned(got, self.walk_infected)
                        else:
                            fields, rest = split_pop_scan_headers(got)
                            self.assertEqual(fields, smtp_fields)
                            self.assertTrue(rest == want[n - 1], "differs from Dovecot's")
                        self.assertTrue(p.dele(n).startswith(b"+OK"))
                self.assertEqual(p.stat()[0], 0)
                p.rset()  # the mailbox stays for the next round
            finally:
                quit_quietly(p)
            log = self.walk_log(since)
            self.assertEqual([c for c, _ in log], [f"RETR {n}" for n in range(1, 9)], log)
            ahead = {c for c, r in log if r == "yes"}
            # 1 starts the walk, 6 is too big; every other one was read ahead.
            self.assertEqual(ahead, {f"RETR {n}" for n in (2, 3, 4, 5, 7, 8)}, log)
        self.assertEqual(self.dovecot.maildir_count(WALK), len(self.walk))

    def test_read_ahead_dropped_when_the_client_leaves_the_walk(self):
        dropped = len(self.kensad.log_events("pop3_read_ahead_dropped"))
        d = direct(self.dovecot, WALK, WALK_PW)
        try:
            top7 = long_raw(d, "TOP 7 2")[1]
            retr8 = long_raw(d, "RETR 8")[1]
        finally:
            quit_quietly(d)
        p = self.proxy(WALK, WALK_PW)
        try:
            long_raw(p, "RETR 1")
            long_raw(p, "RETR 2")  # kensa now reads 3 and more ahead
            # Off the walk: TOP and a RETR further on are the backend's own answers.
            _, got = long_raw(p, "TOP 7 2")
            self.assertEqual(split_pop_scan_headers(got)[1] if has_pop_scan_headers(got)
                             else got, top7)
            _, got = long_raw(p, "RETR 8")
            self.assertTrue(split_pop_scan_headers(got)[1] == retr8)
        finally:
            quit_quietly(p)
        self.assertTrue(h.wait_until(
            lambda: len(self.kensad.log_events("pop3_read_ahead_dropped")) > dropped, 10),
            self.kensad.diagnostics())
        # Read-ahead is only a fetch: nothing was deleted or changed at Dovecot.
        self.assertEqual(self.dovecot.maildir_count(WALK), len(self.walk))

    # authentication

    def test_capa(self):
        allowed = {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "USER", "SASL", "STLS",
                   "IMPLEMENTATION", "CAPA", "PIPELINING"}
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=TIMEOUT)
        try:
            self.assertTrue(p.getwelcome().startswith(b"+OK"))
            before = p.capa()
            self.assertLessEqual(set(before), allowed, before)
            self.assertIn("STLS", before)
            for name in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "IMPLEMENTATION"):
                self.assertIn(name, before)
            self.assertNotIn("USER", before, "USER offered before TLS")
            self.assertNotIn("SASL", before, "SASL offered before TLS")
            p.stls(context=h.client_tls_context())
            after = p.capa()
            self.assertLessEqual(set(after), allowed, after)
            self.assertNotIn("STLS", after)
            self.assertIn("USER", after)
            self.assertEqual(after.get("SASL"), ["PLAIN"], after)
            with self.assertRaises(poplib.error_proto):
                p._shortcmd("STLS")  # a second STLS
        finally:
            quit_quietly(p)
        p = self.proxy(implicit=True)
        try:
            caps = p.capa()
            self.assertNotIn("STLS", caps)
            self.assertIn("USER", caps)
            self.assertEqual(caps.get("SASL"), ["PLAIN"], caps)
            with self.assertRaises(poplib.error_proto):
                p._shortcmd("STLS")
        finally:
            quit_quietly(p)

    def test_plaintext_login_refused_before_stls(self):
        with RawPop3(self.pop3_port) as r:
            self.assertTrue(r.line().startswith("+OK"))
            for cmd in (f"USER {SUB}", f"PASS {SUB_PW}",
                        f"AUTH PLAIN {plain_response(SUB, SUB_PW)}", "AUTH PLAIN"):
                with self.subTest(cmd=cmd.split()[0:2]):
                    answer = r.cmd(cmd)
                    self.assertTrue(answer.startswith("-ERR [AUTH]"), answer)
            self.assertTrue(r.cmd("STAT").startswith("-ERR"))
            self.assertTrue(r.cmd("STLS").startswith("+OK"))
            r.starttls()
            self.assertTrue(r.cmd(f"USER {SUB}").startswith("+OK"))
            self.assertTrue(r.cmd(f"PASS {SUB_PW}").startswith("+OK"))
            self.assertTrue(r.cmd("STAT").startswith(f"+OK {len(self.index)} "))
            self.assertTrue(r.cmd("QUIT").startswith("+OK"))

    def test_user_pass_and_wrong_password(self):
        # Dovecot answers every failure after the first from an address (kensa's) only after
        # about 4.5 s: one failure per listener, a wrong password and an unknown user.
        for implicit, user in ((False, SUB), (True, f"nobody@{DOMAIN}")):
            with self.subTest(implicit=implicit, user=user):
                p = self.proxy(implicit=implicit)
                try:
                    p.user(user)
                    with self.assertRaises(poplib.error_proto) as e:
                        p.pass_("wrong-password")
                    self.assertTrue(str(e.exception).startswith("b'-ERR"), e.exception)
                finally:
                    quit_quietly(p)
                p = self.proxy(SUB, SUB_PW, implicit=implicit)
                self.assertEqual(p.stat()[0], len(self.index))
                quit_quietly(p)

    def test_auth_plain(self):
        for implicit in (False, True):
            with self.subTest(implicit=implicit, form="initial response"):
                p = self.proxy(implicit=implicit)
                try:
                    resp = p._shortcmd(f"AUTH PLAIN {plain_response(SUB, SUB_PW)}")
                    self.assertTrue(resp.startswith(b"+OK"), resp)
                    self.assertEqual(p.stat()[0], len(self.index))
                finally:
                    quit_quietly(p)
            with self.subTest(implicit=implicit, form="continuation (Thunderbird)"):
                p = self.proxy(implicit=implicit)
                try:
                    p._putcmd("AUTH PLAIN")
                    cont = p._getline()[0]
                    self.assertTrue(cont.startswith(b"+"), cont)
                    self.assertFalse(cont.startswith(b"+OK"), cont)
                    resp = p._shortcmd(plain_response(PLAIN, PLAIN_PW))
                    self.assertTrue(resp.startswith(b"+OK"), resp)
                    self.assertEqual(p.stat()[0], len(self.index))
                finally:
                    quit_quietly(p)
            with self.subTest(implicit=implicit, form="wrong password"):
                if implicit:
                    continue  # once is enough (Dovecot's failure delay, above)
                p = self.proxy(implicit=implicit)
                try:
                    with self.assertRaises(poplib.error_proto):
                        p._shortcmd(f"AUTH PLAIN {plain_response(SUB, 'wrong')}")
                    # the session goes on: a good login afterwards
                    p.user(SUB)
                    p.pass_(SUB_PW)
                    self.assertEqual(p.stat()[0], len(self.index))
                finally:
                    quit_quietly(p)
            with self.subTest(implicit=implicit, form="unsupported mechanism"):
                p = self.proxy(implicit=implicit)
                try:
                    with self.assertRaises(poplib.error_proto):
                        p._shortcmd("AUTH LOGIN")
                finally:
                    quit_quietly(p)

    # real clients

    def fetchmail(self, user, password, implicit, out_dir):
        os.makedirs(out_dir)
        rc = os.path.join(out_dir, "fetchmailrc")
        port = self.pop3s_port if implicit else self.pop3_port
        tls = "ssl" if implicit else ""
        with open(rc, "w", encoding="utf-8") as f:
            f.write("set no bouncemail\nset no syslog\n"
                    f"poll 127.0.0.1 service {port} protocol POP3 auth password timeout 30\n"
                    f'  user "{user}" there with password "{password}" is root here\n'
                    f"  options keep {tls} sslproto 'TLS1.2+' no sslcertck no rewrite\n"
                    f"  mda \"/bin/sh -c 'cat > {out_dir}/msg.$$'\"\n")
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=out_dir, FETCHMAILHOME=out_dir)
        p = subprocess.run([FETCHMAIL, "-f", rc, "-i", os.path.join(out_dir, "ids"),
                            "--pidfile", os.path.join(out_dir, "pid"), "-v", "--nosyslog"],
                           env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        msgs = []
        for name in sorted(os.listdir(out_dir)):
            if name.startswith("msg."):
                with open(os.path.join(out_dir, name), "rb") as f:
                    msgs.append(f.read())
        return p.returncode, out, msgs

    def test_fetchmail_stls_and_implicit(self):
        if not h.have(FETCHMAIL):
            self.skipTest("fetchmail missing (scripts/deps installs it)")
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                d = os.path.join(self.tmp, f"fetchmail-{implicit}")
                rc, out, msgs = self.fetchmail(SUB, SUB_PW, implicit, d)
                self.assertEqual(rc, 0, out)
                self.assertEqual(len(msgs), len(self.index), out[-3000:])
                if not implicit:
                    self.assertIn("STLS", out)
                by_token = {}
                for m in msgs:
                    t = re.search(rb"Message-ID: <([^@>]+)@kensa-itest>", m)
                    self.assertIsNotNone(t, m[:500])
                    by_token[t.group(1).decode()] = m
                self.assertEqual(set(by_token), set(self.index), out[-2000:])
                for token, m in by_token.items():
                    # fetchmail puts its own Received first, writes LF line ends for the MDA
                    start = m.find(b"X-Virus-Scanned:")
                    self.assertGreaterEqual(start, 0, m[:500])
                    m = m[start:].replace(CRLF, b"\n").replace(b"\n", CRLF)
                    fields, rest = split_pop_scan_headers(m)
                    if token == "infected":
                        self.assertTrue(fields["X-Virus-Status"].startswith("Infected"), fields)
                        self.assertNotIn(sh.EICAR, m)
                        self.assertNotIn(base64.b64encode(sh.EICAR)[:40], m)
                    else:
                        self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
                        self.assertTrue(rest == self.served[token], f"{token} changed")

    def test_openssl_s_client(self):
        script = (f"USER {SUB}\nPASS {SUB_PW}\nSTAT\nRETR {self.index['dotted']}\n"
                  f"RETR {self.index['infected']}\nQUIT\n").encode()
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                port = self.pop3s_port if implicit else self.pop3_port
                args = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-quiet",
                        "-crlf"]
                if not implicit:
                    args += ["-starttls", "pop3"]
                p = subprocess.run(args, input=script, capture_output=True, timeout=60)
                out = p.stdout
                answers = [l for l in out.split(CRLF) if l.startswith((b"+OK", b"-ERR"))]
                # greeting (s_client eats it on STLS), USER, PASS, STAT, RETR, RETR, QUIT
                self.assertEqual(len(answers), 7 if implicit else 6, out[:2000])
                self.assertTrue(all(a.startswith(b"+OK") for a in answers), answers)
                self.assertIn(b"X-Virus-Status: Clean", out)
                self.assertIn(b"X-Virus-Status: Infected", out)
                self.assertIn(b"\r\n..a line starting with a dot\r\n", out)  # stuffed
                self.assertNotIn(sh.EICAR, out)

    # signatures

    def test_signature_added_while_running(self):
        p = self.proxy(LATE, LATE_PW)
        try:
            _, got = long_raw(p, "RETR 1")
        finally:
            quit_quietly(p)
        fields, rest = split_pop_scan_headers(got)
        self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
        self.assertEqual(rest, self.late.data)

        def loads():
            return (len(self.kensad.log_events("signatures_loaded")) +
                    len(self.kensad.log_events("signatures_reloaded")))
        before = loads()
        with open(os.path.join(self.sig_dir, "kensa-late.ndb"), "w") as f:
            f.write(f"Kensa.Test.Late:0:*:{self.marker.hex()}\n")
        os.kill(self.kensad.pid, signal.SIGHUP)
        self.assertTrue(h.wait_until(lambda: loads() > before, RELOAD_TIMEOUT),
                        "no signatures_loaded/reloaded after SIGHUP\n" +
                        self.kensad.diagnostics())
        p = self.proxy(LATE, LATE_PW, implicit=True)
        try:
            _, got = long_raw(p, "RETR 1")
        finally:
            quit_quietly(p)
        notice = self.assert_cleaned(got, self.late)
        self.assertIn("Kensa.Test.Late", notice)
        # Dovecot still holds the original.
        self.assertEqual(self.dovecot_retr(LATE, LATE_PW, 1), self.late.data)

    # bad input

    def test_overlong_line_and_unknown_commands(self):
        with RawPop3(self.pop3_port) as r:
            self.assertTrue(r.line().startswith("+OK"))
            for size in (2000, 70000):
                with self.subTest(size=size):
                    self.assertTrue(r.cmd("NOOP " + "x" * size).startswith("-ERR"))
                    self.send_capa_in_step(r)
            for cmd in ("XYZZY", "APOP sub@example.test 0123456789abcdef", "LAST", "",
                        "RETR 1", "UIDL"):
                with self.subTest(cmd=cmd):
                    self.assertTrue(r.cmd(cmd).startswith("-ERR"), cmd)
            self.assertTrue(r.cmd("QUIT").startswith("+OK"))
            self.assertTrue(r.closed_within(5))
        with RawPop3(self.pop3s_port, implicit=True) as r:
            self.assertTrue(r.line().startswith("+OK"))
            self.assertTrue(r.cmd(f"USER {SUB}").startswith("+OK"))
            self.assertTrue(r.cmd(f"PASS {SUB_PW}").startswith("+OK"))
            for cmd in ("XYZZY", "STLS", "USER again", "LAST", "NOOP " + "y" * 5000):
                with self.subTest(cmd=cmd[:10]):
                    self.assertTrue(r.cmd(cmd).startswith("-ERR"), cmd[:20])
            self.assertTrue(r.cmd("STAT").startswith(f"+OK {len(self.index)} "))
            self.assertTrue(r.cmd("QUIT").startswith("+OK"))

    def send_capa_in_step(self, r):
        self.assertTrue(r.cmd("CAPA").startswith("+OK"))
        self.assertIn(b"STLS", r.multiline())

    def test_pipelined_commands_answered_in_order(self):
        with RawPop3(self.pop3s_port, implicit=True) as r:
            self.assertTrue(r.line().startswith("+OK"))
            r.send(f"USER {SUB}\r\nPASS {SUB_PW}\r\nSTAT\r\nLIST 2\r\nXYZZY\r\nUIDL 1\r\n"
                   f"RETR {self.index['small']}\r\nNOOP\r\nLIST 99\r\nQUIT\r\n")
            self.assertTrue(r.line().startswith("+OK"))                       # USER
            self.assertTrue(r.line().startswith("+OK"))                       # PASS
            self.assertTrue(r.line().startswith(f"+OK {len(self.index)} "))  # STAT
            self.assertEqual(r.line().split()[:2], ["+OK", "2"])              # LIST 2
            self.assertTrue(r.line().startswith("-ERR"))                      # XYZZY
            self.assertEqual(r.line().split()[:2], ["+OK", "1"])              # UIDL 1
            self.assertTrue(r.line().startswith("+OK"))                       # RETR
            fields, rest = split_pop_scan_headers(r.multiline())
            self.assertEqual(rest, self.served["small"])
            self.assertTrue(r.line().startswith("+OK"))                       # NOOP
            self.assertTrue(r.line().startswith("-ERR"))                      # LIST 99
            self.assertTrue(r.line().startswith("+OK"))                       # QUIT
            self.assertTrue(r.closed_within(5))

    def test_commands_injected_behind_stls_are_discarded(self):
        with RawPop3(self.pop3_port) as r:
            self.assertTrue(r.line().startswith("+OK"))
            r.send(f"STLS\r\nUSER {SUB}\r\n")
            self.assertTrue(r.line().startswith("+OK"))
            self.assertEqual(r.buf, b"", "an answer to the injected USER came before TLS")
            r.starttls()
            self.assertTrue(r.nothing_within(1.0),
                            f"an answer to the injected USER came inside TLS: {r.buf!r}")
            answer = r.cmd(f"PASS {SUB_PW}")
            self.assertTrue(answer.startswith("-ERR"),
                            f"PASS after STLS was accepted with the injected USER: {answer}")
            self.assertTrue(r.cmd(f"USER {SUB}").startswith("+OK"))
            self.assertTrue(r.cmd(f"PASS {SUB_PW}").startswith("+OK"))
            self.assertTrue(r.cmd("QUIT").startswith("+OK"))

    def test_odd_arguments_stay_in_step(self):
        """Arguments that could make a proxy take a one-line answer for a multi-line one (or
        the other way round): whatever the answer, the NOOP after it is answered next."""
        multi_if_ok = {"LIST ", "UIDL ", "list", "Retr 1", "TOP 1 4294967297", "CAPA",
                       "LIST", "uidl"}
        cmds = ["LIST ", "UIDL ", "LIST 1 ", "LIST  1", "LIST 1 2", "UIDL 1 2", "TOP 1",
                "TOP 1 -1", "TOP 1 x", "TOP 1 0 extra", "RETR 0", "RETR 1 2", "RETR",
                "STAT 1", "list", "Retr 1", "DELE", "DELE 1 2", "LIST 4294967297",
                "TOP 1 4294967297", "LIST +1", "LIST 01", "LIST\t1", "CAPA", "uidl",
                "LIST 1\x00", "RETR 1\rNOOP"]
        with RawPop3(self.pop3s_port, implicit=True) as r:
            self.assertTrue(r.line().startswith("+OK"))
            self.assertTrue(r.cmd(f"USER {SUB}").startswith("+OK"))
            self.assertTrue(r.cmd(f"PASS {SUB_PW}").startswith("+OK"))
            for cmd in cmds:
                with self.subTest(cmd=cmd):
                    r.send(cmd + "\r\nNOOP\r\n")
                    answer = r.line()
                    self.assertTrue(answer.startswith(("+OK", "-ERR")), answer)
                    if answer.startswith("+OK") and cmd in multi_if_ok:
                        r.multiline()
                    self.assertEqual(r.line(), "+OK", f"out of step after {cmd!r}")
            self.assertTrue(r.cmd("STAT").startswith(f"+OK {len(self.index)} "))
            self.assertTrue(r.cmd("QUIT").startswith("+OK"))

    def test_other_sessions_answered_while_big_retrs_wait(self):
        """One client asks for the 5 MB message three times and does not read; another
        logs in and is answered promptly; the first then gets all three whole, and a client
        that leaves in the middle of a RETR changes nothing in Dovecot."""
        big = self.index["big"]
        slow = self.proxy(SUB, SUB_PW, implicit=True)
        try:
            slow._putcmd(f"RETR {big}\r\nRETR {big}\r\nRETR {big}")
            time.sleep(0.3)
            start = time.monotonic()
            p = self.proxy(SUB, SUB_PW)
            self.assertEqual(p.stat()[0], len(self.index))
            self.assertTrue(p.noop().startswith(b"+OK"))
            quit_quietly(p)
            self.assertLess(time.monotonic() - start, 3, "a second session waited")
            for _ in range(3):
                slow._getresp()
                got = read_multiline(slow.file.readline)
                self.assertEqual(split_pop_scan_headers(got)[1], self.served["big"])
        finally:
            quit_quietly(slow)
        for implicit in (False, True):
            with self.subTest(leave_after=implicit):
                p = self.proxy(SUB, SUB_PW, implicit=implicit)
                p._putcmd(f"RETR {big}")
                if implicit:
                    p._getresp()
                    p.file.read(100000)
                p.close()
        p = self.proxy(SUB, SUB_PW)
        try:
            self.assertEqual(p.stat()[0], len(self.index))
            _, got = long_raw(p, f"RETR {self.index['small']}")
            self.assertEqual(split_pop_scan_headers(got)[1], self.served["small"])
        finally:
            quit_quietly(p)


# --- TLS to the backend --------------------------------------------------------------------------

class Pop3BackendStlsTest(Pop3Base):
    """[pop3] backend_tls = "starttls": kensa says STLS to a Dovecot with a certificate before
    the credentials; retrieval is the same as over plaintext, and Dovecot logs TLS."""
    backend_tls = "starttls"

    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.dovecot = sub.Dovecot(USERS, tls=True)
        try:
            rnd = random.Random(cls.backend_tls)
            cls.clean = h.make_message(f"tls-{cls.backend_tls}", to=SUB)
            cls.infected = eicar_message(f"tls-{cls.backend_tls}-eicar", SUB, rnd)
            for mailbox in (SUB, PLAIN):
                cls.dovecot.deliver(mailbox, cls.clean)
                cls.dovecot.deliver(mailbox, cls.infected.data)
            cls.dovecot.start()
            cls.pop3_extra = {"backend_tls": cls.backend_tls}
            port = cls.dovecot.pop3s_port if cls.backend_tls == "implicit" else \
                cls.dovecot.pop3_port
            cls.start_proxy(port)
        except Exception:
            cls.dovecot.close()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dovecot.close()

    def test_retrieval_over_tls_to_the_backend(self):
        p = self.proxy(SUB, SUB_PW)
        try:
            fields, rest = split_pop_scan_headers(long_raw(p, "RETR 1")[1])
            self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
            self.assertEqual(rest, self.clean)
            fields, rest = split_pop_scan_headers(long_raw(p, "RETR 2")[1])
            self.assertTrue(fields["X-Virus-Status"].startswith("Infected"), fields)
            self.assertNotIn(sh.EICAR, rest)
        finally:
            quit_quietly(p)
        p = self.proxy(implicit=True)
        try:
            resp = p._shortcmd(f"AUTH PLAIN {plain_response(PLAIN, PLAIN_PW)}")
            self.assertTrue(resp.startswith(b"+OK"), resp)
            self.assertEqual(long_raw(p, "RETR 2")[1], self.infected.data)
            self.assertEqual(p.uidl()[1], direct(self.dovecot, PLAIN, PLAIN_PW).uidl()[1])
        finally:
            quit_quietly(p)
        p = self.proxy(implicit=True)
        try:
            p.user(SUB)
            with self.assertRaises(poplib.error_proto):
                p.pass_("wrong")
        finally:
            quit_quietly(p)
        logins = [l for l in h.tail(self.dovecot.log_path, 100000).splitlines()
                  if "Login: user=<" in l and "rip=127.0.0.1" in l]
        self.assertGreaterEqual(len(logins), 2, logins)
        # kensa's logins (not the direct() one, which is plaintext) went over TLS.
        self.assertGreaterEqual(sum(1 for l in logins if ", TLS" in l), 2, logins)


class Pop3BackendImplicitTlsTest(Pop3BackendStlsTest):
    """[pop3] backend_tls = "implicit": kensa connects to Dovecot's pop3s port."""
    backend_tls = "implicit"


# --- the backend failing -------------------------------------------------------------------------

class Pop3BackendDownTest(Pop3Base):
    """A real Dovecot stopped under kensa: in the middle of a large RETR, and then down.
    First, a subscriber's message over [pop3] max_message_bytes."""
    pop3_extra = {"backend_timeout": "5s", "max_message_bytes": 16 * 1024 * 1024}

    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.dovecot = sub.Dovecot(USERS)
        try:
            rnd = random.Random("down")
            cls.big = big_message("huge", PLAIN, rnd, size=40 * 1024 * 1024)
            cls.dovecot.deliver(PLAIN, cls.big)
            cls.oversized = big_message("oversized", SUB, rnd, size=20 * 1024 * 1024)
            cls.after = h.make_message("after-oversized", to=SUB)
            cls.dovecot.deliver(SUB, cls.oversized)
            cls.dovecot.deliver(SUB, cls.after)
            cls.dovecot.start()
            cls.start_proxy(cls.dovecot.pop3_port)
        except Exception:
            cls.dovecot.close()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.dovecot.close()

    def test_0_oversized_scanned_message_does_not_block_the_mailbox(self):
        """A subscriber's message larger than max_message_bytes is not scanned whole: by the
        design's rule for what cannot be scanned (limits exceeded: the unscannable action,
        default treated as infected) the client gets a complete answer in its place, and
        the session goes on to the next message. Closing the connection after "+OK" would
        fail every session that fetches in order, for good: the mail never arrives."""
        p = self.proxy(SUB, SUB_PW, implicit=True)
        try:
            try:
                _, got = long_raw(p, "RETR 1")
            except (poplib.error_proto, OSError) as e:
                self.fail(f"RETR of a message over max_message_bytes: {e} (the connection was "
                          f"closed; the mailbox cannot be fetched past it)")
            fields, _ = split_pop_scan_headers(got)
            self.assertFalse(fields["X-Virus-Status"].startswith("Clean"), fields)
            self.assertNotEqual(got, self.oversized)
            _, got = long_raw(p, "RETR 2")
            self.assertEqual(split_pop_scan_headers(got)[1], self.after)
        finally:
            quit_quietly(p)

    def test_1_backend_stopped_mid_retr(self):
        r = RawPop3(self.pop3s_port, implicit=True, timeout=20)
        try:
            self.assertTrue(r.line().startswith("+OK"))
            self.assertTrue(r.cmd(f"USER {PLAIN}").startswith("+OK"))
            self.assertTrue(r.cmd(f"PASS {PLAIN_PW}").startswith("+OK"))
            self.assertTrue(r.cmd("RETR 1").startswith("+OK"))
            first = r.readline()
            self.assertTrue(first)
            # The client stops reading: the socket buffers fill, Dovecot blocks; stop it.
            time.sleep(0.5)
            self.dovecot.stop()
            try:
                rest = r.multiline()
            except (poplib.error_proto, OSError, ssl.SSLError) as e:
                note = str(e)
            else:
                # Everything had left Dovecot before it stopped: then it must be whole.
                self.assertEqual(first + rest, self.big,
                                 "a message terminated by '.' but not the one Dovecot has")
                note = "complete"
            self.assertTrue(note, note)
        finally:
            r.close()

    def test_2_backend_down(self):
        self.dovecot.stop()
        for implicit in (False, True):
            with self.subTest(implicit=implicit):
                start = time.monotonic()
                p = self.proxy(implicit=implicit)
                try:
                    with self.assertRaises(poplib.error_proto) as e:
                        p.user(PLAIN)
                        p.pass_(PLAIN_PW)
                    self.assertIn("[SYS/TEMP]", str(e.exception))
                finally:
                    quit_quietly(p)
                p = self.proxy(implicit=implicit)
                try:
                    with self.assertRaises(poplib.error_proto) as e:
                        p._shortcmd(f"AUTH PLAIN {plain_response(SUB, SUB_PW)}")
                    self.assertIn("[SYS/TEMP]", str(e.exception))
                finally:
                    quit_quietly(p)
                self.assertLess(time.monotonic() - start, 10)


class FakeBackend(socketserver.ThreadingTCPServer):
    """A tiny POP3 server with one message per mailbox; what RETR and TOP do depends on the
    login name: cut-* sends half of the message and closes, stall-* says nothing, trickle-*
    sends the message in pieces with pauses shorter than kensa's backend_timeout;
    stall-login-* says nothing to PASS and AUTH. A stall lasts until `release` is set (at most
    STALL seconds)."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, message):
        self.message = message
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.shutdown()
        self.server_close()


class FakeHandler(socketserver.StreamRequestHandler):
    timeout = 30

    def answer(self, line):
        self.wfile.write(line.encode() + CRLF)
        self.wfile.flush()

    def handle(self):
        msg = self.server.message
        stuffed = re.sub(rb"(?m)^\.", b"..", msg)
        user = ""
        with contextlib.suppress(OSError):
            self.answer("+OK fake POP3 ready")
            while True:
                line = self.rfile.readline(4096)
                if not line:
                    return
                words = line.decode("utf-8", "replace").strip().split()
                cmd = words[0].upper() if words else ""
                if cmd == "CAPA":
                    self.answer("+OK\r\nUSER\r\nUIDL\r\nTOP\r\nSASL PLAIN\r\n.")
                elif cmd == "USER" and len(words) > 1:
                    user = words[1]
                    self.answer("+OK")
                elif cmd in ("PASS", "AUTH"):
                    if cmd == "AUTH" and len(words) > 2:
                        user = base64.b64decode(words[2]).split(b"\0")[1].decode()
                    if user.startswith("stall-login-"):
                        self.server.release.wait(STALL)
                        return
                    self.answer("+OK logged in")
                elif cmd == "STAT":
                    self.answer(f"+OK 1 {len(msg)}")
                elif cmd == "LIST":
                    self.answer(f"+OK 1 {len(msg)}" if len(words) > 1 else
                                f"+OK 1 messages\r\n1 {len(msg)}\r\n.")
                elif cmd == "UIDL":
                    self.answer("+OK 1 fake-uid-1" if len(words) > 1 else
                                "+OK\r\n1 fake-uid-1\r\n.")
                elif cmd in ("NOOP", "RSET", "DELE"):
                    self.answer("+OK")
                elif cmd == "QUIT":
                    self.answer("+OK bye")
                    return
                elif cmd in ("RETR", "TOP"):
                    if user.startswith("cut-"):
                        self.wfile.write(b"+OK\r\n" + stuffed[:len(stuffed) // 2])
                        self.wfile.flush()
                        return
                    if user.startswith("stall-"):
                        self.server.release.wait(STALL)
                        return
                    self.wfile.write(b"+OK\r\n")
                    step = len(stuffed) // 4 + 1
                    for i in range(0, len(stuffed), step):
                        self.wfile.write(stuffed[i:i + step])
                        self.wfile.flush()
                        if user.startswith("trickle-"):
                            time.sleep(0.4)
                    self.wfile.write(b".\r\n")
                    self.wfile.flush()
                else:
                    self.answer("-ERR unknown command")


class Pop3FakeBackendTest(Pop3Base):
    """kensa in front of FakeBackend, with plaintext_auth on."""
    pop3_extra = {"backend_timeout": "2s", "plaintext_auth": True}
    policy = {"inbound_addresses": [f"cut-sub@{DOMAIN}", f"stall-sub@{DOMAIN}",
                                    f"trickle-sub@{DOMAIN}"]}

    @classmethod
    def setUpClass(cls):
        sh.require()
        rnd = random.Random("fake")
        cls.message = big_message("fake", f"x@{DOMAIN}", rnd, size=400 * 1024)
        cls.backend = FakeBackend(cls.message)
        try:
            cls.start_proxy(cls.backend.port)
        except Exception:
            cls.backend.close()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.backend.close()

    def retr(self, user):
        p = self.proxy(user, "pw", implicit=True)
        try:
            return long_raw(p, "RETR 1")[1]
        finally:
            quit_quietly(p)

    def test_plaintext_auth_when_allowed(self):
        """plaintext_auth = true: CAPA offers USER and SASL PLAIN before STLS (and STLS),
        and USER/PASS and AUTH PLAIN work without TLS."""
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=TIMEOUT)
        try:
            caps = p.capa()
            self.assertIn("STLS", caps)
            self.assertIn("USER", caps)
            self.assertEqual(caps.get("SASL"), ["PLAIN"], caps)
            p.user(f"plain-text@{DOMAIN}")
            p.pass_("pw")
            self.assertEqual(p.stat(), (1, len(self.message)))
        finally:
            quit_quietly(p)
        p = poplib.POP3("127.0.0.1", self.pop3_port, timeout=TIMEOUT)
        try:
            resp = p._shortcmd(f"AUTH PLAIN {plain_response(f'plain-text@{DOMAIN}', 'pw')}")
            self.assertTrue(resp.startswith(b"+OK"), resp)
            self.assertEqual(long_raw(p, "RETR 1")[1], self.message)
        finally:
            quit_quietly(p)

    def test_backend_closes_mid_message(self):
        for kind in ("sub", "plain"):
            with self.subTest(kind=kind):
                start = time.monotonic()
                try:
                    got = self.retr(f"cut-{kind}@{DOMAIN}")
                except (poplib.error_proto, OSError, ssl.SSLError):
                    pass
                else:
                    self.fail(f"a cut message arrived terminated by '.' ({len(got)} bytes of "
                              f"{len(self.message)})")
                self.assertLess(time.monotonic() - start, 10)

    def test_backend_stalls_past_backend_timeout(self):
        """A scanned RETR and a login that the backend never answers end within about
        backend_timeout (2s) with -ERR or a closed connection. (A relayed mailbox is a byte
        pipe: the client's own timeout applies, as against the backend directly.)"""
        for what in ("retr", "pass", "auth"):
            with self.subTest(what=what):
                self.backend.release.clear()
                start = time.monotonic()
                try:
                    with self.assertRaises((poplib.error_proto, OSError, ssl.SSLError)):
                        if what == "retr":
                            self.retr(f"stall-sub@{DOMAIN}")
                        else:
                            p = self.proxy(implicit=True)
                            try:
                                if what == "pass":
                                    p.user(f"stall-login-sub@{DOMAIN}")
                                    p.pass_("pw")
                                else:
                                    p._shortcmd("AUTH PLAIN " +
                                                plain_response(f"stall-login-sub@{DOMAIN}", "pw"))
                            finally:
                                p.close()
                    took = time.monotonic() - start
                finally:
                    self.backend.release.set()
                self.assertLess(took, 5, "kensa waited past backend_timeout (2s) for the "
                                         f"backend (which stalled {STALL}s)")

    def test_backend_trickles_within_backend_timeout(self):
        for kind in ("sub", "plain"):
            with self.subTest(kind=kind):
                got = self.retr(f"trickle-{kind}@{DOMAIN}")
                if kind == "sub":
                    fields, got = split_pop_scan_headers(got)
                    self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
                self.assertTrue(got == self.message, "the trickled message was changed")


if __name__ == "__main__":
    unittest.main()
