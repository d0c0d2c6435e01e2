# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for kensa's integration tests: the real kensad and real peers on loopback.

- Kensad: writes a TOML config into a fresh temp dir and runs $KENSA_BUILD_DIR/appliance/kensad.
- SmtpSink: Postfix's smtp-sink, optionally dumping every message into a directory.
- Postfix: a whole Postfix instance in its own config directory (see ../shared/PEERS.md),
  either delivering example.test into Maildirs (virtual(8)) or relaying to a relayhost.
- RawSmtp: a line-exact SMTP client over a plain socket, for what smtplib cannot send.
- KensadTestCase: a unittest base for a class whose tests share one kensad.

Everything listens on 127.0.0.1 only; every wait is bounded; every process is stopped by PID.
"""
import contextlib
import fcntl
import hashlib
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.environ.get(
    "KENSA_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("KENSA_BUILD_DIR", os.path.join(SOURCE_DIR, "build", "default"))
KENSAD = os.path.join(BUILD_DIR, "appliance", "kensad")
KENSA_SCAN = os.path.join(BUILD_DIR, "appliance", "kensa-scan")
# kensa's bundled test signatures (EICAR and the files of Debian's clamav-testfiles).
TEST_SIGS = os.path.join(SOURCE_DIR, "sigs", "test")
# libclamav makes a directory per scan call: on a tmpfs that is cheap (see BENCHMARKS.md).
ENGINE_TMP = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
KEEP_TMP = bool(os.environ.get("KENSA_KEEP_TMP"))
# Set by ctest in the sanitizer tree (asan preset): each kensad writes its ASan/UBSan reports
# into its own directory, and a report fails the test that ran it.
SANITIZED = bool(os.environ.get("KENSA_SANITIZED"))

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"

LOCAL_DOMAIN = "example.test"


def have(binary):
    return os.path.exists(binary) and os.access(binary, os.X_OK)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# Ports for the servers a test starts. Tests run in parallel, and a port the kernel hands out
# for bind(0) comes from the ephemeral range, where any client connection of a test running
# beside it may take it as its source port before the server binds it. So listening ports
# come from below the ephemeral range, and each is reserved across test processes by a lock
# on a file held for the life of the process that picked it.
PORT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "kensa-test-ports")
_port_locks = []  # open lock files: the reservations of this process
_port_rng = random.Random()


def _port_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    return (10000, ephemeral_low) if ephemeral_low > 12000 else None


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the ephemeral
    range, and reserved for this process against every other test process."""
    span = _port_range()
    if span is not None:
        os.makedirs(PORT_LOCK_DIR, mode=0o777, exist_ok=True)
        for _ in range(500):
            port = _port_rng.randrange(*span)
            fd = os.open(os.path.join(PORT_LOCK_DIR, str(port)), os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    os.close(fd)
                    continue
            _port_locks.append(fd)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)  # peers that drop privileges (smtp-sink, Postfix) must traverse it
    return d


def remove_tmpdir(d):
    if d and not KEEP_TMP:
        shutil.rmtree(d, ignore_errors=True)


def wait_until(predicate, timeout, interval=0.1):
    """Polls predicate until it is true or timeout seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def condense_report(reports, frames=12):
    """ASan/UBSan reports cut to what names the bug: the error lines and, per stack, its first
    frames as "function file:line" without addresses or directories."""
    out = []
    for text in reports:
        shown = 0
        for line in text.splitlines():
            m = re.match(r"\s*#(\d+) 0x[0-9a-f]+ in (.*?) (\S+:\d+)(?::\d+)?$", line)
            if m:
                if m.group(1) == "0":
                    shown = 0
                if shown < frames:
                    out.append(f"  #{m.group(1)} {m.group(2)} {os.path.basename(m.group(3))}")
                shown += 1
            elif "ERROR:" in line or "runtime error" in line or "SUMMARY:" in line or \
                    re.match(r"\S.*(thread T\d+|allocated by|freed by|previously allocated)",
                             line):
                out.append(line.strip())
    return "\n".join(out)


def wait_for_greeting(port, timeout, host="127.0.0.1", alive=None):
    """Waits until host:port answers with a 220 greeting; sends QUIT. Returns True/False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.settimeout(5)
                data = b""
                while b"\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"220"):
                    with contextlib.suppress(OSError):
                        s.sendall(b"QUIT\r\n")
                        s.recv(4096)
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


