# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the submission tests: crypt(3) hashes, a real Dovecot (POP3 and its
authentication service) in its own directory, the submission listeners of a kensad config,
and the real clients (smtplib, swaks, msmtp) authenticating against it.

Everything listens on 127.0.0.1 only; every wait is bounded; Dovecot is stopped by its PID."""
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import time

import kensa_harness as h

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MSMTP = shutil.which("msmtp") or "/usr/bin/msmtp"

_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def crypt_hash(password, prefix="$y$"):
    """A crypt(3) hash from libxcrypt: "$y$" yescrypt, "$6$" SHA-512-crypt."""
    salt = _libcrypt.crypt_gensalt(prefix.encode(), 0, None, 0)
    if not salt:
        raise RuntimeError(f"crypt_gensalt({prefix}) failed")
    out = _libcrypt.crypt(password.encode(), salt)
    if not out or out.startswith(b"*"):
        raise RuntimeError(f"crypt({prefix}) failed")
    return out.decode()


def write_passwd_file(path, users):
    """users: [(name, password, scheme prefix, [extra addresses])] -> kensa's passwd file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# written by the test\n")
        for name, password, prefix, addresses in users:
            line = f"{name}:{crypt_hash(password, prefix)}"
            if addresses:
                line += ":" + ",".join(addresses)
            f.write(line + "\n")


def submission_listeners(mx_port, submission_port, submissions_port):
    return [
        {"name": "mx", "address": f"127.0.0.1:{mx_port}", "tls": "starttls", "auth": "optional"},
        {"name": "submission", "address": f"127.0.0.1:{submission_port}", "tls": "starttls",
         "auth": "required"},
        {"name": "submissions", "address": f"127.0.0.1:{submissions_port}", "tls": "implicit",
         "auth": "required"},
    ]


# --- clients ---------------------------------------------------------------------------------

def smtp_client(port, implicit_tls=False, timeout=30):
    """smtplib on 587-style (STARTTLS done, EHLO again) or 465-style (implicit TLS)."""
    if implicit_tls:
        s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=timeout, context=h.client_tls_context())
        s.ehlo("client.example.org")
        return s
    s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    s.ehlo("client.example.org")
    s.starttls(context=h.client_tls_context())
    s.ehlo("client.example.org")
    return s


def smtplib_send(port, user, password, sender, rcpts, data, implicit_tls=False,
                 mechanism=None):
    """Authenticates (smtplib's choice, or `mechanism`) and sends; returns the queue id."""
    with contextlib.closing(smtp_client(port, implicit_tls)) as s:
        if mechanism is None:
            s.login(user, password)
        else:
            s.user, s.password = user, password
            s.auth(mechanism, getattr(s, "auth_" + mechanism.lower()))
        code, msg = s.docmd("MAIL", f"FROM:<{sender}>")
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, msg, sender)
        for r in rcpts:
            code, msg = s.docmd("RCPT", f"TO:<{r}>")
            if code != 250:
                raise smtplib.SMTPRecipientsRefused({r: (code, msg)})
        code, msg = s.data(data)
        if code != 250:
            raise smtplib.SMTPDataError(code, msg)
        s.quit()
        return msg.decode().rsplit(" ", 1)[-1]


