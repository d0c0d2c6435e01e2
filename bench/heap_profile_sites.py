#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Live bytes per allocation site in a jemalloc heap profile (heap_v2), for a PIE kensad that
jeprof does not symbolize: unsampled as jeprof does, addresses resolved with addr2line through
the profile's MAPPED_LIBRARIES, grouped by the first DEPTH frames outside the allocator.

  MALLOC_CONF=prof:true,prof_gdump:true,prof_prefix:/tmp/jeprof/k,lg_prof_sample:17 \
      bench/pop3_bench.sh ...          # every new peak writes a dump
  bench/heap_profile_sites.py "$(ls -t /tmp/jeprof/k.*.heap | head -1)" [DEPTH] [TOP]

JEPROF_SUBST=kensad=/path/to/kensad maps a binary that is gone (the benches run a copy) to the
same build; JEPROF_RAW=1 keeps the allocator's frames."""
import collections, math, re, subprocess, sys

path = sys.argv[1]
depth = int(sys.argv[2]) if len(sys.argv) > 2 else 4
top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
text = open(path).read()
head, _, maps = text.partition("MAPPED_LIBRARIES:")
rate = int(re.match(r"heap_v2/(\d+)", head).group(1))
regions = []
for line in maps.splitlines():
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s+(\S+)", line)
    if m and "x" in m.group(3) and m.group(5).startswith("/"):
        regions.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(4), 16), m.group(5)))
stacks = []
cur = None
for line in head.splitlines():
    if line.startswith("@"):
        cur = [int(a, 16) for a in line[1:].split()]
    elif cur is not None and line.strip().startswith("t*:"):
        m = re.match(r"\s*t\*: (\d+): (\d+)", line)
        count, size = int(m.group(1)), int(m.group(2))
        if count > 0 and size > 0:  # unsample as jeprof does
            size = size / (1 - math.exp(-(size / count) / rate))
        stacks.append((cur, size))
        cur = None
addrs = sorted({a for s, _ in stacks for a in s})
by_module = collections.defaultdict(list)
where = {}
for a in addrs:
    for lo, hi, off, mod in regions:
        if lo <= a < hi:
            by_module[mod].append((a, a - 1 - lo + off))  # return address - 1
            break
import os
subst = dict(a.split("=", 1) for a in os.environ.get("JEPROF_SUBST", "").split(",") if "=" in a)
for mod, items in by_module.items():
    binary = mod if os.path.exists(mod) else subst.get(os.path.basename(mod), mod)
    out = subprocess.run(["addr2line", "-f", "-C", "-e", binary] + [hex(o) for _, o in items],
                         capture_output=True, text=True).stdout.splitlines()
    for i, (a, _) in enumerate(items):
        fn = out[2 * i] if 2 * i < len(out) else "?"
        loc = out[2 * i + 1].rsplit("/", 1)[-1] if 2 * i + 1 < len(out) else "?"
        where[a] = f"{fn[:80]} {loc}" if fn != "??" else f"{mod.rsplit('/',1)[-1]}+{hex(a)}"
skip = re.compile(r"^(je_|prof_|imalloc|ialloc|malloc|calloc|realloc|operator new|"
                  r"posix_memalign|aligned_alloc|std::__new_allocator|__gnu_cxx::new_allocator|"
                  r"std::allocator|std::__cxx11::basic_string<.*>::_M_create|.*libjemalloc)")
groups = collections.Counter()
total = 0
for s, b in stacks:
    total += b
    frames = [where.get(a, hex(a)) for a in s]
    frames = frames if os.environ.get("JEPROF_RAW") else [f for f in frames if not skip.match(f)]
    groups[" <- ".join(frames[:depth])] += b
print(f"total live (sampled estimate): {total/2**20:.1f} MiB")
for k, b in groups.most_common(top):
    print(f"{b/2**20:8.1f} MiB  {k}")
