# SPDX-License-Identifier: GPL-2.0-or-later
"""Two kensad behind one HAProxy frontend (Debian's haproxy), as an ISP's fleet runs them.

HAProxy listens on 127.0.0.1 and balances round robin to two kensad nodes with
`send-proxy-v2`, SMTP health checks (`option smtpchk`, sent with the PROXY header too) and
`option redispatch`. Every node's balancer listener trusts only 127.0.0.1 (HAProxy's side);
the clients connect from 127.0.0.2, so the address each node logs and limits shows whose it
is. Checked:
- mail through HAProxy reaches both nodes, and each node logs the client (127.0.0.2), never
  the balancer;
- 16 clients send through HAProxy while one node is SIGKILLed: new sessions move to the other
  node, and after the killed node restarts on its spool, every message that got a 250 is
  delivered (by one node or the other);
- SIGTERM drains a node: HAProxy's health checks (PROXY LOCAL) get 421 first, for
  drain_grace, so traffic moves before the listeners close; its sessions finish: zero
  failures for clients that were mid-session;
- kensa-shell "service drain" does the same for maintenance without stopping kensad (no new
  session reaches the node), and "service resume" brings it back into the rotation.
Bounded: at most 240 messages, every wait has a deadline.
"""
import concurrent.futures
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time
import unittest

import kensa_harness as h

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
KENSA_SHELL = os.path.join(h.BUILD_DIR, "control", "kensa-shell")
CLIENT_ADDRESS = "127.0.0.2"


def haproxy_config(front_port, nodes, stats_socket):
    servers = "\n".join(
        f"    server node{i} 127.0.0.1:{port} send-proxy-v2 check check-send-proxy "
        f"inter 300ms fall 1 rise 2"
        for i, port in enumerate(nodes))
    return f"""global
    maxconn 2000
    stats socket {stats_socket} mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch

frontend mx
    bind 127.0.0.1:{front_port}
    default_backend kensa

backend kensa
    balance roundrobin
    option smtpchk EHLO haproxy.test
{servers}
"""


