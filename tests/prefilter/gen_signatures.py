#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Deterministic generator of a large ClamAV signature database shaped like the real one.

    gen_signatures.py OUTDIR [--seed N] [--body 50000] [--ldb 5000] [--hashes 500000]
                             [--verify N]

Writes into OUTDIR (created if missing):

  gen.ndb        --body body signatures   Name:TargetType:Offset:HexSig
  gen.ldb        --ldb logical signatures Name;Engine:X-255,Target:T;Expr;Subsig0;...
  gen.hdb        MD5:Size:Name                          (file hashes)
  gen.hsb        SHA256:Size:Name, SHA1:Size:Name, a few SHA256:*:Name:73
  gen.mdb        Size:MD5:Name                          (PE section hashes)
  planted.jsonl  how to build bytes that the engine detects, one JSON object a line:
                   {"name", "kind": "ndb"|"ldb", "target": 0|10, "hex"}  concrete bytes that
                                                   match (target 10: inside a PDF)
                   {"name", "kind": "hdb"|"hsb", "seed", "size"}        the blob is
                                                   random.Random(seed).randbytes(size)

The same seed and counts give byte-identical files: every random choice comes from a
random.Random seeded with a string derived from --seed (string seeds go through SHA-512, so
PYTHONHASHSEED and the clock play no part), and nothing iterates over a set or a dict whose
order could differ.

The body signatures follow the rules libclamav's loader enforces: every part separated by
`*` or `{...}` holds a run of at least two fixed bytes, `[n-m]` anchors (n <= m <= 32) only sit
at the very start or end of a signature, next to a single fixed byte, and alternatives hold
no wildcards. Every body signature also holds a run of at least four fixed bytes that is
neither all 00 nor all ff.