def swaks(port, user, password, sender, rcpt, data_file, tls="starttls", mechanism="PLAIN",
          timeout=60):
    """Runs swaks; returns (exit status, transcript)."""
    args = [h.SWAKS, "--server", "127.0.0.1", "--port", str(port), "--from", sender,
            "--to", rcpt, "--helo", "swaks.example.org", "--auth", mechanism,
            "--auth-user", user, "--auth-password", password, "--data", f"@{data_file}",
            "--timeout", "30"]
    args += ["--tls"] if tls == "starttls" else ["--tlsc"]
    p = subprocess.run(args, capture_output=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def msmtp(workdir, port, user, password, sender, rcpts, data, tls="starttls", mechanism="plain",
          timeout=60):
    """Runs msmtp with its own config file; returns (exit status, output)."""
    conf = os.path.join(workdir, f"msmtprc-{port}-{mechanism}")
    with open(conf, "w", encoding="utf-8") as f:
        f.write("account default\nhost 127.0.0.1\n"
                f"port {port}\nfrom {sender}\nauth {mechanism}\nuser {user}\n"
                f"password {password}\ntls on\n"
                f"tls_starttls {'on' if tls == 'starttls' else 'off'}\n"
                "tls_certcheck off\ndomain msmtp.example.org\n")
    os.chmod(conf, 0o600)
    p = subprocess.run([MSMTP, "-C", conf, "-a", "default", "-f", sender, "--", *rcpts],
                       input=data, capture_output=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


# --- Dovecot ---------------------------------------------------------------------------------

def pop3_answers(port):
    """True when 127.0.0.1:port greets with +OK."""
    with contextlib.suppress(OSError):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(5)
            return s.recv(512).startswith(b"+OK")
    return False


class Dovecot:
    """A real Dovecot (../shared/PEERS.md recipe) in its own directory: POP3 on a free port and
    the authentication service on a UNIX socket and a TCP port, for users given as
    [(address, password)] with SHA512-CRYPT hashes, each with a Maildir home.
    tls=True: a self-signed certificate, STLS on pop3_port (plaintext still allowed) and
    implicit TLS on pop3s_port."""

    def __init__(self, users, tls=False):
        if not h.have(DOVECOT):
            raise FileNotFoundError(f"{DOVECOT} (scripts/deps installs dovecot-core)")
        self.dir = h.make_tmpdir("dovecot-")
        self.pop3_port = h.free_port()
        self.tls = tls
        self.pop3s_port = h.free_port() if tls else None
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-subj", "/CN=pop3.example.test", "-days", "2",
                            "-keyout", os.path.join(self.dir, "key.pem"),
                            "-out", os.path.join(self.dir, "cert.pem")],
                           check=True, capture_output=True, timeout=60)
        self.auth_port = h.free_port()
        self.auth_socket = os.path.join(self.dir, "auth-client")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.conf_path = os.path.join(self.dir, "dovecot.conf")
        self.users = list(users)
        self.started = False
        pw = pwd.getpwnam("dovecot")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        os.makedirs(os.path.join(self.dir, "run"))
        os.makedirs(os.path.join(self.dir, "home"))
        with open(os.path.join(self.dir, "passwd"), "w", encoding="utf-8") as f:
            for address, password in self.users:
                home = self.home(address)
                os.makedirs(os.path.join(home, "new"), exist_ok=True)
                os.makedirs(os.path.join(home, "cur"), exist_ok=True)
                os.makedirs(os.path.join(home, "tmp"), exist_ok=True)
                f.write(f"{address}:{{SHA512-CRYPT}}{crypt_hash(password, '$6$')}:"
                        f"{self.uid}:{self.gid}::{home}\n")
        for root, dirs, _files in os.walk(os.path.join(self.dir, "home")):
            for d in dirs:
                os.chown(os.path.join(root, d), self.uid, self.gid)
        os.chown(os.path.join(self.dir, "home"), self.uid, self.gid)
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(self._config())

    def home(self, address):
        return os.path.join(self.dir, "home", address)

    def deliver(self, address, data):
        """Plants data (bytes, stored as given) in address's Maildir new/, written in tmp/ and
        renamed like an MDA does, owned by the dovecot uid. Names sort in delivery order, so
        Dovecot numbers the messages in that order. Returns the file's path."""
        self._delivered = getattr(self, "_delivered", 0) + 1
        name = f"{1700000000 + self._delivered}.M{self._delivered:06d}P{os.getpid()}.kensa-test"
        home = self.home(address)
        tmp = os.path.join(home, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self.uid, self.gid)
        path = os.path.join(home, "new", name)
        os.rename(tmp, path)
        return path

    def maildir_count(self, address):
        """Messages in address's Maildir (new/ and cur/), as on disk."""
        return sum(len(os.listdir(os.path.join(self.home(address), sub)))
                   for sub in ("new", "cur"))

    def _ssl_config(self):
        if not self.tls:
            return "ssl = no"
        return (f"ssl = yes\nssl_cert = <{self.dir}/cert.pem\n"
                f"ssl_key = <{self.dir}/key.pem")

    def _pop3s_listener(self):
        if not self.tls:
            return ""
        return f"  inet_listener pop3s {{\n    port = {self.pop3s_port}\n    ssl = yes\n  }}\n"

    def _config(self):
        d = self.dir
        return f"""protocols = pop3
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/run
log_path = {d}/dovecot.log
{self._ssl_config()}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
first_valid_uid = 1
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
{self._pop3s_listener()}  chroot =
}}
service anvil {{
  chroot =
}}
service auth {{
  unix_listener {self.auth_socket} {{
    mode = 0666
  }}
  inet_listener auth-inet {{
    address = 127.0.0.1
    port = {self.auth_port}
  }}
}}
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
"""

    def start(self, timeout=20):
        # The master daemonizes; its children would hold a pipe open, so output goes to a file.
        out_path = os.path.join(self.dir, "dovecot.out")
        with open(out_path, "wb") as out:
            p = subprocess.run([DOVECOT, "-c", self.conf_path], stdout=out,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {h.tail(out_path)}\n"
                               f"{h.tail(self.log_path)}")
        self.started = True
        ok = h.wait_until(lambda: os.path.exists(self.auth_socket)
                          and pop3_answers(self.pop3_port), timeout, 0.1)
        if not ok:
            self.stop()
            raise RuntimeError(f"dovecot is not answering\n{h.tail(self.log_path)}")
        return self

    def master_pid(self):
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.dir, "run", "master.pid")) as f:
                return int(f.read().strip())
        return None

    def stop(self, timeout=15):
        """SIGTERM to the master's whole process group: Dovecot's auth process outlives the
        master while clients (kensad's pooled connections) are connected, and keeps
        answering."""
        pid = self.master_pid()
        if pid is None:
            return
        try:
            pgid = os.getpgid(pid)  # the daemonized master leads its own group
        except OSError:
            pgid = pid
        if pgid == os.getpgid(0):
            pgid = pid  # never signal the test's own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)

        def group_gone():
            try:
                os.killpg(pgid, 0)
                return False
            except ProcessLookupError:
                return True
        if not h.wait_until(group_gone, timeout, 0.05):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            h.wait_until(group_gone, 5, 0.05)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.dir, "run", "master.pid"))
        self.started = False

    def close(self):
        self.stop()
        h.remove_tmpdir(self.dir)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
