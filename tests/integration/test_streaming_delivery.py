# SPDX-License-Identifier: GPL-2.0-or-later
"""Delivery streams the queue file: a 20 MB message with EICAR in an attachment, sent to a
subscriber (the cleaned copy) and a non-subscriber (the original), arrives byte for byte at an
SMTP next hop and in a Maildir, and kensad's peak RSS while it delivers the two copies grows by
less than one message size (loaded whole, each copy cost three message sizes on the worker and
one per connection while it was sent)."""
import os
import random
import socket
import threading
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

DOMAIN = h.LOCAL_DOMAIN
SUB = f"sub@{DOMAIN}"
OTHER = f"other@{DOMAIN}"
BIG_BYTES = 15 * 1024 * 1024  # base64 makes the message ~20 MB
DELIVERY_TIMEOUT = 60
# Peak RSS growth allowed while the two copies are delivered: below one message.
GROWTH_BOUND_MB = 16


def big_message(token, rnd):
    body = sh.multipart("mixed", [
        sh.text_part(token),
        sh.attachment("big.bin", rnd.randbytes(BIG_BYTES)),
        sh.attachment("eicar.com", sh.EICAR, target=True),
        sh.text_part(token + "-trailer")], f"big-{token}")
    return sh.render(sh.message(sh.top_headers(token, SUB), body))


