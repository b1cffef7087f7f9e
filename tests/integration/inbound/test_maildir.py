"""Maildirs readers can work in, and nothing else (issue 16).

The daemon runs as the service user (harness.daemon_ids(): uid 64101, in
the Maildir group 64103 as the unit's SupplementaryGroups= puts it) with
mailbox_group = 64103.  Readers are READER_UID with the group MAIL_GID,
switched to with setpriv (harness.run_as); an ordinary user (USER_A) is
the one who must not read.  Each test asserts what is on disk as root.
"""

import imaplib
import os
import re
import shlex
import signal
import smtplib
import stat
import subprocess
import sys
import textwrap

import harness
from inbound_util import InboundCase, MAILBOXES, tmp_files, size_in_name, wait_new

MAIL_CONF = 'mailbox_group = "%d"' % harness.MAIL_GID
DOVECOT_IMAP = "/usr/lib/dovecot/imap"
# the system's Python for the reader's scripts: the tests' own may sit
# where other users cannot reach it (/root/.pyenv)
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def send(port, rcpt, subject, body="Line one.\r\nLine two.\r\n"):
    """One message with CRLF line ends over SMTP; (code, text) of DATA."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.test")
        s.mail("sender@client.test")
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text
        return s.data("From: sender@client.test\r\nTo: %s\r\nSubject: %s\r\n\r\n%s"
                      % (rcpt, subject, body))


def mode_of(path):
    st = os.lstat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def files_in(spool, box, sub, want=0):
    """Sorted names in the mailbox's sub; for new/, once at least want are
    published there (inbound_util.wait_new)."""
    if want:
        wait_new(spool, box, want)
    d = os.path.join(spool, "mailboxes", box, sub)
    return sorted(os.listdir(d))


# The reader: Python's mailbox module, run as READER_UID:MAIL_GID.  Reads
# every message of the Maildir, flags the one with subject "keep" seen
# (new/ -> cur/ with :2,S, the file rewritten by mailbox), removes the one
# with subject "drop"; prints what it read.
READER = textwrap.dedent("""
    import json, mailbox, sys
    md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
    seen = {}
    for key in list(md.keys()):
        msg = md[key]
        seen[msg["Subject"]] = md.get_bytes(key).decode()
        if msg["Subject"] == "keep":
            msg.set_subdir("cur")
            msg.add_flag("S")
            md[key] = msg
        elif msg["Subject"] == "drop":
            md.remove(key)
    print(json.dumps(seen))
""")

# What a user outside the Maildir group tries: list and read.
OUTSIDER = textwrap.dedent("""
    import os, sys
    for what in sys.argv[1:]:
        try:
            if os.path.isdir(what) or what.endswith("/"):
                os.listdir(what)
            else:
                open(what, "rb").read()
            print("READ", what)
        except PermissionError:
            print("DENIED", what)
