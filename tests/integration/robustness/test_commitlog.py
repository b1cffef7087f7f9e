"""The inbound commit log (issue 21): what got 250 survives a kill -9 at any
point exactly once (a reader's deletions accounted for), recovery follows
its rule on a log written by hand (a torn last record dropped), and the
faults of the log's fdatasync, a checkpoint's syncfs, a publish rename and
a full file system are answered without losing or double-storing mail.

Trials of the kill test: SMTPGATE_CLOG_TRIALS (30 here; scripts/clog-soak
runs more).
"""
import email
import os
import random
import re
import smtplib
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

import harness

IS_ROOT = os.geteuid() == 0
GROUP = 'mailbox_group = %d' % harness.MAIL_GID


def harness_write(path, text):
    """Replace the content of a pattern file."""
    with open(path, "w") as f:
        f.write(text)


def record(seq, box, name, msg, ref=False):
    """One commit log record (inbound/README.md "The commit log")."""
    body = box + name + (b"" if ref else msg)
    size = 40 + len(box) + len(name) + (0 if ref else len(msg))
    tail = struct.pack("<IHHQIIQ", size, 2 if ref else 1, len(box), seq, len(name),
                       zlib.crc32(msg), len(msg)) + body
    return struct.pack("<II", 0x31474c53, zlib.crc32(tail)) + tail


def ckpt_slot(counter, seqs):
    """One checkpoint slot: per writer the sequence number covered."""
    b = struct.pack("<QI4x", counter, 16) + b"".join(
        struct.pack("<Q", s) for s in (list(seqs) + [0] * 16)[:16])
    b += b"\0" * (512 - 8 - len(b))
    return struct.pack("<II", 0x4b43474c, zlib.crc32(b)) + b


def read_ckpt(path):
    """(counter, seqs) of the newer valid slot of the checkpoint file."""
    with open(path, "rb") as f:
        data = f.read()
    best = (0, [0] * 16)
    for off in (0, 512):
        s = data[off:off + 512]
        if len(s) == 512 and struct.unpack("<I", s[:4])[0] == 0x4b43474c and \
                struct.unpack("<I", s[4:8])[0] == zlib.crc32(s[8:]):
            counter = struct.unpack("<Q", s[8:16])[0]
            if counter >= best[0]:
                best = (counter, list(struct.unpack("<16Q", s[24:24 + 128])))
    return best


def put(path, data):
    """A file as the daemon would have left it: its owner, the Maildir group."""
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o640)
    if harness.privileged():
        os.chown(path, harness.DAEMON_UID, harness.MAIL_GID)


def maildir_files(spool, box):
    """{path: bytes} of every file in new/ and cur/ of box."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(spool, "mailboxes", box, sub)
        for n in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.join(d, n)] = f.read()
    return out


def message_ids(spool, box, want=0):
    """{Message-ID: [paths]} of box, each file checked whole (its ,S=);
    first waits until box's new/ holds at least want files (the daemon
    publishes a file after its 250: harness.wait_files)."""
    harness.wait_files(os.path.join(spool, "mailboxes", box, "new"), want)
    ids = {}
    for path, raw in maildir_files(spool, box).items():
        m = re.search(r",S=(\d+)", os.path.basename(path))
        assert m and int(m.group(1)) == len(raw), "torn: %s (%d bytes)" % (path, len(raw))
        mid = email.message_from_bytes(raw)["Message-ID"]
        ids.setdefault(mid, []).append(path)
    return ids


def send(port, body, rcpts=("alice@example.com",), timeout=30):
    """One message; (code, text) of the final reply."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=timeout)
    try:
        s.ehlo("clog.example")
        s.mail("f@example.org")
        for r in rcpts:
            s.rcpt(r)
        return s.data(body)
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


# The reader: deletes some files of new/ and moves others to cur/ with a
# flag, as READER_UID in the Maildir group; prints what it did.
READER = r'''
import os, sys, email
new = sys.argv[1]; cur = new[:-3] + "cur"; want = int(sys.argv[2])
done = 0
for n in sorted(os.listdir(new))[:2 * want]:
    p = os.path.join(new, n)
    try:
        mid = email.message_from_bytes(open(p, "rb").read())["Message-ID"]
        if done % 2 == 0:
            os.unlink(p); print("deleted", mid)
        else:
            os.rename(p, os.path.join(cur, n + ":2,S")); print("moved", mid)
        done += 1
    except OSError:
        pass
'''