class HaproxyFleetTest(unittest.TestCase):
    def setUp(self):
        if not h.have(HAPROXY):
            self.skipTest("haproxy not installed (scripts/deps)")
        self.nodes = []
        self.lb_ports = []
        for _ in range(2):
            lb_port = h.free_port()
            k = h.Kensad({
                "reactors": 1,
                # Above HAProxy's check interval x fall (300 ms x 1): it stops sending
                # sessions before the listeners close.
                "drain_grace": "1s",
                "listener": [
                    {"name": "lb", "address": f"127.0.0.1:{lb_port}", "tls": "starttls",
                     "proxy_protocol": True, "trusted_proxies": ["127.0.0.1/32"]}],
            })
            # The harness greets on the mx port: give the node a plain one too.
            k.config["listener"].insert(0, {"name": "mx", "address": f"127.0.0.1:{k.port}",
                                            "tls": "starttls"})
            k.reconfigure({})
            self.addCleanup(k.close)
            k.start()
            self.nodes.append(k)
            self.lb_ports.append(lb_port)
        self.dir = h.make_tmpdir("haproxy-")
        self.addCleanup(h.remove_tmpdir, self.dir)
        self.front_port = h.free_port()
        self.stats = os.path.join(self.dir, "stats.sock")
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(self.front_port, self.lb_ports, self.stats))
        self.log = open(os.path.join(self.dir, "haproxy.log"), "wb")
        self.addCleanup(self.log.close)
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=self.log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop_haproxy)
        self.assertTrue(h.wait_until(lambda: self.servers_up() == 2, 15),
                        f"HAProxy's checks never saw both nodes up: {self.server_states()}")

    def stop_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(10)
            except subprocess.TimeoutExpired:
                self.haproxy.kill()

    def server_states(self):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(self.stats)
                s.sendall(b"show servers state kensa\n")
                out = b""
                while chunk := s.recv(65536):
                    out += chunk
            return out.decode()
        except OSError as e:
            return f"(stats socket: {e})"

    def servers_up(self):
        # Field 6 of "show servers state" is srv_op_state: 2 = running.
        rows = [l.split() for l in self.server_states().splitlines() if l.startswith("3 kensa")]
        return sum(1 for r in rows if len(r) > 5 and r[5] == "2")

    def send(self, token):
        """One message through HAProxy from 127.0.0.2; True when it got a 250."""
        rcpt = f"fleet-{token}@{h.LOCAL_DOMAIN}"
        try:
            s = smtplib.SMTP("127.0.0.1", self.front_port, timeout=30,
                             source_address=(CLIENT_ADDRESS, 0))
        except (smtplib.SMTPException, OSError):
            return False
        try:
            s.sendmail("a@isp.example", [rcpt],
                       f"Subject: {token}\r\n\r\nfleet test {token}\r\n".encode())
        except (smtplib.SMTPException, OSError):
            s.close()
            return False
        # The 250 is the promise; a draining node may answer QUIT with 421 or close.
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()
        return True

    def delivered(self):
        """{token: number of copies} over both nodes' Maildirs."""
        counts = {}
        for k in self.nodes:
            for _, data in h.read_maildirs(k.maildir):
                m = re.search(rb"^Subject: (\S+)", data, re.M)
                if m:
                    counts[m.group(1).decode()] = counts.get(m.group(1).decode(), 0) + 1
        return counts

    def node_log(self, k):
        with open(k.log_file, errors="replace") as f:
            return f.read()

    def test_both_nodes_serve_and_log_the_client(self):
        tokens = [f"a{i}-{os.urandom(3).hex()}" for i in range(8)]
        self.assertTrue(all(self.send(t) for t in tokens))
        self.assertTrue(h.wait_until(lambda: len(self.delivered()) == len(tokens), 20),
                        self.delivered())
        for k in self.nodes:
            log = self.node_log(k)
            self.assertRegex(log, rf"connect\b.*client={re.escape(CLIENT_ADDRESS)}\b.*listener=lb")
            # The balancer's own address only ever shows for its health checks (LOCAL).
            sessions = re.findall(r"\bconnect\b.*client=(\S+).*listener=lb", log)
            self.assertIn(CLIENT_ADDRESS, sessions)

    def run_clients(self, clients, per_client, during):
        """clients x per_client messages through HAProxy; `during` runs once they are busy."""
        accepted, refused = [], []
        lock = threading.Lock()

        def client(c):
            for i in range(per_client):
                token = f"c{c}m{i}-{os.urandom(3).hex()}"
                ok = self.send(token)
                with lock:
                    (accepted if ok else refused).append(token)

        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(client, c) for c in range(clients)]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(accepted) < clients * 2:
                time.sleep(0.05)
            during()
            for f in futures:
                f.result(timeout=120)
        return accepted, refused

    def test_sigkill_one_node_no_mail_lost(self):
        victim = self.nodes[1]
        accepted, refused = self.run_clients(16, 6, lambda: victim.kill())
        self.assertGreater(len(accepted), 48, f"{len(refused)} refused")
        # New sessions went to the surviving node once HAProxy saw the victim down.
        self.assertTrue(h.wait_until(lambda: self.servers_up() == 1, 10), self.server_states())
        victim.start()  # recovers its spool and delivers what it had accepted
        self.assertTrue(h.wait_until(lambda: set(accepted) <= set(self.delivered()), 60),
                        f"lost: {sorted(set(accepted) - set(self.delivered()))}")
        # A message the killed node had delivered but not yet removed from its queue is
        # delivered again after the restart: at least once, never lost (as with Postfix).

    def shell(self, k, command):
        r = subprocess.run([KENSA_SHELL, "--socket", os.path.join(k.state_dir, "control.sock"),
                            "-c", command], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, f"{command}: {r.stdout}{r.stderr}")
        return r.stdout

    def sessions(self, k):
        return len(re.findall(r"\bconnect\b.*listener=lb", self.node_log(k)))

    def test_shell_drain_moves_traffic_and_resume_brings_it_back(self):
        node = self.nodes[0]
        out = self.shell(node, "service drain")
        self.assertIn("accepting no", out)
        self.assertIn("health_checks failing; listeners close in 1s", out)
        self.assertIn("accepting no", self.shell(node, "show status"))
        self.assertTrue(h.wait_until(lambda: self.servers_up() == 1, 10), self.server_states())
        before = self.sessions(node)
        tokens = [f"d{i}-{os.urandom(3).hex()}" for i in range(6)]
        self.assertTrue(all(self.send(t) for t in tokens))
        self.assertEqual(self.sessions(node), before, "a drained node took new sessions")
        self.assertIn("accepting yes", self.shell(node, "service resume"))
        self.assertTrue(h.wait_until(lambda: self.servers_up() == 2, 10), self.server_states())
        self.assertTrue(all(self.send(f"r{i}-{os.urandom(3).hex()}") for i in range(4)))
        self.assertGreater(self.sessions(node), before, "no session after resume")

    def test_sigterm_drains_a_node_without_failures(self):
        victim = self.nodes[0]
        stopped = threading.Event()

        def drain():
            threading.Thread(target=lambda: (victim.stop(), stopped.set()), daemon=True).start()

        accepted, refused = self.run_clients(16, 5, drain)
        self.assertEqual(refused, [], "a client failed while a node drained")
        self.assertTrue(stopped.wait(30))
        self.assertEqual(victim.proc.returncode, 0, "the drained node did not exit cleanly")
        victim.start()  # delivers what it queued and had not yet delivered
        self.assertTrue(h.wait_until(lambda: set(accepted) <= set(self.delivered()), 30),
                        f"undelivered: {sorted(set(accepted) - set(self.delivered()))}")


if __name__ == "__main__":
    unittest.main()