""")


class MaildirCase(InboundCase):
    def setUp(self):
        super().setUp()
        if not harness.privileged():
            self.skipTest("switching to the reader's ids needs root")

    def reader(self, script, *args, uid=harness.READER_UID, gid=harness.MAIL_GID,
               groups=(harness.MAIL_GID,)):
        return harness.run_as(uid, gid, [PYTHON, "-c", script] + list(args),
                              groups=groups)


class LayoutTest(MaildirCase):
    def test_files_and_directories_as_configured(self):
        self.inbound(extra=MAIL_CONF)
        self.assertEqual(send(self.port, "alice@example.com", "hello")[0], 250)
        sp = self.spool
        self.assertEqual(mode_of(sp)[0], 0o711)
        self.assertEqual(mode_of(os.path.join(sp, "tmp"))[0], 0o700)
        self.assertEqual(mode_of(os.path.join(sp, "mailboxes")),
                         (0o750, harness.DAEMON_UID, harness.MAIL_GID))
        for box in MAILBOXES:
            for sub in ("", "tmp", "new", "cur"):
                self.assertEqual(mode_of(os.path.join(sp, "mailboxes", box, sub)),
                                 (0o2770, harness.DAEMON_UID, harness.MAIL_GID), box + "/" + sub)
        [name] = files_in(sp, "alice", "new", want=1)
        path = os.path.join(sp, "mailboxes", "alice", "new", name)
        self.assertEqual(mode_of(path), (0o640, harness.DAEMON_UID, harness.MAIL_GID))
        with open(path, "rb") as f:
            raw = f.read()
        self.assertNotIn(b"\r", raw)
        self.assertEqual(size_in_name(name), len(raw))
        self.assertTrue(raw.startswith(b"Return-Path: <sender@client.test>\n"
                                       b"Delivered-To: alice@example.com\nReceived: from "))
        self.assertTrue(raw.endswith(b"Subject: hello\n\nLine one.\nLine two.\n"), raw)
        self.assertEqual(tmp_files(sp), [])

    def test_file_mode_beyond_the_umask(self):
        # 0660 asks for a group-write bit the harness's umask (022) and the
        # units' (027) take away: the daemon sets it with fchmod
        self.inbound(extra=MAIL_CONF + '\nmailbox_file_mode = "0660"\nmailbox_dir_mode = "2750"')
        self.assertEqual(send(self.port, "bob@example.com", "m")[0], 250)
        [name] = files_in(self.spool, "bob", "new", want=1)
        self.assertEqual(mode_of(os.path.join(self.spool, "mailboxes", "bob", "new", name))[0],
                         0o660)
        self.assertEqual(mode_of(os.path.join(self.spool, "mailboxes", "bob", "new"))[0], 0o2750)

    def test_default_group_is_the_daemons(self):
        self.inbound()
        self.assertEqual(send(self.port, "alice@example.com", "x")[0], 250)
        [name] = files_in(self.spool, "alice", "new", want=1)
        self.assertEqual(mode_of(os.path.join(self.spool, "mailboxes", "alice", "new", name)),
                         (0o640, harness.DAEMON_UID, harness.DAEMON_GID))
        self.assertEqual(mode_of(os.path.join(self.spool, "mailboxes", "alice")),
                         (0o2770, harness.DAEMON_UID, harness.DAEMON_GID))

    def test_existing_directories_fixed_at_start(self):
        # a spool of an older version: 0750 everywhere, the daemon's group
        d = self.inbound()
        d.stop()
        cur = os.path.join(self.spool, "mailboxes", "alice", "cur")
        os.chmod(cur, 0o755)
        d = self.inbound(extra=MAIL_CONF)
        d.wait_log(r"maildir: spool=\S+ fixed=\d+ created=0: modes and group set")
        self.assertEqual(d.log().count("maildir: spool="), 1, d.log())
        self.assertEqual(mode_of(cur), (0o2770, harness.DAEMON_UID, harness.MAIL_GID))
        self.assertEqual(mode_of(os.path.join(self.spool, "mailboxes"))[2], harness.MAIL_GID)
        # started again as it is: nothing to fix, nothing logged
        d.stop()
        d = self.inbound(extra=MAIL_CONF)
        self.assertNotIn("maildir: spool=", d.log())

    def test_reload_applies_group_and_modes(self):
        d = self.inbound()
        self.assertEqual(send(self.port, "alice@example.com", "before")[0], 250)
        self.write("inbound.conf", harness.inbound_config(
            self.spool, self.port, MAILBOXES, MAIL_CONF + '\nmailbox_file_mode = "0660"'))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload: config=")
        self.assertEqual(d.log().count("modes and group set (mailboxes 2770, files 0660, "
                                       "group %d)" % harness.MAIL_GID), 1, d.log())
        self.assertEqual(send(self.port, "alice@example.com", "after")[0], 250)
        new = os.path.join(self.spool, "mailboxes", "alice", "new")
        modes = sorted(mode_of(os.path.join(new, f)) for f in files_in(self.spool, "alice", "new",
                                                                       want=2))
        self.assertEqual(modes, [(0o640, harness.DAEMON_UID, harness.DAEMON_GID),
                                 (0o660, harness.DAEMON_UID, harness.MAIL_GID)])
        self.assertEqual(mode_of(new), (0o2770, harness.DAEMON_UID, harness.MAIL_GID))


class ConfigTest(MaildirCase):
    def check(self, line, want):
        conf = self.write("bad.conf", harness.inbound_config(self.path("sp"), 2525, MAILBOXES)
                          + line + "\n")
        with open(conf) as f:
            nlines = f.read().count("\n")
        r = harness.run(harness.daemon_ids() + [harness.binary("smtpgate-inbound"), "-t",
                                                "-c", conf])
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn("%s:%d: " % (conf, nlines), r.stderr)
        self.assertIn(want, r.stderr)

    def test_bad_values_are_config_errors(self):
        self.check('mailbox_group = "no-such-group-16"',
                   'mailbox_group: group "no-such-group-16" does not exist')
        self.check('mailbox_group = "0"', "mailbox_group: \"0\" is the root group")
        self.check('mailbox_dir_mode = "2777"', "mailbox_dir_mode: 2777: only bits of 2770")
        self.check('mailbox_dir_mode = "3770"', "mailbox_dir_mode: 3770")	# sticky
        self.check('mailbox_dir_mode = "0570"', "must be set")
        self.check('mailbox_dir_mode = "rwx"', "not an octal mode")
        self.check('mailbox_file_mode = "0644"', "mailbox_file_mode: 0644: only bits of 0660")
        self.check('mailbox_file_mode = "0750"', "mailbox_file_mode: 0750")

    def test_daemon_outside_the_group_is_told_at_start(self):
        # a unit without SupplementaryGroups=smtpgate-mail: a clear error
        # at start, not a warning per mailbox nor a 451 per message
        conf = self.write("in.conf", harness.inbound_config(
            self.path("sp"), harness.free_port(), MAILBOXES, MAIL_CONF))
        r = harness.run_as(harness.DAEMON_UID, harness.DAEMON_GID,
                           [harness.binary("smtpgate-inbound"), "-f", "-c", conf],
                           groups=(harness.DAEMON_GID,), timeout=20)
        self.assertEqual(r.returncode, 73, r.stderr)
        self.assertIn("mailbox_group %d: this daemon (uid %d) is not a member"
                      % (harness.MAIL_GID, harness.DAEMON_UID), r.stderr)

    def test_names_and_numbers_accepted(self):
        conf = self.write("ok.conf", harness.inbound_config(self.path("sp"), 2525, MAILBOXES) +
                          'mailbox_group = "daemon"\nmailbox_dir_mode = "0770"\n'
                          'mailbox_file_mode = "660"\n')
        r = harness.run([harness.binary("smtpgate-inbound"), "-t", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stderr)


class ReaderTest(MaildirCase):
    def test_python_mailbox_reads_flags_and_removes(self):
        self.inbound(extra=MAIL_CONF)
        for subject in ("keep", "drop", "other"):
            self.assertEqual(send(self.port, "alice@example.com", subject)[0], 250)
        self.assertEqual(len(files_in(self.spool, "alice", "new", want=3)), 3)
        root = os.path.join(self.spool, "mailboxes", "alice")
        r = self.reader(READER, root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Line one.\\nLine two.\\n", r.stdout)
        self.assertIn('"keep"', r.stdout)
        new, cur = files_in(self.spool, "alice", "new"), files_in(self.spool, "alice", "cur")
        self.assertEqual(len(new), 1)	# "other", untouched
        self.assertEqual(len(cur), 1, cur)
        self.assertTrue(cur[0].endswith(":2,S"), cur)
        # the rewritten file still has the size its name says (LF stored)
        with open(os.path.join(root, "cur", cur[0]), "rb") as f:
            raw = f.read()
        self.assertEqual(size_in_name(cur[0]), len(raw))
        self.assertIn(b"Subject: keep\n", raw)

    def test_outsider_reads_nothing(self):
        self.inbound(extra=MAIL_CONF)
        self.assertEqual(send(self.port, "alice@example.com", "secret")[0], 250)
        root = os.path.join(self.spool, "mailboxes")
        [name] = files_in(self.spool, "alice", "new", want=1)
        targets = [self.spool + "/", root + "/", os.path.join(root, "alice", "new") + "/",
                   os.path.join(root, "alice", "new", name)]
        r = self.reader(OUTSIDER, *targets, uid=harness.USER_A, gid=harness.USER_A, groups=())
        self.assertEqual(r.stdout.split(), sum((["DENIED", t] for t in targets), []), r.stderr)
        # the reader in the group, for comparison, reads every one but the spool's list
        r = self.reader(OUTSIDER, *targets)
        self.assertEqual(r.stdout.split(), ["DENIED", targets[0]] +
                         sum((["READ", t] for t in targets[1:]), []), r.stderr)

    def test_dovecot_imap_reads_flags_and_expunges(self):
        # Debian's dovecot-imapd (scripts/bootstrap installs it), run as the
        # reader in pre-authenticated stdio mode with a config of its own
        # (the recipe of inbound/README.md): no service, no listener.
        self.assertTrue(os.access(DOVECOT_IMAP, os.X_OK),
                        DOVECOT_IMAP + " is missing: run scripts/bootstrap")
        self.inbound(extra=MAIL_CONF)
        for subject in ("keep", "gone"):
            self.assertEqual(send(self.port, "alice@example.com", subject)[0], 250)
        # Python's mailbox first rewrites "keep" into cur/ flagged seen
        # (in the issue, Dovecot then failed every FETCH of such a file)
        # and removes "drop"
        self.assertEqual(send(self.port, "alice@example.com", "drop")[0], 250)
        self.assertEqual(len(files_in(self.spool, "alice", "new", want=3)), 3)
        r = self.reader(READER, os.path.join(self.spool, "mailboxes", "alice"))
        self.assertEqual(r.returncode, 0, r.stderr)
        home = self.path("dovecot")
        os.mkdir(home)
        os.chown(home, harness.READER_UID, harness.MAIL_GID)
        maildir = os.path.join(self.spool, "mailboxes", "alice")
        conf = self.write("dovecot.conf", textwrap.dedent("""\
            # a reader's own Dovecot run by hand: no services, no listeners
            base_dir = {home}/run
            state_dir = {home}/state
            log_path = /dev/stderr
            ssl = no
            mail_location = maildir:{maildir}:INDEX={home}/index:CONTROL={home}/control
            """).format(home=home, maildir=maildir))
        cmd = " ".join(shlex.quote(a) for a in harness.as_ids(
            harness.READER_UID, harness.MAIL_GID, (harness.MAIL_GID,)) +
            ["env", "-i", "HOME=" + home, "USER=alice", "PATH=/usr/bin:/bin",
             DOVECOT_IMAP, "-c", conf]) + " 2>>" + shlex.quote(self.path("dovecot.log"))
        imap = imaplib.IMAP4_stream(cmd)
        try:
            self.assertEqual(imap.state, "AUTH")
            typ, data = imap.select("INBOX")
            self.assertEqual((typ, data), ("OK", [b"2"]))
            seqs = {}
            for n in ("1", "2"):
                typ, data = imap.fetch(n, "(BODY.PEEK[])")
                self.assertEqual(typ, "OK", data)
                raw = data[0][1]
                # IMAP speaks CRLF: the stored LF file, whole and undamaged
                self.assertTrue(raw.startswith(b"Return-Path: <sender@client.test>\r\n"), raw)
                self.assertTrue(raw.endswith(b"\r\n\r\nLine one.\r\nLine two.\r\n"), raw)
                seqs[re.search(rb"\r\nSubject: (\w+)\r\n", raw).group(1).decode()] = n
            self.assertEqual(sorted(seqs), ["gone", "keep"])
            self.assertEqual(imap.store(seqs["keep"], "+FLAGS", r"(\Seen \Flagged)")[0], "OK")
            self.assertEqual(imap.store(seqs["gone"], "+FLAGS", r"(\Deleted)")[0], "OK")
            self.assertEqual(imap.expunge()[0], "OK")
            imap.logout()
        finally:
            if imap.state != "LOGOUT":
                imap.shutdown()
        with open(self.path("dovecot.log")) as f:
            dlog = f.read()
        self.assertNotIn("Error", dlog)
        self.assertEqual(files_in(self.spool, "alice", "new"), [])
        cur = files_in(self.spool, "alice", "cur")
        self.assertEqual(len(cur), 1, cur)
        self.assertTrue(cur[0].endswith(":2,FS"), cur)
        with open(os.path.join(maildir, "cur", cur[0]), "rb") as f:
            self.assertIn(b"Subject: keep\n", f.read())


class RedirectTest(MaildirCase):
    """A reader replaces alice's new/ to make the daemon publish elsewhere."""

    def setUp(self):
        super().setUp()
        # stands for the outbound pickup/: a directory the service user may write
        self.target = self.path("pickup")
        os.mkdir(self.target, 0o770)
        os.chown(self.target, harness.DAEMON_UID, harness.DAEMON_GID)
        os.chmod(self.target, 0o770)

    def as_reader(self, code):
        r = self.reader("import os, sys\n" + code, os.path.join(self.spool, "mailboxes", "alice"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def refused(self, d, what):
        """A message to alice is refused (451), one to bob delivered; every
        earlier 250 was waited for (tmp/ holds nothing published later)."""
        before = d.log().count("mailbox alice: new: ")
        bob = len(files_in(self.spool, "bob", "new"))
        code, text = send(self.port, "alice@example.com", what)
        self.assertEqual(code, 451, text)
        self.assertIn(b"4.3.0", text)
        self.assertEqual(d.log().count("mailbox alice: new: "), before + 1, d.log())
        self.assertEqual(os.listdir(self.target), [])
        self.assertEqual(tmp_files(self.spool), [])
        # the other mailboxes still get mail
        self.assertEqual(send(self.port, "bob@example.com", "for bob " + what)[0], 250)
        self.assertEqual(len(files_in(self.spool, "bob", "new", want=bob + 1)), bob + 1)

    def test_symlink_fifo_and_missing_new(self):
        d = self.inbound(extra=MAIL_CONF)
        self.assertEqual(send(self.port, "alice@example.com", "before")[0], 250)
        self.assertEqual(len(files_in(self.spool, "alice", "new", want=1)), 1)
        self.as_reader("os.rename(sys.argv[1] + '/new', sys.argv[1] + '/new.moved')\n"
                       "os.symlink(%r, sys.argv[1] + '/new')" % self.target)
        self.refused(d, "symlink")
        self.assertRegex(d.log(), r"status=deferred reason=mailbox alice: new: not a directory "
                                  r"\(a symlink is not followed\)")
        self.as_reader("os.unlink(sys.argv[1] + '/new'); os.mkfifo(sys.argv[1] + '/new')")
        self.refused(d, "fifo")
        self.as_reader("os.unlink(sys.argv[1] + '/new')")
        self.refused(d, "missing")
        self.assertIn("mailbox alice: new: No such file or directory", d.log())
        self.as_reader("os.rename(sys.argv[1] + '/new.moved', sys.argv[1] + '/new')")
        self.assertEqual(send(self.port, "alice@example.com", "after")[0], 250)
        self.assertEqual(len(files_in(self.spool, "alice", "new", want=2)), 2)
        self.assertEqual(len(files_in(self.spool, "bob", "new")), 3)
        self.assertTrue(d.alive())

    def test_symlink_in_place_at_start(self):
        d = self.inbound(extra=MAIL_CONF)
        d.stop()
        self.as_reader("os.rename(sys.argv[1] + '/new', sys.argv[1] + '/new.moved')\n"
                       "os.symlink(%r, sys.argv[1] + '/new')" % self.target)
        d = self.inbound(extra=MAIL_CONF)
        self.assertRegex(d.log(), r"maildir: spool=\S+ mailbox=alice: .*not a directory")
        # what the symlink points to was not changed (no chmod, no chgrp) ...
        self.assertEqual(mode_of(self.target), (0o770, harness.DAEMON_UID, harness.DAEMON_GID))
        # ... and receives nothing
        self.assertEqual(send(self.port, "alice@example.com", "x")[0], 451)
        self.assertEqual(send(self.port, "bob@example.com", "y")[0], 250)
        self.assertEqual(os.listdir(self.target), [])


if __name__ == "__main__":
    harness.main()