class CommitLogTest(harness.GatewayTestCase):

    def start_on(self, spool, port, extra="", env=None):
        conf = self.write("clog-%d.conf" % len(self.daemons),
                          harness.inbound_config(spool, port, extra=GROUP + "\n" + extra))
        return self.start("smtpgate-inbound", conf, env=env, wait_port=port)

    def reader(self, spool, box, n):
        """The reader's pass: {Message-ID: "deleted"|"moved"}."""
        argv = harness.as_ids(harness.READER_UID, harness.MAIL_GID, (harness.MAIL_GID,)) + [
            "python3", "-c", READER, os.path.join(spool, "mailboxes", box, "new"), str(n)]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return {l.split(" ", 1)[1]: l.split(" ", 1)[0] for l in out.stdout.splitlines()}

    def test_kill9_at_random_points_exactly_once(self):
        # 20 sessions send; at a random point a reader deletes some
        # messages and flags others into cur/, then the daemon is killed
        # (-9) at another random point and started again on the same
        # spool (recovery).  In the end every acknowledged message is in
        # each of its mailboxes exactly once, a moved one in cur/ only, a
        # deleted one at most once (the duplicate window), and nothing is
        # stored twice or torn.
        trials = int(os.environ.get("SMTPGATE_CLOG_TRIALS", "30"))
        rng = random.Random(os.environ.get("SMTPGATE_CLOG_SEED") or time.time())
        spool, port = self.path("kill-spool"), harness.free_port()
        acked, sent, reader_did = {}, set(), {}
        lock = threading.Lock()
        for trial in range(trials):
            d = self.start_on(spool, port)
            stop = threading.Event()

            def client(k):
                n = 0
                while not stop.is_set():
                    mid = "<t%d-c%d-%d@clog.test>" % (trial, k, n)
                    rcpts = ["alice@example.com"] + (["bob@example.com"] if n % 3 == 0 else [])
                    n += 1
                    body = "Message-ID: %s\r\nSubject: x\r\n\r\n%s\r\n" % (mid, "y" * (n % 7 * 700))
                    with lock:
                        sent.add(mid)
                    try:
                        code, _ = send(port, body, rcpts, timeout=10)
                    except (smtplib.SMTPException, OSError):
                        return
                    if code == 250:
                        with lock:
                            acked[mid] = rcpts
            threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, 0.4))
            reader_did.update(self.reader(spool, "alice", 2))
            time.sleep(rng.uniform(0.0, 0.3))
            d.kill9()
            stop.set()
            for t in threads:
                t.join(30)
        self.assertGreater(len(acked), trials * 20, "too little mail to prove anything")
        d = self.start_on(spool, port)	# the last recovery
        self.assertEqual(d.stop(), 0)
        alice, bob = message_ids(spool, "alice"), message_ids(spool, "bob")
        back = 0
        for mid, rcpts in acked.items():
            for box, ids in (("alice", alice), ("bob", bob)):
                if box + "@example.com" not in rcpts:
                    continue
                paths = ids.get(mid, [])
                if box == "alice" and reader_did.get(mid) == "deleted":
                    self.assertLessEqual(len(paths), 1, (mid, paths))
                    back += len(paths)
                elif box == "alice" and reader_did.get(mid) == "moved":
                    self.assertEqual(len(paths), 1, (mid, paths))
                    self.assertIn("/cur/", paths[0])
                    self.assertTrue(paths[0].endswith(":2,S"), paths[0])
                else:
                    self.assertEqual(len(paths), 1, "acknowledged %s in %s: %s" % (mid, box, paths))
        for ids in (alice, bob):
            for mid, paths in ids.items():
                self.assertIn(mid, sent)
                self.assertEqual(len(paths), 1, "stored twice: %s %s" % (mid, paths))
        print("clog kill test: %d trials, %d acknowledged, reader deleted %d (%d delivered "
              "again), moved %d" % (trials, len(acked),
                                    sum(1 for v in reader_did.values() if v == "deleted"), back,
                                    sum(1 for v in reader_did.values() if v == "moved")))

    def test_recovery_of_a_log_written_by_hand(self):
        # A log as a crash leaves it: records after the checkpoint whose
        # files are missing, empty, flagged in cur/, different, or in tmp/
        # (by reference), records the checkpoint covers (a reader deleted
        # their files), and a torn last record.
        spool, port = self.path("hand-spool"), harness.free_port()
        d = self.start_on(spool, port)
        self.assertEqual(d.stop(), 0)
        box = lambda b, sub: os.path.join(spool, "mailboxes", b, sub)
        msgs = {k: ("Message-ID: <%s@hand>\nSubject: %s\n\nbody of %s\n" % (k, k, k)).encode()
                for k in "ABCDEFGHIJ"}
        name = lambda k: "17000000%s.M1P1Q1.hand,S=%d" % (ord(k), len(msgs[k]))
        # B's rename reached the disk, its data did not
        put(os.path.join(box("alice", "new"), name("B")), b"")
        put(os.path.join(box("bob", "cur"), name("C") + ":2,S"), msgs["C"])	# flagged: kept
        put(os.path.join(box("bob", "cur"), name("D") + ":2,FS"),
            msgs["D"].replace(b"body", b"BODY"))	# same length, other bytes
        put(os.path.join(spool, "tmp", name("E")), msgs["E"])	# by reference, synced
        seg5 = (record(1, b"alice", name("A").encode(), msgs["A"]) +
                record(2, b"alice", name("B").encode(), msgs["B"]) +
                record(3, b"bob", name("C").encode(), msgs["C"]) +
                record(4, b"bob", name("D").encode(), msgs["D"]) +
                record(5, b"alice", name("E").encode(), msgs["E"], ref=True))
        torn = record(6, b"alice", name("F").encode(), msgs["F"])
        seg5 += torn[:len(torn) // 2]
        seg6 = b"".join(record(i + 1, b"alice", name(k).encode(), msgs[k])
                        for i, k in enumerate("GHIJ"))
        logdir = os.path.join(spool, "log")
        for n, data in (("5.0", seg5 + b"\0" * 300), ("6.0", seg6)):
            put(os.path.join(logdir, n), data)
        counter, seqs = read_ckpt(os.path.join(logdir, "checkpoint"))
        seqs[6] = 3		# G, H, I checkpointed (their files since deleted); J not
        with open(os.path.join(logdir, "checkpoint"), "r+b") as f:
            f.write(ckpt_slot(counter + 1, seqs) + ckpt_slot(counter + 2, seqs))
        d = self.start_on(spool, port)
        alice = {k: v for k, v in maildir_files(spool, "alice").items()}
        bob = maildir_files(spool, "bob")
        want_alice = {os.path.join(box("alice", "new"), name(k)): msgs[k] for k in "ABEJ"}
        self.assertEqual(alice, want_alice)		# F torn: dropped; G H I covered
        self.assertEqual(bob, {os.path.join(box("bob", "cur"), name("C") + ":2,S"): msgs["C"],
                               os.path.join(box("bob", "cur"), name("D") + ":2,FS"): msgs["D"]})
        self.assertNotIn(name("E"), os.listdir(os.path.join(spool, "tmp")))
        log = d.log()
        self.assertEqual(log.count("action=published"), 3, log)	# A, E, J
        self.assertEqual(log.count("action=replaced"), 2, log)	# B, D
        self.assertIn("6 messages after the checkpoint checked, 0 could not be stored", log)
        # the start's checkpoint covers them: deleted now, never back
        os.unlink(os.path.join(box("alice", "new"), name("A")))
        self.assertEqual(d.stop(), 0)
        d = self.start_on(spool, port)
        self.assertNotIn(name("A"), os.listdir(box("alice", "new")))
        self.assertNotIn("after the checkpoint checked", d.log())
        self.assertEqual(send(port, "Subject: after\r\n\r\nok\r\n")[0], 250)

    def faulty(self, name, var):
        """A daemon with the fault shim, var naming an (empty) pattern file;
        (daemon, port, spool, pattern file)."""
        pattern = self.write(name + "-pattern", "")
        spool, port = self.path(name + "-spool"), harness.free_port()
        d = self.start_on(spool, port, env=self.shim_env(**{var: pattern}))
        return d, port, spool, pattern

    def test_log_fdatasync_fails(self):
        # the segment's fdatasync fails: 451, nothing in new/; the failed
        # records are wiped and their place and numbers used again, so a
        # restart does not bring the refused message back
        d, port, spool, pattern = self.faulty("fsync", "SMTPGATE_FAIL_FSYNC_FILE")
        self.assertEqual(send(port, "Message-ID: <ok1@x>\r\n\r\nok\r\n")[0], 250)
        harness_write(pattern, "*")
        code, text = send(port, "Message-ID: <no@x>\r\n\r\nrefused\r\n")
        self.assertEqual(code, 451, text)
        self.assertIn(b"4.3.0", text)
        self.assertRegex(d.log(), r"log/\d\.\d: fdatasync: Input/output error")
        self.assertNotIn("<no@x>", message_ids(spool, "alice"))
        harness_write(pattern, "")
        harness.wait_for(lambda: send(port, "Message-ID: <ok2@x>\r\n\r\nok\r\n")[0] == 250,
                         10, "acceptance again")
        d.kill9()
        d = self.start_on(spool, harness.free_port())
        ids = message_ids(spool, "alice")
        self.assertEqual(len(ids.pop("<ok1@x>")), 1)
        self.assertEqual(len(ids.pop("<ok2@x>")), 1)
        self.assertEqual(ids, {})

    def test_checkpoint_syncfs_fails(self):
        # a checkpoint's syncfs fails: what was acknowledged stays (in the
        # log and in new/), acknowledging stops (451) until a checkpoint,
        # after writing those files again, succeeds
        d, port, spool, pattern = self.faulty("syncfs", "SMTPGATE_FAIL_SYNCFS_FILE")
        harness_write(pattern, "tmp")
        self.assertEqual(send(port, "Message-ID: <in-log@x>\r\n\r\nlogged\r\n")[0], 250)
        harness.wait_for(lambda: "checkpoint: syncfs" in d.log(), 10, "the failed checkpoint")
        code, text = send(port, "Message-ID: <refused@x>\r\n\r\nno\r\n")
        self.assertEqual(code, 451, text)
        harness_write(pattern, "")
        harness.wait_for(lambda: "published files durable again" in d.log(), 10, "repair")
        self.assertEqual(send(port, "Message-ID: <after@x>\r\n\r\nok\r\n")[0], 250)
        ids = message_ids(spool, "alice", want=2)
        self.assertEqual(sorted(ids), ["<after@x>", "<in-log@x>"])
        self.assertTrue(all(len(p) == 1 for p in ids.values()), ids)

    def test_publish_rename_fails(self):
        # the rename into new/ fails after the record is durable: the
        # message keeps its 250, the daemon stops acknowledging, and the
        # checkpoint publishes it once renames work again
        d, port, spool, pattern = self.faulty("pub", "SMTPGATE_FAIL_RENAME_FILE")
        harness_write(pattern, "1*")	# Maildir names, by their time
        self.assertEqual(send(port, "Message-ID: <late@x>\r\n\r\nlate\r\n")[0], 250)
        # the publisher thread's rename fails after the 250: it marks the
        # log failed and kicks the checkpoint, whose repair fails too (and
        # logs it: after the mark, so the next message is refused)
        d.wait_log(r"checkpoint: .*; not acknowledging until it succeeds")
        self.assertIn("kept in the commit log", d.log())
        self.assertEqual(message_ids(spool, "alice"), {})
        code, text = send(port, "Message-ID: <refused@x>\r\n\r\nno\r\n")
        self.assertEqual(code, 451, text)
        harness_write(pattern, "")
        harness.wait_for(lambda: "published files durable again" in d.log(), 10, "repair")
        self.assertEqual(send(port, "Message-ID: <after@x>\r\n\r\nok\r\n")[0], 250)
        ids = message_ids(spool, "alice", want=2)
        self.assertEqual(sorted(ids), ["<after@x>", "<late@x>"])
        self.assertTrue(all(len(p) == 1 for p in ids.values()), ids)

    @unittest.skipUnless(IS_ROOT, "mounting a small tmpfs needs root")
    def test_log_on_a_file_system_that_fills_up(self):
        # the log's segments are pre-written, so a full file system still
        # takes records: the message is acknowledged, its publish fails
        # (ENOSPC), then 452 until space is back, when the checkpoint
        # publishes it; nothing lost, nothing twice
        spool = tempfile.mkdtemp(prefix="smtpgate-clogfull-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0750,uid=%d,gid=%d"
                        % (harness.DAEMON_UID, harness.DAEMON_GID), "tmpfs", spool], check=True)
        self.addCleanup(os.rmdir, spool)
        self.addCleanup(subprocess.run, ["umount", "-l", spool])
        port = harness.free_port()
        d = self.start_on(spool, port)
        self.assertEqual(sorted(os.listdir(os.path.join(spool, "log")))[:2], ["0.0", "0.1"])
        self.assertEqual(send(port, "Message-ID: <before@x>\r\n\r\nok\r\n")[0], 250)
        self.assertEqual(len(message_ids(spool, "alice", want=1)), 1)	# published before the fill
        filler = os.path.join(spool, "filler")
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        codes = [send(port, "Message-ID: <full-%d@x>\r\n\r\n%s\r\n" % (i, "z" * 3000))[0]
                 for i in range(3)]
        self.assertIn(452, codes, codes)
        self.assertTrue(set(codes) <= {250, 452}, codes)
        os.unlink(filler)
        harness.wait_for(lambda: send(port, "Message-ID: <after@x>\r\n\r\nok\r\n")[0] == 250,
                         15, "acceptance once space is back")
        # before, the full-N that got 250 and after: each published once
        ids = message_ids(spool, "alice", want=2 + codes.count(250))
        for i, c in enumerate(codes):
            if c == 250:
                self.assertEqual(len(ids.get("<full-%d@x>" % i, [])), 1, ids)
        self.assertTrue(all(len(p) == 1 for p in ids.values()), ids)
        d.kill9()
        d = self.start_on(spool, port)
        again = message_ids(spool, "alice")
        self.assertEqual(again.keys(), ids.keys() | {"<after@x>"})
        self.assertTrue(all(len(p) == 1 for p in again.values()), again)


    @unittest.skipUnless(IS_ROOT, "mounting a small tmpfs needs root")
    def test_full_log_waits_then_refuses_never_acknowledges_early(self):
        # checkpoints slowed down (syncfs takes 6 s) while 10 sessions send
        # 3 MB into a log of 2 MiB (a 16 MB file system: 4 segments of
        # 256 KiB per writer): a writer with no free segment waits for the
        # checkpoint (5 s at most) and then answers 451; what got 250 is
        # there exactly once after a kill -9 and a restart, what got 451
        # is not, and mail is taken again once checkpoints are fast
        spool = tempfile.mkdtemp(prefix="smtpgate-clogslow-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0750,uid=%d,gid=%d"
                        % (harness.DAEMON_UID, harness.DAEMON_GID), "tmpfs", spool], check=True)
        self.addCleanup(os.rmdir, spool)
        self.addCleanup(subprocess.run, ["umount", "-l", spool])
        delay = self.write("syncfs-delay", "0")
        port = harness.free_port()
        d = self.start_on(spool, port, env=self.shim_env(SMTPGATE_SLOW_SYNCFS_FILE=delay))
        self.assertEqual(os.path.getsize(os.path.join(spool, "log", "0.0")), 256 << 10)
        self.assertEqual(send(port, "Message-ID: <first@x>\r\n\r\nok\r\n")[0], 250)
        harness_write(delay, "6000")
        replies, lock = {}, threading.Lock()

        def client(k):
            for i in range(6):
                mid = "<full-%d-%d@x>" % (k, i)
                body = "Message-ID: %s\r\n\r\n%s" % (mid, ("f" * 998 + "\r\n") * 50)
                try:
                    code, _ = send(port, body, timeout=60)
                except (smtplib.SMTPException, OSError):
                    code = 0
                with lock:
                    replies[mid] = code
        threads = [threading.Thread(target=client, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        codes = sorted(set(replies.values()))
        self.assertTrue(set(codes) <= {250, 451}, codes)
        self.assertIn(451, codes, "the log never filled")
        self.assertIn("the commit log is full", d.log())
        harness_write(delay, "0")
        harness.wait_for(lambda: send(port, "Message-ID: <after@x>\r\n\r\nok\r\n")[0] == 250,
                         30, "acceptance with fast checkpoints")
        d.kill9()
        d = self.start_on(spool, port)
        ids = message_ids(spool, "alice")
        for mid, code in replies.items():
            self.assertEqual(len(ids.get(mid, [])), 1 if code == 250 else 0, (mid, code))
        self.assertEqual(len(ids["<first@x>"]), 1)
        self.assertEqual(len(ids["<after@x>"]), 1)


if __name__ == "__main__":
    harness.main()
