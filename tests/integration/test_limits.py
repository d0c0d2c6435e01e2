# SPDX-License-Identifier: GPL-2.0-or-later
"""Connection limits and bounded memory: 10,000 concurrent idle connections all greeted with
kensad's RSS bounded; 421 beyond the per-client and the total connection limits; 421 after
too many commands in one session."""
import errno
import os
import resource
import select
import smtplib
import socket
import time
import unittest

import kensa_harness as h

IDLE_CONNECTIONS = 10_000
RSS_LIMIT_KB = 1 << 20  # 1 GiB
CONNECT_WINDOW = 400     # connections in flight (connecting, not yet greeted) at once


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def greeting(port, source="127.0.0.1", timeout=5):
    """(code, socket) for one new connection; the socket stays open."""
    r = h.RawSmtp(port, source=source, timeout=timeout)
    try:
        code, _ = r.reply()
    except (EOFError, ConnectionResetError):
        code = None
    return code, r


def greeted_once(port, source="127.0.0.1"):
    code, r = greeting(port, source=source)
    r.close()
    return code == 220


def open_fds(pid):
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


class ManyIdleConnectionsTest(unittest.TestCase):

    def test_10000_idle_connections(self):
        have = raise_nofile(IDLE_CONNECTIONS + 200)
        if have < IDLE_CONNECTIONS + 200:
            self.skipTest(f"RLIMIT_NOFILE hard limit {have} is below {IDLE_CONNECTIONS + 200}")
        kensad = h.Kensad({"smtp": {"max_connections": 20_000,
                                    "max_connections_per_client": 100,
                                    "connection_limit_exempt": ["127.0.0.0/8"],
                                    "command_timeout": "120s"}})
        self.addCleanup(kensad.close)
        kensad.start()
        rss_before = kensad.rss_kb()

        ep = select.epoll()
        self.addCleanup(ep.close)
        socks = {}      # fd -> socket
        bufs = {}       # fd -> bytes received
        greeted = set()
        failed = []
        started = 0
        in_flight = 0
        deadline = time.monotonic() + 120
        self.addCleanup(lambda: [s.close() for s in socks.values()])
        # Sources spread over 127.0.0.1-127.0.0.4 so that ephemeral ports never run short.
        sources = [f"127.0.0.{i}" for i in range(1, 5)]
        while (len(greeted) + len(failed) < IDLE_CONNECTIONS and time.monotonic() < deadline):
            while started < IDLE_CONNECTIONS and in_flight < CONNECT_WINDOW:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.bind((sources[started % len(sources)], 0))
                rc = s.connect_ex(("127.0.0.1", kensad.port))
                if rc not in (0, errno.EINPROGRESS):
                    failed.append(os.strerror(rc))
                    s.close()
                    started += 1
                    continue
                socks[s.fileno()] = s
                bufs[s.fileno()] = b""
                ep.register(s.fileno(), select.EPOLLIN)
                started += 1
                in_flight += 1
            for fd, ev in ep.poll(0.5):
                s = socks[fd]
                try:
                    chunk = s.recv(512)
                except BlockingIOError:
                    continue
                except OSError as e:
                    chunk = b""
                    failed.append(str(e))
                if not chunk:
                    ep.unregister(fd)
                    in_flight -= 1
                    if fd not in greeted:
                        failed.append(f"closed after {bufs[fd]!r}")
                    continue
                bufs[fd] += chunk
                if b"\n" in bufs[fd] and fd not in greeted:
                    if bufs[fd].startswith(b"220"):
                        greeted.add(fd)
                    else:
                        failed.append(bufs[fd][:80])
                    ep.unregister(fd)
                    in_flight -= 1
        rss = kensad.rss_kb()
        print(f"\n{len(greeted)} connections greeted, {len(failed)} failed; kensad RSS "
              f"{rss_before} kB before, {rss} kB with them open "
              f"({(rss - rss_before) * 1024 / max(1, len(greeted)):.0f} bytes each)")
        self.assertEqual(failed[:10], [])
        self.assertEqual(len(greeted), IDLE_CONNECTIONS)
        self.assertLess(rss, RSS_LIMIT_KB, f"kensad RSS {rss} kB with {len(greeted)} idle "
                                           "connections")
        # still responsive while they are all open
        t0 = time.monotonic()
        code, r = greeting(kensad.port, source="127.0.0.5")
        self.addCleanup(r.close)
        self.assertEqual(code, 220)
        self.assertEqual(r.cmd("EHLO probe.example.org")[0], 250)
        self.assertLess(time.monotonic() - t0, 2, "slow greeting with 10,000 idle connections")
        r.close()
        # an idle connection still works too
        fd = next(iter(greeted))
        s = socks[fd]
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(b"NOOP\r\n")
        self.assertTrue(s.recv(512).startswith(b"250"))
        for sock in socks.values():
            sock.close()
        socks.clear()
        self.assertTrue(kensad.running(), kensad.diagnostics())
        # after they are gone, new connections are accepted as usual
        ok = h.wait_until(lambda: greeted_once(kensad.port), 20, 0.5)
        self.assertTrue(ok)
        self.assertEqual(kensad.stop(), 0)


