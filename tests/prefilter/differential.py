#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Differential soundness check of kensa's prefilter: verdict(prefilter + engine) must equal
verdict(engine alone) for every test object. Zero differences is the only pass.

Objects: the clean corpus (gen_clean_corpus.py), every clamav-testfiles file, the generated
signatures' planted instances (planted.jsonl) inserted into clean files at random offsets and
inside zip containers and office documents, and mutations of these (a flipped byte, case
swapped, whitespace inserted, cut short, spelled as HTML character references further down a
text, a flipped byte in a clean file), PDFs that carry an instance in a Flate, ASCIIHex or
unfiltered stream or a JavaScript string (target 10 instances in a PDF's own bytes), and
instances in random bytes (which libclamav often types as UTF-16 text). Mail messages too, since the prefilter also answers for
libclamav's reading of a whole message: real messages of ../shared/corpora (--mail-corpus),
clean corpus files as attachments, and every planted instance in a message's headers, in a
7bit, quoted-printable or base64 body, uuencoded in text, in a nested message/rfc822 and
behind a broken boundary. Both runs are kensa-scan on the same files: once as it runs by
default, once with --engine-only.

  differential.py --kensa-scan BIN --work DIR --db DIR [--planted-from DIR] [--corpus DIR]
                  [--max-clean N] [--planted N] [--seed S]

Prints a summary line and exits 1 on any difference.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTFILES = "/usr/share/clamav-testfiles"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def zipped(name, data):
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def with_member(container, name, data):
    """`container` (a zip or an OOXML package) with one more member."""
    import io
    buf = io.BytesIO(container)
    try:
        with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)
    except zipfile.BadZipFile:
        return None
    return buf.getvalue()


def instance_of(p, rng):
    if p["kind"] in ("hdb", "hsb"):
        return random.Random(p["seed"]).randbytes(p["size"])
    return bytes.fromhex(p["hex"])


def mutations(data, start, end, rng):
    """Variants of `data` whose [start, end) holds a planted instance."""
    out = {}
    if end > start:
        b = bytearray(data)
        i = rng.randrange(start, end)
        b[i] ^= 1 << rng.randrange(8)
        out["flip"] = bytes(b)
        out["cut"] = data[: rng.randrange(start, end)]
        j = rng.randrange(start, end)
        out["space"] = data[:j] + b"\r\n  \t" + data[j:]
    out["case"] = data.swapcase()
    # Text that libclamav reads as HTML only further down, with the instance's printable bytes
    # spelled as character references: only its HTML normalisation sees the instance.
    ref = b"".join(b"&#%d;" % c if 0x21 <= c <= 0x7e else bytes([c]) for c in data[start:end])
    out["html"] = (b"plain words of a letter, nothing more to it.\n" * 70 + b"<script></script><p>"
                   + data[:start] + ref + data[end:] + b"</p>\n")
    return out


