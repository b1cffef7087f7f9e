"""it-outbound-trust: what local producers can and cannot do to the outbound
daemon (issue 16).

The daemon runs as the service user (the harness default); producers are
root and the ordinary users USER_A/USER_B.  Files in maildrop/ are written
the way smtpgate-sendmail writes them (maildrop/.w.<name>, fchmod 0644,
owned by the submitting user, renamed), here by a small helper running as
USER_A with the submission group (the injector's set-group-id) or, where a
file's owner is all that matters, created by root and given to USER_A.

Checked: files the daemon cannot read, directories, symbolic links, FIFOs,
hard links, long names and names with a newline and ESC go to bad/ (or,
when even that is impossible, back off) with at most one log line each,
almost no CPU, and the next good file is sent at once; no forged log line;
a producer who rewrites its file after the daemon took it changes nothing
(the daemon sends the copy it took, never the producer's inode); the
strict maildrop envelope cannot be extended by the message's own first
lines and is refused without its end line; tmp/ is private (a producer
cannot plant a spare) and a planted FIFO spare does not block the daemon;
queue files are the daemon's own; the spool's modes are as designed and
an older spool's are fixed; a file that cannot even be moved to bad/, and
a queue entry root made unreadable, back off (one log line, no CPU) and
go through once the cause is gone.
"""

import hashlib
import os
import re
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness                  # noqa: E402
from outbound_case import OutboundCase, message, maildrop_message  # noqa: E402

A, B = harness.USER_A, harness.USER_B

