# SPDX-License-Identifier: GPL-2.0-or-later
"""A connection paused for the scanner resumes when the scan work drains.

One reactor, [scan] max_bytes_in_flight at its 1 MiB minimum, and several large scanned
messages sent at once: every session of the reactor shares that bound, so each connection
spends most of its DATA paused, waiting on its own scan and on the others'. There is no
polling timer behind the pause any more: a connection resumes only when the scan worker
reports bytes done. A lost wake-up leaves a client stuck until its timeout; here every
message must be answered 250 well within it and arrive byte for byte."""
import random
import threading
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

DOMAIN = h.LOCAL_DOMAIN
CLIENTS = 4
ATTACHMENT_BYTES = 6 * 1024 * 1024
SEND_TIMEOUT = 50  # the client's socket timeout; the server's data_timeout is 30 s
DELIVERY_TIMEOUT = 60


class ScanBackpressureTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.start_kensad({
            "reactors": 1,
            "scan": {"max_bytes_in_flight": 1 << 20},
            "policy": {"inbound_domains": [DOMAIN]},
        })

    def test_large_scanned_messages_complete_under_a_small_shared_bound(self):
        items = []
        for i in range(CLIENTS):
            token = f"bp{i}"
            rcpt = f"{token}@{DOMAIN}"
            body = sh.multipart("mixed", [
                sh.text_part(token),
                sh.attachment(f"{token}.bin", random.Random(i).randbytes(ATTACHMENT_BYTES)),
            ], f"b-{token}")
            items.append((rcpt, sh.render(sh.message(sh.top_headers(token, rcpt), body)).data))
        outcomes = [None] * CLIENTS
        errors = []

        def send(i):
            rcpt, data = items[i]
            try:
                (outcomes[i],) = sh.send_all(self.kensad.port,
                                             [("sender@example.org", [rcpt], data)],
                                             timeout=SEND_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - reported below with the client's index
                errors.append((i, repr(e)))

        started = time.monotonic()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SEND_TIMEOUT + 10)
        elapsed = time.monotonic() - started
        self.assertEqual(errors, [], self.kensad.diagnostics())
        for i, o in enumerate(outcomes):
            self.assertIsNotNone(o, f"client {i} got no answer in {elapsed:.1f}s")
            self.assertEqual(o.code, 250, f"client {i}: {o}")
        # Scanned, not waved through: each message has its clean verdict logged.
        records = sh.message_records(self.kensad)
        for o in outcomes:
            self.assertEqual(records[o.queue_id][0].get("verdict"), "clean", records[o.queue_id])
        for rcpt, data in items:
            self.assertTrue(self.kensad.wait_maildir(rcpt, 1, DELIVERY_TIMEOUT),
                            self.kensad.diagnostics())
            self.assertEqual(sh.strip_scan_headers(self.kensad.maildir_messages(rcpt)[0][1]),
                             data)


if __name__ == "__main__":
    unittest.main()
