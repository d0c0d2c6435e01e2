#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Clean test messages for bench/scan_bench.sh, made deterministically (fixed seeds), nothing
downloaded. Each output file is a MIME entity for kensa-bench --message_file: its own header
lines, an empty line, the body (kensa-bench puts From/To/Subject/Date/Message-ID in front).

  text3k      a 3 KB text/plain body
  mix:BYTES   a short text part and three attachments sharing BYTES of decoded data:
              report.pdf (a PDF with a deflated text content stream and a raw RGB image of
              random bytes, ~40 %), data.bin (random bytes, ~30 %) and texts.zip (deflated text
              files, ~30 %), all base64 in 76-character lines

Every part carries kensa-bench's 24-character placeholder at a place where any 18 bytes are
valid (a text line; base64 groups over random bytes, the image's pixels, the zip's comment), so
each message sent has its own attachments and no scanner's cache can skip the work.

usage: scan_messages.py OUTDIR NAME=SPEC...   e.g. scan_messages.py /tmp/m text3k=text3k a100k=mix:102400
"""
import base64
import io
import os
import random
import sys
import zipfile
import zlib

TOKEN = b"@@KENSA_BENCH_TOKEN_24@@"  # kensa-bench's kTokenPlaceholder
LINE = 76                            # base64 characters per line (RFC 2045's limit)
GROUPS_PER_LINE = LINE // 4
TOKEN_GROUPS = len(TOKEN) // 4       # 6 groups of 4 characters = 18 bytes

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there would their we him been has when who "
         "will more no if out so said what up its about into than them can only other new some "
         "could time these two may then do first any my now such like our over man me even most "
         "made after also did many before must through back years where much your way well down "
         "should because each just those people how too little state good very make world still "
         "own see men work long get here between both life being under never day same another "
         "know while last might us great old year off come since against go came right used take "
         "three invoice quarterly report shipment order meeting schedule budget review").split()


def text_lines(rng, n_bytes, width=72):
    """Plain prose in lines of at most `width` characters, about n_bytes with CRLFs; no line
    starts with '.' (kensa-bench sends without dot-stuffing)."""
    out, size, line = [], 0, []
    while size < n_bytes:
        w = rng.choice(WORDS)
        if rng.random() < 0.08:
            w += "."
        if sum(len(x) + 1 for x in line) + len(w) > width:
            s = " ".join(line)
            out.append(s)
            size += len(s) + 2
            line = []
        line.append(w)
    if line:
        out.append(" ".join(line))
    return out


def b64_with_token(data, lo, hi):
    """base64 of `data` in CRLF lines, with TOKEN over 18 bytes inside data[lo:hi] (aligned to
    a base64 group, within one line)."""
    text = base64.b64encode(data)
    g = (lo + 2) // 3
    while g % GROUPS_PER_LINE > GROUPS_PER_LINE - TOKEN_GROUPS or 3 * g < lo:
        g += 1
    if 3 * (g + TOKEN_GROUPS) > min(hi, len(data) - 3):
        sys.exit(f"scan_messages: no room for the token in [{lo}, {hi}) of {len(data)} bytes")
    text = text[:4 * g] + TOKEN + text[4 * (g + TOKEN_GROUPS):]
    return b"\r\n".join(text[i:i + LINE] for i in range(0, len(text), LINE)) + b"\r\n"


def pdf(rng, n_bytes):
    """A one-page PDF: a deflated content stream of text, a raw RGB image of random bytes.
    Returns (bytes, (lo, hi)) where [lo, hi) is inside the image's pixels."""
    lines = text_lines(rng, min(max(n_bytes // 3, 1024), 1 << 20))  # prose is slow: 1 MB at most
    content = "\n".join(f"BT /F1 10 Tf 40 {780 - 12 * (i % 60)} Td ({l}) Tj ET"
                        for i, l in enumerate(lines))
    content = zlib.compress(content.encode(), 6)
    pixels = max(n_bytes - len(content) - 1024, 3 * 64)
    w = 256
    h = max(1, pixels // (3 * w))
    image = rng.randbytes(3 * w * h)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 6 0 R >> /XObject << /Im1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content +
        b"\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (w, h, len(image)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets, lo = [], 0
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body
        if i == 5:
            lo = len(out)
            out += image + b"\nendstream"
        out += b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out), (lo, lo + len(image))


def zip_of_text(rng, n_bytes):
    """A deflated zip of text files about n_bytes long; returns (bytes, (lo, hi)) over its
    archive comment, the one place where bytes can change without breaking a CRC."""
    comment = b"kensa bench archive " + b"-" * 60
    # Files are 16 KB slices of one 1 MB text at random places: prose per word is slow in
    # Python, and a slice repeats nothing within deflate's 32 KB window, so it compresses like
    # prose (about 3:1).
    pool = ("\r\n".join(text_lines(rng, 1 << 20)) + "\r\n").encode()
    buf = io.BytesIO()
    i = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.comment = comment
        while buf.tell() < n_bytes:
            info = zipfile.ZipInfo(f"notes/file{i:04d}.txt", date_time=(2026, 1, 2, 3, 4, 5))
            info.compress_type = zipfile.ZIP_DEFLATED
            at = rng.randrange(len(pool) - 16384)
            z.writestr(info, pool[at:at + 16384])
            i += 1
    data = buf.getvalue()
    return data, (len(data) - len(comment), len(data))


def part(ctype, name, data, free):
    return (b"Content-Type: %s; name=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"%s\"\r\n\r\n" % (ctype, name, name) +
            b64_with_token(data, *free))


def text_body(rng, n_bytes):
    lines = text_lines(rng, n_bytes)
    lines[len(lines) // 2] = TOKEN.decode() + " " + lines[len(lines) // 2]
    return ("\r\n".join(lines) + "\r\n").encode()


def mix(rng, n_bytes):
    boundary = b"=_kensa_bench_%08x" % rng.getrandbits(32)
    note = text_body(rng, 600)
    blob = rng.randbytes(max(n_bytes * 3 // 10, 64))
    z, zfree = zip_of_text(rng, max(n_bytes * 3 // 10, 2048))
    p, pfree = pdf(rng, max(n_bytes - len(blob) - len(z), 4096))
    parts = [
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + note,
        part(b"application/pdf", b"report.pdf", p, pfree),
        part(b"application/octet-stream", b"data.bin", blob, (0, len(blob))),
        part(b"application/zip", b"texts.zip", z, zfree),
    ]
    return (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
            b"This is a multi-part message in MIME format.\r\n" % boundary +
            b"".join(b"\r\n--" + boundary + b"\r\n" + x for x in parts) +
            b"\r\n--" + boundary + b"--\r\n")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for arg in sys.argv[2:]:
        name, spec = arg.split("=", 1)
        rng = random.Random(f"kensa-bench {spec}")  # same spec, same bytes, every run
        if spec == "text3k":
            data = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" +
                    text_body(rng, 3072))
        elif spec.startswith("mix:"):
            data = mix(rng, int(spec[4:]))
        else:
            sys.exit(f"scan_messages: unknown spec {spec}")
        assert b"\n." not in data
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
