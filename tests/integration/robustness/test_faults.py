"""Faults against the real smtpgate-inbound (issue 7): a full disk, write-back
errors, a spool that becomes unwritable, a slow disk, SIGTERM in the middle
of DATA, and the order in which a message is made durable.

Nothing acknowledged with 250 may be lost, nothing partial may appear in
any Maildir new/, and the gateway must keep answering other sessions.
"""
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness

IS_ROOT = os.geteuid() == 0


def new_files(spool, box="alice", want=0):
    """The names in a mailbox's new/, once at least want are there (the
    inbound publishes a file after its 250: harness.wait_files)."""
    return harness.wait_files(os.path.join(spool, "mailboxes", box, "new"), want)


def tmp_files(spool):
    """The spool's tmp/ files, less the daemon's own (a journal probe per
    delivery thread, named with a leading dot like nothing it delivers)."""
    return sorted(f for f in os.listdir(os.path.join(spool, "tmp")) if not f.startswith("."))


def send(port, body, rcpt="alice@example.com", timeout=30):
    """Send one message; return (code, text) of the final reply."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    try:
        s.ehlo("fault.example")
        s.mail("f@example.org")
        s.rcpt(rcpt)
        return s.data(body)
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


class FaultTest(harness.GatewayTestCase):
    def start_shimmed(self, name, **extra):
        """An inbound daemon with the fault shim preloaded (extra: its
        settings) on <name>-spool; returns (daemon, port, spool)."""
        env = self.shim_env(**extra)
        port = harness.free_port()
        spool = self.path(name + "-spool")
        conf = self.write(name + ".conf", harness.inbound_config(spool, port))
        return self.start("smtpgate-inbound", conf, env=env, wait_port=port), port, spool

    @unittest.skipUnless(IS_ROOT, "mounting a small tmpfs needs root")
    def test_disk_full_during_data(self):
        # outside self.tmp: cleanups run after tearDown has stopped the daemon
        spool = tempfile.mkdtemp(prefix="smtpgate-full-")
        # the spool is the service user's, as an admin would mount it
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0750,uid=%d,gid=%d"
                        % (harness.DAEMON_UID, harness.DAEMON_GID), "tmpfs", spool], check=True)
        self.addCleanup(os.rmdir, spool)
        self.addCleanup(subprocess.run, ["umount", "-l", spool])
        # spool_min_free off: this is the disk filling under DATA itself
        # (the reserve, which refuses at MAIL first, is test_conventions')
        gw, port, _ = self.start_inbound(spool=spool, extra="max_message_size = 52428800\n"
                                         "spool_min_free = \"0\"")
        # fill the filesystem almost completely
        filler = os.path.join(spool, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        code, text = send(port, "Subject: big\r\n\r\n" + ("y" * 998 + "\r\n") * 3000)
        self.assertEqual(code, 452, text)
        self.assertIn(b"4.3.1", text)
        self.assertEqual(new_files(spool), [])
        self.assertEqual(tmp_files(spool), [])
        # space freed: service resumes without a restart
        os.unlink(filler)
        code, text = send(port, "Subject: after\r\n\r\nspace again\r\n")
        self.assertEqual(code, 250, text)
        self.assertEqual(len(new_files(spool, want=1)), 1)
        self.assertTrue(gw.alive())

    @unittest.skipUnless(IS_ROOT and shutil.which("losetup") and shutil.which("mkfs.ext4"),
                         "needs root, losetup and mkfs.ext4")
    def test_write_back_error_is_never_acknowledged(self):
        # The spool is an ext4 on a loop device whose backing file sits on a
        # small tmpfs: once that is full, the kernel's write-back of the
        # files fails after write(2) succeeded, and only a sync reports it
        # (once per open file description).  Concurrent sessions, so both
        # workers sync.  Whatever got 250 must be whole once the file
        # system is mounted again (the page cache dropped), and new/ may
        # hold nothing torn.
        base = tempfile.mkdtemp(prefix="smtpgate-eio-")
        os.chmod(base, 0o755)	# the service user passes through to its spool
        back, mnt = os.path.join(base, "back"), os.path.join(base, "mnt")
        os.mkdir(back)
        os.mkdir(mnt)
        self.addCleanup(shutil.rmtree, base, True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", back], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", back])
        img = os.path.join(back, "img")
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
        loop = subprocess.run(["losetup", "-f", "--show", img], capture_output=True, text=True)
        if loop.returncode != 0:
            self.skipTest("no loop device here: " + loop.stderr.strip())
        dev = loop.stdout.strip()
        self.addCleanup(subprocess.run, ["losetup", "-d", dev])
        mnt_rc = subprocess.run(["mount", dev, mnt], capture_output=True, text=True)
        if mnt_rc.returncode != 0:
            self.skipTest("cannot mount a loop device here: " + mnt_rc.stderr.strip())
        mounted = [True]

        def unmount():
            if mounted[0]:
                subprocess.run(["umount", mnt], check=True)
                mounted[0] = False
        self.addCleanup(unmount)
        # a fresh ext4 is root's: give the service user its spool on it, as
        # an admin would (the daemon runs unprivileged and creates nothing
        # outside what it owns)
        spool = os.path.join(mnt, "spool")
        os.mkdir(spool, 0o750)
        if harness.privileged():
            os.chown(spool, harness.DAEMON_UID, harness.DAEMON_GID)
        gw, port, _ = self.start_inbound(spool=spool, extra="max_message_size = 52428800\n"
                                         "spool_min_free = \"0\"")	# the write-back path
        # leave ~2 MB of backing store: far less than the mail below
        with open(os.path.join(back, "filler"), "wb") as f:
            f.write(b"\0" * (os.statvfs(back).f_bavail * os.statvfs(back).f_frsize - (2 << 20)))
        acked, refused, lock = {}, [], threading.Lock()

        def sender(k):
            for i in range(6):
                tag = "eio-%d-%d" % (k, i)
                body = "Subject: %s\r\n\r\n" % tag + ("%s %s\r\n" % (tag, "z" * 990)) * 200
                try:
                    code, text = send(port, body)
                except (smtplib.SMTPException, OSError) as e:
                    code, text = 0, str(e).encode()
                with lock:
                    if code == 250:
                        acked[tag] = body
                    else:
                        refused.append((code, text))

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertTrue(refused, "the full backing store refused nothing")
        for code, text in refused:
            self.assertIn(code, (451, 452), text)
        self.assertTrue(gw.alive())
        gw.stop()
        unmount()
        subprocess.run(["mount", dev, mnt], check=True)
        mounted[0] = True
        # what got 250 is in the commit log: a start (with the backing store
        # freed) brings every acknowledged message into its Maildir
        os.unlink(os.path.join(back, "filler"))
        gw2, _, _ = self.start_inbound(spool=spool, extra="max_message_size = 52428800")
        gw2.stop()
        found = {}
        newdir = os.path.join(spool, "mailboxes", "alice", "new")
        for name in os.listdir(newdir):
            with open(os.path.join(newdir, name), "rb") as f:
                data = f.read()
            self.assertEqual(len(data), int(name.rsplit(",S=", 1)[1]), "torn: " + name)
            m = re.search(rb"Subject: (eio-\d+-\d+)\n", data)
            self.assertIsNotNone(m, "no subject in " + name)
            found[m.group(1).decode()] = data
        for tag, body in acked.items():
            self.assertIn(tag, found, "acknowledged with 250, lost: " + tag)
            # stored with LF line ends (the Maildir convention)
            self.assertTrue(found[tag].endswith(body.replace("\r\n", "\n").encode()),
                            "acknowledged, damaged: " + tag)

    @unittest.skipUnless(IS_ROOT and shutil.which("setpriv"), "needs root and setpriv to drop privileges")
    def test_spool_becomes_unwritable(self):
        spool = self.path("nobody-spool")
        os.mkdir(spool)
        os.chmod(self.tmp, 0o755)
        os.chown(spool, 65534, 65534)
        port = harness.free_port()
        conf = self.write("inbound.conf", harness.inbound_config(spool, port))
        os.chmod(conf, 0o644)
        log = self.path("nobody.log")
        d = harness.Daemon(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            harness.binary("smtpgate-inbound"), "-f", "-c", conf], log)
        self.daemons.append(d)
        harness.wait_for(lambda: harness.port_open(port) or not d.alive(), 10, "inbound as nobody")
        self.assertTrue(d.alive(), d.log())
        self.assertEqual(send(port, "Subject: one\r\n\r\nok\r\n")[0], 250)
        self.assertEqual(len(new_files(spool, want=1)), 1)	# published before new/ is closed
        new = os.path.join(spool, "mailboxes", "alice", "new")
        os.chmod(new, 0o555)
        code, text = send(port, "Subject: two\r\n\r\nrefused\r\n")
        self.assertEqual(code, 451, text)
        self.assertIn(b"4.3.0", text)
        self.assertEqual(len(new_files(spool)), 1)
        self.assertEqual(tmp_files(spool), [])
        self.assertRegex(d.log(), r"Permission denied")
        os.chmod(new, 0o755)
        self.assertEqual(send(port, "Subject: three\r\n\r\nok\r\n")[0], 250)
        self.assertEqual(len(new_files(spool, want=2)), 2)

    def test_slow_disk_does_not_stall_other_sessions(self):
        delay = self.write("fsync-delay-ms", "0")
        d, port, spool = self.start_shimmed("slow", SMTPGATE_SLOW_FSYNC_FILE=delay)
        self.write("fsync-delay-ms", "1500")  # from now on the disk is slow
        result = {}

        def slow_sender():
            result["reply"] = send(port, "Subject: slow\r\n\r\nslow disk\r\n", timeout=60)

        t = threading.Thread(target=slow_sender)
        t.start()
        # wait until the slow message is inside the delivery (its DATA is done)
        harness.wait_for(lambda: tmp_files(spool) or new_files(spool), 10, "delivery started")
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port), 5)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220"))
        s.sendall(b"EHLO quick.example\r\n")
        while True:
            line = f.readline()
            if line[3:4] != b"-":
                break
        s.sendall(b"NOOP\r\n")
        self.assertTrue(f.readline().startswith(b"250"))
        elapsed = time.monotonic() - t0
        s.close()
        self.assertLess(elapsed, 1.0, "a slow fsync stalled another session for %.2fs" % elapsed)
        t.join(60)
        self.assertEqual(result["reply"][0], 250)
        self.assertEqual(len(new_files(spool, want=1)), 1)
        self.assertTrue(d.alive())

    def test_publish_without_rename_noreplace(self):
        # a file system without RENAME_NOREPLACE: one warning, then every
        # message is published by link and unlink, nothing left in tmp/
        d, port, spool = self.start_shimmed("link", SMTPGATE_NO_RENAME_NOREPLACE="1")
        for i in range(3):
            self.assertEqual(send(port, "Subject: %d\r\n\r\nby link\r\n" % i)[0], 250)
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        s.ehlo("fault.example")
        s.sendmail("f@example.org", ["alice@example.com", "bob@example.com"],
                   "Subject: both\r\n\r\ntwo mailboxes\r\n")
        s.quit()
        self.assertEqual(len(new_files(spool, want=4)), 4)
        self.assertEqual(len(new_files(spool, "bob", want=1)), 1)
        # the publisher unlinks tmp/'s name just after the link into new/
        harness.wait_for(lambda: tmp_files(spool) == [], 10, "tmp/ empty after the links")
        self.assertEqual(d.log().count("rename without replacing is not supported"), 1, d.log())
        with open(os.path.join(spool, "mailboxes", "bob", "new", new_files(spool, "bob")[0]), "rb") as f:
            self.assertIn(b"Delivered-To: bob@example.com", f.read())

    def test_journal_that_stopped_committing_is_never_acknowledged(self):
        # After a checkpoint's syncfs, renaming a probe file in tmp/ proves
        # that the file system still commits: ext4 reports an aborted
        # journal to the thread that waited for the failed commit, and a
        # later syncfs that finds nothing to commit returns 0.  Here that
        # rename fails (EROFS, as with an aborted journal): the message
        # already in the commit log keeps its 250 and its file, the next
        # ones get 451 until a checkpoint succeeds again, and then mail is
        # taken again.
        pattern = self.write("fail-rename", "")
        d, port, spool = self.start_shimmed("probe", SMTPGATE_FAIL_RENAME_FILE=pattern)
        self.assertEqual(send(port, "Subject: before\r\n\r\nkept\r\n")[0], 250)
        self.assertEqual(len(new_files(spool, want=1)), 1)
        with open(pattern, "w") as f:
            f.write(".journal-probe.*")
        self.assertEqual(send(port, "Subject: during\r\n\r\nlogged\r\n")[0], 250)
        harness.wait_for(lambda: "the file system takes no more changes: Read-only file system"
                         in d.log(), 10, "the failed checkpoint")
        code, text = send(port, "Subject: refused\r\n\r\nrefused\r\n")
        self.assertEqual(code, 451, text)
        self.assertIn(b"4.3.0", text)
        # the logged one is published (its 250 stands), the refused one not
        self.assertEqual(len(new_files(spool, want=2)), 2, "a refused message stayed in new/")
        self.assertEqual(tmp_files(spool), [])
        with open(pattern, "w") as f:
            f.write("")
        harness.wait_for(lambda: "published files durable again" in d.log(),
                         10, "a checkpoint that succeeds")
        self.assertEqual(send(port, "Subject: after\r\n\r\nkept\r\n")[0], 250)
        self.assertEqual(len(new_files(spool, want=3)), 3)
        self.assertTrue(d.alive())
        d.stop()

    def test_journal_probe_removed_by_hand_is_made_again(self):
        # an operator who clears tmp/ of everything, dot files too, costs
        # one warning: the probe is made again (which proves the same) and
        # no message is refused for it
        d, port, spool = self.start_inbound(spool=self.path("cleared-spool"))
        self.assertEqual(send(port, "Subject: one\r\n\r\nx\r\n")[0], 250)
        tmp = os.path.join(spool, "tmp")
        # one probe, the checkpoint thread's
        harness.wait_for(lambda: [f for f in os.listdir(tmp) if f.startswith(".journal-probe.")],
                         10, "the probe")
        probes = [f for f in os.listdir(tmp) if f.startswith(".journal-probe.")]
        self.assertEqual(len(probes), 1, os.listdir(tmp))
        for f in probes:
            os.unlink(os.path.join(tmp, f))
        for i in range(4):
            self.assertEqual(send(port, "Subject: %d\r\n\r\nx\r\n" % i)[0], 250)
        self.assertEqual(len(new_files(spool, want=5)), 5)
        made = harness.wait_for(lambda: d.log().count("missing; made again"), 10,
                                "the probe made again")
        self.assertEqual(len([f for f in os.listdir(tmp) if f.startswith(".journal-probe.")]),
                         made, os.listdir(tmp))
        self.assertNotIn("takes no more changes", d.log())

    def check_publish_order(self, link_only):
        # SPEC: durable before 250.  The message's commit log record is
        # fdatasync'ed (its segment log/N.K) before its file is even made in
        # tmp/, the file is renamed into new/ afterwards, and a checkpoint's
        # syncfs follows (the new/ entry durable, the log space reusable).
        # Messages go one at a time, so the trace (each line written before
        # its call) is that of one worker.
        trace = self.path("fstrace-%d" % link_only)
        env = self.shim_env(SMTPGATE_FSTRACE_FILE=trace)
        if link_only:
            env["SMTPGATE_NO_RENAME_NOREPLACE"] = "1"
        port = harness.free_port()
        spool = self.path("order-spool-%d" % link_only)
        conf = self.write("order-%d.conf" % link_only, harness.inbound_config(spool, port))
        d = self.start("smtpgate-inbound", conf, env=env, wait_port=port)
        publish = re.compile(r"^(rename|link) (\S+/tmp/(\S+)) (\S+/mailboxes/\w+/new/(\S+))$")
        logsync = re.compile(r"^fsync \S+/log/\d+\.\d+$")
        checked = 0
        for i, rcpts in enumerate([["alice@example.com"]] * 3 +
                                  [["alice@example.com", "bob@example.com"]]):
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.ehlo("fault.example")
            s.sendmail("f@example.org", rcpts, "Subject: order %d\r\n\r\nbody\r\n" % i)
            s.quit()
            # the 250 is in: the publisher thread renames the files into
            # new/ a moment later (each trace line is written before its call)
            def traced():
                with open(trace) as f:
                    lines = f.read().splitlines()
                pubs = [(k, m) for k, m in ((k, publish.match(l)) for k, l in enumerate(lines))
                        if m]
                return (lines, pubs) if len(pubs) >= checked + len(rcpts) else None
            lines, pubs = harness.wait_for(traced, harness.publish_timeout(len(rcpts)),
                                           "the publish of message %d traced" % i)
            self.assertEqual(len(pubs), checked + len(rcpts), "\n".join(lines))
            for k, m in pubs[checked:]:
                self.assertEqual(m.group(3), m.group(5))
                created = [j for j in range(k) if lines[j] == "create " + m.group(2)]
                self.assertEqual(len(created), 1, "no creation traced for " + m.group(2))
                prev = pubs[checked - 1][0] if checked else -1
                self.assertTrue([l for l in lines[prev + 1:created[0]] if logsync.match(l)],
                                "made before its record was synced:\n" +
                                "\n".join(lines[prev + 1:k + 1]))
            checked = len(pubs)
            harness.wait_for(lambda: [l for l in open(trace).read().splitlines()[pubs[-1][0]:]
                                      if l.startswith("syncfs")], 10,
                             "a checkpoint after the publish")
        self.assertEqual(len(new_files(spool, want=4)), 4)
        self.assertEqual(len(new_files(spool, "bob", want=1)), 1)
        # by link: tmp/'s name is unlinked just after the link into new/
        harness.wait_for(lambda: tmp_files(spool) == [], 10, "tmp/ empty after the publish")
        d.stop()

    def test_data_synced_before_it_is_published(self):
        self.check_publish_order(link_only=False)

    def test_data_synced_before_it_is_linked(self):
        self.check_publish_order(link_only=True)

    def test_sigterm_in_the_middle_of_data(self):
        gw, port, spool = self.start_inbound()
        s = socket.create_connection(("127.0.0.1", port), 10)
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line

        reply()
        s.sendall(b"EHLO term.example\r\nMAIL FROM:<t@example.org>\r\n"
                  b"RCPT TO:<alice@example.com>\r\nDATA\r\n")
        reply(), reply(), reply()
        self.assertTrue(reply().startswith(b"354"))
        s.sendall(b"Subject: in flight\r\n\r\nfirst half\r\n")
        idle = socket.create_connection(("127.0.0.1", port), 10)
        idle_f = idle.makefile("rb")
        self.assertTrue(idle_f.readline().startswith(b"220"))
        gw.send_signal(signal.SIGTERM)
        # the idle session is told the service is going away
        self.assertTrue(idle_f.readline().startswith(b"421"))
        # no new connections are accepted
        harness.wait_for(lambda: not harness.port_open(port), 5, "listener closed")
        # the transaction in DATA may finish within the grace period
        s.sendall(b"second half\r\n.\r\n")
        r = reply()
        self.assertTrue(r.startswith(b"250"), r)
        s.close()
        self.assertEqual(gw.proc.wait(15), 0)
        files = new_files(spool)
        self.assertEqual(len(files), 1)
        with open(os.path.join(spool, "mailboxes", "alice", "new", files[0])) as fh:
            self.assertIn("second half", fh.read())


if __name__ == "__main__":
    harness.main()