# --- message helpers -------------------------------------------------------------------------

def make_message(token, body_lines=None, subject=None, sender="sender@example.org",
                 to="user@example.test", extra_headers=()):
    """A complete RFC 5322 message with CRLF line endings (bytes), ending in CRLF."""
    headers = [
        f"From: <{sender}>",
        f"To: <{to}>",
        f"Subject: {subject or 'test ' + token}",
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
        f"Message-ID: <{token}@kensa-itest>",
        f"X-Token: {token}",
        *extra_headers,
    ]
    if body_lines is None:
        body_lines = [f"body of {token}"]
    text = "\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(body_lines) + "\r\n"
    return text.encode("utf-8")


def split_header_block(data, index=0):
    """Returns (header_field_bytes, rest) for the header field that starts data[index:]
    (a first line plus continuation lines that start with space or tab)."""
    pos = index
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return data[index:], b""
        pos = nl + 1
        if pos >= len(data) or data[pos:pos + 1] not in (b" ", b"\t"):
            return data[index:pos], data[pos:]


def strip_kensa_trace(data):
    """Removes kensa's Received: trace header from the top of a delivered message.
    Raises AssertionError when the message does not start with it."""
    if not data.startswith(b"Received: "):
        raise AssertionError(f"delivered message does not start with Received: {data[:200]!r}")
    header, rest = split_header_block(data)
    if b"(kensa)" not in header:
        raise AssertionError(f"first Received header is not kensa's: {header!r}")
    return rest


def strip_postfix_virtual_headers(data):
    """A message delivered by Postfix virtual(8) after kensa: drops the delivery headers that
    virtual(8) prepends, Postfix's Received header and then kensa's, and returns the rest."""
    while True:
        m = re.match(rb"(Return-Path|X-Original-To|Delivered-To):", data)
        if not m:
            break
        _, data = split_header_block(data)
    if not data.startswith(b"Received: "):
        raise AssertionError(f"no Postfix Received header: {data[:300]!r}")
    header, data = split_header_block(data)
    if b"(Postfix)" not in header:
        raise AssertionError(f"first Received is not Postfix's: {header!r}")
    return strip_kensa_trace(data)


def crlf_to_lf(data):
    return data.replace(b"\r\n", b"\n")


# --- kensad ----------------------------------------------------------------------------------

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):  # an inline table, e.g. a [signatures] feed = [{...}] array
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML form for {v!r}")


def render_toml(cfg):
    lines = []
    for k, v in cfg.items():
        if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict)):
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            for kk, vv in v.items():
                lines.append(f"{kk} = {_toml_value(vv)}")
    for k, v in cfg.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for table in v:
                lines.append(f"\n[[{k}]]")
                for kk, vv in table.items():
                    lines.append(f"{kk} = {_toml_value(vv)}")
    return "\n".join(lines) + "\n"


def _merge(base, overrides):
    for k, v in (overrides or {}).items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        elif v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


class KensadError(RuntimeError):
    pass


