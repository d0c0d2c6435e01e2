# SPDX-License-Identifier: GPL-2.0-or-later
"""kensad behind a load balancer: the PROXY protocol (v1 and v2) on its listeners.

One kensad with these listeners: "mx" (plain, what the harness greets on), "lb" (STARTTLS,
proxy_protocol, trusting 127.0.0.1, a 1 s header timeout and at most 232 header bytes),
"lbs" (implicit TLS, proxy_protocol, trusting 127.0.0.0/8), "far" (proxy_protocol trusting
only 192.0.2.0/24, which this test's 127.0.0.1 is not) and "pop3lb" (POP3, proxy_protocol).
Checked: TCP4 and TCP6 headers name the client in the log, the Received field and the
per-client connection limit; LOCAL (a balancer's health check) keeps the socket's address;
bad signatures, truncated, oversized, slow headers and headers from an untrusted address are
closed without a greeting and logged; implicit TLS whose ClientHello arrives in the same
segment as the header; the POP3 listener.
"""
import os
import re
import socket
import ssl
import struct
import time
import unittest

import kensa_harness as h

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(command, family, body):
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


def v2_tcp4(src, sport, dst="127.0.0.1", dport=25):
    return v2(1, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport))


def v2_tcp6(src, sport, dst="::1", dport=25):
    return v2(1, 0x21, socket.inet_pton(socket.AF_INET6, src)
              + socket.inet_pton(socket.AF_INET6, dst) + struct.pack("!HH", sport, dport))


