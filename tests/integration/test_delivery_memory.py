# SPDX-License-Identifier: GPL-2.0-or-later
"""Big messages queued for a next hop that takes the data slowly: messages waiting for a
connection hold no message bytes (only a copy being sent is in memory), SIGTERM ends kensad
within its drain timeout, and nothing queued is lost: after a restart with a working next
hop every message is delivered byte for byte."""
import smtplib
import time
import unittest

import kensa_harness as h

MESSAGES = 16
MESSAGE_BYTES = 8 * 1024 * 1024
DRAIN_TIMEOUT = 3


def big_message(i):
    line = (f"{i:04d} " + "x" * 72 + "\r\n").encode()
    body = line * (MESSAGE_BYTES // len(line))
    return h.make_message(f"big-{i}", body_lines=[]) + body


class DeliveryMemoryTest(unittest.TestCase):

    def test_waiting_deliveries_hold_no_content_and_sigterm_keeps_its_deadline(self):
        # A next hop that accepts MAIL, RCPT and DATA, then never reads the data.
        tarpit = h.CaptureNextHop(stall_data=True)
        self.addCleanup(tarpit.close)
        tarpit.start()
        kensad = h.Kensad({
            "drain_timeout": f"{DRAIN_TIMEOUT}s",
            "smtp": {"max_message_bytes": 64 * 1024 * 1024},
            "delivery": {"max_connections_per_next_hop": 2},
        }, next_hop=f"smtp://127.0.0.1:{tarpit.port}?tls=none")
        self.addCleanup(kensad.close)
        kensad.start()
        idle_mb = kensad.rss_kb() / 1024
        sent = {}
        with smtplib.SMTP("127.0.0.1", kensad.port, timeout=60) as s:
            for i in range(MESSAGES):
                msg = big_message(i)
                s.sendmail("sender@example.org", [f"big{i}@example.test"], msg)
                sent[i] = msg
        # Every message is attempted at once; one connection per reactor may take data.
        self.assertTrue(h.wait_until(lambda: tarpit.in_data >= 1, 30),
                        "the next hop never got to DATA\n" + kensad.diagnostics())
        time.sleep(2)
        grown_mb = kensad.rss_kb() / 1024 - idle_mb
        # Loaded when attempted, the waiting copies alone would be MESSAGES x 8 MiB = 128 MiB;
        # loaded when sent, one per connection is, beside what the allocator keeps of the
        # receiving.
        eager_mb = MESSAGES * MESSAGE_BYTES / (1024 * 1024)
        self.assertLess(grown_mb, eager_mb, f"kensad grew {grown_mb:.0f} MiB with {MESSAGES} x "
                                            "8 MiB messages waiting for the next hop")

        start = time.monotonic()
        status = kensad.stop(timeout=DRAIN_TIMEOUT + 30)
        took = time.monotonic() - start
        self.assertEqual(status, 0, kensad.diagnostics())
        self.assertLess(took, DRAIN_TIMEOUT + 4, f"SIGTERM took {took:.1f} s with drain_timeout "
                                                 f"{DRAIN_TIMEOUT} s")
        self.assertEqual(len(kensad.spool_files()), MESSAGES, "queued messages left the spool")

        # Nothing lost: a restart with a next hop that works delivers every one, whole.
        kensad.next_hop = f"maildir:{kensad.maildir}"
        kensad.reconfigure({"delivery": {"next_hop": kensad.next_hop}})
        kensad.start()
        for i, msg in sent.items():
            self.assertTrue(kensad.wait_maildir(f"big{i}@example.test", 1, 60),
                            f"message {i} not delivered after restart")
            [(_, data)] = kensad.maildir_messages(f"big{i}@example.test")
            self.assertEqual(h.strip_kensa_trace(data), msg)


if __name__ == "__main__":
    unittest.main()
