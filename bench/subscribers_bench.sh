#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# subscribers_bench.sh: the LMDB subscriber store's figures, medians of -r runs of
# kensa-subscriber-bench (each run: a fresh store in a temporary directory; N subscribers
# generated deterministically; import into the empty store, the same file again, export;
# Lookup on one thread, a mix and each kind alone, median of 5 rounds of L lookups).
# Builds nothing: the binary comes from build/default (or --build DIR).
#
# usage: bench/subscribers_bench.sh [-r R] [--subscribers N] [--lookups L] [--build DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=3
N=1000000
LOOKUPS=4000000
BUILD=$ROOT/build/default
while [ $# -gt 0 ]; do
  case $1 in
    -r) REPS=$2; shift ;;
    --subscribers) N=$2; shift ;;
    --lookups) LOOKUPS=$2; shift ;;
    --build) BUILD=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n 3,9p "$0"; exit 0 ;;
    *) echo "subscribers_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BIN=$BUILD/bench/kensa-subscriber-bench
[ -x "$BIN" ] || {
  echo "subscribers_bench: $BIN not built (cmake --build --preset default --target kensa-subscriber-bench)" >&2
  exit 2
}

WORK=$(mktemp -d /tmp/kensa-subscribers-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for i in $(seq "$REPS"); do
  echo "== run $i of $REPS"
  TMPDIR=$WORK "$BIN" --subscribers "$N" --lookups "$LOOKUPS" --rounds 5 | tee "$WORK/run$i.txt"
done

echo
echo "== medians of $REPS runs ($N subscribers, $LOOKUPS lookups a round, one thread)"
python3 - "$WORK"/run*.txt <<'PY'
import json, statistics, sys
runs = [json.loads(l[5:]) for f in sys.argv[1:] for l in open(f) if l.startswith("json ")]
def med(k): return statistics.median(r[k] for r in runs)
def spread(k): return "%g-%g" % (min(r[k] for r in runs), max(r[k] for r in runs))
n = med("subscribers")
rows = [
    ("import, empty store", "%.2f s" % med("import_s"), "%.0f rows/s" % (n / med("import_s")), spread("import_s")),
    ("import again (all updates)", "%.2f s" % med("reimport_s"), "%.0f rows/s" % (n / med("reimport_s")), spread("reimport_s")),
    ("export", "%.2f s" % med("export_s"), "%.0f rows/s" % (n / med("export_s")), spread("export_s")),
    ("database on disk", "%.1f MiB" % (med("disk_bytes") / 1048576), "%.0f B/subscriber" % (med("disk_bytes") / n), ""),
]
for kind, what in [("mix", "mix (40/15/15/30)"), ("exact", "exact hit"), ("plus", "hit without +tag"),
                   ("domain", "domain default"), ("miss", "miss")]:
    rows.append(("lookup, " + what, "%.0f ns" % med("ns_" + kind), "%.2f M/s" % (1e3 / med("ns_" + kind)), spread("ns_" + kind)))
print("%-28s %12s %18s  %s" % ("", "median", "", "runs (min-max)"))
for r in rows:
    print("%-28s %12s %18s  %s" % r)
PY
