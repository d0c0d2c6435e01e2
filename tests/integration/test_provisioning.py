# SPDX-License-Identifier: GPL-2.0-or-later
"""A fleet's subscriber list: two kensad nodes pull the ISP's export from nginx.

nginx (Debian's, started here on 127.0.0.1 with its own config) serves subscribers.csv; both
nodes have `[provisioning] subscribers_url` on it, poll every second, and keep the domain
local.test as their own. Checked:
- the export reaches both stores, and a changed export reaches both within a poll interval
  (plus the time to notice), by conditional requests (nginx answers 304 while it is unchanged);
- a local edit in local.test survives the export; one elsewhere is overwritten by it;
- a bad export (cut without its last line end, a malformed line, no subscriber, HTTP 404)
  changes nothing on either node and is logged (provisioning_failed, show status).
"""
import os
import shutil
import subprocess
import time
import unittest

import kensa_harness as h

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KENSA_SUBSCRIBERS = os.path.join(h.BUILD_DIR, "appliance", "kensa-subscribers")
KENSA_SHELL = os.path.join(h.BUILD_DIR, "control", "kensa-shell")
POLL_S = 1
HEADER = "address,inbound,outbound,action\n"


class ProvisioningTest(unittest.TestCase):
    def setUp(self):
        if not h.have(NGINX):
            self.skipTest("nginx not installed (scripts/deps)")
        self.dir = h.make_tmpdir("nginx-")
        self.addCleanup(h.remove_tmpdir, self.dir)
        self.www = os.path.join(self.dir, "www")
        os.makedirs(self.www)
        os.chmod(self.www, 0o755)
        self.port = h.free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {self.dir}/access.log;
    client_body_temp_path {self.dir}/client_body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    default_type text/csv;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.www};
    }}
}}
""")
        self.nginx = subprocess.Popen([NGINX, "-c", conf, "-p", self.dir],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop_nginx)
        self.write_export(HEADER + "a@example.test,on,on,\nb@example.test,on,off,reject\n")
        self.assertTrue(h.wait_until(self.nginx_serves, 10), "nginx did not start")
        self.nodes = []
        for _ in range(2):
            k = h.Kensad({"reactors": 1, "provisioning": {
                "subscribers_url": f"http://127.0.0.1:{self.port}/subscribers.csv",
                "poll_interval": f"{POLL_S}s", "keep_local_domains": ["local.test"]}})
            self.addCleanup(k.close)
            k.start()
            self.nodes.append(k)

    def stop_nginx(self):
        if self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(10)

    def nginx_serves(self):
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/subscribers.csv",
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def write_export(self, text):
        # Written beside and renamed, as a provisioning system publishes a file; a distinct
        # mtime each time, so nginx's validators change with the content.
        path = os.path.join(self.www, "subscribers.csv")
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        t = time.time()
        os.utime(tmp, (t, t))
        os.replace(tmp, path)

    def store(self, k):
        """{address: 'inbound,outbound,action'} of a node's store, read as an operator would."""
        db = os.path.join(k.state_dir, "subscribers")
        out = subprocess.run([KENSA_SUBSCRIBERS, "--db", db, "export"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = out.stdout.splitlines()[1:]
        return {r.split(",", 1)[0]: r.split(",", 1)[1] for r in rows if r}

    def keys(self, k):
        return set(self.store(k))

    def all_nodes(self, expected, timeout):
        return h.wait_until(lambda: all(self.keys(k) == expected for k in self.nodes), timeout)

    def log(self, k):
        with open(k.log_file, errors="replace") as f:
            return f.read()

    def test_export_reaches_every_node_and_changes_follow(self):
        self.assertTrue(self.all_nodes({"a@example.test", "b@example.test"}, 10),
                        [self.store(k) for k in self.nodes])
        self.assertEqual(self.store(self.nodes[0])["b@example.test"], "on,off,reject")
        # Unchanged: conditional requests answered 304.
        self.assertTrue(h.wait_until(lambda: " 304 " in open(
            os.path.join(self.dir, "access.log")).read(), 10))
        changed = time.monotonic()
        self.write_export(HEADER + "a@example.test,off,on,\nc@example.test,on,on,\n")
        self.assertTrue(self.all_nodes({"a@example.test", "c@example.test"}, 10))
        self.assertLess(time.monotonic() - changed, POLL_S + 3)
        self.assertEqual(self.store(self.nodes[1])["a@example.test"], "off,on,default")
        self.assertRegex(self.log(self.nodes[0]), r"provisioning_updated\b.*rows=2")

    def test_local_domains_stay_the_nodes_own(self):
        self.assertTrue(self.all_nodes({"a@example.test", "b@example.test"}, 10))
        node = self.nodes[0]
        db = os.path.join(node.state_dir, "subscribers")
        for address in ("x@local.test", "z@example.test"):
            r = subprocess.run([KENSA_SUBSCRIBERS, "--db", db, "add", address], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.write_export(HEADER + "a@example.test,on,on,\ny@local.test,on,on,\n")
        self.assertTrue(h.wait_until(
            lambda: self.keys(node) == {"a@example.test", "x@local.test"}, 10), self.store(node))
        # The other node has no local entry: the export's y@local.test is ignored there too.
        self.assertTrue(h.wait_until(
            lambda: self.keys(self.nodes[1]) == {"a@example.test"}, 10), self.store(self.nodes[1]))

    def test_bad_exports_change_nothing(self):
        good = {"a@example.test", "b@example.test"}
        self.assertTrue(self.all_nodes(good, 10))
        bad = {
            "cut without its last line end": HEADER + "a@example.test,on,on,\nc@exa",
            "a malformed line": HEADER + "a@example.test,on,on,\nnot an address,on,on,\n",
            "no subscriber": HEADER,
        }
        for name, text in bad.items():
            with self.subTest(name):
                before = [self.log(k).count("provisioning_failed") for k in self.nodes]
                self.write_export(text)
                self.assertTrue(h.wait_until(lambda: all(
                    self.log(k).count("provisioning_failed") > n
                    for k, n in zip(self.nodes, before)), 10), name)
                for k in self.nodes:
                    self.assertEqual(self.keys(k), good, name)
        os.remove(os.path.join(self.www, "subscribers.csv"))
        before = [self.log(k).count("provisioning_failed") for k in self.nodes]
        self.assertTrue(h.wait_until(lambda: all(
            self.log(k).count("provisioning_failed") > n for k, n in zip(self.nodes, before)), 10))
        self.assertRegex(self.log(self.nodes[0]), r"provisioning_failed\b.*404")
        for k in self.nodes:
            self.assertEqual(self.keys(k), good)
        status = subprocess.run(
            [KENSA_SHELL, "--socket", os.path.join(self.nodes[0].state_dir, "control.sock"),
             "-c", "show status"], capture_output=True, text=True, timeout=30)
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertRegex(status.stdout, r"subscribers_last_update \S+ failed")
        self.assertRegex(status.stdout, r"subscribers_last_error .*404")

if __name__ == "__main__":
    unittest.main()
