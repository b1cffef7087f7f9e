"""it-preflight: smtpgate-check refuses what a daemon refuses at start (issue 18).

Every case is run as the service user, the way the units run it
(ExecStartPre=smtpgate-check, ExecReload=... -t, the daemon itself):

* refusals: a TLS key that does not match its certificate, a ca_file that is
  a private key, a spool on a read-only file system (a read-only tmpfs and a
  read-only bind mount, inside `unshare -m`), a spool the service user cannot
  write or create, a spool owned by root, a Maildir group or submit_group
  the daemon is not in, a submit_group that does not exist, an
  auth_password_file others can read or that is empty, a CIDR with
  host bits set.  smtpgate-check and `-t` exit with the same code and print
  the same line, and the daemon started on that file exits with that code
  and logs that line;
* warnings: a key set twice, a hostname without a dot, no hostname on a host
  whose name has no dot (a private UTS namespace).  Exit 0 and exactly the
  "warning: FILE:LINE: key: reason" lines from both, and the daemon logs them
  at start;
* every refused case of the unit table tests/unit/common/
  test_config_errors.c, exported by that test program (--export), is refused
  with its exact line by the -t of its role and by smtpgate-check.
"""

import glob
import os
import shlex
import unittest

import harness

EX_OK, EX_CANTCREAT, EX_NOPERM, EX_CONFIG = 0, 73, 77, 78
PROGRAM = {"inbound": "smtpgate-inbound", "outbound": "smtpgate-outbound"}
UNIT_TABLE = os.path.join(harness.BUILD, "tests", "unit", "common", "test-config_errors")
DAEMON = "uid %d (gid %d)" % (harness.DAEMON_UID, harness.DAEMON_GID)


def in_namespace(script, argv):
    """argv run after script (as root) in private mount and UTS namespaces."""
    return ["unshare", "-m", "-u", "--propagation", "private", "sh", "-ec",
            script + '\nexec "$@"', "sh"] + list(argv)


class PreflightCase(harness.GatewayTestCase):
    """Configs for both roles and the three ways to check them."""

    def inbound(self, spool=None, extra="", tls=None, name="in.conf"):
        self.port = harness.free_port()
        spool = spool or self.path("in-spool")
        return self.write(name, harness.inbound_config(spool, self.port, extra=extra, tls=tls))

    def outbound(self, spool=None, smarthost=None, extra="", name="out.conf"):
        sh = dict({"host": "127.0.0.1", "port": 25, "tls": "none"}, **(smarthost or {}))
        return self.write(name, harness.outbound_config(spool or self.path("out-spool"),
                                                        [sh], extra))

    def runs(self, conf, role, setup=None):
        """smtpgate-check FILE and the role's -t -c FILE, as the service user."""
        out = []
        for argv in ([harness.binary("smtpgate-check"), conf],
                     [harness.binary(PROGRAM[role]), "-t", "-c", conf]):
            argv = harness.daemon_ids() + argv
            out.append(harness.run(in_namespace(setup, argv) if setup else argv))
        return out

    def start(self, conf, role, setup=None):
        """The daemon on conf in the foreground, as the service user."""
        ids = harness.daemon_ids()
        return harness.GatewayTestCase.start(
            self, PROGRAM[role], conf, ids=in_namespace(setup, ids) if setup else ids)

    def line_of(self, conf, text):
        """The line number of the first line of conf starting with text."""
        with open(conf) as f:
            for n, line in enumerate(f, 1):
                if line.startswith(text):
                    return n
        raise AssertionError("no line %r in %s" % (text, conf))