# A producer's helper: write maildrop/.w.<name> as smtpgate-sendmail does
# (mode by fchmod, fsync), rename it to maildrop/<name>.  Run as USER_A
# with the submission group as its effective group.
INJECT = r"""
import os, sys
md, name, data = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
tmp = os.path.join(md, ".w." + name)
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, data)
os.fchmod(fd, 0o644)
os.fsync(fd)
os.close(fd)
os.rename(tmp, os.path.join(md, name))
"""


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@unittest.skipUnless(harness.privileged(), "needs root to play other users")
class TrustTest(OutboundCase):
    """Producers cannot crash, stall, loop or redirect the daemon."""

    def start_trust(self, fake, extra=""):
        return self.start_outbound([self.host(fake)],
                                   extra='submit_group = "%d"\n' % harness.SUBMIT_GID + extra)

    def observe(self, d, seconds=4.0):
        """CPU share of one core used by the daemon over `seconds` (a
        measurement over time: the condition waited for is the time)."""
        t0, c0 = time.monotonic(), cpu_ticks(d.pid)
        harness.wait_for(lambda: time.monotonic() - t0 >= seconds, seconds + 5, "the period")
        share = (cpu_ticks(d.pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
        sys.stderr.write("[%s: daemon CPU %.1f%% of a core over %.1f s] " %
                         (self._testMethodName, share * 100, time.monotonic() - t0))
        return share

    def lines_about(self, d, word):
        return [l for l in d.log().splitlines() if word in l]

    def put_pickup(self, name, data, mode=0o644, uid=0, gid=0):
        """A file in pickup/ (written in staging/, renamed in)."""
        tmp = os.path.join(self.spool, "staging", ".p." + str(len(name)))
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.chown(tmp, uid, gid)
        os.rename(tmp, os.path.join(self.spool, "pickup", name))

    def inject_as(self, uid, name, text):
        """USER uid drops a maildrop file itself (see INJECT)."""
        r = harness.run_as(uid, harness.SUBMIT_GID,
                           ["python3", "-c", INJECT, os.path.join(self.spool, "maildrop"), name],
                           groups=(), input=text.encode())
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unreadable_files_go_to_bad_once_and_cost_nothing(self):
        fake = self.fake()
        d = self.start_trust(fake)
        msg = message("root@example.com", ["x@example.net"]).encode()
        self.put_pickup("rootonly", msg, mode=0o600)
        self.drop_maildrop(maildrop_message("root@example.com", ["x@example.net"]),
                           name="rootdrop", mode=0o640)
        for name in ("rootonly", "rootdrop"):
            bad = os.path.join(self.spool, "bad", name)
            harness.wait_for(lambda: os.path.exists(bad + ".reason"), 10, "bad/" + name)
            with open(bad + ".reason") as f:
                self.assertIn("cannot open: Permission denied", f.read())
        share = self.observe(d)
        self.assertLess(share, 0.10, "the daemon used %.0f%% of a core" % (share * 100))
        for name in ("rootonly", "rootdrop"):
            got = self.lines_about(d, "name=" + name)
            self.assertEqual(len(got), 1, got)
            self.assertIn("status=bad", got[0])
        self.assertEqual(self.pickup_left(), [])
        # the next good file is sent at once, from either directory
        t0 = time.monotonic()
        self.drop(message("a@example.com", ["good1@example.net"], subject="good one"))
        self.inject_as(A, "good2", maildrop_message("a@example.com", ["good2@example.net"]))
        msgs = self.wait_messages(fake, 2, timeout=5)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(sorted(m["rcpts"][0] for m in msgs),
                         ["good1@example.net", "good2@example.net"])
        d.wait_log(r"pickup id=\w+ source=maildrop uid=%d name=good2 " % A)
        self.stop_outbound(d)

    def test_file_that_cannot_even_reach_bad_backs_off(self):
        # bad/ cannot be written (an operator's chmod): the unreadable file
        # is put back and tried again with backoff, logged once; once bad/
        # works again it lands there; good files go through meanwhile
        fake = self.fake()
        d = self.start_trust(fake)
        bad = os.path.join(self.spool, "bad")
        os.chmod(bad, 0o500)
        self.put_pickup("stuck", message("r@example.com", ["x@example.net"]).encode(),
                        mode=0o600)
        d.wait_log(r"name=stuck status=error retry=backoff")
        # the yardstick: one bad file for 10 s
        share = self.observe(d, 10.0)
        self.assertLess(share, 0.10, "the daemon used %.0f%% of a core" % (share * 100))
        self.assertEqual(len(self.lines_about(d, "name=stuck")), 1)
        self.drop(message("a@example.com", ["good@example.net"]))
        self.wait_messages(fake, 1, timeout=5)
        os.chmod(bad, 0o750)
        harness.wait_for(lambda: os.path.exists(os.path.join(bad, "stuck.reason")), 20,
                         "bad/stuck once bad/ works")
        self.assertEqual(len(self.lines_about(d, "name=stuck")), 2)
        self.assertEqual([n for n in os.listdir(os.path.join(self.spool, "tmp"))
                          if n.startswith("claim.")], [])
        self.stop_outbound(d)

    def test_unloadable_queue_entry_backs_off(self):
        # an entry the daemon cannot read although it owns it (mode 0000;
        # an entry owned by another user is refused at start with 77, see
        # it-root): the daemon logs it once, keeps counting it, tries it
        # again with backoff, and sends it once it is readable again
        fake = self.fake(script={"rcpt": "451 4.7.1 later"})
        d = self.start_trust(fake, extra="retry_min = 3600\nretry_max = 7200\n")
        self.drop(message("a@example.com", ["late@example.net"]))
        qid = d.wait_log(r"out id=(\w+) to=<late@example.net> .*status=deferred").group(1)
        self.stop_outbound(d)
        env = os.path.join(self.spool, "queue", qid + ".env")
        os.chmod(env, 0)
        fake.set(rcpt="250 2.1.5 ok")
        d = self.start_outbound()
        d.wait_log(r"queue id=%s status=unreadable retry=backoff" % qid)
        self.assertRegex(d.log(), r"start version=\S+ .* queue=1\b")
        share = self.observe(d)
        self.assertLess(share, 0.10, "the daemon used %.0f%% of a core" % (share * 100))
        self.assertEqual(len(self.lines_about(d, "id=" + qid)), 1, d.log())
        os.chmod(env, 0o640)
        msgs = self.wait_messages(fake, 1, timeout=30)
        self.assertEqual(msgs[0]["rcpts"], ["late@example.net"])
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_odd_entries_no_loop_no_forged_lines(self):
        fake = self.fake()
        d = self.start_trust(fake)
        pickup = os.path.join(self.spool, "pickup")
        os.mkdir(os.path.join(pickup, "adir"))             # root's: cannot even be moved
        os.symlink("/etc/shadow", os.path.join(pickup, "alink"))
        os.mkfifo(os.path.join(pickup, "afifo"))
        hl = os.path.join(self.spool, "staging", "keep")
        with open(hl, "wb") as f:
            f.write(message("a@example.com", ["hl@example.net"]).encode())
        os.chmod(hl, 0o644)
        os.link(hl, os.path.join(pickup, "hardlinked"))
        long_name = "L" * 250
        self.put_pickup(long_name, message("a@example.com", ["long@example.net"]).encode())
        forged = "x\nsmtpgate-outbound[1]: out id=FAKE to=<v@example.net> status=sent\x1b[2J"
        self.put_pickup(forged, message("a@example.com", ["odd@example.net"]).encode())
        for name in ("alink", "afifo", "hardlinked"):
            harness.wait_for(lambda: os.path.exists(os.path.join(self.spool, "bad",
                                                                 name + ".reason")), 10,
                             "bad/" + name)
        d.wait_log(r"name=adir status=error retry=backoff")
        self.wait_messages(fake, 2)
        share = self.observe(d)
        self.assertLess(share, 0.10, "the daemon used %.0f%% of a core" % (share * 100))
        log = d.log()
        self.assertNotIn("\x1b", log)
        self.assertNotIn("id=FAKE", log)
        self.assertFalse([l for l in log.splitlines() if "status=sent" in l and "FAKE" in l])
        for word in ("name=adir", "name=alink", "name=afifo", "name=hardlinked",
                     "name=" + long_name, "id\\x3dFAKE"):
            got = self.lines_about(d, word)
            self.assertEqual(len(got), 1, (word, got))
        reasons = {}
        for name in ("alink", "afifo", "hardlinked"):
            with open(os.path.join(self.spool, "bad", name + ".reason")) as f:
                reasons[name] = f.read()
        self.assertIn("symbolic link", reasons["alink"])
        self.assertIn("FIFO", reasons["afifo"])
        self.assertIn("hard-linked", reasons["hardlinked"])
        self.assertTrue(os.path.isdir(os.path.join(pickup, "adir")))
        self.assertTrue(d.alive())
        self.stop_outbound(d)

    def test_producer_rewriting_its_file_after_the_take(self):
        # the producer keeps a descriptor to the file it dropped and, once
        # the daemon has it, truncates and rewrites it: the daemon used to
        # send from a mapping of that inode (SIGBUS); now it sends its copy
        fake = self.fake()
        d = self.start_trust(fake)
        body = "".join("line %06d of a big message to be sent as taken\r\n" % i
                       for i in range(400000))      # ~20 MB
        text = maildrop_message("a@example.com", ["big@example.net"], uid=A, body=body)
        md = os.path.join(self.spool, "maildrop")
        tmp = os.path.join(md, ".w.big")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, text.encode())
        os.fchmod(fd, 0o644)
        os.fchown(fd, A, harness.SUBMIT_GID)
        os.rename(tmp, os.path.join(md, "big"))
        d.wait_log(r"pickup id=\w+ source=maildrop uid=%d name=big " % A, 20)
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"X-Sender: <evil@example.org>\r\n" * 1000, 0)
        os.ftruncate(fd, 10)
        os.close(fd)
        msgs = self.wait_messages(fake, 1, timeout=60)
        self.assertTrue(d.alive(), d.log()[-2000:])
        data = msgs[0]["data"]
        want = body.encode()
        self.assertEqual(hashlib.sha256(data[data.index(b"\r\n\r\n") + 4:]).hexdigest(),
                         hashlib.sha256(want).hexdigest())
        self.assertEqual(msgs[0]["rcpts"], ["big@example.net"])
        self.assertNotIn("status=error", d.log())
        self.stop_outbound(d)

    def test_message_lines_cannot_extend_the_envelope(self):
        fake = self.fake()
        d = self.start_trust(fake)
        text = ("X-Sender: <a@example.com>\r\nX-Receiver: <real@example.net>\r\n"
                "X-Smtpgate-Envelope: end\r\n"
                "X-Receiver: <evil@evil.example>\r\nX-Sender: <>\r\n"
                "Received: by gw-out.test (smtpgate-sendmail, from userid %d);\r\n"
                "\tMon, 23 Nov 2026 12:00:00 +0000\r\n"
                "From: a@example.com\r\nTo: real@example.net\r\nSubject: s\r\n\r\nhi\r\n" % A)
        self.inject_as(A, "evil", text)
        # without the end line the file is not taken
        self.inject_as(B, "noend", maildrop_message("b@example.com", ["x@example.net"],
                                                    uid=B, end=False))
        msgs = self.wait_messages(fake, 1)
        self.assertEqual(msgs[0]["rcpts"], ["real@example.net"])
        self.assertEqual(msgs[0]["sender"], "a@example.com")
        self.assertIn(b"X-Receiver: <evil@evil.example>", msgs[0]["data"])
        reason = os.path.join(self.spool, "bad", "noend.reason")
        harness.wait_for(lambda: os.path.exists(reason), 10, "bad/noend")
        with open(reason) as f:
            r = f.read()
        self.assertIn("X-Smtpgate-Envelope: end", r)
        self.assertIn("uid=%d" % B, r)
        d.wait_log(r"source=maildrop uid=%d name=noend status=bad" % B)
        self.assertEqual(fake.message_count(), 1)
        self.stop_outbound(d)

    def test_tmp_is_private_and_a_planted_spare_does_not_block(self):
        fake = self.fake()
        d = self.start_trust(fake)
        tmp = os.path.join(self.spool, "tmp")
        r = harness.run_as(A, A, ["sh", "-c", "echo x > %s/spare.0" % tmp],
                           groups=(harness.SUBMIT_GID, harness.DAEMON_GID))
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(tmp, "spare.0")))
        r = harness.run_as(A, A, ["ls", os.path.join(self.spool, "queue")],
                           groups=(harness.SUBMIT_GID,))
        self.assertNotEqual(r.returncode, 0)
        self.stop_outbound(d)
        # planted by the service user itself (a bug, an operator): a FIFO
        r = harness.run_daemon_user(["mkfifo", os.path.join(tmp, "spare.7")])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = harness.run_daemon_user(["ln", "-s", "/etc/passwd", os.path.join(tmp, "spare.8")])
        self.assertEqual(r.returncode, 0, r.stderr)
        d = self.start_outbound()
        d.wait_log(r"spare=tmp/spare.7 status=removed")
        self.drop(message("a@example.com", ["after@example.net"]))
        self.wait_messages(fake, 1, timeout=10)
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "retry", "all"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        d.wait_log(r"control verb=retry target=all status=ok")
        self.assertFalse(os.path.exists(os.path.join(tmp, "spare.7")))
        self.assertFalse(os.path.lexists(os.path.join(tmp, "spare.8")))
        self.stop_outbound(d)

    def test_queue_files_are_the_daemons_own(self):
        fake = self.fake(script={"rcpt": "451 4.7.1 later"})
        d = self.start_trust(fake, extra="retry_min = 3600\nretry_max = 7200\n")
        md = os.path.join(self.spool, "maildrop")
        self.inject_as(A, "kept", maildrop_message("a@example.com", ["k@example.net"], uid=A))
        qid = d.wait_log(r"pickup id=(\w+) source=maildrop uid=%d name=kept " % A).group(1)
        d.wait_log(r"to=<k@example.net> .*status=deferred")
        for ext in ("msg", "env"):
            st = os.lstat(os.path.join(self.spool, "queue", "%s.%s" % (qid, ext)))
            self.assertEqual(st.st_uid, harness.DAEMON_UID)
            self.assertEqual(st.st_mode & 0o022, 0, oct(st.st_mode))
            self.assertEqual(st.st_nlink, 1)
        # a producer's inode is never queued: the queued .msg is made while
        # the dropped file still exists (claimed in tmp/), so a different
        # inode number means a different file
        tmp = os.path.join(md, ".w.kept2")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, maildrop_message("a@example.com", ["k2@example.net"], uid=A).encode())
        os.fchmod(fd, 0o644)
        os.fchown(fd, A, harness.SUBMIT_GID)
        ino = os.fstat(fd).st_ino
        os.close(fd)
        os.rename(tmp, os.path.join(md, "kept2"))
        qid2 = d.wait_log(r"pickup id=(\w+) source=maildrop uid=%d name=kept2 " % A).group(1)
        st = os.lstat(os.path.join(self.spool, "queue", qid2 + ".msg"))
        self.assertNotEqual(st.st_ino, ino)
        self.assertEqual(st.st_uid, harness.DAEMON_UID)
        self.assertEqual(os.listdir(md), [])
        self.assertEqual(os.listdir(os.path.join(self.spool, "bad")), [])
        self.stop_outbound(d)

    def test_spool_modes_enforced_and_fixed(self):
        fake = self.fake()
        d = self.start_trust(fake)
        self.stop_outbound(d)
        want = {"": 0o751, "tmp": 0o700, "queue": 0o750, "bad": 0o750, "control": 0o1730,
                "maildrop": 0o1730, "pickup": 0o1730, "staging": 0o1770}

        def modes():
            out = {}
            for sub in want:
                st = os.lstat(os.path.join(self.spool, sub))
                out[sub] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            return out

        got = modes()
        for sub, mode in want.items():
            gid = harness.SUBMIT_GID if sub == "maildrop" else harness.DAEMON_GID
            self.assertEqual(got[sub], (mode, harness.DAEMON_UID, gid), sub)
        # an older version's spool: 0750 everywhere, maildrop in the wrong group
        for sub in ("pickup", "tmp", "control", "maildrop"):
            os.chmod(os.path.join(self.spool, sub), 0o750)
        os.chown(os.path.join(self.spool, "maildrop"), harness.DAEMON_UID, harness.DAEMON_GID)
        d = self.start_outbound()
        got = modes()
        for sub, mode in want.items():
            self.assertEqual(got[sub][0], mode, sub)
        self.assertEqual(got["maildrop"][2], harness.SUBMIT_GID)
        fixed = [l for l in d.log().splitlines() if "status=fixed" in l]
        self.assertEqual(len(fixed), 4, fixed)
        self.assertTrue(any(re.search(r"dir=\S+/pickup mode=1730 was=0750", l) for l in fixed))
        self.stop_outbound(d)
        # a submit group the daemon is not in: exit 77 naming the path and the fix
        self.configure([self.host(fake)], extra='submit_group = "64199"\n')
        d = self.start("smtpgate-outbound", self.conf)
        harness.wait_for(lambda: not d.alive(), 10, "exit")
        self.assertEqual(d.proc.returncode, 77, d.log())
        # (the start-time checks smtpgate-check shares catch it before the spool)
        self.assertIn("submit_group 64199: this daemon (uid %d) is not a member, so it "
                      "cannot give maildrop/ that group" % harness.DAEMON_UID, d.log())


if __name__ == "__main__":
    unittest.main()
