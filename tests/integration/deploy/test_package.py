"""The Debian package (issue 18): scripts/package builds it from this tree
with conf/debian/ laid out as debian/; lintian finds no error and no warning;
the .deb holds the five programs, the man pages, the units, the sysusers.d
and tmpfiles.d files and the two configs as conffiles; its maintainer scripts
create the accounts and spools, make smtpgate-sendmail set-group-id through
dpkg-statoverride (removed on purge) and enable or start nothing; the
programs run from a root the package is unpacked into."""
import os
import re
import shutil
import subprocess
import unittest

import harness

TOOLS = ("dpkg-buildpackage", "dh", "lintian", "dpkg-deb", "git")

PROGRAMS = ("usr/sbin/smtpgate-inbound", "usr/sbin/smtpgate-outbound",
            "usr/sbin/smtpgate-sendmail", "usr/sbin/smtpgate-queue", "usr/bin/smtpgate-check")
UNITS = ("lib/systemd/system/smtpgate-inbound.service",
         "lib/systemd/system/smtpgate-outbound.service",
         "lib/systemd/system/smtpgate-inbound@.service",
         "lib/systemd/system/smtpgate-outbound@.service")
MAN = ("usr/share/man/man8/smtpgate-inbound.8.gz", "usr/share/man/man8/smtpgate-outbound.8.gz",
       "usr/share/man/man8/smtpgate-check.8.gz", "usr/share/man/man1/smtpgate-sendmail.1.gz",
       "usr/share/man/man1/smtpgate-queue.1.gz", "usr/share/man/man5/smtpgate-inbound.conf.5.gz",
       "usr/share/man/man5/smtpgate-outbound.conf.5.gz")
OTHER = ("etc/smtpgate/inbound.conf", "etc/smtpgate/outbound.conf",
         "usr/lib/sysusers.d/smtpgate.conf", "usr/lib/tmpfiles.d/smtpgate.conf",
         "usr/share/doc/smtpgate/examples/inbound.conf",
         "usr/share/doc/smtpgate/examples/outbound.conf",
         "usr/share/doc/smtpgate/README.md", "usr/share/doc/smtpgate/README.Debian",
         "usr/share/doc/smtpgate/copyright", "usr/share/doc/smtpgate/changelog.gz")
STATOVERRIDE = "dpkg-statoverride --update --add root smtpgate-submit 2755 /usr/sbin/smtpgate-sendmail"


def project_version():
    """meson.build's project version, the package's version."""
    with open(os.path.join(harness.SRC, "meson.build")) as fh:
        m = re.search(r"^\s*version\s*:\s*'([^']+)'", fh.read(), re.M)
    return m.group(1)


@unittest.skipUnless(all(shutil.which(t) for t in TOOLS),
                     "needs %s (scripts/bootstrap installs them)" % ", ".join(TOOLS))
