"""it-check: smtpgate-check FILE... (SPEC.md "The dedicated topology", rules 5, 6).

Runs the built smtpgate-check on configs written to a temporary directory:
valid and isolated sets exit 0 with one "ok" line per file; a shared spool
(same path, nested, symlink, bind mount), an address or catch-all domain
claimed twice, or a config error exit 78 with one clear line.
"""

import fcntl
import os
import subprocess
import unittest

import harness

EX_OK, EX_USAGE, EX_CONFIG = 0, 64, 78


class CheckTest(harness.GatewayTestCase):
    """smtpgate-check on a set of configuration files."""

    def setUp(self):
        super().setUp()
        self.mounts = []
        self.held = []

    def tearDown(self):
        for f in self.held:
            f.close()
        for m in reversed(self.mounts):
            subprocess.run(["umount", m], capture_output=True)
        super().tearDown()

    def check(self, *files):
        """smtpgate-check as the units run it: as the service user."""
        return harness.run_daemon_user([harness.binary("smtpgate-check")] + list(files))

    def own(self, *paths):
        """Give what the test made as root to the service user, as the
        daemon would have made it."""
        for top in paths:
            for d, subdirs, names in os.walk(top):
                for n in [d] + [os.path.join(d, x) for x in subdirs + names]:
                    if harness.privileged():
                        os.lchown(n, harness.DAEMON_UID, harness.DAEMON_GID)

    def inbound(self, name, spool, mailboxes=None, extra=""):
        """Write an inbound config; returns its path."""
        if mailboxes is None:
            mailboxes = {name: ["%s@example.com" % name]}
        text = harness.inbound_config(spool, harness.free_port(), mailboxes, extra)
        return self.write(name + ".conf", text)

    def outbound(self, name, spool, extra=""):
        """Write an outbound config with one loopback smart host; returns its path."""
        text = harness.outbound_config(spool, [{"host": "127.0.0.1", "port": 25,
                                                "tls": "none"}], extra)
        return self.write(name + ".conf", text)

    def assert_ok(self, r, files):
        self.assertEqual(r.returncode, EX_OK, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(files), r.stdout)
        for f, role, spool in files:
            self.assertIn("%s: ok (%s, spool %s)" % (f, role, spool), lines)
        self.assertEqual(r.stderr, "")

    def assert_conflict(self, r, *needles):
        """Exit 78 and one stderr line holding every needle."""
        self.assertEqual(r.returncode, EX_CONFIG, r.stdout + r.stderr)
        hits = [l for l in r.stderr.splitlines() if all(n in l for n in needles)]
        self.assertEqual(len(hits), 1, "no single line with %r in:\n%s" % (needles, r.stderr))
        return hits[0]

    # -- valid sets --------------------------------------------------------

    def test_pair_isolated_ok(self):
        ins, outs = self.path("spool-in"), self.path("spool-out")
        i = self.inbound("in", ins)
        o = self.outbound("out", outs)
        r = self.check(i, o)
        self.assert_ok(r, [(i, "inbound", ins), (o, "outbound", outs)])
        # checking changes nothing: a missing spool stays missing
        self.assertFalse(os.path.exists(ins))
        self.assertFalse(os.path.exists(outs))

    def test_three_inbound_two_outbound_ok(self):
        files = []
        for n in ("in1", "in2", "in3"):
            sp = self.path("spools", n)
            files.append((self.inbound(n, sp, {"mb": ["user@%s.example.com" % n,
                                                      "@%s.branch.example.com" % n]}),
                          "inbound", sp))
        for n in ("out1", "out2"):
            sp = self.path("spools", n)
            os.makedirs(sp)
            self.own(self.path("spools"))
            files.append((self.outbound(n, sp), "outbound", sp))
        r = self.check(*[f for f, _, _ in files])
        self.assert_ok(r, files)

    def test_siblings_with_common_prefix_ok(self):
        # /x/in and /x/in2 are not nested even though one string prefixes the other
        a, b = self.path("in"), self.path("in2")
        i = self.inbound("a", a)
        j = self.inbound("b", b)
        self.assert_ok(self.check(i, j), [(i, "inbound", a), (j, "inbound", b)])

    # -- rule 5: shared spools ---------------------------------------------

    def test_same_spool_path(self):
        sp = self.path("spool")
        i = self.inbound("in", sp)
        o = self.outbound("out", sp)
        self.assert_conflict(self.check(i, o), i, o, sp, "rule 5")

    def test_same_spool_trailing_slash(self):
        sp = self.path("spool")
        i = self.inbound("in", sp)
        o = self.outbound("out", sp + "/")
        self.assert_conflict(self.check(i, o), i, o, "rule 5")

    def test_nested_spool(self):
        outer, inner = self.path("spool"), self.path("spool", "outbound")
        i = self.inbound("in", outer)
        o = self.outbound("out", inner)
        self.assert_conflict(self.check(o, i), i, o, outer, inner, "rule 5")

    def test_symlinked_spool(self):
        real = self.path("real-spool")
        os.mkdir(real)
        link = self.path("link-spool")
        os.symlink(real, link)
        i = self.inbound("in", real)
        o = self.outbound("out", link)
        self.assert_conflict(self.check(i, o), i, o, real, link, "rule 5")

    def test_symlinked_parent_nested(self):
        real = self.path("real")
        os.makedirs(os.path.join(real, "sub"))
        link = self.path("alias")
        os.symlink(real, link)
        i = self.inbound("in", real)
        o = self.outbound("out", os.path.join(link, "sub"))
        self.assert_conflict(self.check(i, o), i, o, "rule 5")

    def test_bind_mounted_spool(self):
        if os.geteuid() != 0:
            self.skipTest("mount --bind needs root (running as uid %d)" % os.geteuid())
        a, b = self.path("spool-a"), self.path("spool-b")
        os.mkdir(a)
        os.mkdir(b)
        m = subprocess.run(["mount", "--bind", a, b], capture_output=True, text=True)
        if m.returncode != 0:
            self.skipTest("mount --bind not permitted here: %s" % m.stderr.strip())
        self.mounts.append(b)
        with open(os.path.join(a, "probe"), "w"):
            pass
        self.assertTrue(os.path.exists(os.path.join(b, "probe")), "bind mount not effective")
        i = self.inbound("in", a)
        o = self.outbound("out", b)
        self.assert_conflict(self.check(i, o), i, o, a, b, "rule 5")

    def test_conflict_among_many(self):
        files = [self.inbound("in%d" % n, self.path("s%d" % n),
                              {"m": ["u@d%d.example" % n]}) for n in range(3)]
        files.append(self.outbound("out", self.path("s1")))
        r = self.check(*files)
        line = self.assert_conflict(r, files[1], files[3], "rule 5")
        self.assertNotIn(files[0], line)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    # -- rule 6: addresses claimed by one inbound gateway only -------------

    def test_address_claimed_twice(self):
        i = self.inbound("in1", self.path("s1"), {"alice": ["alice@example.com"]})
        j = self.inbound("in2", self.path("s2"), {"a2": ["bob@example.com", "Alice@Example.COM"]})
        line = self.assert_conflict(self.check(i, j), i, j, "alice@example.com")
        self.assertIn("rule 6", line)

    def test_catch_all_claimed_twice(self):
        i = self.inbound("in1", self.path("s1"), {"po2": ["@branch.example.com"]})
        j = self.inbound("in2", self.path("s2"), {"po3": ["@Branch.example.com"]})
        line = self.assert_conflict(self.check(i, j), i, j, "@branch.example.com")
        self.assertIn("catch-all", line)

    def test_same_address_in_inbound_and_outbound_is_fine(self):
        # outbound configs claim no addresses
        ins, outs = self.path("s1"), self.path("s2")
        i = self.inbound("in", ins, {"alice": ["alice@example.com"]})
        o = self.write("out.conf", harness.outbound_config(
            outs, [{"host": "127.0.0.1", "port": 25, "tls": "none"}]).replace(
                "gw-out.test", "alice.example.com"))
        self.assert_ok(self.check(i, o), [(i, "inbound", ins), (o, "outbound", outs)])

    # -- the spool itself --------------------------------------------------

    def test_spool_marked_for_other_role(self):
        sp = self.path("spool")
        os.makedirs(os.path.join(sp, "tmp"))
        with open(os.path.join(sp, ".smtpgate"), "w") as f:
            f.write("role=outbound\ninstance=x\nhost=h\ncreated=0\n")
        self.own(sp)
        i = self.inbound("in", sp)
        r = self.check(i)
        self.assertEqual(r.returncode, EX_CONFIG, r.stdout + r.stderr)
        self.assertIn(i, r.stderr)
        self.assertIn("role=outbound", r.stderr)

    def test_held_lock_is_not_an_error(self):
        sp = self.path("spool")
        os.makedirs(os.path.join(sp, "tmp"))
        with open(os.path.join(sp, ".smtpgate"), "w") as f:
            f.write("role=inbound\ninstance=x\nhost=h\ncreated=0\n")
        lock = open(os.path.join(sp, ".lock"), "w+")
        self.held.append(lock)
        lock.write("host=gw-test pid=%d\n" % os.getpid())
        lock.flush()
        self.own(sp)
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        i = self.inbound("in", sp)
        r = self.check(i)
        self.assertEqual(r.returncode, EX_OK, r.stdout + r.stderr)
        self.assertIn("%s: ok (inbound, spool %s" % (i, sp), r.stdout)
        self.assertIn("pid=%d" % os.getpid(), r.stdout)

    # -- config errors and usage -------------------------------------------

    def test_config_error_names_file_and_line(self):
        i = self.write("bad.conf", 'spool = "%s"\nlisten = {"127.0.0.1:2525"}\n'
                                   'max_recipients = 0\n' % self.path("s"))
        o = self.outbound("out", self.path("s2"))
        r = self.check(i, o)
        self.assertEqual(r.returncode, EX_CONFIG, r.stdout + r.stderr)
        self.assertIn("%s:3: max_recipients:" % i, r.stderr)
        self.assertIn("%s: ok (outbound" % o, r.stdout)

    def test_unknown_key_error(self):
        o = self.write("bad.conf", 'smarthost "a" { host = "127.0.0.1" }\n\nbogus = 1\n')
        r = self.check(o)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn("%s:3:" % o, r.stderr)
        self.assertIn("bogus", r.stderr)

    def test_neither_role(self):
        f = self.write("empty.conf", "# nothing\n")
        r = self.check(f)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn(f + ":", r.stderr)

    def test_missing_file(self):
        f = self.path("nonexistent.conf")
        r = self.check(f)
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn("%s: No such file or directory" % f, r.stderr)

    def test_usage(self):
        r = self.check()
        self.assertEqual(r.returncode, EX_USAGE)
        self.assertIn("usage", r.stderr)
        r = self.check("-x", "a.conf")
        self.assertEqual(r.returncode, EX_USAGE)

    def test_version(self):
        r = self.check("-V")
        self.assertEqual(r.returncode, EX_OK)
        self.assertRegex(r.stdout, r"^smtpgate-check \d+\.\d+")

    def test_shipped_examples(self):
        # the examples name /var/spool paths: check them with their spools moved
        # here, and their Maildir and submission groups the ones the service
        # user is in here
        src = harness.SRC
        out = []
        for name in ("inbound.conf", "outbound.conf"):
            with open(os.path.join(src, "conf", name)) as f:
                text = f.read()
            text = text.replace('"/var/spool/smtpgate/', '"%s/' % self.tmp)
            text = text.replace('mailbox_group = "smtpgate-mail"',
                                'mailbox_group = "%d"' % harness.MAIL_GID)
            text = text.replace('submit_group = "smtpgate-submit"',
                                'submit_group = "%d"' % harness.SUBMIT_GID)
            out.append(self.write("example-" + name, text))
        r = self.check(*out)
        self.assertEqual(r.returncode, EX_OK, r.stdout + r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)


if __name__ == "__main__":
    harness.main()