def pdf_with(payload, how):
    """A one-page PDF that holds `payload` in its page's content stream (how: "flate", "hex" or
    "raw": FlateDecode, ASCIIHexDecode or no filter) or as a JavaScript string ("js")."""
    import zlib
    if how == "flate":
        stream, filt = zlib.compress(payload), b"/Filter /FlateDecode "
    elif how == "hex":
        stream, filt = payload.hex().encode() + b">", b"/Filter /ASCIIHexDecode "
    else:
        stream, filt = (payload if how == "raw" else b"BT /F1 12 Tf 72 712 Td (page) Tj ET"), b""
    js = b"".join(bytes([c]) if 0x20 <= c < 0x7f and c not in b"()\\" else b"\\%03o" % c
                  for c in payload)
    objs = [b"<< /Type /Catalog /Pages 2 0 R" + (b" /OpenAction 5 0 R" if how == "js" else b"") + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< " + filt + b"/Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /S /JavaScript /JS (" + js + b") >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def message(headers, body):
    return b"From: a@example.org\r\nTo: b@example.test\r\nSubject: test\r\n" + headers + b"\r\n" + body


def b64(data):
    import base64
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def mails_of(inst, host, rng):
    """Messages that hold `inst` where a part reading or libclamav's reading may find it."""
    import binascii
    import quopri
    printable = all(0x20 <= c < 0x7f for c in inst)
    mixed = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n"
    octet = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    uu = b"".join(binascii.b2a_uu(inst[i:i + 45]).replace(b"\n", b"\r\n")
                  for i in range(0, len(inst), 45))
    out = {
        "body7bit": message(b"", b"Hello,\r\n" + inst + b"\r\nbye\r\n"),
        "qp": message(b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
                      b"Content-Transfer-Encoding: quoted-printable\r\n",
                      quopri.encodestring(inst).replace(b"\n", b"\r\n") + b"\r\n"),
        "attachment": message(mixed, b"--XX\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--XX\r\n"
                              + octet + b"\r\n" + b64(host + inst) + b"--XX--\r\n"),
        "uuencoded": message(b"", b"the file:\r\nbegin 644 f.bin\r\n" + uu + b"`\r\nend\r\n"),
        "rfc822": message(mixed, b"--XX\r\nContent-Type: message/rfc822\r\n\r\n" +
                          message(b"", inst + b"\r\n") + b"--XX--\r\n"),
        # The attachment behind a boundary that only a lenient reading closes.
        # Lines as libclamav's reading stores them (LF) may show what kensa's CRLF reading of
        # the part does not: the part is plain text whose line breaks cut the instance.
        "line-form": message(mixed, b"--XX\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
                             b"--XX\r\nContent-Type: text/plain\r\n\r\n" +
                             inst.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") +
                             b"\r\n--XX--\r\n"),
        "broken": message(b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="YY"\r\n',
                          b"--YY\r\n" + octet + b64(inst) + b"--YY"),
    }
    if printable and b"\r" not in inst and b"\n" not in inst:
        out["header"] = b"From: a@example.org\r\nTo: b@example.test\r\nSubject: " + inst + \
            b"\r\n\r\nhello\r\n"
    return out


def build_objects(work, corpus, planted_from, max_clean, planted_n, seed, mail_corpus=None,
                  max_mail=200):
    rng = random.Random(seed)
    objdir = os.path.join(work, "objects")
    shutil.rmtree(objdir, ignore_errors=True)
    clean = []
    if corpus and os.path.isdir(corpus):
        for name in sorted(os.listdir(corpus)):
            path = os.path.join(corpus, name)
            if os.path.isfile(path) and name != "MANIFEST.tsv":
                clean.append(path)
    rng.shuffle(clean)
    clean = sorted(clean[:max_clean])
    hosts = [open(p, "rb").read() for p in clean]
    packages = [h for p, h in zip(clean, hosts) if p.endswith((".docx", ".xlsx", ".zip"))]
    count = 0
    for path, data in zip(clean, hosts):
        write(os.path.join(objdir, "clean", os.path.basename(path)), data)
        b = bytearray(data)
        if b:
            b[rng.randrange(len(b))] ^= 0x20
        write(os.path.join(objdir, "clean-mutated", os.path.basename(path)), bytes(b))
        count += 2
    # Clean mail: real messages, and clean files as attachments of a message each.
    mails = []
    for d in mail_corpus or []:
        for root, _, files in os.walk(d):
            mails += [os.path.join(root, f) for f in sorted(files)]
    rng.shuffle(mails)
    for k, path in enumerate(sorted(mails[:max_mail])):
        with open(path, "rb") as f:
            data = f.read()
        write(os.path.join(objdir, "mail-clean", "%04d.eml" % k), data)
        # As it arrives over SMTP, in CRLF lines and with the relaying MTA's trace field on
        # top: the forms whose second reading kensa predicts when they are plain.
        crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        write(os.path.join(objdir, "mail-clean-crlf", "%04d.eml" % k), crlf)
        write(os.path.join(objdir, "mail-clean-relayed", "%04d.eml" % k),
              b"Received: from mx.example.net by kensa.example.test\r\n" + crlf)
        count += 3
    for path, data in list(zip(clean, hosts))[:max_mail]:
        mixed = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n"
        write(os.path.join(objdir, "mail-attached", os.path.basename(path) + ".eml"),
              message(mixed, b"--XX\r\nContent-Type: text/plain\r\n\r\nfile\r\n--XX\r\n"
                      b"Content-Type: application/octet-stream\r\n"
                      b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(data) + b"--XX--\r\n"))
        count += 1
    # Clean random bytes (typed binary or UTF-16 text) and clean PDFs of each construction.
    for k in range(20):
        write(os.path.join(objdir, "clean-noise", "%02d.bin" % k),
              rng.randbytes(rng.randrange(512, 60000)))
        write(os.path.join(objdir, "clean-pdf", "%02d.pdf" % k),
              pdf_with(rng.randbytes(rng.randrange(64, 4096)),
                       ("flate", "hex", "raw", "js")[k % 4]))
        count += 2
    if os.path.isdir(TESTFILES):
        for name in sorted(os.listdir(TESTFILES)):
            src = os.path.join(TESTFILES, name)
            if os.path.isfile(src):
                with open(src, "rb") as f:
                    write(os.path.join(objdir, "testfiles", name), f.read())
                count += 1
    planted = []
    if planted_from:
        with open(os.path.join(planted_from, "planted.jsonl")) as f:
            planted = [json.loads(l) for l in f if l.strip()]
    rng.shuffle(planted)
    for k, p in enumerate(planted[:planted_n]):
        inst = instance_of(p, rng)
        base = "%04d-%s" % (k, p["kind"])
        if p["kind"] in ("hdb", "hsb"):
            objs = {base + ".bin": (inst, 0, 0)}
        else:
            host = hosts[rng.randrange(len(hosts))] if hosts else b""
            at = rng.randrange(len(host) + 1)
            objs = {base + ".bin": (host[:at] + inst + host[at:], at, at + len(inst)),
                    base + "-bare.bin": (inst, 0, len(inst))}
        if p.get("target", 0) == 10:
            # A PDF signature: libclamav looks for it in a PDF's own bytes only.
            objs = {}
            for how in ("raw", "flate"):
                pdf = pdf_with(inst, how)
                write(os.path.join(objdir, "planted", "%s.%s.pdf" % (base, how)), pdf)
                write(os.path.join(objdir, "planted", "%s.%s.pdf.zip" % (base, how)),
                      zipped(base + ".pdf", pdf))
                count += 2
        else:
            # In a PDF: decoded from its streams or strings, only the layers of libclamav's
            # PDF parser show it.
            for how in ("flate", "hex", "raw", "js"):
                write(os.path.join(objdir, "planted", "%s.%s.pdf" % (base, how)), pdf_with(inst, how))
                count += 1
            # In random bytes, which libclamav often types as UTF-16 text.
            noise = rng.randbytes(rng.randrange(2048, 40000))
            at = rng.randrange(len(noise) + 1)
            write(os.path.join(objdir, "planted", base + ".noise.bin"), noise[:at] + inst + noise[at:])
            count += 1
        for name, (data, s, e) in list(objs.items()):
            write(os.path.join(objdir, "planted", name), data)
            write(os.path.join(objdir, "planted", name + ".zip"), zipped(name, data))
            count += 2
            if packages:
                # Inside a real office document or zip of the corpus, as one more member.
                pkg = with_member(packages[rng.randrange(len(packages))], "word/media/" + name, data)
                if pkg is not None:
                    write(os.path.join(objdir, "planted", name + ".docx"), pkg)
                    count += 1
            for mname, mdata in mutations(data, s, e, rng).items():
                write(os.path.join(objdir, "mutated", "%s.%s" % (name, mname)), mdata)
                count += 1
        host = hosts[rng.randrange(len(hosts))][:4096] if hosts else b""
        mails = mails_of(inst, host, rng)
        if p.get("target", 0) == 10:
            mails = {"pdf": mails_of(pdf_with(inst, "raw"), b"", rng)["attachment"]}
        else:
            mails["pdf"] = mails_of(pdf_with(inst, "flate"), b"", rng)["attachment"]
        for mname, mdata in mails.items():
            write(os.path.join(objdir, "mail-planted", "%s.%s.eml" % (base, mname)), mdata)
            write(os.path.join(objdir, "mail-planted", "%s.%s.case.eml" % (base, mname)),
                  mdata.swapcase())
            count += 2
    return objdir, count


def run_scan(kensa_scan, config, db, objdir, engine_only):
    cmd = [kensa_scan, "--config", config, "-d", db]
    if engine_only:
        cmd.append("--engine-only")
    cmd.append(objdir)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors="replace")
    if r.returncode not in (0, 1):
        raise SystemExit("kensa-scan failed (%d): %s" % (r.returncode, r.stderr.strip()))
    verdicts, summary = [], []
    in_summary = False
    for line in r.stdout.splitlines():
        if line.startswith("----------- SCAN SUMMARY"):
            in_summary = True
        (summary if in_summary else verdicts).append(line)
    return verdicts, summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kensa-scan", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--db", required=True, help="signature directory to check with")
    ap.add_argument("--planted-from", help="directory with planted.jsonl (gen_signatures.py)")
    ap.add_argument("--corpus", help="clean corpus directory (gen_clean_corpus.py)")
    ap.add_argument("--max-clean", type=int, default=1 << 30)
    ap.add_argument("--planted", type=int, default=1 << 30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mail-corpus", action="append", default=[],
                    help="a directory of real messages (repeatable)")
    ap.add_argument("--max-mail", type=int, default=200)
    ap.add_argument("--prefilter-min-signatures", type=int, default=0,
                    help="kensad's prefilter_min_signatures (0: the prefilter takes every part; "
                         "a larger set than the database: only the whole-message prediction "
                         "uses it)")
    a = ap.parse_args()

    os.makedirs(a.work, exist_ok=True)
    config = os.path.join(a.work, "kensa.toml")
    with open(config, "w") as f:
        f.write('state_dir = "%s"\n[scan]\nprefilter_min_signatures = %d\n'
                % (os.path.join(a.work, "state"), a.prefilter_min_signatures))
    objdir, count = build_objects(a.work, a.corpus, a.planted_from, a.max_clean, a.planted,
                                  a.seed, a.mail_corpus, a.max_mail)
    with_prefilter, summary = run_scan(a.kensa_scan, config, a.db, objdir, False)
    engine_alone, _ = run_scan(a.kensa_scan, config, a.db, objdir, True)
    diff = [(x, y) for x, y in zip(with_prefilter, engine_alone) if x != y]
    if len(with_prefilter) != len(engine_alone):
        diff.append(("%d lines" % len(with_prefilter), "%d lines" % len(engine_alone)))
    found = sum(1 for l in engine_alone if l.endswith(" FOUND"))
    fast = [l for l in summary if l.startswith("Prefilter")]
    print("differential: db %s: %d objects, %d flagged by the engine, %s; %d differences"
          % (a.db, count, found, fast[0] if fast else "no prefilter line", len(diff)))
    for line in summary:
        if line.startswith("Whole-message readings:"):
            print(line)
    for x, y in diff[:20]:
        print("  prefilter+engine: %s\n  engine alone:     %s" % (x, y))
    # With the prefilter in front of the parts, some must take its fast path.
    return 1 if diff or (not fast and a.prefilter_min_signatures == 0) else 0


if __name__ == "__main__":
    sys.exit(main())
