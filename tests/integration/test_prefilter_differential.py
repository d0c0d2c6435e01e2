# SPDX-License-Identifier: GPL-2.0-or-later
"""The prefilter's soundness, differentially, on a bounded sample (bench/prefilter_bench.sh
runs the full set): for every object — the generated clean corpus, every clamav-testfiles
file, generated signatures planted into clean files and into zips, and mutations of all of
these — kensa-scan's verdict with the prefilter equals its verdict with --engine-only. Checked
with the bundled test signatures and with a generated ClamAV-format database shaped like the
real one. Zero differences is the only pass; the planted objects must be flagged and some
clean objects must take the fast path, so the check cannot pass by doing nothing."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

import kensa_harness as h

PREFILTER = os.path.join(h.SOURCE_DIR, "tests", "prefilter")
# Real messages (../shared/corpora, third-party test mail): the prefilter also answers for
# libclamav's reading of whole messages.
CORPORA = os.path.join(h.SOURCE_DIR, "..", "shared", "corpora")
MAIL_CORPORA = [os.path.join(CORPORA, d) for d in
                ("sisimai-set-of-emails", "stalwart-mail-parser", "mime4j", "mimekit")]
SEED = 20261202


def run(*args):
    r = subprocess.run([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=540)
    return r.returncode, r.stdout


class PrefilterDifferentialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(h.KENSA_SCAN):
            raise unittest.SkipTest(f"kensa-scan not built: {h.KENSA_SCAN}")
        cls.tmp = tempfile.TemporaryDirectory(prefix="kensa-prefilter-")
        cls.db = os.path.join(cls.tmp.name, "db")
        cls.corpus = os.path.join(cls.tmp.name, "corpus")
        rc, out = run(os.path.join(PREFILTER, "gen_signatures.py"), cls.db, "--seed", str(SEED),
                      "--body", "3000", "--ldb", "300", "--hashes", "20000")
        assert rc == 0, out
        rc, out = run(os.path.join(PREFILTER, "gen_clean_corpus.py"), cls.corpus, "--seed",
                      str(SEED), "--scale", "0.1")
        assert rc == 0, out

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check(self, db, planted_from=None, planted=0, min_signatures=0):
        args = [os.path.join(PREFILTER, "differential.py"), "--kensa-scan", h.KENSA_SCAN,
                "--work", os.path.join(self.tmp.name, "work-" + os.path.basename(db)),
                "--db", db, "--corpus", self.corpus, "--seed", str(SEED)]
        if planted_from:
            args += ["--planted-from", planted_from, "--planted", str(planted)]
        for d in MAIL_CORPORA:
            if os.path.isdir(d):
                args += ["--mail-corpus", d]
        args += ["--max-mail", "80", "--prefilter-min-signatures", str(min_signatures)]
        rc, out = run(*args)
        print(out)
        self.assertEqual(rc, 0, out)
        m = re.search(r"(\d+) objects, (\d+) flagged .*; (\d+) differences", out)
        self.assertIsNotNone(m, out)
        objects, flagged, differences = map(int, m.groups())
        self.assertEqual(differences, 0, out)
        whole = re.search(r"Whole-message readings: (\d+) of (\d+) predicted, (\d+) on the fast "
                          r"path", out)
        self.assertIsNotNone(whole, out)
        predicted, _, fast_whole = map(int, whole.groups())
        self.assertGreater(predicted, 0, "no message's reading was predicted: " + out)
        if min_signatures == 0:
            fast = re.search(r"(\d+) of (\d+) objects on the fast path", out)
            self.assertIsNotNone(fast, out)
            self.assertGreater(int(fast.group(1)), 0, "no object took the fast path: " + out)
            self.assertGreater(fast_whole, 0, "no message took the fast path: " + out)
        return objects, flagged

    def test_bundled_signatures(self):
        objects, flagged = self.check(h.TEST_SIGS)
        # clam.exe in every clamav-testfiles container is found by the bundled set.
        self.assertGreaterEqual(flagged, 40)

    def test_bundled_signatures_small_set(self):
        # As kensad runs the bundled set: parts to the engine, the prefilter's database for the
        # whole-message prediction only.
        objects, flagged = self.check(h.TEST_SIGS, min_signatures=20000)
        self.assertGreaterEqual(flagged, 40)

    def test_generated_signatures(self):
        objects, flagged = self.check(self.db, planted_from=self.db, planted=100)
        # Most planted objects are flagged (mutations may break a match, not all of them).
        self.assertGreater(flagged, 200)


if __name__ == "__main__":
    unittest.main()
