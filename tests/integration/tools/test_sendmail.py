"""smtpgate-sendmail: the sendmail-compatible injector, black-box.

No daemon runs here: each test prepares an outbound spool the way the
daemon lays it out (role marker, maildrop/ 1730 group SUBMIT_GID, tmp/,
pickup/, queue/, control/, bad/; see maildrop.py), runs the injector
(as root, from the build tree; test_setgid.py runs it set-group-id as
other users), and inspects the maildrop file it leaves.
"""

import os
import pwd
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from maildrop import make_spool, parse_maildrop  # noqa: E402

SM = harness.binary("smtpgate-sendmail")
HOST = "gw-out.test"
MAX_SIZE = 50 << 20	# PICKUP_MAX_SIZE
MAX_RCPTS = 10000	# PICKUP_MAX_RCPTS


class SendmailTest(harness.GatewayTestCase):

    def setUp(self):
        super().setUp()
        self.spool = self.path("spool")
        make_spool(self.spool)
        self.conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        self.login = pwd.getpwuid(os.getuid()).pw_name

    def send(self, args, message, config=None, code=0):
        """Run the injector; check its exit code; return the CompletedProcess."""
        data = message.encode() if isinstance(message, str) else message
        r = harness.run([SM, "-C", config or self.conf] + list(args), input=data)
        self.assertEqual(r.returncode, code, "exit %d, stderr: %r" % (r.returncode, r.stderr))
        return r

    def drop_files(self):
        """The files in maildrop/ (the injector writes nowhere else)."""
        return sorted(os.listdir(os.path.join(self.spool, "maildrop")))

    def assert_only_maildrop(self):
        """Nothing in tmp/ or pickup/ (the daemon's and the trusted
        producers'), no dot name (an unfinished write) in maildrop/."""
        self.assertEqual(os.listdir(os.path.join(self.spool, "tmp")), [])
        self.assertEqual(os.listdir(os.path.join(self.spool, "pickup")), [])
        self.assertEqual([n for n in self.drop_files() if n.startswith(".")], [])

    def one_drop(self):
        """The only maildrop file, parsed (sender, rcpts, header, body);
        checks its mode, its uid line and that nothing else was written."""
        files = self.drop_files()
        self.assertEqual(len(files), 1, files)
        self.assert_only_maildrop()
        path = os.path.join(self.spool, "maildrop", files[0])
        st = os.stat(path)
        self.assertEqual(st.st_mode & 0o7777, 0o644)
        self.assertEqual(st.st_uid, os.getuid())
        with open(path, "rb") as f:
            data = f.read()
        self.assertNotIn(b"\r\r", data)
        self.assertIsNone(re.search(rb"[^\r]\n", data), "bare LF in maildrop file")
        sender, rcpts, uid, hdr, body = parse_maildrop(data)
        self.assertEqual(uid, os.getuid())
        return sender, rcpts, hdr, body

    def header(self, lines, name):
        """Values of every field called name (unfolded)."""
        out, last = [], None
        for ln in lines:
            if ln[:1] in (" ", "\t") and out and last == name.lower():
                out[-1] += ln
                continue
            field, _, value = ln.partition(":")
            last = field.lower()
            if last == name.lower():
                out.append(value.strip())
        return out

    def assert_nothing_written(self):
        self.assertEqual(self.drop_files(), [])
        self.assert_only_maildrop()

    # --- envelope -----------------------------------------------------

    def test_argv_recipients_and_default_sender(self):
        self.send(["alice@example.com", "Bob@Example.COM"], "Subject: hi\n\nhello\n")
        sender, rcpts, hdr, body = self.one_drop()
        self.assertEqual(sender, "<%s@%s>" % (self.login, HOST))
        self.assertEqual(rcpts, ["<alice@example.com>", "<Bob@example.com>"])
        self.assertEqual(self.header(hdr, "Subject"), ["hi"])
        self.assertEqual(body, "hello\r\n")

    def test_missing_date_message_id_from_added(self):
        self.send(["alice@example.com"], "Subject: x\n\nbody\n")
        _, _, hdr, _ = self.one_drop()
        (date,) = self.header(hdr, "Date")
        self.assertRegex(date, r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d\d:\d\d:\d\d [+-]\d{4}$")
        (mid,) = self.header(hdr, "Message-ID")
        self.assertRegex(mid, r"^<[^<>@\s]+@%s>$" % re.escape(HOST))
        (frm,) = self.header(hdr, "From")
        self.assertTrue(frm.endswith("<%s@%s>" % (self.login, HOST)), frm)

    def test_existing_headers_kept_not_duplicated(self):
        msg = ("From: Someone <someone@example.org>\nDate: Tue, 1 Jan 2030 00:00:00 +0000\n"
               "Message-ID: <fixed@example.org>\nSubject: s\n\nbody\n")
        self.send(["alice@example.com"], msg)
        _, _, hdr, _ = self.one_drop()
        self.assertEqual(self.header(hdr, "From"), ["Someone <someone@example.org>"])
        self.assertEqual(self.header(hdr, "Date"), ["Tue, 1 Jan 2030 00:00:00 +0000"])
        self.assertEqual(self.header(hdr, "Message-ID"), ["<fixed@example.org>"])

    def test_sender_f_and_r(self):
        self.send(["-f", "owner@example.net", "alice@example.com"], "Subject: x\n\nb\n")
        sender, _, hdr, _ = self.one_drop()
        self.assertEqual(sender, "<owner@example.net>")
        self.assertEqual(self.header(hdr, "From"), ["<owner@example.net>"])
        os.unlink(os.path.join(self.spool, "maildrop", self.drop_files()[0]))
        self.send(["-rother@example.net", "alice@example.com"], "Subject: x\n\nb\n")
        sender, _, _, _ = self.one_drop()
        self.assertEqual(sender, "<other@example.net>")

    def test_null_sender(self):
        self.send(["-f", "<>", "alice@example.com"], "Subject: x\n\nb\n")
        sender, rcpts, hdr, _ = self.one_drop()
        self.assertEqual(sender, "<>")
        self.assertEqual(rcpts, ["<alice@example.com>"])
        self.assertEqual(len(self.header(hdr, "From")), 1)

    def test_full_name(self):
        self.send(["-F", 'Jane "JD" Doe', "-f", "jane@example.net", "alice@example.com"],
                  "Subject: x\n\nb\n")
        _, _, hdr, _ = self.one_drop()
        self.assertEqual(self.header(hdr, "From"), ['"Jane \\"JD\\" Doe" <jane@example.net>'])

    def test_full_name_not_ascii_is_encoded_words(self):
        import email.header
        name = "J\u00f6rg M\u00fcller-\u00c5ngstr\u00f6m " * 3 + "\u4e2d\u6587"
        self.send(["-F", name, "-f", "jorg@example.net", "alice@example.com"],
                  "Subject: x\n\nb\n")
        _, _, hdr, _ = self.one_drop()
        i = next(k for k, l in enumerate(hdr) if l.startswith("From: "))
        field = [hdr[i]]
        for line in hdr[i + 1:]:
            if not line.startswith(" "):
                break
            field.append(line)
        words = re.findall(r"=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=", " ".join(field))
        self.assertGreater(len(words), 1, field)
        for w in words:
            self.assertLessEqual(len(w), 75, w)
        for l in field:
            self.assertRegex(l, r"^[\x20-\x7e]*$")
        decoded = str(email.header.make_header(email.header.decode_header(
            " ".join(field)[len("From: "):].rsplit(" <", 1)[0])))
        self.assertEqual(decoded, name.strip())
        self.assertTrue(field[-1].endswith("<jorg@example.net>"))

    def test_t_uses_resent_fields_when_present(self):
        msg = ("To: original@example.com\n"
               "Resent-From: fwd@example.org\n"
               "Resent-To: new@example.com\n"
               "Resent-Cc: other@example.com\n"
               "Resent-Bcc: hidden@example.net\n"
               "Bcc: oldhidden@example.net\n"
               "Subject: again\n\nbody\n")
        self.send(["-t"], msg)
        _, rcpts, hdr, body = self.one_drop()
        self.assertEqual(rcpts, ["<new@example.com>", "<other@example.com>", "<hidden@example.net>"])
        self.assertEqual(self.header(hdr, "Resent-Bcc"), [])
        self.assertEqual(self.header(hdr, "Bcc"), [])
        self.assertNotIn("hidden", "\r\n".join(hdr) + body)
        self.assertEqual(self.header(hdr, "To"), ["original@example.com"])
        self.assertEqual(self.header(hdr, "Resent-To"), ["new@example.com"])

    def test_unqualified_address_gets_hostname(self):
        self.send(["root"], "Subject: x\n\nb\n")
        _, rcpts, _, _ = self.one_drop()
        self.assertEqual(rcpts, ["<root@%s>" % HOST])

    def test_t_with_bcc_and_argv(self):
        msg = ('To: "Doe, Jane" <jane@example.com>, grp: a@example.org, b@example.org;\n'
               "Cc: carol@example.com (Carol),\n dave@example.com\n"
               "Bcc: secret@example.net\n"
               "Subject: t\n\nbody\n")
        self.send(["-t", "extra@example.com", "jane@example.com"], msg)
        _, rcpts, hdr, body = self.one_drop()
        self.assertEqual(rcpts, ["<extra@example.com>", "<jane@example.com>", "<a@example.org>",
                                 "<b@example.org>", "<carol@example.com>", "<dave@example.com>",
                                 "<secret@example.net>"])
        self.assertEqual(self.header(hdr, "Bcc"), [])
        self.assertNotIn("secret", "\r\n".join(hdr) + body)
        self.assertEqual(len(self.header(hdr, "To")), 1)
        self.assertEqual(len(self.header(hdr, "Cc")), 1)

    def test_t_without_recipients(self):
        r = self.send(["-t"], "Subject: none\n\nb\n", code=64)
        self.assertIn("No recipient addresses found in header", r.stderr.decode())
        self.assert_nothing_written()

    def test_no_recipient_at_all(self):
        r = self.send([], "Subject: none\n\nb\n", code=64)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: .*recipient")
        self.assert_nothing_written()

    def test_clustered_flags(self):
        self.send(["-ti", "-oi"], "To: a@example.com\n\none\n.\ntwo\n")
        _, rcpts, _, body = self.one_drop()
        self.assertEqual(rcpts, ["<a@example.com>"])
        self.assertEqual(body, "one\r\n.\r\ntwo\r\n")

    def test_double_dash(self):
        self.send(["-f", "s@example.com", "--", "-odd@example.com"], "Subject: x\n\nb\n")
        _, rcpts, _, _ = self.one_drop()
        self.assertEqual(rcpts, ["<-odd@example.com>"])

    # --- message body ------------------------------------------------

    def test_lone_dot_ends_message_without_i(self):
        self.send(["alice@example.com"], "Subject: x\n\nbefore\n.\nafter\n")
        _, _, _, body = self.one_drop()
        self.assertEqual(body, "before\r\n")

    def test_lone_dot_kept_with_i_and_oi(self):
        for flag in ("-i", "-oi"):
            self.send([flag, "alice@example.com"], "Subject: x\n\nbefore\n.\nafter\n")
            _, _, _, body = self.one_drop()
            self.assertEqual(body, "before\r\n.\r\nafter\r\n", flag)
            os.unlink(os.path.join(self.spool, "maildrop", self.drop_files()[0]))

    def test_dot_lines_kept_as_is(self):
        self.send(["alice@example.com"], "Subject: x\n\n..two\n.one\n. space\n...\n")
        _, _, _, body = self.one_drop()
        self.assertEqual(body, "..two\r\n.one\r\n. space\r\n...\r\n")

    def test_crlf_input_and_no_final_newline(self):
        self.send(["alice@example.com"], b"Subject: x\r\n\r\nline1\r\nline2")
        _, _, hdr, body = self.one_drop()
        self.assertEqual(self.header(hdr, "Subject"), ["x"])
        self.assertEqual(body, "line1\r\nline2\r\n")

    def test_mbox_from_line_dropped(self):
        self.send(["alice@example.com"], "From someone Tue Jan  1 00:00:00 2030\nSubject: x\n\nb\n")
        _, _, hdr, _ = self.one_drop()
        self.assertFalse(any(h.startswith("From ") for h in hdr), hdr)
        self.assertEqual(self.header(hdr, "Subject"), ["x"])

    def test_message_without_header(self):
        self.send(["alice@example.com"], "just a body line\nsecond\n")
        _, _, hdr, body = self.one_drop()
        self.assertEqual(len(self.header(hdr, "Date")), 1)
        self.assertEqual(body, "just a body line\r\nsecond\r\n")

    def test_ignored_flags(self):
        args = ["-odb", "-oem", "-v", "-U", "-n", "-B", "8BITMIME", "-N", "never", "-o", "x",
                "-X", "/dev/null", "-L", "tag", "-h", "5", "-V", "envid", "-R", "hdrs",
                "-O", "DeliveryMode=b", "-d", "0.1", "-A", "m", "-G", "-bm",
                "alice@example.com"]
        self.send(args, "Subject: x\n\nb\n")
        _, rcpts, _, _ = self.one_drop()
        self.assertEqual(rcpts, ["<alice@example.com>"])

    def test_unknown_option_is_usage_error(self):
        r = self.send(["-Z", "alice@example.com"], "Subject: x\n\nb\n", code=64)
        self.assertIn("smtpgate-sendmail:", r.stderr.decode())
        self.assert_nothing_written()

    # --- errors ------------------------------------------------------

    def test_bad_addresses(self):
        cases = [["not an address@"], ["a@@example.com"], ["-f", "bad@", "alice@example.com"],
                 ["a@example..com"]]
        for args in cases:
            r = self.send(args, "Subject: x\n\nb\n", code=65)
            self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: bad .*address", args)
        r = self.send(["-t"], "To: good@example.com, bad@@example.com\n\nb\n", code=65)
        self.assert_nothing_written()

    def test_bare_cr_and_nul_refused(self):
        for data in (b"Subject: x\r\n\r\nbare\rcr\r\n", b"Subject: x\n\nnul\x00byte\n",
                     b"Subject: x\r\r\n\r\nb\r\n"):
            r = self.send(["alice@example.com"], data, code=65)
            self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: line \d+ of the message")
        self.assert_nothing_written()

    def test_missing_spool(self):
        conf = self.write("missing.conf", harness.outbound_config(
            self.path("nospool"), [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        r = self.send(["alice@example.com"], "Subject: x\n\nb\n", config=conf, code=75)
        self.assertIn("nospool", r.stderr.decode())
        self.assertFalse(os.path.exists(self.path("nospool")))

    def test_spool_without_maildrop(self):
        # tmp/ and pickup/ are there but are not the injector's any more
        spool = self.path("half")
        make_spool(spool, dirs=("tmp", "pickup"))
        conf = self.write("half.conf", harness.outbound_config(
            spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        r = self.send(["alice@example.com"], "Subject: x\n\nb\n", config=conf, code=75)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: \S+/half/maildrop: No such file")
        self.assertEqual(os.listdir(os.path.join(spool, "tmp")), [])
        self.assertEqual(os.listdir(os.path.join(spool, "pickup")), [])

    def test_inbound_spool_refused(self):
        spool = self.path("in")
        make_spool(spool, role="inbound")
        conf = self.write("in.conf", harness.outbound_config(
            spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        r = self.send(["alice@example.com"], "Subject: x\n\nb\n", config=conf, code=78)
        self.assertIn("inbound", r.stderr.decode())
        self.assertEqual(os.listdir(os.path.join(spool, "maildrop")), [])

    def test_bad_config(self):
        conf = self.write("bad.conf", "this is not { a config\n")
        r = self.send(["alice@example.com"], "Subject: x\n\nb\n", config=conf, code=78)
        self.assertTrue(r.stderr.decode().startswith("smtpgate-sendmail: "))

    def test_does_not_need_or_take_the_lock(self):
        """The daemon holds the lock while producers write: must still work."""
        import fcntl
        fd = os.open(os.path.join(self.spool, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"host=test pid=%d\n" % os.getpid())
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.send(["alice@example.com"], "Subject: x\n\nb\n")
            self.one_drop()
        finally:
            os.close(fd)

    def test_journal_that_stopped_committing_is_a_temporary_failure(self):
        # after the rename and its fsync, a directory made and removed in
        # maildrop/ (tmp/ is the daemon's own now) proves the file system
        # still commits (ext4 tells only the thread that waited for a failed
        # commit; a later fsync returns 0).  Here it cannot be made (EROFS,
        # as with an aborted journal): exit 75 and a clear line, never 0
        pattern = self.write("fail-mkdir", ".probe.*")
        env = self.shim_env(SMTPGATE_FAIL_MKDIR_FILE=pattern)
        r = harness.run([SM, "-C", self.conf, "alice@example.com"],
                        input=b"Subject: x\n\nb\n", env=env)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: \S+/maildrop/\.probe\.\S+: the "
                         r"file system takes no more changes: Read-only file system")
        with open(pattern, "w") as f:
            f.write("")
        self.send(["alice@example.com"], "Subject: y\n\nb\n")
        self.assertEqual(len(self.drop_files()), 2)
        self.assert_only_maildrop()

    def shim_send(self, code, **env):
        """Run the injector with the fault shim preloaded and env set."""
        r = harness.run([SM, "-C", self.conf, "alice@example.com"],
                        input=b"Subject: x\n\nb\n", env=self.shim_env(**env))
        self.assertEqual(r.returncode, code, r.stderr)
        return r

    def test_durable_before_renamed_and_after(self):
        # the file is fsynced before its rename and again after it (the
        # group may not open maildrop/; the renamed inode's fsync commits
        # the rename on a journalling file system); root also fsyncs
        # maildrop/ itself.  Nothing happens in tmp/ or pickup/
        trace = self.path("fstrace")
        self.shim_send(0, SMTPGATE_FSTRACE_FILE=trace)
        (name,) = self.drop_files()
        md = os.path.join(self.spool, "maildrop")
        with open(trace) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines, ["create %s/.w.%s" % (md, name), "fsync %s/.w.%s" % (md, name),
                                 "rename %s/.w.%s %s/%s" % (md, name, md, name),
                                 "fsync %s/%s" % (md, name), "fsync %s" % md])

    def test_without_rename_noreplace(self):
        # a file system without RENAME_NOREPLACE: a plain rename
        self.shim_send(0, SMTPGATE_NO_RENAME_NOREPLACE="1")
        self.one_drop()

    def test_create_or_rename_failing_leaves_nothing(self):
        pattern = self.write("fail-pattern", ".w.*")
        r = self.shim_send(75, SMTPGATE_FAIL_CREATE_FILE=pattern)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: \S+/maildrop/\.w\.\S+: create: "
                         r"No space left on device\n$")
        self.assert_nothing_written()
        # (the shim fails renameat only: the fallback without RENAME_NOREPLACE)
        r = self.shim_send(75, SMTPGATE_FAIL_RENAME_FILE=pattern, SMTPGATE_NO_RENAME_NOREPLACE="1")
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: \S+/maildrop/\.w\.\S+: rename: "
                         r"Read-only file system\n$")
        self.assert_nothing_written()

    def test_many_messages_unique_names(self):
        for i in range(20):
            self.send(["alice@example.com"], "Subject: %d\n\nb\n" % i)
        self.assertEqual(len(self.drop_files()), 20)
        self.assert_only_maildrop()

    # --- issue 16: the envelope, the limits, what is read -------------

    def test_envelope_ends_at_the_end_line(self):
        # the message's own first lines look like envelope lines: they stay
        # message header, after the end line, and add no recipient
        msg = ("X-Receiver: <x@evil.example>\nX-Sender: <y@evil.example>\n"
               "X-Smtpgate-Envelope: end\nSubject: s\n\nb\n")
        self.send(["alice@example.com"], msg)
        sender, rcpts, hdr, _ = self.one_drop()
        self.assertEqual(sender, "<%s@%s>" % (self.login, HOST))
        self.assertEqual(rcpts, ["<alice@example.com>"])
        self.assertEqual(hdr[:4], ["X-Receiver: <x@evil.example>",
                                   "X-Sender: <y@evil.example>",
                                   "X-Smtpgate-Envelope: end", "Subject: s"])
        with open(os.path.join(self.spool, "maildrop", self.drop_files()[0]), "rb") as f:
            lines = f.read().split(b"\r\n")
        self.assertEqual(lines[:3], [b"X-Sender: <%s@%s>" % (self.login.encode(), HOST.encode()),
                                     b"X-Receiver: <alice@example.com>",
                                     b"X-Smtpgate-Envelope: end"])
        self.assertEqual(lines[3], b"Received: by gw-out.test (smtpgate-sendmail, from userid %d);"
                         % os.getuid())

    def test_message_over_the_size_limit(self):
        line = b"x" * 998 + b"\n"
        data = b"Subject: big\n\n" + line * (MAX_SIZE // len(line) + 1)
        r = self.send(["alice@example.com"], data, code=65)
        self.assertEqual(r.stderr.decode(), "smtpgate-sendmail: message too large (%d bytes, "
                         "limit %d)\n" % (len(data), MAX_SIZE))
        self.assert_nothing_written()
        # under the input limit, but over it once the file is written (CRLF)
        data = b"Subject: big\n\n" + line * (MAX_SIZE // len(line) - 10)
        self.assertLess(len(data), MAX_SIZE)
        r = self.send(["alice@example.com"], data, code=65)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: message too large \((\d+) "
                         r"bytes, limit %d\)\n$" % MAX_SIZE)
        self.assert_nothing_written()

    def test_message_just_under_the_size_limit(self):
        line = b"x" * 998 + b"\r\n"
        data = b"Subject: big\r\n\r\n" + line * ((MAX_SIZE - 4096) // len(line))
        self.send(["alice@example.com"], data)
        (name,) = self.drop_files()
        size = os.path.getsize(os.path.join(self.spool, "maildrop", name))
        self.assertLessEqual(size, MAX_SIZE)
        self.assertGreater(size, len(data))

    def test_too_many_recipients(self):
        rcpts = ["r%d@example.com" % i for i in range(MAX_RCPTS + 1)]
        msg = "To: %s\nSubject: many\n\nb\n" % ",\n ".join(rcpts)
        r = self.send(["-t"], msg, code=65)
        self.assertEqual(r.stderr.decode(), "smtpgate-sendmail: too many recipients (more than "
                         "%d, the limit)\n" % MAX_RCPTS)
        self.assert_nothing_written()
        # the limit itself is fine, duplicates do not count
        r = self.send(rcpts[:MAX_RCPTS] + rcpts[:10], "Subject: many\n\nb\n")
        _, got, _, _ = self.one_drop()
        self.assertEqual(len(got), MAX_RCPTS)

    def test_password_file_is_never_opened(self):
        # the smart host's secret is the daemon's: a config naming a
        # password file that does not exist (the daemon would refuse it)
        conf = self.write("auth.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "starttls",
                          "auth_user": "relay", "auth_password_file": self.path("no-such-pw")}]))
        self.send(["alice@example.com"], "Subject: x\n\nb\n", config=conf)
        self.one_drop()

    def test_bp_lists_queue(self):
        r = self.send(["-bp"], b"")
        out = r.stdout.decode()
        self.assertIn("queue is empty", out)


if __name__ == "__main__":
    harness.main()
