# SPDX-License-Identifier: GPL-2.0-or-later
"""kensad speaks systemd's notify protocol (the packaged unit is Type=notify): with
$NOTIFY_SOCKET set, as systemd sets it, kensad sends READY=1 only once it answers on its
listeners, RELOADING=1 then READY=1 around a SIGHUP (its STATUS says whether the configuration
file was taken), and STOPPING=1 when it drains. The socket here is the test's own datagram
socket, read as systemd reads it."""
import os
import signal
import socket
import threading
import unittest

import kensa_harness as h


class ServiceNotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = h.make_tmpdir("notify-")
        self.path = os.path.join(self.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(30)
        self.kensad = h.Kensad()
        self.kensad.extra_env = {"NOTIFY_SOCKET": self.path}

    def tearDown(self):
        self.kensad.close()
        self.sock.close()
        h.remove_tmpdir(self.dir)

    def next_state(self):
        """One notification as {field: value}."""
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def test_ready_reloading_and_stopping(self):
        started = threading.Thread(target=self.kensad.start)
        started.start()
        ready = self.next_state()
        # Ready means serving: the listener answers at once.
        with h.RawSmtp(self.kensad.port) as c:
            self.assertEqual(c.reply()[0], 220)
        started.join(30)
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertIn("serving: 2 reactors, signatures ", ready.get("STATUS", ""))

        os.kill(self.kensad.pid, signal.SIGHUP)
        self.assertEqual(self.next_state().get("RELOADING"), "1")
        back = self.next_state()
        self.assertEqual(back.get("READY"), "1", back)
        self.assertIn("configuration generation 2", back.get("STATUS", ""))

        with open(self.kensad.config_path, "a", encoding="utf-8") as f:
            f.write("\nnot toml at all ===\n")
        os.kill(self.kensad.pid, signal.SIGHUP)
        self.assertEqual(self.next_state().get("RELOADING"), "1")
        back = self.next_state()
        self.assertEqual(back.get("READY"), "1", back)  # still serving, with what it had
        self.assertIn("configuration unchanged", back.get("STATUS", ""))

        self.kensad.proc.send_signal(signal.SIGTERM)
        stopping = self.next_state()
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assertEqual(self.kensad.proc.wait(30), 0)


if __name__ == "__main__":
    unittest.main()
