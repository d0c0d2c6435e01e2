# SPDX-License-Identifier: GPL-2.0-or-later
"""Delivery streams the queue file: a 20 MB message with EICAR in an attachment, sent to a
subscriber (the cleaned copy) and a non-subscriber (the original), arrives byte for byte at an
SMTP next hop and in a Maildir, and kensad's peak RSS while it delivers the two copies grows by
less than one message size (loaded whole, each copy cost three message sizes on the worker and
one per connection while it was sent)."""
import os
import random
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
        kensad.reset_peak_rss()  # the peak that follows is the delivery's, not the receipt's
        base_kb = kensad.rss_kb()
        let_deliver()
        self.assertTrue(h.wait_until(delivered, DELIVERY_TIMEOUT),
                        "not delivered\n" + kensad.diagnostics())
        return (kensad.peak_rss_kb() - base_kb) / 1024

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
        hop = h.CaptureNextHop()
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
        hop = h.CaptureNextHop(slow=True)
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