class RefusalTest(PreflightCase):
    """What the daemon refuses, the check and -t refuse with the same line."""

    def assert_refused(self, conf, role, code, want, setup=None, prefix=False):
        check, test = self.runs(conf, role, setup)
        for r, what in ((check, "smtpgate-check"), (test, PROGRAM[role] + " -t")):
            self.assertEqual(r.returncode, code, "%s: %s" % (what, r.stdout + r.stderr))
            self.assertEqual(r.stdout, "", what)
        self.assertEqual(check.stderr, test.stderr)
        lines = check.stderr.splitlines()
        self.assertEqual(len(lines), 1, check.stderr)
        if prefix:
            self.assertTrue(lines[0].startswith(want), "%r\ndoes not start with\n%r"
                            % (lines[0], want))
        else:
            self.assertEqual(lines[0], want)
        # the daemon itself refuses to start, with that line and that code
        d = self.start(conf, role, setup)
        harness.wait_for(lambda: not d.alive(), 20, "%s to refuse %s" % (role, conf))
        self.assertEqual(d.proc.returncode, code, d.log())
        self.assertIn(lines[0], d.log())

    def test_key_does_not_match_certificate(self):
        a = harness.make_ca(self.tmp, prefix="a")
        b = harness.make_ca(self.tmp, prefix="b")
        conf = self.inbound(tls={"cert": a["cert"], "key": b["key"]})
        self.assert_refused(conf, "inbound", EX_CONFIG,
                            "%s: key %s: cannot load PEM private key (or it does not match "
                            "certificate %s)" % (conf, b["key"], a["cert"]), prefix=True)

    def test_ca_file_is_a_private_key(self):
        a = harness.make_ca(self.tmp)
        conf = self.outbound(smarthost={"tls": "starttls", "ca_file": a["key"]})
        self.assert_refused(conf, "outbound", EX_CONFIG,
                            "%s: smarthost sh0: CA file %s: cannot load certificates"
                            % (conf, a["key"]), prefix=True)

    def test_spool_on_read_only_tmpfs(self):
        top = self.path("ro")
        os.mkdir(top)
        spool = os.path.join(top, "spool")
        conf = self.outbound(spool)
        self.assert_refused(conf, "outbound", EX_CANTCREAT,
                            "%s: spool %s: %s is on a read-only file system (Read-only "
                            "file system); the daemon must write there" % (conf, spool, top),
                            setup="mount -t tmpfs -o ro,mode=0755 tmpfs %s" % shlex.quote(top))

    def test_spool_on_read_only_bind_mount(self):
        spool = self.path("in-spool")
        os.mkdir(spool)
        os.chown(spool, harness.DAEMON_UID, harness.DAEMON_GID)
        q = shlex.quote(spool)
        conf = self.inbound(spool)
        self.assert_refused(conf, "inbound", EX_CANTCREAT,
                            "%s: spool %s: %s is on a read-only file system (Read-only "
                            "file system); the daemon must write there" % (conf, spool, spool),
                            setup="mount --bind %s %s\nmount -o remount,bind,ro %s" % (q, q, q))

    def test_spool_not_writable_by_the_service_user(self):
        spool = self.path("out-spool")
        os.mkdir(spool, 0o555)
        os.chown(spool, harness.DAEMON_UID, harness.DAEMON_GID)
        os.chmod(spool, 0o555)
        conf = self.outbound(spool)
        self.assert_refused(conf, "outbound", EX_CANTCREAT,
                            "%s: spool %s: %s is not writable by %s: Permission denied"
                            % (conf, spool, spool, DAEMON))

    def test_spool_tmp_not_writable(self):
        spool = self.path("in-spool")
        os.makedirs(os.path.join(spool, "tmp"))
        os.chown(spool, harness.DAEMON_UID, harness.DAEMON_GID)
        os.chown(os.path.join(spool, "tmp"), harness.DAEMON_UID, harness.DAEMON_GID)
        os.chmod(os.path.join(spool, "tmp"), 0o500)
        conf = self.inbound(spool)
        self.assert_refused(conf, "inbound", EX_CANTCREAT,
                            "%s: spool %s: %s/tmp is not writable by %s: Permission denied"
                            % (conf, spool, spool, DAEMON))

    def test_spool_cannot_be_created(self):
        parent = self.path("root-only")
        os.mkdir(parent, 0o755)		# root's: the service user cannot make the spool
        spool = os.path.join(parent, "spool")
        conf = self.inbound(spool)
        self.assert_refused(conf, "inbound", EX_CANTCREAT,
                            "%s: spool %s: cannot be created in %s by %s: Permission denied"
                            % (conf, spool, parent, DAEMON))

    def test_spool_owned_by_root(self):
        spool = self.path("out-spool")
        os.mkdir(spool, 0o755)
        conf = self.outbound(spool)
        self.assert_refused(conf, "outbound", EX_NOPERM,
                            "%s: spool %s: the spool directory is owned by root (uid 0)"
                            % (conf, spool), prefix=True)

    def test_mailbox_group_not_joined(self):
        conf = self.inbound(extra='mailbox_group = "%d"' % harness.USER_A)
        self.assert_refused(conf, "inbound", EX_CANTCREAT,
                            "%s: mailbox_group %d: this daemon (uid %d) is not a member, so "
                            "it cannot give the Maildirs that group (the unit's "
                            "SupplementaryGroups= names it)"
                            % (conf, harness.USER_A, harness.DAEMON_UID))

    def test_submit_group_missing(self):
        conf = self.outbound(extra='submit_group = "no-such-group-18"')
        self.assert_refused(conf, "outbound", EX_CONFIG,
                            "%s: submit_group \"no-such-group-18\": no such group" % conf)

    def test_submit_group_not_joined(self):
        conf = self.outbound(extra='submit_group = "%d"' % harness.USER_A)
        self.assert_refused(conf, "outbound", EX_NOPERM,
                            "%s: submit_group %d: this daemon (uid %d) is not a member, so "
                            "it cannot give maildrop/ that group (the unit's "
                            "SupplementaryGroups= names it)"
                            % (conf, harness.USER_A, harness.DAEMON_UID))

    def secret(self, text, mode):
        p = self.write("password", text)
        os.chmod(p, mode)
        os.chown(p, 0, harness.DAEMON_GID)
        return p

    def test_password_file_world_readable(self):
        pw = self.secret("s3cret\n", 0o644)
        conf = self.outbound(smarthost={"tls": "starttls", "auth_user": "gw",
                                        "auth_password_file": pw})
        self.assert_refused(conf, "outbound", EX_CONFIG,
                            "%s:%d: smarthost \"sh0\": auth_password_file: %s: readable by "
                            "every user (mode 0644); make it 0640 root:<service group> "
                            "(chmod o-rwx)" % (conf, self.line_of(conf, "  auth_password_file"), pw))

    def test_password_file_empty(self):
        pw = self.secret("\n", 0o640)
        conf = self.outbound(smarthost={"tls": "starttls", "auth_user": "gw",
                                        "auth_password_file": pw})
        self.assert_refused(conf, "outbound", EX_CONFIG,
                            "%s:%d: smarthost \"sh0\": auth_password_file: %s: empty: its "
                            "first line must hold the password"
                            % (conf, self.line_of(conf, "  auth_password_file"), pw))

    def test_cidr_with_host_bits(self):
        conf = self.inbound(extra='relay_hosts = {"127.0.0.1/32", "10.1.2.3/8"}')
        self.assert_refused(conf, "inbound", EX_CONFIG,
                            "%s:%d: relay_hosts: \"10.1.2.3/8\" has host bits set beyond /8: "
                            "write \"10.0.0.0/8\" for the network, or the address alone for "
                            "one host" % (conf, self.line_of(conf, "relay_hosts")))


