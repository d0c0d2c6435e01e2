# SPDX-License-Identifier: GPL-2.0-or-later
"""kensa-sigtool end to end: keygen, build, sign, verify, inspect and diff on the bundled test
signatures (sigs/test), and verify's refusal of corrupted copies, each with its exit status and
its one-line reason. The corrupted copies are made with Python's tarfile, an independent writer,
so the reader is tested against archives kensa did not write."""
import io
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import unittest

from kensa_harness import BUILD_DIR, KENSA_SCAN, TEST_SIGS

SIGTOOL = os.path.join(BUILD_DIR, "feed", "kensa-sigtool")
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def sigtool(*args):
    return subprocess.run([SIGTOOL, *args], capture_output=True, text=True, timeout=60)


def members(path):
    """(name, bytes) of every member, in archive order."""
    with tarfile.open(path, "r:*") as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


def write_tar(path, entries):
    """entries: (name, bytes) regular files, or (name, None, tarinfo type, link target)."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e[0])
            if e[1] is None:
                info.type, info.linkname = e[2], e[3]
                t.addfile(info)
            else:
                info.size = len(e[1])
                t.addfile(info, io.BytesIO(e[1]))


class SigtoolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SIGTOOL):
            raise unittest.SkipTest(f"kensa-sigtool not built: {SIGTOOL}")
        cls.dir = tempfile.mkdtemp(prefix="kensa-sigtool-itest.")
        cls.key = os.path.join(cls.dir, "feed")
        r = sigtool("keygen", "-o", cls.key)
        assert r.returncode == 0, r.stderr
        cls.unsigned = os.path.join(cls.dir, "unsigned.tar.gz")
        r = sigtool("build", TEST_SIGS, "--version", "2024.6.15.1", "-o", cls.unsigned,
                    "--created", "2024-06-15T12:00:00Z")
        assert r.returncode == 0, r.stderr
        cls.signed = os.path.join(cls.dir, "signed.tar.gz")
        r = sigtool("sign", cls.unsigned, "--key", cls.key + ".key", "-o", cls.signed)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def assertRefused(self, bundle, reason, key=None):
        r = sigtool("verify", bundle, "--key", key or self.key + ".pub")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("kensa-sigtool verify: bundle "), r.stderr)
        self.assertIn(reason, r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)

    def test_keygen_writes_private_key_0600_and_never_overwrites(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.key + ".key").st_mode), 0o600)
        with open(self.key + ".pub") as f:
            self.assertTrue(f.read().startswith("-----BEGIN PUBLIC KEY-----"))
        r = sigtool("keygen", "-o", self.key)
        self.assertEqual(r.returncode, 1)
        self.assertIn("File exists", r.stderr)

    def test_signed_bundle_verifies(self):
        r = sigtool("verify", self.signed, "--key", self.key + ".pub")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^valid .* version 2024\.6\.15\.1: 3 files, 4 signatures, "
                                   r"signed by key [0-9a-f]{16}\n$")

    def test_bundle_layout_is_manifest_signature_then_databases(self):
        names = [n for n, _ in members(self.signed)]
        self.assertEqual(names, ["manifest.toml", "manifest.sig", "kensa-test.hdb",
                                 "kensa-test.ldb", "kensa-test.ndb"])
        for name, data in members(self.signed)[2:]:
            with open(os.path.join(TEST_SIGS, name), "rb") as f:
                self.assertEqual(data, f.read())

    def test_bundle_contents_load_as_a_signature_set(self):
        out = self.path("unpacked-for-scan")
        os.makedirs(out, exist_ok=True)
        for name, data in members(self.signed)[2:]:
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
        sample = self.path("eicar.com")
        with open(sample, "wb") as f:
            f.write(EICAR)
        r = subprocess.run([KENSA_SCAN, "-d", out, sample], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("Kensa.Test.EICAR", r.stdout)

    def test_inspect_prints_the_manifest(self):
        r = sigtool("inspect", self.signed)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        for want in ["format 1", "version 2024.6.15.1", "created 2024-06-15T12:00:00Z",
                     "signed yes (not checked: use verify)", "files 3", "signatures 4",
                     "total hdb 1", "total ldb 1", "total ndb 2"]:
            self.assertIn(want, lines)
        self.assertTrue(any(l.startswith("file kensa-test.ndb size 333 signatures 2 sha256 ")
                            for l in lines), r.stdout)
        self.assertIn("signed no", sigtool("inspect", self.unsigned).stdout.splitlines())

    def test_unsigned_bundle_is_refused(self):
        self.assertRefused(self.unsigned, "unsigned bundle")

    def test_wrong_key_is_refused(self):
        other = self.path("other")
        self.assertEqual(sigtool("keygen", "-o", other).returncode, 0)
        self.assertRefused(self.signed, "does not verify with any trusted key", other + ".pub")

    def test_corrupted_database_is_refused(self):
        entries = members(self.signed)
        name, data = entries[4]
        entries[4] = (name, data.replace(b"Kensa.Test.EICAR", b"Kensa.Test.EICAX"))
        bad = self.path("corrupted-db.tar.gz")
        write_tar(bad, entries)
        self.assertRefused(bad, "kensa-test.ndb has SHA-256")

    def test_tampered_manifest_is_refused(self):
        entries = members(self.signed)
        entries[0] = ("manifest.toml", entries[0][1].replace(b'"2024.6.15.1"', b'"2024.6.15.9"'))
        bad = self.path("tampered-manifest.tar.gz")
        write_tar(bad, entries)
        self.assertRefused(bad, "does not verify with any trusted key")

    def test_truncated_bundle_is_refused(self):
        with open(self.signed, "rb") as f:
            data = f.read()
        bad = self.path("truncated.tar.gz")
        with open(bad, "wb") as f:
            f.write(data[: len(data) * 2 // 3])
        self.assertRefused(bad, "truncated")

    def test_extra_and_traversal_and_link_members_are_refused(self):
        entries = members(self.signed)
        cases = {
            "extra": (entries + [("kensa-extra.ndb", b"Kensa.Extra:0:*:41414141\n")],
                      '"kensa-extra.ndb" is not in the manifest'),
            "traversal": (entries + [("../kensa-test.ndb", entries[4][1])], "is a path"),
            "absolute": (entries + [("/etc/kensa-test.ndb", entries[4][1])], "is a path"),
            "symlink": (entries[:4] + [("kensa-test.ndb", None, tarfile.SYMTYPE, "/etc/passwd")],
                        "is a symbolic link"),
            "missing": (entries[:4], "missing member(s) the manifest lists: kensa-test.ndb"),
        }
        for label, (bad_entries, reason) in cases.items():
            with self.subTest(label):
                bad = self.path(f"bad-{label}.tar.gz")
                write_tar(bad, bad_entries)
                self.assertRefused(bad, reason)

    def test_not_an_archive_is_refused(self):
        bad = self.path("junk.tar.gz")
        with open(bad, "wb") as f:
            f.write(b"<html>404 Not Found</html>\n" * 10)
        self.assertRefused(bad, "not a readable tar or tar.gz archive")

    def test_diff_names_signatures_added_and_removed(self):
        v2 = self.path("sigs-v2")
        shutil.copytree(TEST_SIGS, v2)
        os.remove(os.path.join(v2, "kensa-test.ldb"))
        with open(os.path.join(v2, "kensa-test.ndb"), "a") as f:
            f.write("Kensa.Test.New:0:*:6b656e73612d6e6577\n")
        new = self.path("v2.tar.gz")
        r = sigtool("build", v2, "--version", "2024.6.16", "-o", new)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sigtool("diff", self.signed, new)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "version 2024.6.15.1 -> 2024.6.16",
            "file removed kensa-test.ldb signatures 1",
            "signature removed kensa-test.ldb Kensa.Test.ClamExe.Logical",
            "file changed kensa-test.ndb signatures 2 -> 3 (+1)",
            "signature added kensa-test.ndb Kensa.Test.New",
            "total ldb 1 -> 0 (-1)",
            "total ndb 2 -> 3 (+1)",
        ])
        self.assertEqual(sigtool("diff", self.signed, self.signed).stdout,
                         "version 2024.6.15.1 -> 2024.6.15.1\nno changes\n")

    def test_bad_input_gets_one_line_and_nonzero_exit(self):
        cases = [
            (["build", TEST_SIGS, "-o", self.path("x.tar.gz")], 2, "--version is required"),
            (["build", TEST_SIGS, "--version", "v1", "-o", self.path("x.tar.gz")], 2,
             "--version: bad version"),
            (["build", self.path("no-such-dir"), "--version", "1", "-o", self.path("x.tar.gz")],
             1, "no-such-dir"),
            (["sign", self.unsigned, "--key", self.key + ".pub"], 1, "not a PEM private key"),
            (["verify", self.signed], 2, "--key is required"),
            (["verify", self.signed, "--key", self.path("none.pub")], 1, "none.pub"),
            (["inspect", self.path("none.tar.gz")], 1, "none.tar.gz"),
            (["diff", self.signed], 2, "takes 2 arguments"),
            (["explode"], 2, "unknown command explode"),
        ]
        for args, code, reason in cases:
            with self.subTest(args=args):
                r = sigtool(*args)
                self.assertEqual(r.returncode, code, r.stderr)
                first = r.stderr.splitlines()[0]
                self.assertTrue(first.startswith("kensa-sigtool"), r.stderr)
                self.assertIn(reason, first)
                if code == 1:
                    self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        for command in ["keygen", "build", "sign", "verify", "inspect", "diff"]:
            r = sigtool(command, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith(f"usage: kensa-sigtool {command}"))


if __name__ == "__main__":
    unittest.main()
