# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the integration tests of kensa's scanning (test_scan_*.py).

- EICAR, the clamav-testfiles and CPython email data locations, and skip reasons when absent.
- strip_scan_headers: what kensa prepends to a scanned copy (its Received header, then
  X-Virus-Scanned and X-Virus-Status), removed and checked.
- Entity / render: MIME messages built byte by byte, remembering the exact raw byte range and
  the leaf ordinal of the one part a test marks as its target (the infected one).
- parse_log_line / message_records: kensad's key=value log lines as dicts.
- send_all: several messages over one smtplib connection, every reply kept.
"""
import base64
import binascii
import email
import email.policy
import io
import os
import re
import shutil
import smtplib
import subprocess
import unittest
import zipfile

import kensa_harness as h

# The standard 68-byte EICAR test file, built here so that no file in the tree is flagged.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()
assert len(EICAR) == 68

TESTFILES_DIR = os.environ.get("KENSA_CLAMAV_TESTFILES", "/usr/share/clamav-testfiles")
CPYTHON_EMAIL_DATA = os.environ.get("KENSA_CPYTHON_EMAIL_DATA",
                                    "/usr/lib/python3.11/test/test_email/data")
CLAMSCAN = shutil.which("clamscan") or "/usr/bin/clamscan"
ZIP = shutil.which("zip") or "/usr/bin/zip"

CRLF = b"\r\n"


# --- prerequisites ---------------------------------------------------------------------------

def require(testfiles=False, cpython=False, clamscan=False, zip_command=False, kensa_scan=False,
            signatures=True):
    """Raises unittest.SkipTest naming what is missing (scripts/deps installs all of it)."""
    missing = []
    if not h.have(h.KENSAD):
        missing.append(f"kensad not built ({h.KENSAD})")
    if kensa_scan and not h.have(h.KENSA_SCAN):
        missing.append(f"kensa-scan not built ({h.KENSA_SCAN})")
    if signatures and not os.path.isdir(h.TEST_SIGS):
        missing.append(f"no bundled test signatures ({h.TEST_SIGS})")
    if testfiles and not os.path.isdir(TESTFILES_DIR):
        missing.append(f"{TESTFILES_DIR} missing (Debian package clamav-testfiles)")
    if cpython and not os.path.isdir(CPYTHON_EMAIL_DATA):
        missing.append(f"{CPYTHON_EMAIL_DATA} missing (Debian package libpython3.11-testsuite)")
    if clamscan and not h.have(CLAMSCAN):
        missing.append("clamscan missing (Debian package clamav)")
    if zip_command and not h.have(ZIP):
        missing.append("zip missing (Debian package zip)")
    if missing:
        raise unittest.SkipTest("; ".join(missing))


def testfiles():
    """[(name, bytes)] of every clamav-testfiles file plus EICAR, sorted by name."""
    out = []
    for n in sorted(os.listdir(TESTFILES_DIR)):
        p = os.path.join(TESTFILES_DIR, n)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out.append((n, f.read()))
    out.append(("eicar.com", EICAR))
    return out


# --- what kensa prepends -----------------------------------------------------------------------

SCAN_HEADER_NAMES = ("X-Virus-Scanned", "X-Virus-Status")


def unfold(value):
    return re.sub(rb"\r?\n[ \t]+", b" ", value).strip()


def split_scan_headers(data):
    """A scanned copy as delivered: returns ({name: unfolded value (str)}, rest), where rest is
    what follows kensa's Received, X-Virus-Scanned and X-Virus-Status header fields.
    Raises AssertionError when any of them is missing or out of order."""
    rest = h.strip_kensa_trace(data)
    fields = {}
    for name in SCAN_HEADER_NAMES:
        prefix = name.encode() + b":"
        if not rest.startswith(prefix):
            raise AssertionError(f"scanned copy lacks {name} after kensa's Received: "
                                 f"{rest[:300]!r}")
        field, rest = h.split_header_block(rest)
        fields[name] = unfold(field[len(prefix):]).decode("utf-8", "replace")
    return fields, rest


def strip_scan_headers(data):
    """The scanned copy less kensa's Received, X-Virus-Scanned and X-Virus-Status fields."""
    return split_scan_headers(data)[1]


