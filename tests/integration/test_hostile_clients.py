# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients that behave the way an attacker on port 25 would: they end a transaction and
vanish before the reply. kensad must stay up (a remote crash once came from exactly this:
the commit callback touched a connection the shard had already destroyed), and every
message it committed is delivered whole."""
import concurrent.futures
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


if __name__ == "__main__":
    unittest.main()
