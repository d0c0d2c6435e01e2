#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Deterministic corpus of clean mail attachments, shaped like real ones.

    gen_clean_corpus.py OUTDIR [--seed N] [--scale 1.0]

Writes about 300 files (~60 MB) at --scale 1.0 into OUTDIR, plus OUTDIR/MANIFEST.tsv (name,
type, size, sha256; sorted by name). Everything is made here, nothing is downloaded:

  jpeg   photos: smooth colour fields, texture and sensor-like grain, with EXIF (Pillow)
  png    screenshots: flat colours, panels, rows of bitmap-font text, some with a photo
  gif    small logos, some animated
  pdf    PDF 1.4 written by hand: text pages with Flate content streams, some pages with
         DCT (JPEG) images
  docx   OOXML word processing packages (paragraphs, headings, some inline JPEG pictures)
  xlsx   OOXML spreadsheets (numbers, dates, inline strings; one to three sheets)
  zip    archives of mixed files (text, CSV, JPEG, PDF)
  txt    UTF-8 text with some non-ASCII, plus larger CSV exports and logs
  html   newsletter-like HTML (table layout, inline CSS, links, images by URL)
  ics    iCalendar invitations (RFC 5545: CRLF, folded lines, VTIMEZONE, VALARM)
  vcf    vCards 3.0/4.0, some with an embedded photo
  p7s    S/MIME detached signatures (openssl cms -sign) over a text part
  bin    random binary data

