# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile input to the scanner of a subscriber's mail: 10,000 MIME parts, multipart nesting
1,000 deep, a 50 MB header block, zip bombs (100 MB of zeros zipped three deep: within every
limit, so scanned and clean; 5 x 100 MB: over libclamav's MaxScanSize). kensad answers each
(250 with the limit as the verdict, unscannable, or a clear 5xx), stays alive, keeps its memory
bounded, and a normal message still goes through afterwards. And a virus past max_file_bytes
or in a zip64 member must not pass as clean (known failures)."""
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
MAX_RSS_KB = 400 << 10   # 400 MiB
SEND_TIMEOUT = 240
DELIVERY_TIMEOUT = 180

PARTS = 10_000
DEPTH = 1_000
HEADER_BYTES = 50_000_000
BOMB_ZEROS = 100_000_000   # under the default max_file_bytes (100 MiB)
BIG_BOMB_MEMBERS = 5       # 5 x 100 MB unpacked: over the default max_scan_bytes (400 MiB)
SMALL_MAX_FILE = 1 << 20

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


def zeros_zip(members, size):
    """A zip of `members` files of `size` zero bytes each. Written whole with writestr: no
    zip64 records, which libclamav 1.4 does not unpack (see ArchiveMemberTest)."""
    zeros = bytes(size)
    return sh.zip_bytes([(f"zeros{m}.bin", zeros) for m in range(members)])


def bomb_message(token, rcpt, members):
    data = zeros_zip(members, BOMB_ZEROS)
    for level in (2, 3):
        data = sh.zip_bytes([(f"level{level - 1}.zip", data)])
    body = sh.multipart("mixed", [
        sh.text_part(token),
        sh.attachment("bomb.zip", data, content_type="application/zip", target=True)],
        f"bomb-{token}")
    return sh.render(sh.message(sh.top_headers(token, rcpt), body)).data


def zip_bomb(token, rcpt):
    return bomb_message(token, rcpt, 1)


def big_zip_bomb(token, rcpt):
    return bomb_message(token, rcpt, BIG_BOMB_MEMBERS)


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


class ScanLimitsTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.start_kensad({
            "smtp": {"max_message_bytes": MAX_MESSAGE, "data_timeout": "180s",
                     "command_timeout": "180s"},
            "policy": {"inbound_domains": [DOMAIN]},
        })

    def send_hostile(self, name, build, verdict="unscannable", reason=None):
        """Sends one hostile message; a 250 must come with `verdict` (and `reason` as the
        logged name), a refusal must be a 5xx with text."""
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
                self.assertEqual(rec[0].get("verdict"), verdict, f"{name}: {rec[0]}")
                if reason:
                    self.assertIn(reason, rec[0].get("viruses", ""), f"{name}: {rec[0]}")
                self.assertTrue(self.kensad.wait_spool_empty(DELIVERY_TIMEOUT),
                                f"{name}: not delivered\n{self.kensad.diagnostics()}")
                msgs = self.kensad.maildir_messages(rcpt)
                self.assertEqual(len(msgs), 1)
                fields, body = sh.split_scan_headers(msgs[0][1])
                self.assertTrue(fields["X-Virus-Status"].startswith(verdict.capitalize()),
                                fields)
                if verdict == "clean":
                    self.assertEqual(body, data, f"{name}: a clean message was changed")
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
        for name, build, verdict, reason in (
                ("many-parts", many_parts, "unscannable", "Kensa.Limits.Exceeded.Mime"),
                ("deep-nesting", deep_nesting, "unscannable", "Kensa.Limits.Exceeded.Mime"),
                ("huge-headers", huge_header_block, "unscannable", "Kensa.Limits.Exceeded.Mime"),
                # 100 MB unpacked is within every default limit: scanned through, clean.
                ("zip-bomb", zip_bomb, "clean", None),
                ("zip-bomb-over-limit", big_zip_bomb, "unscannable",
                 "Heuristics.Limits.Exceeded.MaxScanSize")):
            with self.subTest(case=name):
                self.send_hostile(name, build, verdict, reason)
        self.assertTrue(self.kensad.running(), self.kensad.diagnostics())
        self.assert_normal_mail_flows("after-hostile")



class ArchiveMemberTest(h.KensadTestCase):
    """Viruses in zip members that libclamav does not read to the end. clamscan passes both as
    clean; kensa's engine notices them (file-inspection callback) and calls them unscannable.

    - A member larger than max_file_bytes with EICAR past that size: libclamav extracts it only
      up to MaxFileSize ("trimming output size to maxfilesize") and raises no
      Heuristics.Limits.Exceeded alert. Design section 3: content past a limit is unscannable.
    - A member with zip64 records (Python's zipfile with force_zip64, as streaming zip writers
      do): libclamav 1.4.6 does not unpack it at all."""

    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.start_kensad({"scan": {"max_file_bytes": SMALL_MAX_FILE},
                          "policy": {"inbound_domains": [DOMAIN]}})

    def assert_not_delivered_clean(self, token, zip_data):
        rcpt = f"{token}@{DOMAIN}"
        body = sh.multipart("mixed", [
            sh.text_part(token),
            sh.attachment(f"{token}.zip", zip_data, content_type="application/zip",
                          target=True)], f"b-{token}")
        r = sh.render(sh.message(sh.top_headers(token, rcpt), body))
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt], r.data)])
        self.assertEqual(o.code, 250, o)
        rec = sh.message_records(self.kensad)[o.queue_id][0]
        self.assertIn(rec.get("verdict"), ("infected", "unscannable"), rec)
        self.assertTrue(self.kensad.wait_maildir(rcpt, 1, DELIVERY_TIMEOUT))
        delivered = sh.strip_scan_headers(self.kensad.maildir_messages(rcpt)[0][1])
        self.assertNotEqual(delivered, r.data, "the zip with EICAR in it was delivered")

    def test_zip_member_reaches_eicar_when_within_limits(self):
        # The control: the same shape, small enough, is found.
        self.assert_not_delivered_clean(
            "member-small", sh.zip_bytes([("small.bin", bytes(1000) + sh.EICAR)]))

    def test_virus_past_max_file_bytes_in_zip_member(self):
        self.assert_not_delivered_clean(
            "member-tail", sh.zip_bytes([("big.bin", bytes(2 * SMALL_MAX_FILE) + sh.EICAR)]))

    def test_virus_in_zip64_member(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            with z.open("z64.bin", "w", force_zip64=True) as f:
                f.write(bytes(1000) + sh.EICAR)
        self.assert_not_delivered_clean("member-zip64", buf.getvalue())


if __name__ == "__main__":
    unittest.main()