class Kensad:
    """One kensad with its own temp dir (state, spool, Maildir, log) and a free port.

    overrides: nested dict merged into the config ({"smtp": {"max_recipients": 5}}); a value
    of None removes a key. next_hop: the [delivery] next_hop (default maildir:<dir>/maildir).
    """

    def __init__(self, overrides=None, next_hop=None, tls="starttls", port=None):
        if not have(KENSAD):
            raise KensadError(f"kensad not built: {KENSAD} (set KENSA_BUILD_DIR)")
        self.dir = make_tmpdir("kensad-")
        self.port = port or free_port()
        self.state_dir = os.path.join(self.dir, "state")
        self.maildir = os.path.join(self.dir, "maildir")
        self.log_file = os.path.join(self.dir, "kensad.log")
        self.stdout_file = os.path.join(self.dir, "kensad.stdout")
        self.config_path = os.path.join(self.dir, "kensa.toml")
        self.next_hop = next_hop or f"maildir:{self.maildir}"
        cfg = {
            "hostname": "kensa.test",
            "state_dir": self.state_dir,
            "reactors": 2,
            "pin_reactors": False,
            "log_file": self.log_file,
            "log_level": "info",
            "drain_timeout": "5s",
            "smtp": {
                "local_domains": [LOCAL_DOMAIN],
                "command_timeout": "30s",
                "data_timeout": "30s",
            },
            "tls": {"self_signed": True},
            # No [policy]: nothing is subscribed, so nothing is scanned unless a test says so.
            "scan": {"signature_dir": TEST_SIGS, "engine_temp_dir": ENGINE_TMP},
            "delivery": {
                "next_hop": self.next_hop,
                "retry_min": "1s",
                "retry_max": "2s",
                "connect_timeout": "5s",
                "reply_timeout": "30s",
            },
            "listener": [{"name": "mx", "address": f"127.0.0.1:{self.port}", "tls": tls}],
            # Tests run side by side: none may take the default 127.0.0.1:9464. A test of the
            # endpoint gives it a free port.
            "metrics": {"address": "off"},
        }
        self.config = cfg
        self.proc = None
        self.starts = 0
        self.extra_env = {}  # added to kensad's environment at the next start
        self.reconfigure(overrides)

    def reconfigure(self, overrides):
        """Merges overrides into the config file (used by the next start)."""
        self.config = _merge(self.config, overrides)
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(render_toml(self.config))
        self.spool_dir = self.config.get("spool", {}).get("dir") or os.path.join(
            self.state_dir, "spool")

    # process control

    def start(self, timeout=30, nofile=None):
        """nofile: run kensad with RLIMIT_NOFILE soft = hard = nofile (a small machine's limit)."""
        if self.running():
            return self
        out = open(self.stdout_file, "ab")
        limit = None
        if nofile is not None:
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        try:
            self.proc = subprocess.Popen([KENSAD, "--config", self.config_path], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=self.process_env(),
                                         preexec_fn=limit)
        finally:
            out.close()
        self.starts += 1
        if not wait_for_greeting(self.port, timeout, alive=self.running):
            rc = self.proc.poll()
            if rc is None:
                self.kill()
            raise KensadError(
                f"kensad did not answer on 127.0.0.1:{self.port} (exit {rc})\n"
                f"--- config\n{open(self.config_path).read()}\n"
                f"--- output\n{tail(self.stdout_file)}\n--- log\n{tail(self.log_file)}")
        return self

    def process_env(self):
        env = dict(os.environ, **self.extra_env)
        if SANITIZED:
            log_path = os.path.join(self.dir, "sanitizer")
            for var, base in (("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1"),
                              ("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")):
                env[var] = f"{env.get(var) or base}:log_path={log_path}"
        return env

    def sanitizer_reports(self):
        """The text of every ASan/UBSan report this kensad wrote (sanitizer tree only)."""
        out = []
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(self.dir)):
                if name.startswith("sanitizer."):
                    with open(os.path.join(self.dir, name), "rb") as f:
                        out.append(f.read().decode("utf-8", "replace"))
        return out

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=20):
        """SIGTERM and wait (SIGKILL after timeout). Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, timeout=30):
        self.stop()
        return self.start(timeout)

    def close(self, check=True):
        """Kills kensad and removes its directory. In the sanitizer tree, a report that kensad
        wrote fails the caller (AssertionError with the report), unless check is False."""
        self.kill()
        reports = self.sanitizer_reports()
        remove_tmpdir(self.dir)
        if reports:
            text = "\n".join(reports)
            if not check:
                print(f"--- sanitizer report of kensad\n{text}", flush=True)
                return
            raise AssertionError(f"kensad's sanitizer report, condensed:\n"
                                 f"{condense_report(reports)}\n--- in full:\n{text[:20000]}")

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        # An exception already on its way out wins; the report is printed beside it.
        self.close(check=exc_type is None)

    # observation

    @property
    def log(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_events(self, event):
        return [l for l in self.log.splitlines() if f" event={event} " in l + " "]

    def diagnostics(self):
        # A sanitizer report explains most failures it comes with: it goes first, condensed, so
        # that a CI excerpt that keeps only part of the output still shows the stack.
        reports = self.sanitizer_reports()
        head = f"--- kensad's sanitizer report, condensed\n{condense_report(reports)}\n" \
            if reports else ""
        return (f"{head}--- kensad output\n{tail(self.stdout_file)}\n--- kensad log\n"
                f"{tail(self.log_file, 6000)}")

    def cpu_seconds(self):
        """User plus system CPU time kensad used so far (all its threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _status_kb(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def rss_kb(self):
        return self._status_kb("VmRSS")

    def peak_rss_kb(self):
        """kensad's peak RSS (VmHWM) since it started or since reset_peak_rss()."""
        return self._status_kb("VmHWM")

    def reset_peak_rss(self):
        """Resets the peak (VmHWM) to the current RSS (Linux 4.0+), so the next peak read is
        that of what follows."""
        with open(f"/proc/{self.pid}/clear_refs", "w") as f:
            f.write("5")

    def spool_files(self):
        out = []
        if not os.path.isdir(self.spool_dir):
            return out
        for shard in sorted(os.listdir(self.spool_dir)):
            d = os.path.join(self.spool_dir, shard)
            if not shard.startswith("shard-") or not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                p = os.path.join(d, name)
                if not name.startswith(".") and os.path.isfile(p):
                    out.append(p)
        return out

    def wait_spool_empty(self, timeout):
        return wait_until(lambda: not self.spool_files(), timeout, 0.2)

    def maildir_messages(self, address=None):
        """[(path, bytes)] delivered to kensad's own Maildir (one address or all)."""
        return read_maildirs(self.maildir, address)

    def wait_maildir(self, address, count, timeout):
        return wait_until(lambda: len(self.maildir_messages(address)) >= count, timeout, 0.1)


class KensadTestCase(unittest.TestCase):
    """Base for a test class that shares one kensad across its tests.

    setUpClass calls start_kensad(overrides), or enters `with cls.kensad_started(overrides):`
    when more set-up (sending a corpus) needs the running kensad; tearDownClass stops it with
    SIGTERM (so it drains like in production) and removes its directory."""
    kensad = None

    @classmethod
    @contextlib.contextmanager
    def kensad_started(cls, overrides=None, **kwargs):
        """Creates and starts cls.kensad (kwargs as for Kensad). When starting it or the body
        of the with raises, kills and removes it: unittest runs no tearDownClass after a
        failed setUpClass, so nothing else would."""
        cls.kensad = Kensad(overrides, **kwargs)
        try:
            cls.kensad.start()
            yield cls.kensad
        except Exception:
            cls.kensad.close(check=False)
            raise

    @classmethod
    def start_kensad(cls, overrides=None, **kwargs):
        with cls.kensad_started(overrides, **kwargs) as kensad:
            return kensad

    @classmethod
    def tearDownClass(cls):
        if cls.kensad is not None:
            cls.kensad.stop()
            cls.kensad.close()
        super().tearDownClass()


def maildir_name(address):
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}" if local else address


def read_maildirs(root, address=None):
    out = []
    if not os.path.isdir(root):
        return out
    names = [maildir_name(address)] if address else sorted(os.listdir(root))
    for name in names:
        for sub in ("new", "cur"):
            d = os.path.join(root, name, sub)
            if not os.path.isdir(d):
                continue
            for f in sorted(os.listdir(d)):
                p = os.path.join(d, f)
                with contextlib.suppress(OSError):
                    with open(p, "rb") as fh:
                        out.append((p, fh.read()))
    return out


# --- raw SMTP ---------------------------------------------------------------------------------

class RawSmtp:
    """Bytes exactly as given, replies parsed. Every read has a timeout."""

    def __init__(self, port, host="127.0.0.1", timeout=10, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed (pending {self.buf!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def reply(self):
        """(code, [text lines]) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self._line()
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError(f"not an SMTP reply line: {line!r}")
            lines.append(line[4:].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line if line.endswith(b"\r\n") else line + b"\r\n")
        return self.reply()

    def closed_by_peer(self, timeout=5):
        """True when the server closes the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- smtp-sink --------------------------------------------------------------------------------

class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1. With dump=True every transaction lands in a file of
    dump_dir (smtp-sink -d): read them with messages()."""

    def __init__(self, port=None, dump=True, extra_args=(), backlog=256):
        if not have(SMTP_SINK):
            raise FileNotFoundError(SMTP_SINK)
        self.port = port or free_port()
        self.dir = make_tmpdir("smtp-sink-")
        self.dump_dir = os.path.join(self.dir, "dump")
        os.mkdir(self.dump_dir)
        shutil.chown(self.dump_dir, "postfix", "postfix")
        self.args = [SMTP_SINK, "-u", "postfix"]
        if dump:
            self.args += ["-d", os.path.join(self.dump_dir, "%Y%m%d%H%M%S.")]
        self.args += list(extra_args) + [f"127.0.0.1:{self.port}", str(backlog)]
        self.log_path = os.path.join(self.dir, "smtp-sink.log")
        self.proc = None

    def start(self, timeout=15):
        out = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        if not wait_for_greeting(self.port, timeout, alive=lambda: self.proc.poll() is None):
            self.stop()
            raise RuntimeError(f"smtp-sink did not start: {tail(self.log_path)}")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self):
        self.stop()
        remove_tmpdir(self.dir)

    def files(self):
        return sorted(os.path.join(self.dump_dir, f) for f in os.listdir(self.dump_dir))

    def messages(self):
        """[(envelope dict, message bytes with LF line endings)] for every dumped message.
        smtp-sink writes its own X-* records and a three-line Received header first."""
        out = []
        for p in self.files():
            with contextlib.suppress(OSError):
                with open(p, "rb") as f:
                    data = f.read()
                out.append(parse_sink_dump(data))
        return out


def parse_sink_dump(data):
    env = {"mail": None, "rcpt": [], "helo": None}
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos:nl]
        if line.startswith(b"X-Mail-Args: "):
            env["mail"] = line[13:].decode("utf-8", "replace")
        elif line.startswith(b"X-Rcpt-Args: "):
            env["rcpt"].append(line[13:].decode("utf-8", "replace"))
        elif line.startswith(b"X-Helo-Args: "):
            env["helo"] = line[13:].decode("utf-8", "replace")
        elif line.startswith(b"Received: ") and b"(smtp-sink)" in data[pos:pos + 400]:
            _, rest = split_header_block(data, pos)
            if rest.endswith(b"\n"):
                rest = rest[:-1]  # smtp-sink ends each dump with an empty line
            return env, rest
        pos = nl + 1
    return env, data[pos:]


# --- a scripted next hop ------------------------------------------------------------------

class CaptureNextHop:
    """An ESMTP next hop that keeps each message's data exactly as received (dot-unstuffed),
    keyed by the first RCPT. It listens only once start() is called, so kensad's first
    attempts are refused and the message waits in the queue. slow: it reads the data at about
    2 MB/s; stall_data: it answers 354 and then never reads the data."""

    def __init__(self, slow=False, stall_data=False):
        self.port = free_port()
        self.slow = slow  # read the data at ~2 MB/s
        self.stall_data = stall_data  # after 354, never read the data
        self.in_data = 0  # transactions that reached DATA
        self.received = 0  # data bytes of the transaction in progress
        self.aborted = []  # data of transactions that ended without the final dot
        self.messages = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.listener = None

    def start(self):
        """Listens (again, after close(): the same port, the messages kept)."""
        self.stopping.clear()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.slow or self.stall_data:
            # A small receive buffer, so the sender's stall shows at once.
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                     4096 if self.stall_data else 65536)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(30)
        buf = b""
        rcpt = None
        try:
            c.sendall(b"220 capture.test ESMTP\r\n")
            while not self.stopping.is_set():
                while b"\r\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                line, _, buf = buf.partition(b"\r\n")
                verb = line[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-capture.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"RCPT":
                    rcpt = rcpt or line.split(b"<", 1)[1].split(b">", 1)[0].decode()
                    c.sendall(b"250 ok\r\n")
                elif verb == b"DATA":
                    c.sendall(b"354 go on\r\n")
                    with self.lock:
                        self.in_data += 1
                    if self.stall_data:
                        self.stopping.wait(120)
                        return
                    data = bytearray(buf)
                    while not data.endswith(b"\r\n.\r\n") and data != b".\r\n":
                        chunk = c.recv(1 << 20 if not self.slow else 32768)
                        if not chunk:
                            with self.lock:
                                self.aborted.append(bytes(data))
                            return
                        data += chunk
                        self.received = len(data)
                        if self.slow:
                            time.sleep(0.015)
                    data = bytes(data[:-3])
                    if data.startswith(b".."):
                        data = data[1:]
                    data = data.replace(b"\r\n..", b"\r\n.")
                    buf = b""
                    with self.lock:
                        self.messages[rcpt] = data
                    rcpt = None
                    c.sendall(b"250 2.0.0 captured\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.stopping.set()
        if self.listener is not None:
            self.listener.close()


# --- Postfix ----------------------------------------------------------------------------------

# One root per build tree: the default and asan trees (or two clones) may run their tests at
# the same time, and Postfix instances are named by test. Postfix wants each config directory
# listed in /etc/postfix/main.cf, so the name is stable for a tree rather than per run.
POSTFIX_ROOT = "/tmp/kensa-itest-postfix-" + hashlib.sha256(
    os.path.realpath(BUILD_DIR).encode()).hexdigest()[:10]
_DEFAULT_MAIN_CF = "/etc/postfix/main.cf"


def ensure_alternate_config_directory(directory):
    """Lists directory in /etc/postfix/main.cf's alternate_config_directories (idempotent,
    creating main.cf when the package left none); Postfix refuses `-c DIR` otherwise."""
    os.makedirs(os.path.dirname(_DEFAULT_MAIN_CF), exist_ok=True)
    lock_path = os.path.join(tempfile.gettempdir(), "kensa-itest-postfix-main-cf.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(_DEFAULT_MAIN_CF, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = ["# created by kensa's integration tests", "compatibility_level = 3.6"]
        found = False
        for i, line in enumerate(lines):
            m = re.match(r"\s*alternate_config_directories\s*=(.*)$", line)
            if m:
                found = True
                dirs = [d for d in re.split(r"[\s,]+", m.group(1).strip()) if d]
                if directory in dirs:
                    return
                dirs.append(directory)
                lines[i] = "alternate_config_directories = " + " ".join(dirs)
        if not found:
            lines.append(f"alternate_config_directories = {directory}")
        tmp = _DEFAULT_MAIN_CF + ".kensa-tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, _DEFAULT_MAIN_CF)


def _master_cf(port):
    with open("/etc/postfix/master.cf", encoding="utf-8") as f:
        src = f.read().splitlines()
    out = []
    for line in src:
        if not line or line[0] in "# \t":
            out.append(line)
            continue
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "inet":
            if fields[0] == "smtp":
                fields[0] = f"127.0.0.1:{port}"
            else:
                out.append("#" + line)
                continue
        if len(fields) >= 8:
            fields[4] = "n"  # no chroot: the config directory is not inside one
            line = "  ".join(fields)
        out.append(line)
    return "\n".join(out) + "\n"


class Postfix:
    """A Postfix instance in POSTFIX_ROOT/<name> listening on 127.0.0.1:port.

    mailboxes: addresses of example.test delivered by virtual(8) into Maildirs under
    <dir>/mail/<address>/ (others get 550 5.1.1 at RCPT); "@example.test" is a catch-all.
    relayhost: "[127.0.0.1]:PORT" to relay relay_domains there instead.
    """

    def __init__(self, name, port=None, mailboxes=(), relayhost=None, relay_domains=(),
                 extra_main=None):
        if not have(POSTFIX):
            raise FileNotFoundError(POSTFIX)
        self.name = name
        self.port = port or free_port()
        self.dir = os.path.join(POSTFIX_ROOT, name)
        self.mail_dir = os.path.join(self.dir, "mail")
        self.log_path = os.path.join(self.dir, "postfix.log")
        self.mailboxes = list(mailboxes)
        self.relayhost = relayhost
        self.relay_domains = list(relay_domains)
        self.extra_main = extra_main or {}
        self.started = False

    def _main_cf(self):
        d = self.dir
        cf = {
            "compatibility_level": "3.6",
            "queue_directory": f"{d}/queue",
            "data_directory": f"{d}/data",
            "myhostname": f"{self.name}.postfix.test",
            "mydomain": "postfix.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "local_header_rewrite_clients": "",
            "always_add_missing_headers": "no",
            "smtp_dns_support_level": "disabled",
            "biff": "no",
            "maillog_file": self.log_path,
            "maillog_file_prefixes": "/var, /tmp",
            "message_size_limit": "52428800",
            "virtual_mailbox_limit": "0",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        if self.mailboxes:
            cf.update({
                "virtual_mailbox_domains": LOCAL_DOMAIN,
                "virtual_mailbox_base": self.mail_dir,
                "virtual_mailbox_maps": f"texthash:{d}/vmailbox",
                "virtual_uid_maps": "static:65534",
                "virtual_gid_maps": "static:65534",
                "virtual_minimum_uid": "100",
            })
        if self.relay_domains:
            cf["relay_domains"] = ", ".join(self.relay_domains)
        if self.relayhost:
            cf["relayhost"] = self.relayhost
        cf.update(self.extra_main)
        return "".join(f"{k} = {v}\n" for k, v in cf.items())

    def _master_pid(self):
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                pid = int(f.read().strip() or "0")
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def _postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.dir, *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)

    def start(self, timeout=30):
        os.makedirs(POSTFIX_ROOT, exist_ok=True)
        os.chmod(POSTFIX_ROOT, 0o755)
        if os.path.isdir(self.dir):  # left over from an earlier run
            if self._master_pid() and os.path.exists(os.path.join(self.dir, "main.cf")):
                self._postfix("stop")
                wait_until(lambda: self._master_pid() is None, 10)
            self._kill_master()
            shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        ensure_alternate_config_directory(self.dir)
        os.makedirs(os.path.join(self.dir, "queue"))  # postfix-script makes what is inside
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        shutil.chown(data, "postfix", "postfix")
        if self.mailboxes:
            os.makedirs(self.mail_dir)
            os.chown(self.mail_dir, 65534, 65534)
            with open(os.path.join(self.dir, "vmailbox"), "w") as f:
                for a in self.mailboxes:
                    f.write(f"{a} {maildir_name(a) if not a.startswith('@') else 'catchall'}/\n")
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(self._main_cf())
        with open(os.path.join(self.dir, "master.cf"), "w") as f:
            f.write(_master_cf(self.port))
        r = self._postfix("start")
        self.started = True
        if r.returncode != 0 or not wait_for_greeting(self.port, timeout):
            out = r.stdout.decode("utf-8", "replace")
            self.stop()
            raise RuntimeError(f"postfix -c {self.dir} start failed (rc {r.returncode}): {out}\n"
                               f"--- postfix.log\n{tail(self.log_path)}")
        return self

    def _kill_master(self):
        pid = self._master_pid()
        if pid:
            with contextlib.suppress(OSError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def stop(self):
        if not self.started:
            return
        self.started = False
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            self._postfix("stop", timeout=30)
        if not wait_until(lambda: self._master_pid() is None, 10):
            self._kill_master()

    def close(self):
        self.stop()
        if not KEEP_TMP:
            shutil.rmtree(self.dir, ignore_errors=True)

    def maildir_messages(self, address=None):
        if address and address.startswith("@"):
            address = "catchall"
        return read_maildirs(self.mail_dir, address)

    def diagnostics(self):
        return f"--- postfix.log ({self.dir})\n{tail(self.log_path, 6000)}"