def read_line(sock, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def read_reply(sock, timeout=10):
    """One whole SMTP reply, multi-line ones included."""
    sock.settimeout(timeout)
    buf = b""
    while not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", buf):
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def closed_without_greeting(sock, timeout=10):
    """True when kensad closes the connection having sent nothing."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


class ProxyProtocolTest(h.KensadTestCase):
    @classmethod
    def setUpClass(cls):
        cls.mx_port, cls.lb_port = h.free_port(), h.free_port()
        cls.lbs_port, cls.far_port, cls.pop3_port = h.free_port(), h.free_port(), h.free_port()
        cls.start_kensad({
            "smtp": {"max_connections_per_client": 2,
                     # The harness's own connections (127.0.0.1) stay unlimited.
                     "connection_limit_exempt": ["127.0.0.1/32"]},
            "listener": [
                {"name": "mx", "address": f"127.0.0.1:{cls.mx_port}", "tls": "starttls"},
                {"name": "lb", "address": f"127.0.0.1:{cls.lb_port}", "tls": "starttls",
                 "proxy_protocol": True, "trusted_proxies": ["127.0.0.1/32"],
                 "proxy_header_timeout": "1s", "proxy_header_max_bytes": 232},
                {"name": "lbs", "address": f"127.0.0.1:{cls.lbs_port}", "tls": "implicit",
                 "proxy_protocol": True, "trusted_proxies": ["127.0.0.0/8", "::1/128"]},
                {"name": "far", "address": f"127.0.0.1:{cls.far_port}", "tls": "starttls",
                 "proxy_protocol": True, "trusted_proxies": ["192.0.2.0/24"]},
                {"name": "pop3lb", "address": f"127.0.0.1:{cls.pop3_port}", "tls": "starttls",
                 "protocol": "pop3", "proxy_protocol": True, "trusted_proxies": ["127.0.0.1"]},
            ]}, port=cls.mx_port)

    def connect(self, port=None):
        s = socket.create_connection(("127.0.0.1", port or self.lb_port), timeout=10)
        self.addCleanup(s.close)
        return s

    def log(self):
        with open(self.kensad.log_file, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10):
        found = h.wait_until(lambda: re.search(pattern, self.log()), timeout)
        self.assertTrue(found, f"no log line matching {pattern!r}:\n{self.log()[-3000:]}")

    def test_v1_tcp4_client_in_log_and_received(self):
        s = self.connect()
        s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 25\r\n")
        self.assertTrue(read_line(s).startswith(b"220 "))
        token = os.urandom(6).hex()
        rcpt = f"proxied-{token}@{h.LOCAL_DOMAIN}"
        for command, code in [(b"EHLO client.example", b"250"),
                              (b"MAIL FROM:<a@isp.example>", b"250"),
                              (f"RCPT TO:<{rcpt}>".encode(), b"250"), (b"DATA", b"354")]:
            s.sendall(command + b"\r\n")
            reply = read_reply(s)
            self.assertTrue(reply.startswith(code), (command, reply))
        s.sendall(f"Subject: {token}\r\n\r\nbody\r\n.\r\n".encode())
        self.assertTrue(read_line(s).startswith(b"250"))
        s.sendall(b"QUIT\r\n")
        self.assertTrue(h.wait_until(lambda: h.read_maildirs(self.kensad.maildir, rcpt), 15))
        data = h.read_maildirs(self.kensad.maildir, rcpt)[0][1]
        received = data.split(b"\n", 3)[:3]
        self.assertIn(b"192.0.2.7", b"".join(received), data[:400])
        self.wait_log(r"connect\b.*client=192\.0\.2\.7\b.*listener=lb")

    def test_v2_tcp6_client_in_log(self):
        s = self.connect()
        s.sendall(v2_tcp6("2001:db8::7", 40002))
        self.assertTrue(read_line(s).startswith(b"220 "))
        s.sendall(b"QUIT\r\n")
        self.assertTrue(read_line(s).startswith(b"221"))
        self.wait_log(r"connect\b.*client=2001:db8::7\b")

    def test_v2_local_health_check_keeps_the_socket_address(self):
        s = self.connect()
        s.sendall(v2(0, 0x00, b""))
        self.assertTrue(read_line(s).startswith(b"220 "))
        s.sendall(b"QUIT\r\n")
        self.assertTrue(read_line(s).startswith(b"221"))

    def test_per_client_limit_counts_the_real_client(self):
        held = []
        for _ in range(2):
            s = self.connect()
            s.sendall(v2_tcp4("198.51.100.9", 40100 + len(held)))
            self.assertTrue(read_line(s).startswith(b"220 "))
            held.append(s)
        third = self.connect()
        third.sendall(v2_tcp4("198.51.100.9", 40199))
        self.assertIn(b"too many connections from 198.51.100.9", read_line(third))
        # Another client behind the same balancer is not affected.
        other = self.connect()
        other.sendall(v2_tcp4("198.51.100.10", 40200))
        self.assertTrue(read_line(other).startswith(b"220 "))

    def test_bad_headers_are_closed_and_logged(self):
        cases = {
            "no header": b"EHLO client.example\r\n",
            "bad v2 signature": V2_SIGNATURE[:6] + b"x" + V2_SIGNATURE[7:] + b"\x21\x11\x00\x0c",
            "bad v1 address": b"PROXY TCP4 192.0.2.300 127.0.0.1 1 25\r\n",
            "oversized v2": v2(1, 0x11, b"\x00" * 300),
            "oversized v1": b"PROXY UNKNOWN " + b"a" * 200,
        }
        for name, header in cases.items():
            with self.subTest(name):
                s = self.connect()
                s.sendall(header)
                self.assertTrue(closed_without_greeting(s), name)
        self.wait_log(r"proxy_header_failed\b.*over 232")

    def test_truncated_header_then_close(self):
        s = self.connect()
        s.sendall(v2_tcp4("192.0.2.8", 1)[:20])
        s.shutdown(socket.SHUT_WR)
        self.assertTrue(closed_without_greeting(s))
        self.wait_log(r"proxy_header_failed\b.*closed before the PROXY header")

    def test_slow_header_times_out(self):
        s = self.connect()
        started = time.monotonic()
        s.sendall(b"PROXY TCP4 192.0.2.")
        self.assertTrue(closed_without_greeting(s, timeout=10))
        self.assertLess(time.monotonic() - started, 5)
        self.wait_log(r"proxy_header_failed\b.*within 1s")

    def test_untrusted_address_is_refused(self):
        s = self.connect(self.far_port)
        s.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 25\r\n")
        self.assertTrue(closed_without_greeting(s))
        self.wait_log(r"proxy_refused\b.*listener=far.*not in trusted_proxies")

    def test_pop3_listener(self):
        s = self.connect(self.pop3_port)
        s.sendall(b"PROXY TCP4 198.51.100.44 127.0.0.1 40500 110\r\n")
        self.assertTrue(read_line(s).startswith(b"+OK"))
        s.sendall(b"QUIT\r\n")
        self.assertTrue(read_line(s).startswith(b"+OK"))
        self.wait_log(r"connect\b.*client=198\.51\.100\.44\b.*listener=pop3lb")

    def test_implicit_tls_with_the_client_hello_in_the_same_segment(self):
        context = ssl._create_unverified_context()
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing)
        with self.assertRaises(ssl.SSLWantReadError):
            tls.do_handshake()
        s = self.connect(self.lbs_port)
        # The header and the ClientHello in one write: kensad must hand what follows the
        # header to TLS.
        s.sendall(v2_tcp4("203.0.113.5", 40300) + outgoing.read())
        s.settimeout(10)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    s.sendall(outgoing.read())
                chunk = s.recv(65536)
                self.assertTrue(chunk, "closed during the handshake")
                incoming.write(chunk)
        if outgoing.pending:
            s.sendall(outgoing.read())
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            try:
                greeting += tls.read(4096)
            except ssl.SSLWantReadError:
                incoming.write(s.recv(65536))
        self.assertTrue(greeting.startswith(b"220 "), greeting)
        self.wait_log(r"connect\b.*client=203\.0\.113\.5\b.*listener=lbs")


if __name__ == "__main__":
    unittest.main()
