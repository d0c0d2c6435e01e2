#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# prefilter_bench.sh: the Hyperscan prefilter's figures, all in one run, on one core:
#   - kensa-prefilter-bench: engine alone vs prefilter + engine (MB/s, ratio), the fast-path
#     share, the prefilter's own streaming MB/s, the probe's MB/s, SignatureSet build time and
#     resident memory with and without the prefilter (compiled, and from the disk cache)
#   - clamscan -r and clamdscan (clamd with MaxThreads 1) on the same files with the same
#     signatures
#   - the full differential soundness check (tests/prefilter/differential.py): every corpus
#     file, every clamav-testfiles file, every planted signature bare, in a zip and in an office
#     document, and their mutations, with the generated and with the bundled set
# The signature set and the corpus are made by tests/prefilter/gen_signatures.py (50,000 body,
# 5,000 logical, 500,000 hash signatures) and gen_clean_corpus.py (~310 files, ~60 MB), both
# deterministic; medians of -r repetitions.
#
# usage: bench/prefilter_bench.sh [-r R] [--quick] [--keep] [--no-peers] [--no-differential]
#                                 [--planted N]   (planted signatures in the differential: all)
#                                 [--no-kensa]    (the peers and the differential only)
# Needs root for clamd (it drops to user clamav) and the Debian packages clamav,
# clamav-daemon, python3-pil.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=3
QUICK=0
KEEP=0
DO_PEERS=1
DO_DIFF=1
DO_KENSA=1
PLANTED=1000000000
while [ $# -gt 0 ]; do
  case $1 in
    -r) REPS=$2; shift ;;
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    --no-peers) DO_PEERS=0 ;;
    --no-differential) DO_DIFF=0 ;;
    --planted) PLANTED=$2; shift ;;
    --no-kensa) DO_KENSA=0 ;;
    -h|--help) sed -n 3,20p "$0"; exit 0 ;;
    *) echo "prefilter_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD=$ROOT/build/default
PBENCH=$BUILD/bench/kensa-prefilter-bench
KSCAN=$BUILD/appliance/kensa-scan
for b in "$PBENCH" "$KSCAN"; do
  [ -x "$b" ] || { echo "prefilter_bench: $b not built (cmake --build --preset default)" >&2; exit 2; }
done
GEN_ARGS=()
SCALE=1.0
if [ $QUICK = 1 ]; then
  REPS=1
  GEN_ARGS=(--body 5000 --ldb 500 --hashes 50000)
  SCALE=0.2
fi

WORK=$(mktemp -d /tmp/kensa-prefilter-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ $KEEP = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== generating the signature set and the clean corpus"
python3 "$ROOT/tests/prefilter/gen_signatures.py" "$WORK/db" --seed 1 "${GEN_ARGS[@]}" >"$WORK/gen.log"
python3 "$ROOT/tests/prefilter/gen_clean_corpus.py" "$WORK/corpus" --seed 1 --scale "$SCALE" >>"$WORK/gen.log"
grep '^wrote' "$WORK/gen.log"
rm -f "$WORK/corpus/MANIFEST.tsv"  # not an attachment
MB=$(du -sb "$WORK/corpus" | awk '{printf "%.2f", $1/1e6}')
FILES=$(find "$WORK/corpus" -type f | wc -l)
echo "corpus: $FILES files, $MB MB"

if [ $DO_KENSA = 1 ]; then
  echo
  echo "== kensa: engine alone vs prefilter + engine (one core, files in memory)"
  "$PBENCH" -d "$WORK/db" --rounds "$REPS" --cache "$WORK/cache" "$WORK/corpus" | tee "$WORK/kensa.txt"
fi

if [ $DO_PEERS = 1 ]; then
  for t in clamscan clamd clamdscan; do
    command -v $t >/dev/null || { echo "prefilter_bench: $t missing (apt-get install clamav clamav-daemon clamdscan), or --no-peers" >&2; exit 2; }
  done
  echo
  echo "== clamscan -r (one process: load + scan) and clamdscan (clamd, MaxThreads 1)"
  # clamscan's own load time, to tell it from the scan.
  # (exit status 1 would mean a detection: the timing stands, the output says which)
  : >"$WORK/empty"
  LOAD=$( { /usr/bin/time -f %e clamscan --no-summary -d "$WORK/db" "$WORK/empty" >/dev/null || true; } 2>&1 | tail -1)
  for i in $(seq "$REPS"); do
    { /usr/bin/time -f %e clamscan --no-summary -d "$WORK/db" -r "$WORK/corpus" >"$WORK/clamscan.out" || true; } 2>&1 | tail -1
  done >"$WORK/clamscan.t"
  grep FOUND "$WORK/clamscan.out" | head -3 || true
  T=$(median <"$WORK/clamscan.t")
  echo "clamscan: load ${LOAD} s, load+scan median ${T} s -> scan $(awk -v m="$MB" -v t="$T" -v l="$LOAD" 'BEGIN {printf "%.2f", m/(t-l)}') MB/s"
  CLAM=$WORK/clamd
  mkdir -p "$CLAM/tmp"
  cp -r "$WORK/db" "$CLAM/db"
  cat >"$CLAM/clamd.conf" <<EOF2
LocalSocket $CLAM/clamd.sock
LocalSocketMode 666
DatabaseDirectory $CLAM/db
TemporaryDirectory $CLAM/tmp
Foreground yes
User clamav
LogFile $CLAM/clamd.log
MaxThreads 1
MaxFileSize 100M
MaxScanSize 400M
EOF2
  chown -R clamav:clamav "$CLAM"
  chmod -R a+rX "$WORK/corpus"
  # A fresh clamd for every repetition: its cache of clean objects would answer the second
  # pass over the same files without scanning them.
  for i in $(seq "$REPS"); do
    clamd -c "$CLAM/clamd.conf" >"$WORK/clamd.out" 2>&1 &
    CLAMD=$!
    PIDS+=($CLAMD)
    for _ in $(seq 120); do
      clamdscan -c "$CLAM/clamd.conf" --no-summary "$WORK/empty" >/dev/null 2>&1 && break
      kill -0 $CLAMD 2>/dev/null || { echo "prefilter_bench: clamd did not start" >&2; tail "$WORK/clamd.out" >&2; exit 1; }
      sleep 1
    done
    { /usr/bin/time -f %e clamdscan -c "$CLAM/clamd.conf" --no-summary "$WORK/corpus" >"$WORK/clamdscan.out" || true; } 2>&1 | tail -1
    kill $CLAMD; wait $CLAMD 2>/dev/null || true
  done >"$WORK/clamdscan.t"
  T=$(median <"$WORK/clamdscan.t")
  grep -E "FOUND|ERROR" "$WORK/clamdscan.out" | head -3 || true
  echo "clamdscan: median ${T} s -> $(awk -v m="$MB" -v t="$T" 'BEGIN {printf "%.2f", m/t}') MB/s"
fi

if [ $DO_DIFF = 1 ]; then
  echo
  echo "== differential soundness (all objects)"
  python3 "$ROOT/tests/prefilter/differential.py" --kensa-scan "$KSCAN" --work "$WORK/diff-gen" \
    --db "$WORK/db" --planted-from "$WORK/db" --planted "$PLANTED" --corpus "$WORK/corpus"
  python3 "$ROOT/tests/prefilter/differential.py" --kensa-scan "$KSCAN" --work "$WORK/diff-bundled" \
    --db "$ROOT/sigs/test" --corpus "$WORK/corpus"
fi