class ResourceLeakTest(unittest.TestCase):

    def test_no_descriptor_leak_after_many_messages(self):
        # Every queue file is closed once its message is spooled and removed once delivered:
        # kensad's descriptors (and the spool's disk space) do not grow with traffic.
        kensad = h.Kensad()
        self.addCleanup(kensad.close)
        kensad.start()
        before = open_fds(kensad.pid)
        n = 200
        with smtplib.SMTP("127.0.0.1", kensad.port, timeout=15) as s:
            s.ehlo("client.example.org")
            for i in range(n):
                self.assertEqual(s.sendmail("s@example.org", [f"fd{i % 4}@example.test"],
                                            h.make_message(f"fd-{i}")), {})
        self.assertTrue(kensad.wait_spool_empty(30), kensad.diagnostics())
        ok = h.wait_until(lambda: sum(len(kensad.maildir_messages(f"fd{i}@example.test"))
                                      for i in range(4)) >= n, 30)
        self.assertTrue(ok, kensad.diagnostics())
        time.sleep(1)
        after = open_fds(kensad.pid)
        leaked = sorted(v for k, v in after.items() if k not in before or before[k] != v)
        self.assertLess(len(after), len(before) + 10,
                        f"{len(after) - len(before)} more descriptors after {n} messages, e.g. "
                        f"{leaked[:5]}")


class ConnectionLimitTest(unittest.TestCase):

    def open_many(self, port, n, sources):
        conns = []
        for i in range(n):
            code, r = greeting(port, source=sources[i % len(sources)])
            self.addCleanup(r.close)
            self.assertEqual(code, 220, f"connection {i + 1} of {n} refused")
            conns.append(r)
        return conns

    def test_per_client_limit(self):
        kensad = h.Kensad({"smtp": {"max_connections_per_client": 5, "max_connections": 100}})
        self.addCleanup(kensad.close)
        kensad.start()
        time.sleep(0.3)  # the start-up probe's slot is released
        conns = self.open_many(kensad.port, 5, ["127.0.0.1"])
        code, r = greeting(kensad.port)
        self.addCleanup(r.close)
        self.assertEqual(code, 421, "6th connection from one address was not refused")
        self.assertTrue(r.closed_by_peer())
        # another client address is not affected
        code, other = greeting(kensad.port, source="127.0.0.2")
        self.addCleanup(other.close)
        self.assertEqual(code, 220)
        # a slot comes back when a connection ends
        self.assertEqual(conns[0].cmd("QUIT")[0], 221)
        conns[0].close()
        ok = h.wait_until(lambda: self._try(kensad.port, "127.0.0.1"), 5, 0.2)
        self.assertTrue(ok, "slot not released after QUIT")

    def _try(self, port, source):
        code, r = greeting(port, source=source)
        self.addCleanup(r.close)
        return code == 220

    def test_total_limit(self):
        kensad = h.Kensad({"smtp": {"max_connections": 8, "max_connections_per_client": 100}})
        self.addCleanup(kensad.close)
        kensad.start()
        time.sleep(0.3)
        self.open_many(kensad.port, 8, [f"127.0.0.{i}" for i in range(1, 9)])
        code, r = greeting(kensad.port, source="127.0.0.9")
        self.addCleanup(r.close)
        self.assertEqual(code, 421, "connection beyond max_connections was not refused")
        self.assertTrue(r.closed_by_peer())
        self.assertTrue(kensad.running())

    def test_exempt_network_ignores_per_client_limit(self):
        kensad = h.Kensad({"smtp": {"max_connections_per_client": 2, "max_connections": 100,
                                    "connection_limit_exempt": ["127.0.0.0/24"]}})
        self.addCleanup(kensad.close)
        kensad.start()
        time.sleep(0.3)
        self.open_many(kensad.port, 6, ["127.0.0.1"])
        self.open_many(kensad.port, 2, ["127.0.1.1"])
        code, r = greeting(kensad.port, source="127.0.1.1")
        self.addCleanup(r.close)
        self.assertEqual(code, 421)

    def test_commands_per_session_limit(self):
        kensad = h.Kensad({"smtp": {"max_commands_per_session": 50}})
        self.addCleanup(kensad.close)
        kensad.start()
        code, r = greeting(kensad.port)
        self.addCleanup(r.close)
        self.assertEqual(code, 220)
        r.send(b"NOOP\r\n" * 60)
        codes = []
        for _ in range(60):
            try:
                codes.append(r.reply()[0])
            except (EOFError, ConnectionResetError):
                break
            if codes[-1] == 421:
                break
        self.assertIn(421, codes, codes)
        self.assertLessEqual(codes.index(421), 50, codes)
        self.assertTrue(all(c == 250 for c in codes[:codes.index(421)]), codes)
        self.assertTrue(r.closed_by_peer())


if __name__ == "__main__":
    unittest.main()
