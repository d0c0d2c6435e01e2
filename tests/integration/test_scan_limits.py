# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile input to the scanner of a subscriber's mail: 10,000 MIME parts, multipart nesting
1,000 deep, a 50 MB header block, a zip bomb (100 MB of zeros, zipped three deep). kensad
answers each (250 with the limit as the verdict, unscannable, or a clear 5xx), stays alive,
keeps its memory bounded, and a normal message still goes through afterwards."""
import io
import os
import random
import threading
import time
import unittest
import sys
import zipfile

import kensa_harness as h
import scan_helpers as sh

DOMAIN = h.LOCAL_DOMAIN
MAX_MESSAGE = 80 << 20
MAX_FILE = 64 << 20      # [scan] max_file_bytes: the zip bomb's 100 MB of zeros exceed it
MAX_RSS_KB = 400 << 10   # 400 MiB
SEND_TIMEOUT = 240
DELIVERY_TIMEOUT = 180

PARTS = 10_000
DEPTH = 1_000
HEADER_BYTES = 50_000_000
BOMB_ZEROS = 100_000_000

sys.setrecursionlimit(10_000)  # render() recurses once per nesting level


def many_parts(token, rcpt):
    children = [sh.leaf("text/plain", f"part {i}".encode(), cte="7bit") for i in range(PARTS)]
    return sh.render(sh.message(sh.top_headers(token, rcpt),
                                sh.multipart("mixed", children, f"many-{token}"))).data


def deep_nesting(token, rcpt):
    entity = sh.leaf("text/plain", b"the bottom", cte="7bit")
    for level in range(DEPTH):
        entity = sh.multipart("mixed", [entity], f"d{level}-{token}")
    return sh.render(sh.message(sh.top_headers(token, rcpt), entity)).data


def huge_header_block(token, rcpt):
    head = b"".join(f"{n}: {v}\r\n".encode() for n, v in sh.top_headers(token, rcpt))
    line = b"X-Filler: " + b"f" * 88 + b"\r\n"
    filler = line * (HEADER_BYTES // len(line))
    return head + filler + b"\r\nbody after a 50 MB header block\r\n"


def zip_bomb(token, rcpt):
    zeros = io.BytesIO()
    with zipfile.ZipFile(zeros, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            left = BOMB_ZEROS
            while left > 0:
                f.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
    data = zeros.getvalue()
    for level in (2, 3):
        data = sh.zip_bytes([(f"level{level - 1}.zip", data)])
    body = sh.multipart("mixed", [
        sh.text_part(token),
        sh.attachment("bomb.zip", data, content_type="application/zip", target=True)],
        f"bomb-{token}")
    return sh.render(sh.message(sh.top_headers(token, rcpt), body)).data


class RssSampler:
    """Samples kensad's VmRSS every 50 ms in a thread; `peak_kb` is the largest seen."""

    def __init__(self, kensad):
        self.kensad = kensad
        self.peak_kb = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak_kb = max(self.peak_kb, self.kensad.rss_kb())
            except (OSError, ValueError):
                pass
            self.stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


class ScanLimitsTest(unittest.TestCase):
    kensad = None

    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.kensad = h.Kensad({
            "smtp": {"max_message_bytes": MAX_MESSAGE, "data_timeout": "180s",
                     "command_timeout": "180s"},
            "scan": {"max_file_bytes": MAX_FILE},
            "policy": {"inbound_domains": [DOMAIN]},
        })
        try:
            cls.kensad.start()
        except Exception:
            cls.kensad.close()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.kensad is not None:
            cls.kensad.stop()
            cls.kensad.close()

    def send_hostile(self, name, build):
        rcpt = f"{name}@{DOMAIN}"
        data = build(name, rcpt)
        started = time.monotonic()
        with RssSampler(self.kensad) as rss:
            (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt], data)],
                               timeout=SEND_TIMEOUT)
            elapsed = time.monotonic() - started
            self.assertTrue(self.kensad.running(), f"{name}: kensad died\n"
                            f"{self.kensad.diagnostics()}")
            if o.code == 250:
                rec = sh.message_records(self.kensad).get(o.queue_id, [])
                self.assertEqual(len(rec), 1, rec)
                self.assertEqual(rec[0].get("verdict"), "unscannable",
                                 f"{name}: a limit was exceeded, so not every part was "
                                 f"scanned: {rec[0]}")
                self.assertTrue(self.kensad.wait_spool_empty(DELIVERY_TIMEOUT),
                                f"{name}: not delivered\n{self.kensad.diagnostics()}")
                msgs = self.kensad.maildir_messages(rcpt)
                self.assertEqual(len(msgs), 1)
                fields, _ = sh.split_scan_headers(msgs[0][1])
                self.assertTrue(fields["X-Virus-Status"].startswith("Unscannable"), fields)
            else:
                self.assertTrue(500 <= o.code < 600 and o.text,
                                f"{name}: neither 250 nor a clear 5xx: {o}")
        self.assertLess(rss.peak_kb, MAX_RSS_KB,
                        f"{name}: kensad's peak RSS {rss.peak_kb} kB (sent {len(data)} bytes, "
                        f"answered {o.code} after {elapsed:.1f}s)")
        self.assertLess(self.kensad.rss_kb(), MAX_RSS_KB)
        return o

    def assert_normal_mail_flows(self, token):
        rcpt = f"{token}@{DOMAIN}"
        body = sh.multipart("mixed", [sh.text_part(token),
                                      sh.attachment("r.bin", random.Random(1).randbytes(3000))],
                            f"n-{token}")
        r = sh.render(sh.message(sh.top_headers(token, rcpt), body))
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt], r.data)])
        self.assertEqual(o.code, 250, o)
        self.assertTrue(self.kensad.wait_maildir(rcpt, 1, DELIVERY_TIMEOUT))
        self.assertEqual(sh.strip_scan_headers(self.kensad.maildir_messages(rcpt)[0][1]), r.data)

    def test_hostile_messages_then_normal_mail(self):
        for name, build in (("many-parts", many_parts), ("deep-nesting", deep_nesting),
                            ("huge-headers", huge_header_block), ("zip-bomb", zip_bomb)):
            with self.subTest(case=name):
                self.send_hostile(name, build)
        self.assertTrue(self.kensad.running(), self.kensad.diagnostics())
        self.assert_normal_mail_flows("after-hostile")


if __name__ == "__main__":
    unittest.main()
