"""`meson install` puts the five programs, the example configs, the
systemd units and the sysusers.d/tmpfiles.d entries in place (issue 2), and
never overwrites a config the admin already has (issue 18)."""
import os
import shutil
import subprocess
import unittest

import harness


@unittest.skipUnless(shutil.which("meson"), "meson is not installed")
class InstallTest(harness.GatewayTestCase):
    def test_install_tree(self):
        dest = self.path("dest")
        self.install(dest)
        files = set()
        for root, _dirs, names in os.walk(dest):
            for n in names:
                files.add(os.path.relpath(os.path.join(root, n), dest))
        tails = {f.split("/", 1)[1] if f.startswith("usr/") else f for f in files}

        def has(suffix):
            return any(f.endswith(suffix) for f in files)

        for prog in ("sbin/smtpgate-inbound", "sbin/smtpgate-outbound", "sbin/smtpgate-sendmail",
                     "sbin/smtpgate-queue", "bin/smtpgate-check"):
            self.assertTrue(has(prog), "%s not installed: %s" % (prog, sorted(tails)))
        for conf in ("smtpgate/inbound.conf", "smtpgate/outbound.conf",
                     "smtpgate/inbound.conf.example", "smtpgate/outbound.conf.example",
                     "systemd/system/smtpgate-inbound.service",
                     "systemd/system/smtpgate-outbound.service",
                     "systemd/system/smtpgate-inbound@.service",
                     "systemd/system/smtpgate-outbound@.service",
                     "sysusers.d/smtpgate.conf", "tmpfiles.d/smtpgate.conf"):
            self.assertTrue(has(conf), "%s not installed" % conf)
        # the man pages (built by scdoc, which scripts/bootstrap installs)
        for page in ("man8/smtpgate-inbound.8", "man8/smtpgate-outbound.8",
                     "man8/smtpgate-check.8", "man1/smtpgate-sendmail.1",
                     "man1/smtpgate-queue.1", "man5/smtpgate-inbound.conf.5",
                     "man5/smtpgate-outbound.conf.5"):
            self.assertTrue(has("share/man/" + page), "%s not installed" % page)
        for f in files:
            if f.endswith(".service"):
                with open(os.path.join(dest, f)) as fh:
                    text = fh.read()
                self.assertNotIn("@sbindir@", text)
                self.assertNotIn("@bindir@", text)

        # a staged install leaves the injector alone (the package sets its mode)
        inj = [f for f in files if f.endswith("sbin/smtpgate-sendmail")][0]
        self.assertEqual(os.stat(os.path.join(dest, inj)).st_mode & 0o7777, 0o755)

    def install(self, dest):
        """`meson install` into the staging root dest; returns its output."""
        r = subprocess.run(["meson", "install", "-C", harness.BUILD, "--no-rebuild",
                            "--destdir", dest], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout + r.stderr

    def test_reinstall_keeps_the_config(self):
        """A second install keeps the edited inbound.conf and says so in one
        line, replaces the example beside it, and leaves an unedited
        outbound.conf as it is."""
        dest = self.path("dest")
        first = self.install(dest)
        confs = [os.path.join(root, n) for root, _d, names in os.walk(dest) for n in names
                 if root.endswith("/smtpgate") and n.endswith(".conf")]
        inbound = [c for c in confs if c.endswith("/smtpgate/inbound.conf")]
        self.assertEqual(len(inbound), 1, confs)
        inbound = inbound[0]
        etc = os.path.dirname(inbound)
        shown = "/" + os.path.relpath(inbound, dest)  # the path without DESTDIR
        self.assertIn("install-config: installed %s" % shown, first)
        with open(os.path.join(harness.SRC, "conf", "inbound.conf")) as fh:
            shipped = fh.read()
        with open(inbound) as fh:
            self.assertEqual(fh.read(), shipped)

        edited = shipped.replace("# ", "#  ", 1) + "\n# the admin's own line\n"
        with open(inbound, "w") as fh:
            fh.write(edited)
        os.chmod(inbound, 0o640)
        with open(inbound + ".example", "w") as fh:
            fh.write("# an older release's example\n")

        second = self.install(dest)
        with open(inbound) as fh:
            self.assertEqual(fh.read(), edited, "meson install overwrote the edited config")
        self.assertEqual(os.stat(inbound).st_mode & 0o777, 0o640)
        with open(inbound + ".example") as fh:
            self.assertEqual(fh.read(), shipped, "the example beside it was not updated")
        kept = [l for l in second.splitlines() if l.startswith("install-config: kept")]
        self.assertEqual(kept, ["install-config: kept %s (yours); the new example is %s.example"
                                % (shown, shown)], second)
        self.assertIn("install-config: %s/outbound.conf is unchanged"
                      % os.path.dirname(shown), second)
        with open(os.path.join(etc, "outbound.conf.example")) as fh:
            example = fh.read()
        with open(os.path.join(etc, "outbound.conf")) as fh:
            self.assertEqual(fh.read(), example)
        # no temporary file left behind
        self.assertEqual(sorted(os.listdir(etc)),
                         ["inbound.conf", "inbound.conf.example",
                          "outbound.conf", "outbound.conf.example"])

    @unittest.skipUnless(harness.privileged(), "needs root to set a group")
    def test_install_makes_the_injector_setgid(self):
        """The install step makes smtpgate-sendmail root:<submission group>
        2755, as Postfix installs postdrop."""
        prog = self.path("smtpgate-sendmail")
        shutil.copy(harness.binary("smtpgate-sendmail"), prog)
        os.chmod(prog, 0o755)
        script = os.path.join(harness.SRC, "conf", "install-setgid")
        env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
        r = subprocess.run([script, prog, "/nonexistent", str(harness.SUBMIT_GID)],
                           capture_output=True, text=True, env=env, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        st = os.stat(prog)
        self.assertEqual(st.st_mode & 0o7777, 0o2755)
        self.assertEqual((st.st_uid, st.st_gid), (0, harness.SUBMIT_GID))


if __name__ == "__main__":
    harness.main()
