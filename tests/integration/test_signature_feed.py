# SPDX-License-Identifier: GPL-2.0-or-later
"""The signature updater against a real HTTP server on loopback (Python's http.server), serving
bundles made with kensa-sigtool from sigs/test plus signatures written here for samples made
here. Checks are triggered by SIGHUP (which reloads the store's current set, then checks the
feeds), so every step is deterministic; poll_interval and retry_min are long.

- test_1: an update lands while 16 clients send mail: every session succeeds, the sample
  passes before and is found after, without a restart.
- test_2: each bad thing the feed can serve is refused with its reason logged, nothing is
  published, and the running set still finds the sample: a tampered file, a truncated
  download, a wrong key, an unsigned bundle, a replayed older version, 404, 500, a slow
  server past transfer_timeout, a server that never answers, a download over
  max_download_bytes (with and without Content-Length), a set that fails its canaries, a set
  libclamav cannot load, and a valid newer bundle while the staging filesystem is full (a
  filled one-page tmpfs mounted over staging/; skipped where mounting is not allowed).
- test_3: `kensad --rollback-signatures` goes back one set; SIGHUP loads it (the newer sample
  passes again); the rolled-back version is refused when served again.
- test_4: kensad restarted with junk in the store's staging directory comes up on the last
  good set."""
import http.server
import io
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import unittest

import kensa_harness as h
import scan_helpers as sh

SHELL = os.path.join(h.BUILD_DIR, "control", "kensa-shell")