Determinism: each file comes from its own random.Random seeded with a string made of --seed,
the type and the file's index, so the same seed gives the same files. The bytes also depend on
the Pillow, zlib and libjpeg builds (JPEG/PNG/GIF encoders, Deflate): on the same Debian 12
packages they are byte-identical. `openssl cms -sign` is deterministic here because the key is
RSA (PKCS#1 v1.5 signatures have no random part) and -noattr leaves out the signing-time
attribute; the test key and certificate are committed under smime/ next to this script.

Needs python3-pil (Debian package) and openssl. If the interpreter running this script has no
PIL (a pyenv Python, say), it re-executes itself with /usr/bin/python3.
"""
import argparse
import base64
import hashlib
import io
import math
import os
import random
import subprocess
import sys
import tempfile
import zipfile
import zlib

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # pragma: no cover - depends on the interpreter
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != \
            os.path.realpath("/usr/bin/python3") and not os.environ.get("KENSA_CORPUS_REEXEC"):
        os.environ["KENSA_CORPUS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("gen_clean_corpus.py needs Pillow: apt-get install python3-pil")

HERE = os.path.dirname(os.path.abspath(__file__))
SMIME_KEY = os.path.join(HERE, "smime", "key.pem")
SMIME_CERT = os.path.join(HERE, "smime", "cert.pem")

# One fixed timestamp for everything that records one (ZIP entries, PDF dates, EXIF, ...).
FIXED_DATE = (2024, 3, 14, 9, 26, 53)


def log_uniform(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


# ----------------------------------------------------------------------------------------
# Text.

WORDS = """the of and to in is for on that with as are this be by from at or we will an it
your our have not can all more has their which was about new been one also other they you
report quarter budget meeting project customer invoice delivery schedule agenda review team
update proposal contract payment account order service support product release version
market sales growth revenue forecast analysis results summary draft final attached please
find below details request approval deadline office department manager director board
policy security network server backup storage migration training workshop conference travel
hotel flight booking confirmation receipt statement balance total amount due date number
reference shipment warehouse supplier logistics invoice quality audit compliance risk plan
strategy roadmap milestone sprint feature issue ticket incident resolution feedback survey
newsletter announcement holiday season offer discount price list catalogue spring summer
autumn winter january february march april may june july august september october november
december monday tuesday wednesday thursday friday thanks regards kind best wishes""".split()

# Some words with non-ASCII letters, as mail in Europe carries them.
WORDS_INTL = ["Grüße", "München", "Straße", "café", "résumé", "naïve", "Zürich", "Ångström",
              "façade", "jalapeño", "Köln", "Düsseldorf", "señor", "Málaga", "Łódź", "Kraków",
              "Øresund", "Åland", "déjà", "über", "Größe", "coöperate", "São Paulo", "niño",
              "€", "–", "—", "“quoted”", "‘single’", "…", "½", "°C", "±", "×"]


def _cp1252(w):
    try:
        w.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


# The PDF text uses the standard fonts with WinAnsiEncoding (cp1252).
WORDS_CP1252 = [w for w in WORDS_INTL if _cp1252(w)]

FIRST = ["Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hannah", "Ivan", "Julia",
         "Karl", "Lena", "Marco", "Nina", "Oskar", "Paula", "Quentin", "Rosa", "Stefan",
         "Tanja", "Ulrich", "Vera", "Walter", "Xenia", "Yusuf", "Zoë", "José", "François",
         "Søren", "Agnieszka"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Martin", "Bernard", "Dubois", "Rossi", "Russo", "García",
        "Fernández", "Nowak", "Kowalski", "Jensen", "Nielsen", "Smith", "Jones", "Brown",
        "Taylor", "O'Brien", "van Dijk", "de Vries", "Novák", "Horváth"]
COMPANIES = ["Acme Logistics GmbH", "Nordlicht Consulting AG", "Bluewater Systems Ltd",
             "Example Industries", "Alpenblick Reisen", "Muster & Partner", "Orbit Analytics",
             "Greenfield Foods", "Helios Energie", "Kensa Test Corp"]
CITIES = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Wien", "Zürich",
          "Paris", "Lyon", "Milano", "Madrid", "Kraków", "København", "Amsterdam", "London"]


def words(rng, n, intl=0.03, latin1=False):
    pool_intl = WORDS_CP1252 if latin1 else WORDS_INTL
    return [rng.choice(pool_intl) if rng.random() < intl else rng.choice(WORDS) for _ in range(n)]


def sentence(rng, lo=6, hi=20, **kw):
    w = words(rng, rng.randint(lo, hi), **kw)
    s = " ".join(w)
    return s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!", ":"])


def paragraph(rng, lo=2, hi=7, **kw):
    return " ".join(sentence(rng, **kw) for _ in range(rng.randint(lo, hi)))


def person(rng):
    return rng.choice(FIRST), rng.choice(LAST)


def email_of(first, last, domain="example.com"):
    def ascii_fold(s):
        table = {"ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "é": "e", "ç": "c", "ø": "o",
                 "ë": "e", "'": "", " ": ""}
        return "".join(table.get(c, c) for c in s.lower() if c.isascii() or c in table)
    return "%s.%s@%s" % (ascii_fold(first), ascii_fold(last), domain)


def date_str(rng, year=2024):
    return "%04d-%02d-%02d" % (year, rng.randint(1, 12), rng.randint(1, 28))


# ----------------------------------------------------------------------------------------
# Images.


NATURE = [(74, 110, 60), (96, 130, 70), (120, 100, 70), (150, 130, 100), (60, 80, 50),
          (180, 170, 150), (90, 90, 95), (140, 150, 160), (200, 190, 170), (110, 70, 50)]
SKIES = [((120, 160, 220), (215, 230, 245)), ((70, 110, 190), (180, 205, 235)),
         ((200, 200, 205), (235, 235, 238)), ((250, 170, 110), (255, 225, 180)),
         ((40, 50, 90), (140, 120, 150))]


def jitter(rng, c, d=25):
    return tuple(max(0, min(255, v + rng.randint(-d, d))) for v in c)


def photo_image(rng, w, h):
    """Photo-like RGB image: a landscape-ish scene drawn at low resolution (sky gradient,
    ground of natural colours, soft blobs for objects), upscaled bicubically, then mid-scale
    luminance texture and per-pixel sensor-like grain on top."""
    sw, sh = max(8, w // 6), max(6, h // 6)
    top, bottom = rng.choice(SKIES)
    sky = Image.linear_gradient("L").resize((sw, sh))
    scene = Image.merge("RGB", [sky.point(lambda v, a=top[i], b=bottom[i]: a + (b - a) * v // 255)
                                for i in range(3)])
    d = ImageDraw.Draw(scene)
    horizon = int(sh * rng.uniform(0.3, 0.7))
    ground = [jitter(rng, rng.choice(NATURE)) for _ in range(3)]
    for y in range(horizon, sh):
        t = (y - horizon) / max(1, sh - horizon)
        c = tuple(int(ground[0][i] * (1 - t) + ground[1][i] * t) for i in range(3))
        d.line([(0, y), (sw, y)], fill=c)
    # Hills on the horizon, then blobs (trees, buildings, people...).
    pts = [(0, horizon)]
    for x in range(0, sw + sw // 8, max(1, sw // 8)):
        pts.append((x, horizon - rng.randint(0, sh // 6)))
    pts += [(sw, horizon), (sw, horizon + 1), (0, horizon + 1)]
    d.polygon(pts, fill=jitter(rng, ground[2]))
    for _ in range(rng.randint(3, 25)):
        cx, cy = rng.randrange(sw), rng.randint(horizon - sh // 5, sh)
        rx, ry = rng.randint(1, max(2, sw // 10)), rng.randint(1, max(2, sh // 8))
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=jitter(rng, rng.choice(NATURE), 40))
    img = scene.resize((w, h), Image.BICUBIC)
    mw, mh = max(2, w // rng.randint(4, 12)), max(2, h // rng.randint(4, 12))
    mid = Image.frombytes("L", (mw, mh), rng.randbytes(mw * mh)).resize((w, h), Image.BICUBIC)
    img = Image.blend(img, mid.convert("RGB"), rng.uniform(0.05, 0.15))
    grain = Image.frombytes("L", (w, h), rng.randbytes(w * h)).convert("RGB")
    return Image.blend(img, grain, rng.uniform(0.03, 0.10))


def exif_bytes(rng):
    exif = Image.Exif()
    exif[0x010F] = rng.choice(["Canon", "NIKON CORPORATION", "SONY", "FUJIFILM", "Apple",
                               "samsung", "Google"])
    exif[0x0110] = rng.choice(["EOS 80D", "D7500", "ILCE-7M3", "X-T30", "iPhone 13",
                               "SM-G991B", "Pixel 7"])
    exif[0x0132] = "%04d:%02d:%02d %02d:%02d:%02d" % (2023, rng.randint(1, 12), rng.randint(1, 28),
                                                       rng.randint(0, 23), rng.randint(0, 59),
                                                       rng.randint(0, 59))
    exif[0x0131] = "Kensa test corpus"
    return exif.tobytes()


def encode_jpeg(img, quality, exif=None):
    buf = io.BytesIO()
    kw = {"quality": quality}
    if exif:
        kw["exif"] = exif
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def make_jpeg(rng, target, exif=True, max_side=6000):
    """A photo of about `target` bytes: encodes at a guessed size, then rescales (up to four
    tries, keeping the closest)."""
    aspect = rng.choice([4 / 3, 3 / 2, 16 / 9, 1.0, 3 / 4, 2 / 3])
    quality = rng.randint(78, 94)
    seed = rng.getrandbits(64)
    ex = exif_bytes(rng) if exif else None
    pixels = max(160 * 120, target / 0.3)
    best = None
    for _ in range(4):
        w = max(64, min(max_side, int(math.sqrt(pixels * aspect))))
        h = max(48, min(max_side, int(w / aspect)))
        data = encode_jpeg(photo_image(random.Random(seed), w, h), quality, ex)
        if best is None or abs(len(data) - target) < abs(len(best) - target):
            best = data
        if abs(len(data) - target) < 0.12 * target:
            break
        pixels = pixels * target / max(1, len(data))
    return best


FONT = ImageFont.load_default()


def make_png(rng):
    w, h = rng.choice([(1024, 768), (1280, 720), (1366, 768), (1440, 900), (1920, 1080),
                       (2560, 1440), (800, 600), (1280, 1024)])
    palette = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(6)]
    bg = rng.choice([(255, 255, 255), (246, 246, 246), (32, 33, 36), (250, 250, 245)])
    fg = (20, 20, 20) if sum(bg) > 384 else (230, 230, 230)
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 32], fill=palette[0])
    d.text((12, 10), " ".join(words(rng, 5, intl=0)), fill=(255, 255, 255), font=FONT)
    side = rng.randint(120, 300)
    d.rectangle([0, 32, side, h], fill=palette[1])
    for i in range(rng.randint(6, 20)):
        y = 48 + i * 24
        d.text((14, y), " ".join(words(rng, 2, intl=0)), fill=fg, font=FONT)
    # Panels of text lines and a few coloured widgets.
    x0 = side + 16
    y = 48
    while y < h - 40:
        if rng.random() < 0.15:
            bw, bh = rng.randint(80, 400), rng.randint(24, 120)
            d.rectangle([x0, y, x0 + bw, y + bh], fill=rng.choice(palette), outline=fg)
            y += bh + 12
            continue
        line = " ".join(words(rng, rng.randint(4, 18), intl=0))
        d.text((x0, y), line, fill=fg, font=FONT)
        y += 14 if rng.random() < 0.85 else 30
    if rng.random() < 0.35:
        pw, ph = rng.randint(200, w // 2), rng.randint(150, h // 2)
        img.paste(photo_image(rng, pw, ph), (rng.randint(side, w - pw), rng.randint(32, h - ph)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def make_gif(rng):
    w, h = rng.choice([(88, 31), (120, 60), (160, 80), (200, 100), (240, 120), (320, 100),
                       (400, 150), (128, 128), (468, 60), (300, 250), (600, 200)])
    frames = 1 if rng.random() < 0.5 else rng.randint(3, 12)
    colours = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(5)]
    label = rng.choice(COMPANIES).split()[0]
    out = []
    for f in range(frames):
        img = Image.new("RGB", (w, h), colours[0])
        d = ImageDraw.Draw(img)
        r = min(w, h) // 3
        cx = (w // 4 + f * w // (2 * frames)) if frames > 1 else w // 4
        d.ellipse([cx - r, h // 2 - r, cx + r, h // 2 + r], fill=colours[1])
        d.rectangle([w // 2, h // 4, w - 6, h // 4 + 4], fill=colours[2])
        d.text((w // 2, h // 2 - 6), label, fill=colours[3], font=FONT)
        out.append(img.convert("P", palette=Image.ADAPTIVE, colors=rng.choice([16, 32, 64])))
    buf = io.BytesIO()
    if frames == 1:
        out[0].save(buf, "GIF")
    else:
        out[0].save(buf, "GIF", save_all=True, append_images=out[1:],
                    duration=rng.choice([80, 100, 150, 500]), loop=0)
    return buf.getvalue()


# ----------------------------------------------------------------------------------------
# PDF 1.4, written by hand.


def pdf_escape(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_text_page(rng, with_image=None):
    """Content stream of one A4 page of text; with_image: (name, w, h) draws that image."""
    ops = []
    y = 800
    if with_image:
        name, iw, ih = with_image
        dw = 480
        dh = int(dw * ih / iw)
        dh = min(dh, 360)
        ops.append("q %d 0 0 %d 60 %d cm /%s Do Q" % (dw, dh, 780 - dh, name))
        y = 760 - dh
    ops.append("0.2 w 56 %d m 540 %d l S" % (y + 14, y + 14))
    heading = sentence(rng, 3, 7, latin1=True)
    ops.append("BT /F2 14 Tf 56 %d Td (%s) Tj ET" % (y, pdf_escape(heading).encode("cp1252").decode("latin-1")))
    y -= 26
    while y > 60:
        line = " ".join(words(rng, rng.randint(8, 14), latin1=True))
        enc = pdf_escape(line).encode("cp1252").decode("latin-1")
        ops.append("BT /F1 10 Tf 56 %d Td (%s) Tj ET" % (y, enc))
        y -= 13 if rng.random() < 0.9 else 26
    return ("\n".join(ops) + "\n").encode("latin-1")


def make_pdf(rng, target):
    """PDF of about `target` bytes: text pages, and JPEG images when the size calls for them."""
    npages = rng.randint(1, 12)
    images = []
    budget = target - npages * 2500
    if budget > 30000:
        nimg = min(npages + 2, rng.randint(1, 4))
        for _ in range(nimg):
            images.append(make_jpeg(rng, max(8000, budget // nimg), exif=False, max_side=2500))
    objs = []  # list of bytes, object i+1

    def add(body):
        objs.append(body)
        return len(objs)

    catalog = add(None)
    pages = add(None)
    f1 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    f2 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    img_ids = []
    for data in images:
        im = Image.open(io.BytesIO(data))
        iw, ih = im.size
        oid = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                  b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % (iw, ih, len(data))
                  + data + b"\nendstream")
        img_ids.append((oid, iw, ih))
    npages = max(npages, len(img_ids))
    page_ids = []
    for p in range(npages):
        img = img_ids[p] if p < len(img_ids) else None
        content = pdf_text_page(rng, ("Im1", img[1], img[2]) if img else None)
        comp = zlib.compress(content, 6)
        cid = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(comp) + comp + b"\nendstream")
        xobj = b" /XObject << /Im1 %d 0 R >>" % img[0] if img else b""
        pid = add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                   b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >>%s /ProcSet [/PDF /Text /ImageC] >> >>"
                   % (pages, cid, f1, f2, xobj))
        page_ids.append(pid)
    objs[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
    objs[pages - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % p for p in page_ids), len(page_ids))
    title = pdf_escape(sentence(rng, 2, 5, intl=0)).encode("latin-1")
    info = add(b"<< /Title (%s) /Author (%s) /Producer (Kensa test corpus) "
               b"/CreationDate (D:20240314092653Z) >>" % (title, " ".join(person(rng)).encode("latin-1")))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    docid = hashlib.md5(bytes(out)).hexdigest().encode()
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, catalog, info, docid, docid, xref)
    return bytes(out)


# ----------------------------------------------------------------------------------------
# ZIP-based formats.


def zip_bytes(entries, compress=zipfile.ZIP_DEFLATED):
    """entries: list of (name, bytes[, compress_type]). Fixed timestamps and attributes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for e in entries:
            name, data = e[0], e[1]
            zi = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            zi.compress_type = e[2] if len(e) > 2 else compress
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


NS_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
REL_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
REL_APP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties"
REL_STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
REL_IMAGE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
REL_SHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def core_props(rng):
    first, last = person(rng)
    return (XML_DECL +
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<dc:title>%s</dc:title><dc:creator>%s %s</dc:creator>'
            '<dcterms:created xsi:type="dcterms:W3CDTF">2024-03-14T09:26:53Z</dcterms:created>'
            '<dcterms:modified xsi:type="dcterms:W3CDTF">2024-03-14T09:26:53Z</dcterms:modified>'
            '</cp:coreProperties>' % (xml_escape(sentence(rng, 2, 5)), xml_escape(first), xml_escape(last))).encode()


def app_props(app):
    return (XML_DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            '<Application>%s</Application></Properties>' % app).encode()


def rels(items):
    return (XML_DECL + '<Relationships xmlns="%s">' % NS_PKG_REL +
            "".join('<Relationship Id="%s" Type="%s" Target="%s"/>' % it for it in items) +
            "</Relationships>").encode()


def make_docx(rng, target):
    body = []
    media = []
    size = 0
    nimages = 0
    if target > 60000 and rng.random() < 0.8:
        nimages = rng.randint(1, 4)
    per_image = (target - 20000) // max(1, nimages)

    def add_picture():
        data = make_jpeg(rng, max(20000, per_image), exif=rng.random() < 0.5, max_side=4000)
        iw, ih = Image.open(io.BytesIO(data)).size
        n = len(media) + 1
        media.append(("word/media/image%d.jpeg" % n, data))
        cx = 5486400  # 6 inches in EMU
        cy = cx * ih // iw
        body.append(
            '<w:p><w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0">'
            '<wp:extent cx="%d" cy="%d"/><wp:docPr id="%d" name="Picture %d"/>'
            '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
            '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
            '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
            '<pic:nvPicPr><pic:cNvPr id="%d" name="image%d.jpeg"/><pic:cNvPicPr/></pic:nvPicPr>'
            '<pic:blipFill><a:blip r:embed="rIdImg%d"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
            '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="%d" cy="%d"/></a:xfrm>'
            '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>'
            '</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>'
            % (cx, cy, n, n, n, n, n, cx, cy))

    # Text: roughly target/3 bytes of XML when there are no images (text compresses ~3-4x).
    text_budget = target * 3 if not nimages else rng.randint(8000, 60000)
    while size < text_budget:
        if rng.random() < 0.12:
            t = sentence(rng, 2, 6)
            xml = ('<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>%s</w:t></w:r></w:p>'
                   % xml_escape(t))
        else:
            runs = []
            for _ in range(rng.randint(1, 4)):
                t = paragraph(rng, 1, 3)
                rpr = "<w:rPr><w:b/></w:rPr>" if rng.random() < 0.1 else ""
                runs.append('<w:r>%s<w:t xml:space="preserve">%s </w:t></w:r>' % (rpr, xml_escape(t)))
            xml = "<w:p>%s</w:p>" % "".join(runs)
        body.append(xml)
        size += len(xml)
        if nimages and len(media) < nimages and rng.random() < 0.08:
            add_picture()
    while len(media) < nimages:
        add_picture()
    document = (XML_DECL +
                '<w:document xmlns:w="%s" xmlns:r="%s" '
                'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
                '<w:body>%s<w:sectPr><w:pgSz w:w="11906" w:h="16838"/>'
                '<w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440" w:header="708" '
                'w:footer="708" w:gutter="0"/></w:sectPr></w:body></w:document>'
                % (NS_W, NS_R, "".join(body))).encode()
    styles = (XML_DECL +
              '<w:styles xmlns:w="%s"><w:style w:type="paragraph" w:default="1" w:styleId="Normal">'
              '<w:name w:val="Normal"/></w:style><w:style w:type="paragraph" w:styleId="Heading1">'
              '<w:name w:val="heading 1"/><w:basedOn w:val="Normal"/><w:rPr><w:b/><w:sz w:val="32"/>'
              '</w:rPr></w:style></w:styles>' % NS_W).encode()
    ctypes = (XML_DECL +
              '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
              '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
              '<Default Extension="xml" ContentType="application/xml"/>'
              '<Default Extension="jpeg" ContentType="image/jpeg"/>'
              '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
              '<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
              '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
              '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
              '</Types>').encode()
    doc_rels = [("rIdStyles", REL_STYLES, "styles.xml")]
    doc_rels += [("rIdImg%d" % (i + 1), REL_IMAGE, "media/image%d.jpeg" % (i + 1)) for i in range(len(media))]
    entries = [("[Content_Types].xml", ctypes),
               ("_rels/.rels", rels([("rId1", REL_DOC, "word/document.xml"),
                                     ("rId2", REL_CORE, "docProps/core.xml"),
                                     ("rId3", REL_APP, "docProps/app.xml")])),
               ("word/document.xml", document),
               ("word/styles.xml", styles),
               ("word/_rels/document.xml.rels", rels(doc_rels)),
               ("docProps/core.xml", core_props(rng)),
               ("docProps/app.xml", app_props("Microsoft Office Word"))]
    entries += media
    return zip_bytes(entries)


def col_name(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def make_sheet(rng, xml_budget):
    ncols = rng.randint(4, 14)
    heads = [rng.choice(["Date", "Amount", "Qty", "Price", "Region", "Product", "Customer",
                         "Total", "VAT", "Discount", "Account", "Status", "Cost", "Margin"])
             for _ in range(ncols)]
    kinds = [rng.choice(["int", "float", "float", "date", "str"]) for _ in range(ncols)]
    rows = ['<row r="1">' + "".join('<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>'
                                    % (col_name(c), heads[c]) for c in range(ncols)) + "</row>"]
    size = len(rows[0])
    r = 2
    while size < xml_budget and r < 1048576:
        cells = []
        for c in range(ncols):
            ref = "%s%d" % (col_name(c), r)
            k = kinds[c]
            if k == "int":
                cells.append('<c r="%s"><v>%d</v></c>' % (ref, rng.randint(0, 100000)))
            elif k == "float":
                cells.append('<c r="%s"><v>%.2f</v></c>' % (ref, rng.uniform(-5000, 50000)))
            elif k == "date":
                cells.append('<c r="%s" s="1"><v>%d</v></c>' % (ref, 45000 + rng.randint(0, 700)))
            else:
                cells.append('<c r="%s" t="inlineStr"><is><t>%s</t></is></c>'
                             % (ref, xml_escape(rng.choice(CITIES + COMPANIES))))
        row = '<row r="%d">%s</row>' % (r, "".join(cells))
        rows.append(row)
        size += len(row)
        r += 1
    return (XML_DECL + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="%s"><dimension ref="A1:%s%d"/><sheetData>%s</sheetData></worksheet>'
            % (NS_R, col_name(ncols - 1), r - 1, "".join(rows))).encode()


def make_xlsx(rng, target):
    nsheets = rng.choice([1, 1, 2, 3])
    sheets = [make_sheet(rng, target * 4 // nsheets) for _ in range(nsheets)]
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (XML_DECL + '<workbook xmlns="%s" xmlns:r="%s"><sheets>%s</sheets></workbook>' % (
        ns, NS_R, "".join('<sheet name="Sheet%d" sheetId="%d" r:id="rId%d"/>' % (i + 1, i + 1, i + 1)
                          for i in range(nsheets)))).encode()
    styles = (XML_DECL + '<styleSheet xmlns="%s"><numFmts count="0"/>'
              '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
              '<fills count="2"><fill><patternFill patternType="none"/></fill>'
              '<fill><patternFill patternType="gray125"/></fill></fills>'
              '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
              '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
              '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
              '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
              '</styleSheet>' % ns).encode()
    ctypes = (XML_DECL +
              '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
              '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
              '<Default Extension="xml" ContentType="application/xml"/>'
              '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
              '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
              + "".join('<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' % (i + 1)
                        for i in range(nsheets)) +
              '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
              '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
              '</Types>').encode()
    wb_rels = [("rId%d" % (i + 1), REL_SHEET, "worksheets/sheet%d.xml" % (i + 1)) for i in range(nsheets)]
    wb_rels.append(("rIdStyles", REL_STYLES, "styles.xml"))
    entries = [("[Content_Types].xml", ctypes),
               ("_rels/.rels", rels([("rId1", REL_DOC, "xl/workbook.xml"),
                                     ("rId2", REL_CORE, "docProps/core.xml"),
                                     ("rId3", REL_APP, "docProps/app.xml")])),
               ("xl/workbook.xml", workbook),
               ("xl/_rels/workbook.xml.rels", rels(wb_rels)),
               ("xl/styles.xml", styles)]
    entries += [("xl/worksheets/sheet%d.xml" % (i + 1), s) for i, s in enumerate(sheets)]
    entries += [("docProps/core.xml", core_props(rng)), ("docProps/app.xml", app_props("Microsoft Excel"))]
    return zip_bytes(entries)


def make_zip(rng, target):
    entries = []
    size = 0
    i = 0
    while size < target:
        i += 1
        kind = rng.choice(["txt", "csv", "jpg", "jpg", "pdf"])
        left = max(2000, target - size)
        if kind == "txt":
            data = make_txt(rng, min(left, rng.randint(2000, 20000)))
        elif kind == "csv":
            data = make_csv(rng, min(left * 4, rng.randint(10000, 300000)))
        elif kind == "jpg":
            data = make_jpeg(rng, min(left, log_uniform(rng, 30000, 600000)))
        else:
            data = make_pdf(rng, min(left, log_uniform(rng, 20000, 400000)))
        folder = rng.choice(["", "", "docs/", "scans/", "export/"])
        name = "%s%s_%02d.%s" % (folder, rng.choice(["file", "scan", "report", "IMG", "data"]), i, kind)
        entries.append((name, data))
        size += len(zlib.compress(data, 1)) if kind in ("txt", "csv") else len(data)
    return zip_bytes(entries)


# ----------------------------------------------------------------------------------------
# Text formats.


def make_txt(rng, target):
    first, last = person(rng)
    out = ["Hallo %s," % first if rng.random() < 0.4 else "Dear %s %s," % (first, last), ""]
    size = 0
    while size < target:
        p = paragraph(rng, intl=0.06)
        # Wrap at ~72 columns, as mail clients do.
        line = ""
        for w in p.split():
            if len(line) + len(w) + 1 > 72:
                out.append(line)
                line = w
            else:
                line = (line + " " + w) if line else w
        out.append(line)
        out.append("")
        size += len(p.encode()) + 2
    me = person(rng)
    out += ["Mit freundlichen Grüßen / Kind regards", "%s %s" % me, rng.choice(COMPANIES), ""]
    return "\n".join(out).encode("utf-8")


def make_csv(rng, target):
    ncols = rng.randint(4, 10)
    out = [";".join(rng.choice(["Datum", "Betrag", "Währung", "Kunde", "Ort", "Menge", "Artikel",
                               "Status", "Konto", "Bemerkung"]) for _ in range(ncols))]
    size = len(out[0])
    while size < target:
        row = []
        for c in range(ncols):
            k = (c * 7 + ncols) % 4
            if k == 0:
                row.append(date_str(rng))
            elif k == 1:
                row.append(("%.2f" % rng.uniform(-1000, 99999)).replace(".", ","))
            elif k == 2:
                row.append(rng.choice(CITIES))
            else:
                row.append(rng.choice(COMPANIES))
        line = ";".join(row)
        out.append(line)
        size += len(line) + 1
    return ("\n".join(out) + "\n").encode("utf-8")


def make_log(rng, target):
    out = []
    size = 0
    sec = 0
    hosts = ["web01", "web02", "db01", "mail", "backup"]
    while size < target:
        sec += rng.randint(0, 30)
        line = "2024-03-%02d %02d:%02d:%02d %s %s[%d]: %s" % (
            1 + sec // 86400 % 28, sec // 3600 % 24, sec // 60 % 60, sec % 60,
            rng.choice(hosts), rng.choice(["sshd", "postfix/smtpd", "cron", "nginx", "kernel"]),
            rng.randint(100, 65000), sentence(rng, 4, 12, intl=0))
        out.append(line)
        size += len(line) + 1
    return ("\n".join(out) + "\n").encode("utf-8")


def make_html(rng, target):
    company = rng.choice(COMPANIES)
    accent = "#%06x" % rng.randrange(1 << 24)
    parts = ['<!DOCTYPE html>\n<html lang="de">\n<head>\n<meta charset="utf-8">\n'
             '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
             '<title>%s Newsletter</title>\n<style>\nbody{margin:0;padding:0;background:#f4f4f4;'
             'font-family:Arial,Helvetica,sans-serif;color:#333}\n.wrapper{width:100%%;'
             'background:#f4f4f4}\n.btn{background:%s;color:#fff;padding:12px 24px;'
             'text-decoration:none;border-radius:4px}\nh1,h2{color:%s}\n</style>\n</head>\n<body>\n'
             '<table class="wrapper" role="presentation" width="100%%" cellpadding="0" cellspacing="0">'
             '<tr><td align="center">\n<table width="600" cellpadding="0" cellspacing="0" '
             'style="background:#ffffff">\n' % (xml_escape(company), accent, accent)]
    slug = company.split()[0].lower()
    parts.append('<tr><td style="padding:20px"><img src="https://news.%s.example/img/logo.png" '
                 'width="180" height="48" alt="%s"></td></tr>\n' % (slug, xml_escape(company)))
    size = sum(len(p) for p in parts)
    n = 0
    while size < target - 800:
        n += 1
        block = ['<tr><td style="padding:16px 24px">\n<h2 style="font-size:20px;margin:0 0 8px">%s</h2>\n'
                 % xml_escape(sentence(rng, 3, 8))]
        if rng.random() < 0.5:
            block.append('<img src="https://news.%s.example/img/article-%d.jpg" width="552" '
                         'style="display:block;width:100%%;height:auto" alt="">\n' % (slug, n))
        for _ in range(rng.randint(1, 3)):
            block.append('<p style="font-size:15px;line-height:22px;margin:0 0 12px">%s</p>\n'
                         % xml_escape(paragraph(rng, 2, 5, intl=0.04)))
        block.append('<p><a class="btn" href="https://news.%s.example/r/%d?utm_source=newsletter'
                     '&amp;utm_medium=email&amp;utm_campaign=2024-%02d">%s</a></p>\n'
                     % (slug, rng.randrange(10 ** 6), rng.randint(1, 12),
                        rng.choice(["Mehr lesen", "Read more", "Jetzt ansehen", "En savoir plus"])))
        block.append('</td></tr>\n')
        b = "".join(block)
        parts.append(b)
        size += len(b)
    parts.append('<tr><td style="padding:24px;font-size:12px;color:#888">%s &middot; %s<br>'
                 '<a href="https://news.%s.example/unsubscribe?id=%d">Abmelden / Unsubscribe</a>'
                 '</td></tr>\n</table>\n</td></tr></table>\n</body>\n</html>\n'
                 % (xml_escape(company), rng.choice(CITIES), slug, rng.randrange(10 ** 8)))
    return "".join(parts).encode("utf-8")


def ical_fold(line):
    """RFC 5545 3.1: lines longer than 75 octets are folded (CRLF + one space)."""
    raw = line.encode("utf-8")
    out = []
    while len(raw) > 75:
        cut = 75 if not out else 74
        # Do not split inside a UTF-8 sequence.
        while cut > 0 and (raw[cut] & 0xC0) == 0x80:
            cut -= 1
        out.append(raw[:cut])
        raw = raw[cut:]
    out.append(raw)
    return b"\r\n ".join(out)


def ical_text(s):
    return s.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def make_ics(rng):
    org = person(rng)
    month, day, hour = rng.randint(1, 12), rng.randint(1, 28), rng.randint(8, 17)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0",
             "PRODID:-//Kensa Test Corpus//Calendar 1.0//EN",
             "METHOD:REQUEST", "CALSCALE:GREGORIAN",
             "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
             "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
             "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
             "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET",
             "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
             "END:VTIMEZONE"]
    for e in range(rng.choice([1, 1, 1, 2, 3])):
        lines += ["BEGIN:VEVENT",
                  "UID:%032x@kensa.test" % rng.getrandbits(128),
                  "DTSTAMP:20240314T092653Z",
                  "DTSTART;TZID=Europe/Berlin:2024%02d%02dT%02d%02d00" % (month, day, hour + e, rng.choice([0, 30])),
                  "DTEND;TZID=Europe/Berlin:2024%02d%02dT%02d%02d00" % (month, day, hour + e + 1, rng.choice([0, 30])),
                  "SUMMARY:" + ical_text(sentence(rng, 2, 6, intl=0.1)),
                  "LOCATION:" + ical_text("%s, Raum %d" % (rng.choice(CITIES), rng.randint(100, 499))),
                  "DESCRIPTION:" + ical_text(paragraph(rng, 2, 6, intl=0.05)),
                  "ORGANIZER;CN=%s %s:mailto:%s" % (org[0], org[1], email_of(*org))]
        for _ in range(rng.randint(1, 8)):
            a = person(rng)
            lines.append("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
                         "RSVP=TRUE;CN=%s %s:mailto:%s" % (a[0], a[1], email_of(*a)))
        if rng.random() < 0.3:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=%d;BYDAY=%s" % (rng.randint(2, 20),
                                                                 rng.choice(["MO", "TU", "WE", "TH", "FR"])))
        lines += ["SEQUENCE:0", "STATUS:CONFIRMED", "TRANSP:OPAQUE",
                  "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT15M",
                  "END:VALARM", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return b"\r\n".join(ical_fold(l) for l in lines) + b"\r\n"


def make_vcf(rng):
    out = []
    for _ in range(rng.choice([1, 1, 1, 2, 5])):
        first, last = person(rng)
        v4 = rng.random() < 0.4
        company = rng.choice(COMPANIES)
        lines = ["BEGIN:VCARD", "VERSION:%s" % ("4.0" if v4 else "3.0"),
                 "N:%s;%s;;;" % (last, first), "FN:%s %s" % (first, last),
                 "ORG:%s" % company,
                 "TITLE:%s" % rng.choice(["Sales Manager", "Geschäftsführer", "Engineer",
                                          "Assistant", "Head of IT", "Buchhaltung"]),
                 ("TEL;TYPE=work,voice;VALUE=uri:tel:+49-%d-%d" if v4 else "TEL;TYPE=WORK,VOICE:+49 %d %d")
                 % (rng.randint(30, 999), rng.randint(100000, 9999999)),
                 "EMAIL;TYPE=%s:%s" % ("work" if v4 else "INTERNET", email_of(first, last, "example.org")),
                 "ADR;TYPE=%s:;;%s %d;%s;;%05d;%s" % ("work" if v4 else "WORK",
                                                      rng.choice(["Hauptstraße", "Bahnhofstr.", "Rue de la Paix",
                                                                  "Via Roma", "High Street"]),
                                                      rng.randint(1, 200), rng.choice(CITIES),
                                                      rng.randint(1000, 99999), "Germany"),
                 "URL:https://www.%s.example/" % company.split()[0].lower(),
                 "NOTE:" + ical_text(sentence(rng, 4, 12, intl=0.1)),
                 "REV:20240314T092653Z"]
        if rng.random() < 0.3:
            img = make_jpeg(rng, log_uniform(rng, 3000, 20000), exif=False, max_side=400)
            b64 = base64.b64encode(img).decode()
            lines.append(("PHOTO:data:image/jpeg;base64," if v4 else "PHOTO;ENCODING=b;TYPE=JPEG:") + b64)
        lines.append("END:VCARD")
        out.append(b"\r\n".join(ical_fold(l) for l in lines) + b"\r\n")
    return b"".join(out)


def make_p7s(rng, tmpdir):
    """Detached S/MIME signature (DER) over a text/plain MIME part, as in multipart/signed."""
    body = make_txt(rng, rng.randint(300, 3000)).decode("utf-8")
    part = ("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body.replace("\n", "\r\n")).encode("utf-8")
    src = os.path.join(tmpdir, "part")
    dst = os.path.join(tmpdir, "sig.p7s")
    with open(src, "wb") as f:
        f.write(part)
    # -noattr: no signed attributes, so no signingTime, so the output is deterministic.
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-noattr", "-md", "sha256",
                    "-outform", "DER", "-signer", SMIME_CERT, "-inkey", SMIME_KEY,
                    "-in", src, "-out", dst], check=True)
    with open(dst, "rb") as f:
        return f.read()


# ----------------------------------------------------------------------------------------
# The corpus plan: (type, extension, count at scale 1.0, maker). Sizes are drawn inside
# the makers; counts were chosen for a byte mix of about images 40%, PDF 20%, office 15%,
# zip 5%, text 10%, p7s <1%, random binary 10%.

STEMS = {
    "jpeg": ["IMG_%04d", "DSC%05d", "photo_%d", "PXL_2024%04d", "Foto_%d"],
    "png": ["Screenshot_%d", "Bildschirmfoto_%d", "screen-%d", "capture_%d"],
    "gif": ["logo_%d", "banner_%d", "animation_%d", "signature_%d"],
    "pdf": ["Rechnung_%d", "invoice_%d", "report_Q%d", "Angebot_%d", "scan_%d", "Vertrag_%d"],
    "docx": ["Protokoll_%d", "draft_%d", "letter_%d", "Bericht_%d", "proposal_%d"],
    "xlsx": ["budget_%d", "Umsatz_%d", "export_%d", "timesheet_%d", "Kalkulation_%d"],
    "zip": ["files_%d", "Unterlagen_%d", "photos_%d", "archive_%d"],
    "txt": ["notes_%d", "readme_%d", "Nachricht_%d", "message_%d"],
    "csv": ["export_%d", "Buchungen_%d", "orders_%d"],
    "log": ["server_%d", "maillog_%d"],
    "html": ["newsletter_%d", "Newsletter_%d", "mail_%d"],
    "ics": ["invite_%d", "Einladung_%d", "meeting_%d"],
    "vcf": ["contact_%d", "Kontakt_%d", "vcard_%d"],
    "p7s": ["smime_%d"],
    "bin": ["data_%d", "blob_%d", "dump_%d"],
}


def plan(scale):
    items = [
        ("jpeg", "jpg", 54, lambda r: make_jpeg(r, log_uniform(r, 30 * 1024, 2 * 1024 * 1024))),
        ("png", "png", 26, make_png),
        ("gif", "gif", 16, make_gif),
        ("pdf", "pdf", 36, lambda r: make_pdf(r, log_uniform(r, 20 * 1024, 2 * 1024 * 1024))),
        ("docx", "docx", 30, lambda r: make_docx(r, log_uniform(r, 12 * 1024, 1200 * 1024))),
        ("xlsx", "xlsx", 22, lambda r: make_xlsx(r, log_uniform(r, 10 * 1024, 600 * 1024))),
        ("zip", "zip", 11, lambda r: make_zip(r, log_uniform(r, 40 * 1024, 700 * 1024))),
        ("txt", "txt", 22, lambda r: make_txt(r, log_uniform(r, 1500, 20 * 1024))),
        ("csv", "csv", 8, lambda r: make_csv(r, log_uniform(r, 100 * 1024, 800 * 1024))),
        ("log", "log", 4, lambda r: make_log(r, log_uniform(r, 100 * 1024, 800 * 1024))),
        ("html", "html", 28, lambda r: make_html(r, log_uniform(r, 5 * 1024, 80 * 1024))),
        ("ics", "ics", 12, make_ics),
        ("vcf", "vcf", 12, make_vcf),
        ("p7s", "p7s", 15, None),
        ("bin", "bin", 14, lambda r: r.randbytes(log_uniform(r, 10 * 1024, 3 * 1024 * 1024))),
    ]
    return [(t, ext, max(1, int(round(n * scale))), fn) for t, ext, n, fn in items]


# Type column of MANIFEST.tsv: csv and log are text.
MANIFEST_TYPE = {"csv": "txt", "log": "txt"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory(prefix="kensa-corpus-") as tmp:
        for typ, ext, count, fn in plan(args.scale):
            for i in range(count):
                rng = random.Random("kensa-prefilter-corpus/%d/%s/%d" % (args.seed, typ, i))
                stem = rng.choice(STEMS[typ]) % rng.randint(1, 9999)
                name = "%s-%03d-%s.%s" % (typ, i, stem, ext)
                data = make_p7s(rng, tmp) if typ == "p7s" else fn(rng)
                with open(os.path.join(args.outdir, name), "wb") as f:
                    f.write(data)
                manifest.append((name, MANIFEST_TYPE.get(typ, typ), len(data),
                                 hashlib.sha256(data).hexdigest()))
    manifest.sort()
    with open(os.path.join(args.outdir, "MANIFEST.tsv"), "w", encoding="ascii", newline="\n") as f:
        f.write("name\ttype\tsize\tsha256\n")
        for row in manifest:
            f.write("%s\t%s\t%d\t%s\n" % row)
    by_type = {}
    for _, typ, size, _ in manifest:
        n, b = by_type.get(typ, (0, 0))
        by_type[typ] = (n + 1, b + size)
    total = sum(b for _, b in by_type.values())
    print("wrote %s: %d files, %.1f MB" % (args.outdir, len(manifest), total / 1e6))
    for typ in sorted(by_type, key=lambda t: -by_type[t][1]):
        n, b = by_type[typ]
        print("  %-5s %4d files %8.1f MB %5.1f%%" % (typ, n, b / 1e6, 100.0 * b / total))


if __name__ == "__main__":
    main()