class PackageTest(harness.GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        """Build the package once; the tests read what it made."""
        import tempfile
        cls.out = tempfile.mkdtemp(prefix="smtpgate-package-")
        r = subprocess.run([os.path.join(harness.SRC, "scripts", "package"), "-o", cls.out,
                            "--no-lintian"], capture_output=True, text=True, timeout=400)
        cls.build_log = r.stdout + r.stderr
        cls.build_rc = r.returncode
        cls.version = project_version()
        cls.deb = os.path.join(cls.out, "smtpgate_%s_%s.deb" % (
            cls.version, subprocess.run(["dpkg-architecture", "-qDEB_HOST_ARCH"],
                                        capture_output=True, text=True).stdout.strip()))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.assertEqual(self.build_rc, 0, self.build_log[-6000:])

    def deb_files(self):
        """{path: (mode string, owner/group)} of the package's data."""
        r = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True,
                           check=True)
        files = {}
        for line in r.stdout.splitlines():
            mode, owner, _size, _date, _time, name = line.split(None, 5)
            files[name.split(" -> ")[0].lstrip("./").rstrip("/")] = (mode, owner)
        return files

    def control(self, name):
        """One control member of the package (conffiles, postinst, ...)."""
        r = subprocess.run(["dpkg-deb", "--info", self.deb, name], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr))
        return r.stdout

    def test_lintian_finds_no_error_or_warning(self):
        """lintian on the .changes (the .deb files and the build's record):
        no error, no warning (see conf/debian/README.md for the info tags)."""
        changes = self.deb.replace(".deb", ".changes")
        r = subprocess.run(["lintian", "--fail-on", "error,warning", changes],
                           capture_output=True, text=True, timeout=300)
        bad = [l for l in r.stdout.splitlines() if l[:2] in ("E:", "W:")]
        self.assertEqual(bad, [], r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_contents(self):
        """Every program, unit, man page, config and account file is in the
        package, nothing under /usr/local, no example among the conffiles;
        the injector is shipped 0755 root:root (the postinst's statoverride
        makes it set-group-id once its group exists)."""
        files = self.deb_files()
        for f in PROGRAMS + UNITS + MAN + OTHER:
            self.assertIn(f, files, "%s missing from the package" % f)
        for f in PROGRAMS:
            self.assertEqual(files[f], ("-rwxr-xr-x", "root/root"), f)
        self.assertEqual([f for f in files if f.startswith("usr/local")], [])
        self.assertEqual(sorted(f for f in files if f.startswith("etc/") and files[f][0][0] == "-"),
                         ["etc/smtpgate/inbound.conf", "etc/smtpgate/outbound.conf"])
        self.assertEqual(sorted(f for f in files if f.startswith("lib/systemd/system/")
                                and files[f][0][0] == "-"), sorted(UNITS))
        ctl = self.control("control")
        self.assertIn("\nVersion: %s\n" % self.version, ctl)
        self.assertIn("systemd | systemd-standalone-sysusers | systemd-sysusers", ctl)

    def test_conffiles(self):
        """The two configs and nothing else are conffiles: dpkg keeps an
        edited one on upgrade and asks when both sides changed it."""
        self.assertEqual(sorted(self.control("conffiles").split()),
                         ["/etc/smtpgate/inbound.conf", "/etc/smtpgate/outbound.conf"])

    def test_maintainer_scripts(self):
        """postinst: accounts (sysusers), then spools (tmpfiles), then the
        statoverride; units neither enabled nor started, running ones
        restarted on upgrade.  prerm stops them on removal.  postrm purge
        removes the statoverride.  All three pass `sh -n`."""
        postinst = self.control("postinst")
        sysusers = postinst.find("systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} smtpgate.conf")
        tmpfiles = postinst.find("--create smtpgate.conf")
        statoverride = postinst.find(STATOVERRIDE)
        self.assertTrue(0 <= sysusers < tmpfiles < statoverride,
                        (sysusers, tmpfiles, statoverride, postinst))
        self.assertIn("dpkg-statoverride --list /usr/sbin/smtpgate-sendmail", postinst)
        self.assertNotIn("deb-systemd-invoke start", postinst)
        self.assertNotIn("deb-systemd-invoke restart", postinst)
        self.assertIn("deb-systemd-invoke try-restart 'smtpgate-inbound.service' "
                      "'smtpgate-outbound.service'", postinst)
        # not enabled on installation: debhelper's enabling block runs only
        # for a unit deb-systemd-helper already knows (the admin enabled it)
        for unit in ("smtpgate-inbound.service", "smtpgate-outbound.service"):
            self.assertRegex(postinst, r"if deb-systemd-helper debian-installed '%s'; then\n"
                             r"(.*\n){1,4}\s*if deb-systemd-helper --quiet was-enabled '%s'"
                             % (unit, unit))
        self.assertNotIn("was-enabled defaults to true", postinst)
        prerm = self.control("prerm")
        self.assertRegex(prerm, r'"\$1" = remove .*\n\s*deb-systemd-invoke stop '
                         r'smtpgate-inbound.service smtpgate-outbound.service')
        postrm = self.control("postrm")
        self.assertRegex(postrm, r'"\$1" = purge [^\n]*\n(.*\n){1,3}\s*dpkg-statoverride '
                         r'--remove /usr/sbin/smtpgate-sendmail')
        for name, text in (("postinst", postinst), ("prerm", prerm), ("postrm", postrm)):
            script = self.path(name)
            with open(script, "w") as fh:
                fh.write(text)
            r = subprocess.run(["sh", "-n", script], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr))

    def test_units_name_the_installed_programs(self):
        """The units run the programs where the package puts them and read
        the configs it installs."""
        root = self.path("root")
        subprocess.run(["dpkg-deb", "-x", self.deb, root], check=True)
        with open(os.path.join(root, "lib/systemd/system/smtpgate-inbound.service")) as fh:
            unit = fh.read()
        self.assertIn("ExecStart=/usr/sbin/smtpgate-inbound -f -c /etc/smtpgate/inbound.conf",
                      unit)
        self.assertIn("ExecStartPre=/usr/bin/smtpgate-check /etc/smtpgate/inbound.conf", unit)
        for unfilled in ("@bindir@", "@sbindir@", "@docdir@"):
            self.assertNotIn(unfilled, unit)
        with open(os.path.join(root, "lib/systemd/system/smtpgate-outbound.service")) as fh:
            self.assertIn("ExecStart=/usr/sbin/smtpgate-outbound -f -c /etc/smtpgate/outbound.conf",
                          fh.read())

    def test_programs_run_from_the_unpacked_package(self):
        """Unpacked into a temporary root, each program says its version
        (linked against the system's libraries only); the config in /etc is
        the tree's example."""
        root = self.path("root")
        subprocess.run(["dpkg-deb", "-x", self.deb, root], check=True)
        for prog in PROGRAMS:
            r = subprocess.run([os.path.join(root, prog), "--version"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, "%s: %s" % (prog, r.stderr))
            self.assertEqual(r.stdout.strip(), "%s %s" % (os.path.basename(prog), self.version))
        with open(os.path.join(root, "etc/smtpgate/inbound.conf")) as fh, \
                open(os.path.join(harness.SRC, "conf", "inbound.conf")) as src:
            self.assertEqual(fh.read(), src.read())


if __name__ == "__main__":
    harness.main()
