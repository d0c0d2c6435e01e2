# SPDX-License-Identifier: GPL-2.0-or-later
"""A local failure on the way to a verdict is a temporary failure, never "unscannable".

kensad's [scan] temp_dir is where a decoded part over 1 MiB spills. When that directory is gone
(removed under a running kensad) or full (a 2 MB tmpfs mounted over it, where mounting is
allowed), a subscriber's message with a large attachment must get 451 4.3.0 with nothing
queued and nothing delivered, so that the sender retries; once the directory is usable again
the same message gets 250 and arrives byte for byte. Before the fix it got 250 and the
attachment was replaced by the unscannable notice: the content was lost."""
import os
import random
import shutil
import subprocess
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

SUB = f"sub@{h.LOCAL_DOMAIN}"
DELIVERY_TIMEOUT = 30


def large_message(token, size, rnd):
    """A subscriber's message whose attachment decodes to `size` random bytes."""
    body = sh.multipart("mixed", [
        sh.text_part(token),
        sh.attachment("big.bin", rnd.randbytes(size), target=True)], f"big-{token}")
    return sh.render(sh.message(sh.top_headers(token, SUB), body)).data


class ScanLocalFailureTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require()
        cls.rnd = random.Random(cls.__name__)
        cls.work = h.make_tmpdir("kensa-scantmp-")
        cls.temp_dir = os.path.join(cls.work, "scan-tmp")
        os.mkdir(cls.temp_dir)
        cls.start_kensad({"scan": {"temp_dir": cls.temp_dir},
                          "policy": {"inbound_addresses": [SUB]}})

    @classmethod
    def tearDownClass(cls):
        if cls.kensad is not None:
            cls.kensad.stop()
            cls.kensad.close()
        subprocess.run(["umount", cls.temp_dir], capture_output=True, timeout=10)
        h.remove_tmpdir(cls.work)

    def tearDown(self):
        self.assertTrue(self.kensad.running(), "kensad died\n" + self.kensad.diagnostics())

    def send(self, data):
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [SUB], data)])
        return o

    def assert_deferred(self, data, cause):
        before = len(self.kensad.log_events("scan_failed"))
        o = self.send(data)
        self.assertEqual(o.code, 451, f"{cause}: {o}\n{self.kensad.diagnostics()}")
        self.assertIn("4.3.0", o.text)
        self.assertIsNone(o.queue_id)
        self.assertTrue(self.kensad.wait_spool_empty(5), self.kensad.spool_files())
        failed = self.kensad.log_events("scan_failed")
        self.assertEqual(len(failed), before + 1, self.kensad.diagnostics())
        self.assertIn(self.temp_dir, failed[-1], "the log names the cause")
        time.sleep(0.5)  # a delivery, had anything been queued, has had its chance
        self.assertEqual(self.kensad.maildir_messages(SUB), [], f"{cause}: something delivered")

    def assert_delivered_unchanged(self, data):
        o = self.send(data)
        self.assertEqual(o.code, 250, f"{o}\n{self.kensad.diagnostics()}")
        self.assertTrue(self.kensad.wait_maildir(SUB, 1, DELIVERY_TIMEOUT),
                        self.kensad.diagnostics())
        ((path, got),) = self.kensad.maildir_messages(SUB)
        fields, rest = sh.split_scan_headers(got)
        self.assertTrue(fields["X-Virus-Status"].startswith("Clean"), fields)
        self.assertEqual(rest, data, "the retried message is not delivered byte for byte")
        os.unlink(path)

    def test_removed_temp_dir_defers_then_delivers(self):
        data = large_message("gone", 2 << 20, self.rnd)
        moved = self.temp_dir + ".away"
        os.rename(self.temp_dir, moved)  # root ignores permissions; a missing dir stops it
        try:
            self.assert_deferred(data, "temp dir removed")
        finally:
            os.rename(moved, self.temp_dir)
        self.assert_delivered_unchanged(data)

    def test_full_tmpfs_defers_then_delivers(self):
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.temp_dir],
                               capture_output=True, text=True, timeout=10)
        if mount.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
        data = large_message("full", 3 << 20, self.rnd)
        try:
            self.assert_deferred(data, "temp dir full")
        finally:
            subprocess.run(["umount", self.temp_dir], capture_output=True, timeout=10)
        self.assert_delivered_unchanged(data)


if __name__ == "__main__":
    unittest.main()