class WarningTest(PreflightCase):
    """Warnings: exit 0, the exact lines from both, and logged at start."""

    def assert_warns(self, conf, role, want, setup=None):
        check, test = self.runs(conf, role, setup)
        lines = ["warning: " + w for w in want]
        for r, what in ((check, "smtpgate-check"), (test, PROGRAM[role] + " -t")):
            self.assertEqual(r.returncode, EX_OK, "%s: %s" % (what, r.stdout + r.stderr))
            self.assertEqual(r.stderr.splitlines(), lines, what)
        self.assertRegex(check.stdout, r"^%s: ok \(%s, spool " % (conf, role))
        self.assertEqual(test.stdout, "ok\n")
        d = self.start(conf, role, setup)
        for line in lines:
            harness.wait_for(lambda l=line: l in d.log(), 10, "%r logged at start" % line)
        self.assertTrue(d.alive(), d.log())

    def test_key_set_twice(self):
        conf = self.inbound(extra="max_errors = 5\n# later, by another hand\nmax_errors = 7")
        a, b = self.line_of(conf, "max_errors = 5"), self.line_of(conf, "max_errors = 7")
        self.assert_warns(conf, "inbound", [
            "%s:%d: max_errors: set again (first on line %d); the value on line %d is used "
            "and the one on line %d ignored" % (conf, b, a, b, a)])

    def test_key_set_twice_in_a_smarthost(self):
        conf = self.write("out.conf", harness.outbound_config(
            self.path("out-spool"), [{"host": "127.0.0.1", "port": 25, "tls": "none"}])
            .replace("  port = 25\n", "  port = 25\n  port = 2525\n"))
        a, b = self.line_of(conf, "  port = 25\n"), self.line_of(conf, "  port = 2525")
        self.assert_warns(conf, "outbound", [
            "%s:%d: smarthost \"sh0\": port: set again (first on line %d); the value on "
            "line %d is used and the one on line %d ignored" % (conf, b, a, b, a)])

    def test_hostname_without_a_dot(self):
        conf = self.outbound()
        with open(conf) as f:
            text = f.read().replace('"gw-out.test"', '"gw"')
        self.write("out.conf", text)
        self.assert_warns(conf, "outbound", [
            "%s:1: hostname: \"gw\" has no dot: it is the name in HELO and in the "
            "addresses of bounces, and other hosts expect a fully qualified name "
            "(e.g. \"gw.example.com\")" % conf])

    def test_no_hostname_on_a_host_without_a_dot(self):
        conf = self.inbound()
        with open(conf) as f:
            text = f.read().replace('hostname = "gw-in.test"\n', "")
        self.write("in.conf", text)
        self.assert_warns(conf, "inbound", [
            "%s: hostname: not set, and this host's name \"nodot\" has no dot: HELO and "
            "bounces would say \"nodot\"; set hostname to a fully qualified name" % conf],
            setup="hostname nodot")


class UnitTableTest(PreflightCase):
    """The config-error unit table, given to smtpgate-check and -t."""

    def test_every_unit_case_is_refused(self):
        out = self.path("cases")
        os.mkdir(out)
        r = harness.run([UNIT_TABLE, "--export", out])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cases = sorted(glob.glob(os.path.join(out, "case*.conf")))
        self.assertGreaterEqual(len(cases), 40)
        for conf in cases:
            base = conf[:-len(".conf")]
            with open(base + ".want") as f:
                want = f.read().rstrip("\n")
            with open(base + ".role") as f:
                role = f.read().strip()
            check, test = self.runs(conf, role)
            with self.subTest(case=os.path.basename(conf)):
                self.assertEqual((test.returncode, test.stderr), (EX_CONFIG, want + "\n"))
                if "this file configures smtpgate-" in want:
                    # the other gateway's file: smtpgate-check reads it as that
                    # gateway's, which it is; only the wrong daemon refuses it
                    continue
                self.assertEqual((check.returncode, check.stdout, check.stderr),
                                 (EX_CONFIG, "", want + "\n"))


if __name__ == "__main__":
    harness.main()