class CaptureNextHop:
    """An ESMTP next hop that keeps each message's data exactly as received (dot-unstuffed),
    keyed by the first RCPT. It listens only once start() is called, so kensad's first
    attempts are refused and the message waits in the queue."""

    def __init__(self, slow=False):
        self.port = h.free_port()
        self.slow = slow  # read the data at ~2 MB/s
        self.received = 0  # data bytes of the transaction in progress
        self.aborted = []  # data of transactions that ended without the final dot
        self.messages = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listener = None

    def start(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.slow:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        buf = b""
        rcpt = None
        try:
            c.sendall(b"220 capture.test ESMTP\r\n")
            while not self.stopping.is_set():
                while b"\r\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                line, _, buf = buf.partition(b"\r\n")
                verb = line[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-capture.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    rcpt = rcpt or line.split(b"<", 1)[1].split(b">", 1)[0].decode()
                    c.sendall(b"250 ok\r\n")
                elif verb == b"DATA":
                    c.sendall(b"354 go on\r\n")
                    data = bytearray(buf)
                    while not data.endswith(b"\r\n.\r\n") and data != b".\r\n":
                        chunk = c.recv(1 << 20 if not self.slow else 32768)
                        if not chunk:
                            with self.lock:
                                self.aborted.append(bytes(data))
                            return
                        data += chunk
                        self.received = len(data)
                        if self.slow:
                            time.sleep(0.015)
                    data = bytes(data[:-3])
                    if data.startswith(b".."):
                        data = data[1:]
                    data = data.replace(b"\r\n..", b"\r\n.")
                    buf = b""
                    with self.lock:
                        self.messages[rcpt] = data
                    rcpt = None
                    c.sendall(b"250 2.0.0 captured\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.stopping.set()
        if self.listener is not None:
            self.listener.close()


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def reset_hwm(pid):
    """Resets the peak (VmHWM) to the current RSS (Linux 4.0+), so the peak that follows is
    the delivery's, not the receipt's."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


class StreamingDeliveryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.rnd = random.Random("streaming-delivery")
        cls.msg = big_message("stream", cls.rnd)

    def start_kensad(self, next_hop):
        kensad = h.Kensad({
            "smtp": {"max_message_bytes": 64 * 1024 * 1024},
            "policy": {"inbound_addresses": [SUB]},
        }, next_hop=next_hop)
        self.addCleanup(kensad.close)
        kensad.start()
        return kensad

    def queue_and_measure(self, kensad, let_deliver, delivered):
        """Sends the message, resets the peak once it waits in the queue, lets delivery go
        and returns the peak growth in MB."""
        (o,) = sh.send_all(kensad.port, [("sender@example.org", [SUB, OTHER], self.msg.data)],
                           timeout=120)
        self.assertEqual(o.code, 250, o)
        self.assertTrue(h.wait_until(lambda: kensad.log_events("delivery"), 20),
                        "no failed attempt was logged\n" + kensad.diagnostics())
        time.sleep(1.5)  # the allocator gives back what the receipt freed
        reset_hwm(kensad.pid)
        base_kb = kensad.rss_kb()
        let_deliver()
        self.assertTrue(h.wait_until(delivered, DELIVERY_TIMEOUT),
                        "not delivered\n" + kensad.diagnostics())
        return (vm_hwm_kb(kensad.pid) - base_kb) / 1024

    def check_copies(self, sub_copy, other_copy):
        rest = h.strip_kensa_trace(other_copy)
        self.assertFalse(sh.has_scan_headers(other_copy))
        self.assertEqual(len(rest), len(self.msg.data))
        self.assertTrue(rest == self.msg.data, "the non-subscriber's copy is not the original")
        fields, body = sh.split_scan_headers(sub_copy)
        self.assertTrue(fields["X-Virus-Status"].startswith("Infected"), fields)
        t0, t1 = self.msg.target_range
        self.assertEqual(body[:t0], self.msg.data[:t0], "the cleaned copy differs before the notice")
        tail = self.msg.data[t1:]
        self.assertEqual(body[-len(tail):], tail, "the cleaned copy differs after the notice")
        notice = body[t0:len(body) - len(tail)]
        self.assertIn(b"text/plain", notice)
        self.assertNotIn(sh.EICAR, body)

    def assert_growth_bounded(self, growth):
        if h.SANITIZED:  # ASan keeps freed memory in quarantine: no bound to hold
            return
        self.assertLess(growth, GROWTH_BOUND_MB,
                        f"peak RSS grew {growth:.1f} MB delivering two copies of "
                        f"{len(self.msg.data) / 1e6:.0f} MB")

    def test_smtp_next_hop_gets_both_copies_exactly(self):
        hop = CaptureNextHop()
        self.addCleanup(hop.close)
        kensad = self.start_kensad(f"smtp://127.0.0.1:{hop.port}?tls=none")

        def both():
            with hop.lock:
                return SUB in hop.messages and OTHER in hop.messages
        growth = self.queue_and_measure(kensad, hop.start, both)
        self.check_copies(hop.messages[SUB], hop.messages[OTHER])
        self.assertTrue(kensad.wait_spool_empty(10), kensad.diagnostics())
        self.assert_growth_bounded(growth)

    def test_maildir_gets_both_copies_exactly(self):
        root = os.path.join(h.make_tmpdir("maildir-"), "root")
        self.addCleanup(h.remove_tmpdir, os.path.dirname(root))
        kensad = self.start_kensad(f"maildir:{root}")
        os.rmdir(root)  # made at start; a file in its place makes deliveries wait
        with open(root, "w") as f:
            f.write("not a directory")

        def make_root():
            os.unlink(root)
            os.mkdir(root)

        def both():
            return all(len(h.read_maildirs(root, a)) == 1 for a in (SUB, OTHER))
        growth = self.queue_and_measure(kensad, make_root, both)
        [(_, sub_copy)] = h.read_maildirs(root, SUB)
        [(_, other_copy)] = h.read_maildirs(root, OTHER)
        self.check_copies(sub_copy, other_copy)
        self.assert_growth_bounded(growth)


class ReadErrorMidStreamTest(unittest.TestCase):

    def test_read_error_ends_the_connection_without_the_final_dot(self):
        hop = CaptureNextHop(slow=True)
        self.addCleanup(hop.close)
        hop.start()
        kensad = h.Kensad({"smtp": {"max_message_bytes": 64 * 1024 * 1024}},
                          next_hop=f"smtp://127.0.0.1:{hop.port}?tls=none")
        self.addCleanup(kensad.close)
        kensad.start()
        line = b"x" * 78 + b"\r\n"
        msg = h.make_message("midstream", body_lines=[]) + line * (32 * 1024 * 1024 // len(line))
        (o,) = sh.send_all(kensad.port, [("sender@example.org", [OTHER], msg)], timeout=120)
        self.assertEqual(o.code, 250, o)
        self.assertTrue(h.wait_until(lambda: hop.received > 2 * 1024 * 1024, 30),
                        "the next hop got no data\n" + kensad.diagnostics())
        [path] = kensad.spool_files()
        os.truncate(path, 16 * 1024 * 1024)  # what kensad has not read yet is gone
        self.assertTrue(h.wait_until(lambda: hop.aborted, 60),
                        "the transaction was not abandoned\n" + kensad.diagnostics())
        self.assertFalse(hop.messages, "a message was completed from a broken queue file")
        self.assertFalse(hop.aborted[0].endswith(b"\r\n.\r\n"))
        self.assertTrue(h.wait_until(lambda: any(
            "result=deferred" in l and "local error reading" in l
            for l in kensad.log_events("delivery")), 10), kensad.diagnostics())
        self.assertTrue(kensad.log_events("queue_file_unreadable"), kensad.diagnostics())
        self.assertTrue(kensad.running(), kensad.diagnostics())


if __name__ == "__main__":
    unittest.main()