SIGTOOL = os.path.join(h.BUILD_DIR, "feed", "kensa-sigtool")
DOMAIN = h.LOCAL_DOMAIN
CHECK_TIMEOUT = 30
DELIVERY_TIMEOUT = 30
CLIENTS = 16
MESSAGES_PER_CLIENT = 6
LOAD_TIMEOUT = 60
MAX_DOWNLOAD = 256 * 1024
TRANSFER_TIMEOUT = 2.0
SAMPLE_A = b"kensa feed sample A: not a virus, a marker the test's own signature finds\n"
SAMPLE_B = b"kensa feed sample B: found only by the newest test set\n"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sigtool(*args):
    r = subprocess.run([SIGTOOL, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"kensa-sigtool {' '.join(args)}: {r.stderr}")
    return r


class FeedServer:
    """ThreadingHTTPServer on 127.0.0.1 whose answer for every path is set by the test:
    ("file", path, etag), ("status", code), ("slow", path), ("hang",), ("truncated", path),
    ("unsized", data)."""

    def __init__(self):
        self.plan = ("status", 404)
        self.requests = []
        self.stop_hang = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(dict(self.headers))
                kind, *args = server.plan
                if kind == "status":
                    self.send_response(args[0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif kind == "file":
                    path, etag = args
                    if etag and self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    data = read(path)
                    self.send_response(200)
                    if etag:
                        self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif kind == "truncated":
                    data = read(args[0])
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                elif kind == "slow":
                    data = read(args[0])
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    # 64 bytes every 0.25 s: far past transfer_timeout, bounded in time.
                    for i in range(0, len(data), 64):
                        if server.stop_hang.wait(0.25):
                            break
                        try:
                            self.wfile.write(data[i:i + 64])
                            self.wfile.flush()
                        except OSError:
                            break
                    self.close_connection = True
                elif kind == "hang":
                    server.stop_hang.wait(TRANSFER_TIMEOUT * 3)
                    self.close_connection = True
                elif kind == "unsized":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        self.wfile.write(args[0])
                    except OSError:
                        pass
                    self.close_connection = True

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # kensad hanging up on a refused download is what some cases test

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_hang.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class SignatureFeedTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        sh.require()
        if not os.path.exists(SIGTOOL):
            raise unittest.SkipTest(f"kensa-sigtool not built: {SIGTOOL}")
        cls.tmp = h.make_tmpdir("kensa-feed-")
        cls.server = None
        try:
            cls.make_bundles()
            cls.server = FeedServer()
            cls.server.plan = ("file", cls.b1, '"b1"')  # the check kensad makes at start
            cls.start_kensad({
                "policy": {"inbound_domains": [DOMAIN]},
                "signatures": {
                    "poll_interval": "1h", "poll_jitter": "0s", "retry_min": "1h",
                    "retry_max": "1h", "connect_timeout": "1s",
                    "transfer_timeout": f"{int(TRANSFER_TIMEOUT * 1000)}ms",
                    "max_download_bytes": MAX_DOWNLOAD, "keep_sets": 3,
                    "feed": [{"name": "main",
                              "url": f"http://127.0.0.1:{cls.server.port}/kensa/bundle.tar.gz",
                              "public_keys": [cls.key + ".pub"]}],
                },
            })
        except Exception:
            if cls.server:
                cls.server.close()
            h.remove_tmpdir(cls.tmp)
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.server.close()
        h.remove_tmpdir(cls.tmp)

    @classmethod
    def make_bundles(cls):
        t = cls.tmp
        cls.key = os.path.join(t, "feed")
        cls.other_key = os.path.join(t, "other")
        sigtool("keygen", "-o", cls.key)
        sigtool("keygen", "-o", cls.other_key)

        def db(name, extra):
            d = os.path.join(t, name)
            shutil.copytree(h.TEST_SIGS, d)  # kensa-sigtool build skips README.md
            for fname, text in extra.items():
                with open(os.path.join(d, fname), "w") as f:
                    f.write(text)
            return d

        def bundle(src, version, key=None, name=None):
            unsigned = os.path.join(t, f"{name or version}.unsigned.tar.gz")
            sigtool("build", src, "--version", version, "-o", unsigned)
            if key is None:
                return unsigned
            out = os.path.join(t, f"{name or version}.tar.gz")
            sigtool("sign", unsigned, "--key", key + ".key", "-o", out)
            return out

        sig_a = f"Kensa.Feed.SampleA:0:*:{SAMPLE_A[:40].hex()}\n"
        sig_b = f"Kensa.Feed.SampleB:0:*:{SAMPLE_B[:40].hex()}\n"
        base = db("base", {})
        with_a = db("with-a", {"kensa-feed.ndb": sig_a})
        with_ab = db("with-ab", {"kensa-feed.ndb": sig_a + sig_b})
        cls.b1 = bundle(base, "2024.6.1", cls.key)
        cls.b2 = bundle(with_a, "2024.6.2", cls.key)
        cls.b3 = bundle(with_ab, "2024.6.3", cls.key)
        cls.wrong_key = bundle(with_ab, "2024.6.9", cls.other_key, name="wrong-key")
        cls.unsigned = bundle(with_ab, "2024.6.9", None, name="unsigned")
        no_eicar = os.path.join(t, "no-eicar")
        os.makedirs(no_eicar)
        with open(os.path.join(no_eicar, "kensa-feed.ndb"), "w") as f:
            f.write(sig_a)
        cls.canary_fails = bundle(no_eicar, "2024.6.9", cls.key, name="canary")
        broken = db("broken", {"broken.ndb": "Kensa.Broken:0:*:zz-not-hex-at-all\n"})
        cls.unloadable = bundle(broken, "2024.6.9", cls.key, name="unloadable")
        # Tampered: one byte of a database file changed after signing (same size).
        cls.tampered = os.path.join(t, "tampered.tar.gz")
        with tarfile.open(cls.b3, "r:gz") as src, tarfile.open(cls.tampered, "w:gz") as dst:
            for m in src.getmembers():
                data = src.extractfile(m).read()
                if m.name == "kensa-feed.ndb":
                    data = data.replace(b"SampleB", b"SampleX")
                dst.addfile(m, io.BytesIO(data))
        cls.too_big = os.path.join(t, "too-big.tar.gz")
        with open(cls.too_big, "wb") as f:
            f.write(os.urandom(MAX_DOWNLOAD + 1))

    # helpers

    def updates(self):
        return sh.log_records(self.kensad, "signature_update")

    def check_now(self, plan):
        """Serves plan, sends SIGHUP and returns the signature_update record it caused."""
        self.server.plan = plan
        before = len(self.updates())
        os.kill(self.kensad.pid, signal.SIGHUP)
        ok = h.wait_until(lambda: len(self.updates()) > before, CHECK_TIMEOUT)
        self.assertTrue(ok, f"no signature_update after SIGHUP\n{self.kensad.diagnostics()}")
        return self.updates()[-1]

    def verdict(self, sample, token):
        """Sends one message carrying sample; returns its virus names (empty: passed)."""
        rcpt = f"{token}@{DOMAIN}"
        body = sh.multipart("mixed", [sh.text_part(token), sh.attachment("s.bin", sample)],
                            token)
        rendered = sh.render(sh.message(sh.top_headers(token, rcpt), body))
        (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt], rendered.data)])
        self.assertEqual(o.code, 250, o)
        self.assertTrue(h.wait_until(lambda: o.queue_id in sh.message_records(self.kensad),
                                     DELIVERY_TIMEOUT), o)
        return sh.virus_names(sh.message_records(self.kensad)[o.queue_id][0])

    def assert_found(self, sample, token, name):
        names = self.verdict(sample, token)
        self.assertTrue(any(n.startswith(name) for n in names), (token, names))

    def store(self, *parts):
        return os.path.join(self.kensad.state_dir, "signature-store", *parts)

    def pointer(self):
        with open(self.store("current")) as f:
            return f.read().strip()

    # tests (in name order: each builds on the state the one before left)

    def test_1_update_lands_while_clients_send(self):
        self.assertTrue(h.wait_until(lambda: self.updates(), CHECK_TIMEOUT),
                        self.kensad.diagnostics())
        rec = self.updates()[0]
        self.assertEqual((rec["result"], rec["version"]), ("published", "2024.6.1"), rec)
        self.assertEqual(self.verdict(SAMPLE_A, "before"), [])

        errors, done = [], []

        def client(n):
            try:
                for i in range(MESSAGES_PER_CLIENT):
                    token = f"load-{n}-{i}"
                    rcpt = f"{token}@{DOMAIN}"
                    data = h.make_message(token, to=rcpt)
                    (o,) = sh.send_all(self.kensad.port, [("sender@example.org", [rcpt], data)],
                                       timeout=LOAD_TIMEOUT)
                    if o.code != 250:
                        errors.append((token, o))
                    done.append(token)
            except Exception as e:  # a failed session is what this test looks for
                errors.append((n, repr(e)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        h.wait_until(lambda: len(done) >= CLIENTS, LOAD_TIMEOUT)  # the load is under way
        rec = self.check_now(("file", self.b2, '"b2"'))
        for t in threads:
            t.join(LOAD_TIMEOUT)
        self.assertFalse(any(t.is_alive() for t in threads), "clients did not finish")
        self.assertEqual(errors, [])
        self.assertEqual(len(done), CLIENTS * MESSAGES_PER_CLIENT)
        self.assertEqual((rec["result"], rec["version"]), ("published", "2024.6.2"), rec)
        self.assertIn("url", rec)
        self.assertIn("duration", rec)
        self.assert_found(SAMPLE_A, "after", "Kensa.Feed.SampleA")
        self.assertEqual(self.kensad.starts, 1)
        self.assertEqual(self.pointer(), "2024.6.2")

    def test_2_bad_updates_are_refused_and_the_old_set_serves(self):
        cases = [
            ("tampered", ("file", self.tampered, None), "has SHA-256"),
            ("truncated", ("truncated", self.b3), "download: truncated"),
            ("wrong key", ("file", self.wrong_key, None), "does not verify with any trusted key"),
            ("unsigned", ("file", self.unsigned, None), "unsigned bundle"),
            ("replay", ("file", self.b1, '"old"'), "replay: version 2024.6.1 is older"),
            ("404", ("status", 404), "download: HTTP 404"),
            ("500", ("status", 500), "download: HTTP 500"),
            ("slow", ("slow", self.b3), "timed out"),
            ("hang", ("hang",), "timed out"),
            ("too big", ("file", self.too_big, None), "max_download_bytes"),
            ("too big unsized", ("unsized", read(self.too_big)),
             "max_download_bytes"),
            ("canaries", ("file", self.canary_fails, None), "canary: EICAR not detected"),
            ("unloadable", ("file", self.unloadable, None), "build: "),
        ]
        published = sum(1 for r in self.updates() if r["result"] == "published")
        for name, plan, reason in cases:
            with self.subTest(name):
                start = time.monotonic()
                rec = self.check_now(plan)
                self.assertIn(rec["result"], ("refused", "failed"), rec)
                self.assertIn(reason, rec.get("reason", ""), rec)
                self.assertLess(time.monotonic() - start, CHECK_TIMEOUT)
        with self.subTest("disk full while staging"):
            self.check_with_full_staging(published)
        self.assertEqual(sum(1 for r in self.updates() if r["result"] == "published"), published)
        self.assertEqual(self.pointer(), "2024.6.2")
        self.assertEqual(os.listdir(self.store("staging")), [])
        self.assert_found(SAMPLE_A, "still", "Kensa.Feed.SampleA")
        self.assertTrue(self.kensad.running())

    def check_with_full_staging(self, published):
        """A valid newer bundle while the staging directory's filesystem is full: a tmpfs of
        one page, filled, mounted over it for the one check."""
        staging = self.store("staging")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", staging],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a small tmpfs over staging/ (needs root and "
                          f"CAP_SYS_ADMIN): {r.stderr.strip()}")
        try:
            fd = os.open(os.path.join(staging, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 4096) > 0:
                    pass
            except OSError:
                pass  # full
            finally:
                os.close(fd)
            rec = self.check_now(("file", self.b3, '"b3-full"'))
            self.assertIn(rec["result"], ("refused", "failed"), rec)
            self.assertIn("No space left on device", rec.get("reason", ""), rec)
            os.remove(os.path.join(staging, "filler"))
        finally:
            subprocess.run(["umount", staging], check=True)
        self.assertEqual(sum(1 for r in self.updates() if r["result"] == "published"), published)

    def test_3_rollback_restores_the_previous_set(self):
        rec = self.check_now(("file", self.b3, '"b3"'))
        self.assertEqual((rec["result"], rec["version"]), ("published", "2024.6.3"), rec)
        self.assert_found(SAMPLE_B, "newest", "Kensa.Feed.SampleB")
        r = subprocess.run([h.KENSAD, "--config", self.kensad.config_path,
                            "--rollback-signatures"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rolled back from 2024.6.3 to 2024.6.2", r.stdout)
        self.assertEqual(self.pointer(), "2024.6.2")
        # SIGHUP loads the rolled-back-to set; the feed, still serving 2024.6.3 under a new
        # ETag, is refused.
        rec = self.check_now(("file", self.b3, '"b3-again"'))
        self.assertEqual(rec["result"], "refused", rec)
        self.assertIn("version 2024.6.3 was rolled back", rec["reason"])
        loaded = sh.log_records(self.kensad, "signature_store_loaded")
        self.assertEqual(loaded[-1]["version"], "2024.6.2")
        self.assertEqual(self.verdict(SAMPLE_B, "rolledback"), [])
        self.assert_found(SAMPLE_A, "rolledback-a", "Kensa.Feed.SampleA")

    def test_4_restart_with_broken_staging_comes_up_on_the_last_good_set(self):
        self.kensad.stop()
        staging = self.store("staging")
        os.makedirs(os.path.join(staging, "main.set", "deeper"), exist_ok=True)
        with open(os.path.join(staging, "main.set", "kensa-feed.ndb"), "w") as f:
            f.write("Kensa.Half:0:*:41")  # a set cut short
        with open(os.path.join(staging, "main.download.part"), "wb") as f:
            f.write(b"\x1f\x8b half a download")
        self.server.plan = ("status", 500)  # the feed is down too
        self.kensad.start()
        loaded = sh.log_records(self.kensad, "signature_store_loaded")
        self.assertEqual(loaded[-1]["version"], "2024.6.2", self.kensad.diagnostics())
        self.assert_found(SAMPLE_A, "restarted", "Kensa.Feed.SampleA")
        self.assertTrue(h.wait_until(lambda: os.listdir(staging) == [], CHECK_TIMEOUT))

    def shell(self, command):
        socket = os.path.join(self.kensad.state_dir, "control.sock")
        r = subprocess.run([SHELL, "--socket", socket, "-c", command], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, f"{command}: {r.stdout}{r.stderr}")
        return r.stdout

    def test_5_the_admin_shell_shows_checks_checks_now_and_rolls_back(self):
        history = self.shell("signatures history")
        self.assertIn("running 2024.6.2", history)
        self.assertIn("set 2024.6.2 current", history)
        self.assertIn("refused 2024.6.3", history)
        # `signatures update` checks the feeds at once (here: the rolled-back version again).
        self.server.plan = ("file", self.b3, '"b3-shell"')
        before = len(self.updates())
        self.shell("signatures update")
        self.assertTrue(h.wait_until(lambda: len(self.updates()) > before, CHECK_TIMEOUT),
                        self.kensad.diagnostics())
        self.assertEqual(self.updates()[-1]["result"], "refused", self.updates()[-1])
        self.assertRegex(self.shell("signatures history"), r"check \S+ \S+ 2024\.6\.3 refused")
        # `signatures rollback` moves the store back and loads that set without a restart.
        loaded = len(sh.log_records(self.kensad, "signature_store_loaded"))
        out = self.shell("signatures rollback")
        self.assertIn("rolled back from 2024.6.2 to 2024.6.1", out)
        self.assertEqual(self.pointer(), "2024.6.1")
        self.assertTrue(h.wait_until(
            lambda: len(sh.log_records(self.kensad, "signature_store_loaded")) > loaded,
            CHECK_TIMEOUT), self.kensad.diagnostics())
        self.assertEqual(sh.log_records(self.kensad, "signature_store_loaded")[-1]["version"],
                         "2024.6.1")
        self.assertEqual(self.verdict(SAMPLE_A, "shell-rolledback"), [])


if __name__ == "__main__":
    unittest.main()