def has_scan_headers(data):
    rest = h.strip_kensa_trace(data)
    return any(rest.startswith(n.encode() + b":") for n in SCAN_HEADER_NAMES)


def queue_id_of(delivered):
    """The queue id in kensa's Received header (`... (kensa) with ESMTP id <id>`)."""
    header, _ = h.split_header_block(delivered)
    m = re.search(rb"\(kensa\) with \S+ id (\S+)", unfold(header))
    if not m:
        raise AssertionError(f"no queue id in kensa's Received header: {header!r}")
    return m.group(1).decode()


# --- kensad's log ------------------------------------------------------------------------------

_KV = re.compile(r' ([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|[^ ]*)')


def _unquote(v):
    if not v.startswith('"'):
        return v
    out, i, s = [], 0, v[1:-1]
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            if s[i + 1] == "x" and i + 3 < len(s):
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(s[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_log_line(line):
    """`<time> <LEVEL> event=x k=v k="quoted v"` as a dict (with "level" and "time")."""
    parts = line.split(" ", 2)
    rec = {"time": parts[0], "level": parts[1] if len(parts) > 1 else ""}
    for m in _KV.finditer(" " + (parts[2] if len(parts) > 2 else "")):
        rec[m.group(1)] = _unquote(m.group(2))
    return rec


def log_records(kensad, event):
    return [parse_log_line(l) for l in kensad.log_events(event)]


def message_records(kensad):
    """{queue id: [records of event=message]} (a refused message has its own id too)."""
    out = {}
    for r in log_records(kensad, "message"):
        out.setdefault(r.get("id", ""), []).append(r)
    return out


def virus_names(record):
    v = record.get("viruses", "")
    return [n for n in v.split(",") if n]


# --- building MIME messages with known byte ranges --------------------------------------------

class Entity:
    """One MIME entity: header fields, then a leaf body (bytes), multipart children, or an
    inner message (message/rfc822). `target`: render() reports its range and leaf ordinal."""

    def __init__(self, headers, body=None, children=None, inner=None, boundary=None,
                 preamble=b"", epilogue=b"", target=False):
        self.headers = list(headers)
        self.body = body
        self.children = children
        self.inner = inner
        self.boundary = boundary
        self.preamble = preamble
        self.epilogue = epilogue
        self.target = target


def leaf(content_type, body, extra_headers=(), cte=None, target=False):
    hdrs = [("Content-Type", content_type)]
    if cte:
        hdrs.append(("Content-Transfer-Encoding", cte))
    hdrs += list(extra_headers)
    return Entity(hdrs, body=body, target=target)


def attachment(filename, data, encoding="base64", content_type="application/octet-stream",
               target=False):
    """A file as an attachment part, encoded with base64 or quoted-printable."""
    body = b64_lines(data) if encoding == "base64" else qp_encode(data)
    return leaf(f'{content_type}; name="{filename}"', body, cte=encoding, target=target,
                extra_headers=[("Content-Disposition", f'attachment; filename="{filename}"')])


def multipart(subtype, children, boundary, extra_headers=(), preamble=b"", epilogue=b""):
    hdrs = [("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')] + list(extra_headers)
    return Entity(hdrs, children=children, boundary=boundary, preamble=preamble,
                  epilogue=epilogue)


def rfc822(inner, extra_headers=()):
    return Entity([("Content-Type", "message/rfc822")] + list(extra_headers), inner=inner)


def top_headers(token, to, subject=None, sender="sender@example.org"):
    return [("From", f"<{sender}>"), ("To", f"<{to}>"),
            ("Subject", subject or f"test {token}"),
            ("Date", "Mon, 01 Jan 2024 00:00:00 +0000"),
            ("Message-ID", f"<{token}@kensa-itest>"), ("MIME-Version", "1.0")]


def message(headers, body_entity):
    """A top-level message: `headers` (From, To, ...) then the entity's own header fields."""
    return Entity(list(headers) + body_entity.headers, body=body_entity.body,
                  children=body_entity.children, inner=body_entity.inner,
                  boundary=body_entity.boundary, preamble=body_entity.preamble,
                  epilogue=body_entity.epilogue, target=body_entity.target)


class Rendered:
    def __init__(self, data, target_range, target_leaf, leaves):
        self.data = data                  # bytes, CRLF line endings
        self.target_range = target_range  # (start, end): its first header byte to its body end
        self.target_leaf = target_leaf    # ordinal among leaves in pre-order (email's walk())
        self.leaves = leaves              # number of leaf entities


def render(entity):
    out = bytearray()
    state = {"leaves": 0, "range": None, "leaf": None}

    def emit(e):
        start = len(out)
        is_leaf = e.children is None and e.inner is None
        ordinal = state["leaves"]
        if is_leaf:
            state["leaves"] += 1
        for name, value in e.headers:
            out.extend(f"{name}: {value}".encode("utf-8") + CRLF)
        out.extend(CRLF)
        if e.children is not None:
            b = e.boundary.encode()
            out.extend(e.preamble)
            for c in e.children:
                out.extend(b"--" + b + CRLF)
                emit(c)
                out.extend(CRLF)  # the line break before a delimiter belongs to the delimiter
            out.extend(b"--" + b + b"--" + CRLF + e.epilogue)
        elif e.inner is not None:
            emit(e.inner)
        else:
            out.extend(e.body)
        if e.target:
            state["range"] = (start, len(out))
            state["leaf"] = ordinal if is_leaf else None

    emit(entity)
    if not out.endswith(CRLF):
        out.extend(CRLF)  # SMTP ends every message with a line break (smtplib adds one)
    return Rendered(bytes(out), state["range"], state["leaf"], state["leaves"])


# --- infected test messages --------------------------------------------------------------------

VARIANTS = ("base64", "qp", "uuencode", "rfc822", "alternative", "zip")


def text_part(token, lines=None):
    body = CRLF.join(s.encode() for s in (lines or [
        f"Hello, this is the clean text of {token}.", "", "Regards,", "-- ", "kensa tests"]))
    return leaf("text/plain; charset=utf-8", body, cte="7bit")


def build_variant(variant, token, filename, data, rnd, to):
    """One multipart/mixed message carrying `data` the `variant` way: a Rendered whose
    target is the part expected to be replaced."""
    clean_bin = attachment("random.bin", rnd.randbytes(3000))
    if variant == "base64":
        infected = attachment(filename, data, target=True)
    elif variant == "qp":
        infected = attachment(filename, data, encoding="quoted-printable", target=True)
    elif variant == "uuencode":
        body = CRLF.join([b"The file you asked for:", b"", uuencode(filename, data), b"",
                          b"Bye."])
        infected = leaf("text/plain; charset=us-ascii", body, cte="7bit", target=True)
    elif variant == "rfc822":
        inner = attachment(filename, data, target=True)
        for level in (3, 2, 1):
            hdrs = [("From", "<nested@example.org>"), ("To", "<someone@example.test>"),
                    ("Subject", f"level {level}"), ("MIME-Version", "1.0")]
            body = multipart("mixed", [text_part(f"{token} level {level}"), inner],
                             f"lvl{level}-{token}")
            inner = rfc822(message(hdrs, body))
        infected = inner
    elif variant == "alternative":
        html = leaf("text/html; charset=utf-8",
                    f"<html><body><p>clean html of {token}</p></body></html>".encode(),
                    cte="7bit")
        infected = multipart("alternative", [
            text_part(token, ["the plain text alternative"]), html,
            attachment(filename, data, target=True)], f"alt-{token}")
    elif variant == "zip":
        infected = attachment(filename + ".zip", zip_bytes([(filename, data)]),
                              content_type="application/zip", target=True)
    else:
        raise ValueError(variant)
    body = multipart("mixed", [text_part(token), infected, clean_bin], f"mix-{token}",
                     preamble=b"This is a multi-part message in MIME format.\r\n")
    return render(message(top_headers(token, to), body))


# --- encodings ---------------------------------------------------------------------------------

def b64_lines(data, width=76):
    s = base64.b64encode(data)
    return CRLF.join(s[i:i + width] for i in range(0, len(s), width))


def qp_encode(data, width=76):
    """Quoted-printable that decodes back to exactly `data` (binary safe: CR and LF encoded,
    soft line breaks every `width` columns)."""
    lines, cur = [], b""
    for byte in data:
        tok = bytes([byte]) if 33 <= byte <= 126 and byte != 61 else b"=%02X" % byte
        if len(cur) + len(tok) > width - 1:
            lines.append(cur + b"=")
            cur = b""
        cur += tok
    lines.append(cur)
    return CRLF.join(lines)


def uuencode(filename, data, mode="644"):
    out = [f"begin {mode} {filename}".encode()]
    for i in range(0, len(data), 45):
        out.append(binascii.b2a_uu(data[i:i + 45], backtick=True).rstrip(b"\n"))
    out += [b"`", b"end"]
    return CRLF.join(out)


def zip_bytes(members):
    """A zip (deflate) made with Python's zipfile: members is [(name, bytes)]."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def crlf_normalise(data):
    """Line endings as SMTP carries them: CR LF for every LF, CR or CRLF, and a final CRLF
    (what smtplib's _fix_eols does to a str message and what it appends to any message)."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    return data if data.endswith(CRLF) else data + CRLF


# --- comparing ---------------------------------------------------------------------------------

def check_cleaned(tc, fields, body, rendered, status="Infected"):
    """A scanned copy split into its scan header fields and the rest: the status says
    `status`, only the rendered message's target part changed, and it became a UTF-8
    text/plain notice. Asserts through the TestCase `tc`; returns the notice text."""
    tc.assertTrue(fields["X-Virus-Status"].startswith(status), fields)
    start, end = changed_region(rendered.data, body)
    t0, t1 = rendered.target_range
    tc.assertLess(start, end, "the copy is unchanged")
    tc.assertTrue(t0 <= start and end <= t1,
                  f"changed {start}-{end} outside the target part {t0}-{t1}")
    leaves = leaves_of(body)
    tc.assertEqual(len(leaves), rendered.leaves)
    notice = leaves[rendered.target_leaf]
    tc.assertEqual(notice.get_content_type(), "text/plain")
    tc.assertEqual((notice.get_content_charset() or "").lower(), "utf-8")
    return notice.get_payload(decode=True).decode("utf-8")


def changed_region(original, delivered):
    """(start, end) in `original` outside of which original and delivered are identical:
    the longest common prefix and then the longest common suffix of what is left."""
    n = min(len(original), len(delivered))
    p = 0
    while p < n and original[p] == delivered[p]:
        p += 1
    s = 0
    while s < n - p and original[-1 - s] == delivered[-1 - s]:
        s += 1
    return p, len(original) - s


def leaves_of(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return [p for p in msg.walk() if not p.is_multipart()]


def clamscan(paths, sig_dir=None, timeout=300):
    """clamscan --no-summary -d sig_dir PATHS... -> CompletedProcess (text)."""
    return subprocess.run([CLAMSCAN, "--no-summary", "-d", sig_dir or h.TEST_SIGS, *paths],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


# --- sending -----------------------------------------------------------------------------------

class Outcome:
    def __init__(self, code, text, queue_id=None, stage="data"):
        self.code = code
        self.text = text
        self.queue_id = queue_id
        self.stage = stage

    def __repr__(self):
        return f"Outcome({self.stage} {self.code} {self.text!r})"


def send_all(port, items, timeout=60, helo="client.example.org"):
    """Sends [(sender, [recipients], bytes)] over one connection (MAIL with BODY=8BITMIME).
    Returns one Outcome per item: DATA's final reply and the queue id of a 250."""
    out = []
    s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    try:
        s.ehlo(helo)
        for sender, rcpts, data in items:
            code, text = s.mail(sender, ["BODY=8BITMIME"])
            if code != 250:
                out.append(Outcome(code, text.decode("utf-8", "replace"), stage="mail"))
                s.rset()
                continue
            bad = None
            for r in rcpts:
                code, text = s.rcpt(r)
                if code not in (250, 251):
                    bad = Outcome(code, text.decode("utf-8", "replace"), stage="rcpt")
            if bad:
                out.append(bad)
                s.rset()
                continue
            try:
                code, text = s.data(data)
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            m = re.search(r"queued as (\S+)", text)
            out.append(Outcome(code, text, m.group(1) if m and code == 250 else None))
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
    finally:
        s.close()
    return out