--verify N writes N planted instances (spread over the kinds) to temporary files, runs
`clamscan --no-summary --allmatch -d OUTDIR FILE...` once over them, and checks that each file
reports its planted name; before that it runs clamscan on an empty file to check that every
generated signature was loaded (its "Known viruses" count) and prints the load time.
Exit status 1 when any check fails.
"""
import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import random

# ----------------------------------------------------------------------------------------
# Weighted choice helpers (all through an explicit Random instance).


def wchoice(rng, table):
    """table: list of (weight, value); returns a value."""
    total = sum(w for w, _ in table)
    x = rng.random() * total
    for w, v in table:
        x -= w
        if x < 0:
            return v
    return table[-1][1]


def log_uniform_int(rng, lo, hi):
    return int(round(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


# ----------------------------------------------------------------------------------------
# Byte content. Real signatures are a mix of machine code, ASCII strings and binary
# structures; generated fixed bytes follow that mix, without ever producing runs that are
# all 00 or all ff.

PRINTABLE = bytes(range(0x20, 0x7F))
ALNUM = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
X86ISH = bytes([0x55, 0x8B, 0xEC, 0x83, 0xC4, 0xE8, 0xFF, 0x15, 0x68, 0x6A, 0x00, 0x50, 0x51,
                0x53, 0x56, 0x57, 0x89, 0x45, 0xF8, 0x74, 0x75, 0xEB, 0xC3, 0x33, 0xC0, 0x0F,
                0x84, 0x85, 0x8D, 0x4D, 0x5D, 0x5E, 0x5F, 0xB8, 0xC7, 0x44, 0x24])


def fixed_bytes(rng, n, style):
    if style == "text":
        out = bytes(rng.choice(ALNUM if rng.random() < 0.8 else PRINTABLE) for _ in range(n))
    elif style == "code":
        out = bytes(rng.choice(X86ISH) if rng.random() < 0.6 else rng.randrange(256)
                    for _ in range(n))
    else:
        out = rng.randbytes(n)
    return out


def degenerate(bs):
    """True for byte strings a real signature would never rest on (all 00 / all ff, or
    a single repeated byte)."""
    return len(set(bs)) <= 1


# ----------------------------------------------------------------------------------------
# Body signature model.
#
# A signature is a list of parts separated by gaps. A part is a list of atoms:
#   ("fix", bytes)            fixed bytes
#   ("any",)                  ??
#   ("hi", nibble)            a?   (high nibble fixed)
#   ("lo", nibble)            ?a   (low nibble fixed)
#   ("alt", [b, ...])         (aa|bb|cc)       single-byte alternatives
#   ("nalt", [b, ...])        !(aa|bb)         negated single-byte alternatives
#   ("galt", [bytes, ...])    (aabb|ccddee)    multi-byte alternatives
# Gaps between parts: ("star",) | ("exact", n) | ("range", n, m) | ("upto", n) | ("atleast", n)
# Anchors: ("lanchor", byte, n, m) before the first part: aa[n-m]...
#          ("ranchor", byte, n, m) after the last part:  ...[n-m]aa


class BodySig:
    def __init__(self, parts, gaps, lanchor=None, ranchor=None):
        self.parts = parts
        self.gaps = gaps
        self.lanchor = lanchor
        self.ranchor = ranchor

    def hex(self):
        out = []
        if self.lanchor:
            _, b, n, m = self.lanchor
            out.append("%02x[%d-%d]" % (b, n, m))
        for i, part in enumerate(self.parts):
            if i:
                out.append(gap_hex(self.gaps[i - 1]))
            for atom in part:
                out.append(atom_hex(atom))
        if self.ranchor:
            _, b, n, m = self.ranchor
            out.append("[%d-%d]%02x" % (n, m, b))
        return "".join(out)

    def has_gap_or_split(self):
        return bool(self.gaps)

    def instance(self, rng):
        """Concrete bytes that match the signature."""
        out = bytearray()
        if self.lanchor:
            _, b, n, m = self.lanchor
            out.append(b)
            out += filler(rng, rng.randint(n, m))
        for i, part in enumerate(self.parts):
            if i:
                out += gap_instance(rng, self.gaps[i - 1])
            for atom in part:
                out += atom_instance(rng, atom)
        if self.ranchor:
            _, b, n, m = self.ranchor
            out += filler(rng, rng.randint(n, m))
            out.append(b)
        return bytes(out)


def atom_hex(a):
    k = a[0]
    if k == "fix":
        return a[1].hex()
    if k == "any":
        return "??"
    if k == "hi":
        return "%x?" % a[1]
    if k == "lo":
        return "?%x" % a[1]
    if k == "alt":
        return "(" + "|".join("%02x" % b for b in a[1]) + ")"
    if k == "nalt":
        return "!(" + "|".join("%02x" % b for b in a[1]) + ")"
    if k == "galt":
        return "(" + "|".join(s.hex() for s in a[1]) + ")"
    raise ValueError(k)


def gap_hex(g):
    k = g[0]
    if k == "star":
        return "*"
    if k == "exact":
        return "{%d}" % g[1]
    if k == "range":
        return "{%d-%d}" % (g[1], g[2])
    if k == "upto":
        return "{-%d}" % g[1]
    if k == "atleast":
        return "{%d-}" % g[1]
    raise ValueError(k)


def filler(rng, n):
    return rng.randbytes(n)


def atom_instance(rng, a):
    k = a[0]
    if k == "fix":
        return a[1]
    if k == "any":
        return bytes([rng.randrange(256)])
    if k == "hi":
        return bytes([(a[1] << 4) | rng.randrange(16)])
    if k == "lo":
        return bytes([(rng.randrange(16) << 4) | a[1]])
    if k == "alt":
        return bytes([rng.choice(a[1])])
    if k == "nalt":
        while True:
            b = rng.randrange(256)
            if b not in a[1]:
                return bytes([b])
    if k == "galt":
        return rng.choice(a[1])
    raise ValueError(k)


def gap_instance(rng, g):
    k = g[0]
    if k == "star":
        n = rng.randint(0, 48)
    elif k == "exact":
        n = g[1]
    elif k == "range":
        n = rng.randint(g[1], g[2])
    elif k == "upto":
        n = rng.randint(0, g[1])
    else:
        n = g[1] + rng.randint(0, 48)
    return filler(rng, n)


def gen_gap(rng):
    k = wchoice(rng, [(30, "star"), (25, "exact"), (25, "range"), (10, "upto"), (10, "atleast")])
    if k == "star":
        return ("star",)
    if k == "exact":
        if rng.random() < 0.85:
            return ("exact", rng.randint(1, 64))
        return ("exact", rng.randint(128, 1024))
    if k == "range":
        n = rng.randint(0, 64)
        return ("range", n, n + rng.randint(1, 256))
    if k == "upto":
        return ("upto", rng.randint(1, 64))
    return ("atleast", rng.randint(1, 256))


def split_length(rng, total, nparts, minimum):
    """Split total into nparts integers, each >= minimum."""
    cuts = sorted(rng.randint(0, total - nparts * minimum) for _ in range(nparts - 1))
    sizes = []
    prev = 0
    for c in cuts + [total - nparts * minimum]:
        sizes.append(c - prev + minimum)
        prev = c
    return sizes


def gen_part(rng, length, core, density, style, allow):
    """One part of `length` byte positions. `core` fixed positions (>= 2) form a run that is
    never wildcarded; the first and the last position are fixed too. `density` is the share
    of other positions that become wildcards or alternatives; `allow` is the set of atom
    kinds allowed."""
    length = max(length, core)
    start = rng.randint(0, length - core)
    protected = set(range(start, start + core)) | {0, length - 1}
    kinds = [(45, "any"), (6, "hi"), (6, "lo"), (17, "alt"), (8, "nalt"), (18, "galt")]
    kinds = [(w, k) for w, k in kinds if k in allow]
    slots = []
    for pos in range(length):
        if pos not in protected and kinds and rng.random() < density:
            kind = wchoice(rng, kinds)
            # libclamav 1.4 refuses a multi-byte alternative as the second element of a
            # part ("4f(33c8|ec53)0ec468": Problem adding signature), while it takes it
            # anywhere else.
            if kind == "galt" and pos == 1:
                kind = "alt"
            slots.append(kind)
        else:
            slots.append("fix")
    # The core run must not be degenerate (all 00 / all ff / one repeated byte).
    while True:
        fixed = fixed_bytes(rng, length, style)
        if not degenerate(fixed[start:start + core]) and not degenerate(fixed[:2]):
            break
    atoms = []
    run = bytearray()
    for pos, kind in enumerate(slots):
        if kind == "fix":
            run.append(fixed[pos])
            continue
        if run:
            atoms.append(("fix", bytes(run)))
            run = bytearray()
        if kind == "any":
            atoms.append(("any",))
        elif kind == "hi":
            atoms.append(("hi", rng.randrange(16)))
        elif kind == "lo":
            atoms.append(("lo", rng.randrange(16)))
        elif kind == "alt":
            atoms.append(("alt", sorted(rng.sample(range(256), rng.randint(2, 5)))))
        elif kind == "nalt":
            atoms.append(("nalt", sorted(rng.sample(range(256), rng.randint(2, 4)))))
        elif kind == "galt":
            atoms.append(("galt", gen_galt(rng, style)))
    if run:
        atoms.append(("fix", bytes(run)))
    return atoms


def gen_galt(rng, style):
    count = rng.randint(2, 4)
    same = rng.random() < 0.5
    width = rng.randint(2, 4)
    alts = []
    while len(alts) < count:
        n = width if same else rng.randint(2, 5)
        s = fixed_bytes(rng, n, style)
        if degenerate(s):
            continue
        # No member may be a prefix of another (or equal): libclamav takes the first member
        # that matches, so a prefix member would make longer instances ambiguous.
        if any(a.startswith(s) or s.startswith(a) for a in alts):
            continue
        alts.append(s)
    return alts


def gen_body_sig(rng, min_len, max_len, allow_anchor=True,
                 allow=("any", "hi", "lo", "alt", "nalt", "galt")):
    anchored = allow_anchor and rng.random() < 0.04
    # The anchor's single byte counts towards the length.
    total = rng.randint(min_len, max_len) - (1 if anchored else 0)
    style = wchoice(rng, [(50, "random"), (30, "code"), (20, "text")])
    nparts = wchoice(rng, [(55, 1), (25, 2), (12, 3), (8, 4)])
    nparts = max(1, min(nparts, total // 6))
    sizes = split_length(rng, total, nparts, 6 if nparts > 1 else total)
    if rng.random() < 0.4:
        density = 0.0
    else:
        density = rng.uniform(0.05, 0.25)
    core_part = rng.randrange(nparts)
    parts = []
    for i, size in enumerate(sizes):
        core = rng.randint(4, min(8, size)) if i == core_part else rng.randint(2, min(4, size))
        parts.append(gen_part(rng, size, core, density, style, allow))
    gaps = [gen_gap(rng) for _ in range(nparts - 1)]
    lanchor = ranchor = None
    if anchored:
        n = rng.randint(0, 16)
        anchor = ("lanchor", rng.randrange(1, 255), n, rng.randint(n, min(32, n + 16)))
        if rng.random() < 0.5:
            lanchor = anchor
        else:
            ranchor = ("ranchor",) + anchor[1:]
    return BodySig(parts, gaps, lanchor, ranchor)


# ----------------------------------------------------------------------------------------
# .ndb

TARGETS_NDB = [(60, 0), (15, 1), (5, 2), (5, 3), (3, 4), (3, 5), (3, 6), (3, 7), (2, 10), (1, 9)]


def gen_offset(rng, target, siglen):
    exe = target in (1, 6, 9)
    table = [(70, "*"), (8, "abs"), (5, "eof"), (6, "float")]
    if exe:
        table.append((12, "ep"))
    if target == 1:
        table.append((5, "sect"))
    k = wchoice(rng, table)
    if k == "*":
        return "*"
    if k == "abs":
        return "0" if rng.random() < 0.6 else str(log_uniform_int(rng, 2, 65536))
    if k == "eof":
        return "EOF-%d" % (siglen + rng.randint(0, 4096))
    if k == "float":
        base = "0" if rng.random() < 0.5 else str(log_uniform_int(rng, 2, 65536))
        return "%s,%d" % (base, log_uniform_int(rng, 16, 8192))
    if k == "ep":
        off = "EP+%d" % rng.randint(0, 512) if rng.random() < 0.85 else "EP-%d" % rng.randint(1, 64)
        if rng.random() < 0.3:
            off += ",%d" % rng.randint(1, 256)
        return off
    # PE-only section offsets.
    x = rng.random()
    if x < 0.4:
        return "SE%d" % rng.randint(0, 3)
    if x < 0.8:
        return "S%d+%d" % (rng.randint(0, 3), rng.randint(0, 4096))
    return "SL+%d" % rng.randint(0, 4096)


def sig_len_estimate(sig):
    return len(sig.instance(random.Random(0)))


def gen_ndb(rng, count, planted_rng):
    lines = []
    candidates = []
    for i in range(count):
        name = "Kensa.Gen.Body-%06d" % i
        target = wchoice(rng, TARGETS_NDB)
        sig = gen_body_sig(rng, 12, 80)
        offset = gen_offset(rng, target, sig_len_estimate(sig))
        lines.append("%s:%d:%s:%s" % (name, target, offset, sig.hex()))
        if target in (0, 10) and offset == "*":
            candidates.append((name, sig, target))
    want = min(len(candidates), max(200, math.ceil(0.02 * len(candidates))))
    chosen = sorted(planted_rng.sample(range(len(candidates)), want))
    planted = []
    for idx in chosen:
        name, sig, target = candidates[idx]
        planted.append({"name": name, "kind": "ndb", "target": target,
                        "hex": sig.instance(planted_rng).hex()})
    return lines, planted


# ----------------------------------------------------------------------------------------
# .ldb

TARGETS_LDB = [(50, 0), (25, 1), (8, 3), (5, 5), (7, 7), (5, 10)]

WORDS = ["Get", "Proc", "Address", "Load", "Library", "Virtual", "Alloc", "Create", "Remote",
         "Thread", "Write", "Process", "Memory", "Shell", "Execute", "Reg", "Set", "Value",
         "Open", "Key", "Url", "Download", "File", "To", "Wscript", "Run", "Object", "Http",
         "Request", "Send", "Base64", "Decode", "eval", "unescape", "document", "write",
         "Invoke", "Expression", "Hidden", "Window", "Style", "Bypass", "Policy", "Temp",
         "App", "Data", "Startup", "Crypt", "Encrypt", "Wallet", "Token", "Mutex", "Inject"]


def gen_ascii_subsig(rng):
    """Printable ASCII text, as a subsignature with modifiers would be: mixed API-like words
    and random characters, 8-28 bytes, so that it never occurs by chance."""
    parts = []
    length = rng.randint(8, 28)
    while sum(len(p) for p in parts) < length:
        if rng.random() < 0.5:
            parts.append(rng.choice(WORDS))
        else:
            parts.append("".join(chr(rng.choice(ALNUM)) for _ in range(rng.randint(3, 6))))
    s = "".join(parts)[:length]
    # At least a few random characters, so common words alone never make a subsignature.
    if not any(c.isdigit() for c in s):
        s = s[:-2] + "%02d" % rng.randrange(100)
    return s.encode("ascii")


class Subsig:
    def __init__(self, body=None, text=None, mods="", offset=None):
        self.body = body      # BodySig, or None for a text subsig
        self.text = text      # bytes (printable ASCII) for text subsigs
        self.mods = mods      # "", "i", "w", "a", "iw", "wa"
        self.offset = offset  # None (any), or an offset string

    def hex(self):
        core = self.body.hex() if self.body is not None else self.text.hex()
        s = core + ("::" + self.mods if self.mods else "")
        return (self.offset + ":" + s) if self.offset else s

    def instance(self, rng):
        if self.body is not None:
            return self.body.instance(rng)
        t = self.text
        if "i" in self.mods:
            t = bytes((c ^ 0x20) if chr(c).isalpha() and rng.random() < 0.5 else c for c in t)
        if "w" in self.mods and ("a" not in self.mods or rng.random() < 0.5):
            t = b"".join(bytes([c, 0]) for c in t)
        return t


def gen_expression(rng, n):
    """Random logical expression over subsignatures 0..n-1 (all referenced), with a witness:
    how many matches of each subsignature satisfy it. Returns (expr, counts)."""
    ids = list(range(n))
    rng.shuffle(ids)
    counts = [0] * n
    form = wchoice(rng, [(30, "and"), (25, "groups"), (12, "count1"), (12, "countblk"),
                         (12, "neg"), (5, "or"), (4, "less")])
    if n < 3 and form in ("groups", "countblk", "neg", "less"):
        form = "and"

    def and_rest(rest):
        for i in rest:
            counts[i] = max(counts[i], 1)
        return "&".join(str(i) for i in rest)

    if form == "and":
        return and_rest(ids), counts
    if form == "groups":
        # (a|b)&c&(d|e): OR groups of 1-3 joined by AND.
        pieces = []
        i = 0
        while i < n:
            size = min(n - i, rng.randint(1, 3))
            grp = ids[i:i + size]
            i += size
            if size == 1:
                counts[grp[0]] = 1
                pieces.append(str(grp[0]))
            else:
                for g in rng.sample(grp, rng.randint(1, size)):
                    counts[g] = 1
                pieces.append("(" + "|".join(str(g) for g in grp) + ")")
        return "&".join(pieces), counts
    if form == "count1":
        a, rest = ids[0], ids[1:]
        k = rng.randint(1, 3)
        if rng.random() < 0.7:
            counts[a] = k + 1
            piece = "(%d>%d)" % (a, k)
        else:
            counts[a] = k
            piece = "(%d=%d)" % (a, k)
        return "&".join([piece] + ([and_rest(rest)] if rest else [])), counts
    if form == "countblk":
        size = min(n, rng.randint(2, 3))
        blk, rest = ids[:size], ids[size:]
        x = rng.randint(1, size)
        y = rng.randint(2, size)
        # Give X+1 matches in all, from at least Y different subsignatures.
        members = rng.sample(blk, y)
        for m in members:
            counts[m] = 1
        for _ in range(x + 1 - y):
            counts[rng.choice(members)] += 1
        piece = "((%s)>%d,%d)" % ("|".join(str(b) for b in blk), x, y)
        return "&".join([piece] + ([and_rest(rest)] if rest else [])), counts
    if form == "neg":
        neg, rest = ids[-1], ids[:-1]
        return and_rest(rest) + "&%d=0" % neg, counts
    if form == "less":
        a, rest = ids[-1], ids[:-1]
        counts[a] = 1
        return and_rest(rest) + "&(%d<%d)" % (a, rng.randint(2, 4)), counts
    # "or": (a&b)|(c&d...) - a witness takes one side.
    half = max(1, n // 2)
    left, right = ids[:half], ids[half:]
    side = left if rng.random() < 0.5 else right
    for i in side:
        counts[i] = 1
    def grp(g):
        return str(g[0]) if len(g) == 1 else "(" + "&".join(str(i) for i in g) + ")"
    return grp(left) + "|" + grp(right), counts


def gen_ldb(rng, count, planted_rng):
    lines = []
    candidates = []
    for i in range(count):
        name = "Kensa.Gen.Ldb-%06d" % i
        target = wchoice(rng, TARGETS_LDB)
        n = wchoice(rng, [(25, 2), (30, 3), (20, 4), (15, 5), (10, 6)])
        expr, counts = gen_expression(rng, n)
        subsigs = []
        has_mods = False
        anchored_head = anchored_tail = False
        for j in range(n):
            if rng.random() < 0.3:
                text = gen_ascii_subsig(rng)
                mods = wchoice(rng, [(30, ""), (30, "i"), (15, "w"), (5, "a"), (10, "iw"),
                                     (10, "wa")])
                has_mods = has_mods or bool(mods)
                subsigs.append(Subsig(text=text, mods=mods))
            else:
                body = gen_body_sig(rng, 8, 48)
                offset = None
                # Anchored subsigs only where the expression wants a single match.
                if counts[j] == 1 and rng.random() < 0.12:
                    if not anchored_head and rng.random() < 0.5:
                        offset = "0" if rng.random() < 0.7 else "0,%d" % rng.choice([256, 1024, 4096])
                        anchored_head = True
                    elif not anchored_tail:
                        offset = "EOF-%d" % (sig_len_estimate(body) + rng.randint(0, 512))
                        anchored_tail = True
                subsigs.append(Subsig(body=body, offset=offset))
        engine = "81-255" if has_mods else "51-255"
        line = "%s;Engine:%s,Target:%d;%s;%s" % (name, engine, target, expr,
                                                   ";".join(s.hex() for s in subsigs))
        lines.append(line)
        if target in (0, 10) and not any(s.offset for s in subsigs):
            candidates.append((name, subsigs, counts, target))
    want = min(len(candidates), max(50, math.ceil(0.02 * len(candidates))))
    chosen = sorted(planted_rng.sample(range(len(candidates)), want))
    planted = []
    for idx in chosen:
        name, subsigs, counts, target = candidates[idx]
        pieces = []
        for j, c in enumerate(counts):
            for _ in range(c):
                pieces.append(subsigs[j].instance(planted_rng))
        planted_rng.shuffle(pieces)
        out = bytearray()
        for k, p in enumerate(pieces):
            if k:
                out += filler(planted_rng, planted_rng.randint(1, 64))
            out += p
        planted.append({"name": name, "kind": "ldb", "target": target, "hex": bytes(out).hex()})
    return lines, planted


# ----------------------------------------------------------------------------------------
# Hash databases.


def gen_hashes(rng, total, planted_rng):
    n_planted = min(100, total // 4)
    n_hdb = total // 2
    n_mdb = total * 15 // 100
    n_hsb = total - n_hdb - n_mdb
    hdb, hsb, mdb, planted = [], [], [], []

    def size():
        return log_uniform_int(rng, 100, 20 * 1024 * 1024)

    # Planted: hashes of real blobs, half in .hdb (MD5), half in .hsb (SHA256).
    planted_hdb = n_planted // 2
    for k in range(n_planted):
        seed = planted_rng.randrange(1 << 62)
        n = log_uniform_int(planted_rng, 200, 200 * 1024)
        blob = random.Random(seed).randbytes(n)
        if k < planted_hdb:
            name = "Kensa.Gen.Md5Blob-%06d" % k
            hdb.append("%s:%d:%s" % (hashlib.md5(blob).hexdigest(), n, name))
            planted.append({"name": name, "kind": "hdb", "seed": seed, "size": n})
        else:
            name = "Kensa.Gen.Sha256Blob-%06d" % k
            hsb.append("%s:%d:%s" % (hashlib.sha256(blob).hexdigest(), n, name))
            planted.append({"name": name, "kind": "hsb", "seed": seed, "size": n})
    for i in range(n_hdb - planted_hdb):
        hdb.append("%032x:%d:Kensa.Gen.Md5-%07d" % (rng.getrandbits(128), size(), i))
    for i in range(n_hsb - (n_planted - planted_hdb)):
        x = rng.random()
        if x < 0.005:
            hsb.append("%064x:*:Kensa.Gen.Sha256Any-%07d:73" % (rng.getrandbits(256), i))
        elif x < 0.25:
            hsb.append("%040x:%d:Kensa.Gen.Sha1-%07d" % (rng.getrandbits(160), size(), i))
        else:
            hsb.append("%064x:%d:Kensa.Gen.Sha256-%07d" % (rng.getrandbits(256), size(), i))
    for i in range(n_mdb):
        mdb.append("%d:%032x:Kensa.Gen.PeSect-%07d" % (log_uniform_int(rng, 512, 2 * 1024 * 1024),
                                                       rng.getrandbits(128), i))
    return hdb, hsb, mdb, planted


# ----------------------------------------------------------------------------------------


def write_lines(path, lines):
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


def generate(outdir, seed, body, ldb, hashes):
    os.makedirs(outdir, exist_ok=True)

    def R(tag):
        return random.Random("kensa-prefilter-sigs/%d/%s" % (seed, tag))

    ndb_lines, ndb_planted = gen_ndb(R("ndb"), body, R("ndb-planted"))
    ldb_lines, ldb_planted = gen_ldb(R("ldb"), ldb, R("ldb-planted"))
    hdb, hsb, mdb, hash_planted = gen_hashes(R("hash"), hashes, R("hash-planted"))
    write_lines(os.path.join(outdir, "gen.ndb"), ndb_lines)
    write_lines(os.path.join(outdir, "gen.ldb"), ldb_lines)
    write_lines(os.path.join(outdir, "gen.hdb"), hdb)
    write_lines(os.path.join(outdir, "gen.hsb"), hsb)
    write_lines(os.path.join(outdir, "gen.mdb"), mdb)
    planted = ndb_planted + ldb_planted + hash_planted
    write_lines(os.path.join(outdir, "planted.jsonl"),
                [json.dumps(p, sort_keys=True, separators=(",", ":")) for p in planted])
    counts = {"ndb": len(ndb_lines), "ldb": len(ldb_lines), "hdb": len(hdb), "hsb": len(hsb),
              "mdb": len(mdb)}
    print("wrote %s: %s; planted %s" % (
        outdir, ", ".join("%s %d" % kv for kv in counts.items()),
        ", ".join("%s %d" % (k, sum(1 for p in planted if p["kind"] == k))
                  for k in ("ndb", "ldb", "hdb", "hsb"))))
    return sum(counts.values())


def planted_bytes(p, rng):
    if p["kind"] in ("hdb", "hsb"):
        return random.Random(p["seed"]).randbytes(p["size"])
    # Embed the instance between a little random filler, as inside an attachment.
    return filler(rng, rng.randint(0, 64)) + bytes.fromhex(p["hex"]) + filler(rng, rng.randint(0, 64))


def verify(outdir, n, nsigs):
    clamscan = shutil.which("clamscan")
    if not clamscan:
        print("verify: clamscan not found (Debian package clamav)", file=sys.stderr)
        return 1
    load_failed = False
    missed = 0
    with tempfile.TemporaryDirectory(prefix="kensa-sigverify-") as tmp:
        empty = os.path.join(tmp, "empty")
        open(empty, "wb").close()
        t0 = time.monotonic()
        r = subprocess.run([clamscan, "-d", outdir, empty], capture_output=True, text=True)
        load_s = time.monotonic() - t0
        m = re.search(r"Known viruses: (\d+)", r.stdout)
        known = int(m.group(1)) if m else -1
        print("verify: load of %s: %.1f s, known viruses %d (generated %d), rc %d" % (
            outdir, load_s, known, nsigs, r.returncode))
        if r.returncode != 0 or known != nsigs:
            print(r.stderr.strip()[-4000:], file=sys.stderr)
            load_failed = True
        if n <= 0:
            return 1 if load_failed else 0
        with open(os.path.join(outdir, "planted.jsonl"), encoding="ascii") as f:
            planted = [json.loads(line) for line in f]
        # Round-robin over the kinds so that every kind is checked.
        by_kind = {}
        for p in planted:
            by_kind.setdefault(p["kind"], []).append(p)
        order = []
        rng = random.Random("kensa-prefilter-verify")
        for k in sorted(by_kind):
            rng.shuffle(by_kind[k])
        while len(order) < min(n, len(planted)):
            for k in sorted(by_kind):
                if by_kind[k] and len(order) < n:
                    order.append(by_kind[k].pop())
        files = []
        for i, p in enumerate(order):
            path = os.path.join(tmp, "planted-%04d" % i)
            with open(path, "wb") as f:
                f.write(planted_bytes(p, rng))
            files.append((path, p))
        t0 = time.monotonic()
        r = subprocess.run([clamscan, "--no-summary", "--allmatch", "-d", outdir]
                           + [path for path, _ in files], capture_output=True, text=True)
        scan_s = time.monotonic() - t0
        found = {}
        for line in r.stdout.splitlines():
            m = re.match(r"^(.*): (\S+) FOUND$", line)
            if m:
                found.setdefault(m.group(1), set()).add(m.group(2))
        for path, p in files:
            names = found.get(path, set())
            want = {p["name"], p["name"] + ".UNOFFICIAL"}
            if not names & want:
                missed += 1
                print("verify: MISSED %s (%s): %s" % (p["name"], p["kind"],
                                                    ", ".join(sorted(names)) or "nothing found"))
            elif names - want:
                print("verify: %s also matched %s" % (p["name"], ", ".join(sorted(names - want))))
        print("verify: %d planted instances, %d missed (clamscan %.1f s)" % (
            len(files), missed, scan_s))
        if r.stderr.strip():
            print(r.stderr.strip()[-2000:], file=sys.stderr)
    return 1 if load_failed or missed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--body", type=int, default=50000, help="body signatures (.ndb)")
    ap.add_argument("--ldb", type=int, default=5000, help="logical signatures (.ldb)")
    ap.add_argument("--hashes", type=int, default=500000,
                    help="hash signatures (.hdb + .hsb + .mdb)")
    ap.add_argument("--verify", type=int, default=0, metavar="N",
                    help="check the load and N planted instances with clamscan")
    args = ap.parse_args()
    nsigs = generate(args.outdir, args.seed, args.body, args.ldb, args.hashes)
    if args.verify:
        sys.exit(verify(args.outdir, args.verify, nsigs))


if __name__ == "__main__":
    main()
