# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients that behave the way an attacker on port 25 would. They end a transaction and
vanish before the reply (a remote crash once came from exactly this: the commit callback
touched a connection the shard had already destroyed); they send TLS garbage or stall in
the handshake; they pipeline without ever reading a reply; they try relay tricks. kensad
stays up, bounded, and serves the next client; what it committed it delivers whole."""
import concurrent.futures
import os
import socket
import struct
import time
import unittest

import kensa_harness as h

CLIENTS = 16
TRANSACTIONS = 2000   # in all, spread over the clients
TIME_LIMIT = 90.0     # seconds for the whole flood, whatever the machine


def read_reply(sock, buf):
    """One SMTP reply (code) from sock; buf is a bytearray of what was read beyond it."""
    while True:
        while b"\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            buf += chunk
        nl = buf.index(b"\n")
        line = bytes(buf[:nl])
        del buf[:nl + 1]
        if line[3:4] != b"-":
            return int(line[:3])


def dot_and_vanish(port, token, reset):
    """One transaction whose final dot is followed at once by a close (FIN, or RST when reset),
    without waiting for the reply. Returns True when the transaction reached its dot."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = bytearray()
        if read_reply(s, buf) != 220:
            return False
        s.sendall(b"EHLO hostile.test\r\n")
        if read_reply(s, buf) != 250:
            return False
        s.sendall(b"MAIL FROM:<flood@example.org>\r\nRCPT TO:<user@example.test>\r\nDATA\r\n")
        codes = [read_reply(s, buf) for _ in range(3)]
        if codes != [250, 250, 354]:
            return False
        s.sendall(h.make_message(token) + b".\r\n")
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return True


class CloseAfterFinalDotTest(h.KensadTestCase):

    @classmethod
    def setUpClass(cls):
        # No [policy]: nothing is scanned, so the commit runs straight after the dot.
        cls.start_kensad()

    def test_flood_of_clients_closing_after_the_dot(self):
        port = self.kensad.port
        deadline = time.monotonic() + TIME_LIMIT
        per_client = TRANSACTIONS // CLIENTS

        def client(c):
            sent = 0
            for i in range(per_client):
                if time.monotonic() > deadline or not self.kensad.running():
                    break
                try:
                    sent += dot_and_vanish(port, f"flood-{c}-{i}", reset=(i % 2 == 1))
                except (OSError, EOFError):
                    if not self.kensad.running():
                        break
            return sent

        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            sent = sum(pool.map(client, range(CLIENTS)))
        self.assertTrue(self.kensad.running(), "kensad died under the flood\n"
                        + self.kensad.diagnostics())
        self.assertGreater(sent, TRANSACTIONS // 4, "too few transactions reached the dot")

        # Still serving: a well-behaved client gets its 250 and its message delivered.
        with h.RawSmtp(port) as r:
            self.assertEqual(r.reply()[0], 220)
            self.assertEqual(r.cmd("EHLO polite.test")[0], 250)
            self.assertEqual(r.cmd("MAIL FROM:<polite@example.org>")[0], 250)
            self.assertEqual(r.cmd("RCPT TO:<polite@example.test>")[0], 250)
            self.assertEqual(r.cmd("DATA")[0], 354)
            r.send(h.make_message("polite", to="polite@example.test") + b".\r\n")
            self.assertEqual(r.reply()[0], 250)
            self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assertTrue(self.kensad.wait_maildir("polite@example.test", 1, 30))

        # What kensad committed it delivers whole (the clients never saw a 250, so a message
        # may be missing, but none may be cut short).
        self.assertTrue(self.kensad.wait_spool_empty(60), "spool did not drain")
        delivered = self.kensad.maildir_messages("user@example.test")
        self.assertLessEqual(len(delivered), sent)
        for path, data in delivered:
            self.assertTrue(data.endswith(b"\r\n") and b"body of flood-" in data, path)


class HostileSessionTest(h.KensadTestCase):
    COMMAND_TIMEOUT = 3

    @classmethod
    def setUpClass(cls):
        cls.start_kensad({"smtp": {"command_timeout": f"{cls.COMMAND_TIMEOUT}s"}})

    def assert_still_serving(self):
        with h.RawSmtp(self.kensad.port) as r:
            self.assertEqual(r.reply()[0], 220)
            self.assertEqual(r.cmd("EHLO polite.test")[0], 250)
            self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assertTrue(self.kensad.running(), self.kensad.diagnostics())

    def starttls(self):
        r = h.RawSmtp(self.kensad.port)
        self.assertEqual(r.reply()[0], 220)
        self.assertEqual(r.cmd("EHLO hostile.test")[0], 250)
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        return r

    def test_tls_garbage_after_starttls_closes(self):
        for seed in range(3):
            r = self.starttls()
            r.send(bytes.fromhex("160301") + os.urandom(4000 + seed))
            self.assertTrue(r.closed_by_peer(timeout=5), "garbage in TLS left the session open")
            r.close()
        self.assert_still_serving()

    def test_stalled_tls_handshake_is_timed_out(self):
        r = self.starttls()
        # Half a ClientHello, then nothing: the command timeout ends it.
        r.send(bytes.fromhex("16030100a5010000a10303") + os.urandom(20))
        start = time.monotonic()
        self.assertTrue(r.closed_by_peer(timeout=self.COMMAND_TIMEOUT + 10))
        self.assertLess(time.monotonic() - start, self.COMMAND_TIMEOUT + 10)
        r.close()
        self.assert_still_serving()

    def test_pipelining_flood_without_reading_stays_bounded(self):
        before = self.kensad.rss_kb()
        with socket.create_connection(("127.0.0.1", self.kensad.port), timeout=10) as s:
            s.setblocking(False)
            chunk = b"NOOP\r\n" * 10_000
            sent, deadline = 0, time.monotonic() + 10
            # The server stops reading once its replies are not read: the send buffer fills.
            while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:
                try:
                    sent += s.send(chunk)
                except BlockingIOError:
                    time.sleep(0.01)
                except OSError:
                    break  # closed by the server (max_commands_per_session): fine too
            grown = self.kensad.rss_kb() - before
        self.assertLess(sent, 64 * 1024 * 1024, "kensad read 64 MiB of commands nobody read replies to")
        self.assertLess(grown, 64 * 1024, f"RSS grew {grown} KiB under a pipelining flood")
        self.assert_still_serving()

    def test_relay_tricks_are_relay_attempts(self):
        with h.RawSmtp(self.kensad.port) as r:
            self.assertEqual(r.reply()[0], 220)
            self.assertEqual(r.cmd("EHLO hostile.test")[0], 250)
            self.assertEqual(r.cmd("MAIL FROM:<x@example.org>")[0], 250)
            for rcpt in ("victim%example.org@example.test", "example.org!victim@example.test",
                         '"victim@example.org"@example.test', "victim@example.org@example.test",
                         "victim@[127.0.0.1]", "victim@example.org"):
                code, text = r.cmd(f"RCPT TO:<{rcpt}>")
                self.assertIn(code, (550, 501, 553), f"{rcpt}: {code} {text}")
            self.assertEqual(r.cmd("RCPT TO:<user@example.test>")[0], 250)
            self.assertEqual(r.cmd("QUIT")[0], 221)


if __name__ == "__main__":
    unittest.main()
