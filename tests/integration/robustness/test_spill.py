"""Message bodies past body_memory_limit go to a spill file in the spool's
tmp/ as they arrive, and the daemon-wide memory budget (issue 17, point 1).

Each test runs the real smtpgate-inbound as the service user and checks
what arrives in the Maildir (a hash of the LF form), what is left in tmp/,
and the daemon's peak resident memory (VmHWM) while it receives.
"""
import glob
import hashlib
import os
import socket
import threading
import time
import unittest

import harness

MB = 1024 * 1024
SUBJECT = b"Subject: spill test"


def vm_kb(pid, key):
    """VmHWM / VmRSS of pid in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (key, pid))


def asan_build():
    """True when the daemon is built with AddressSanitizer (its quarantine
    keeps freed memory resident: RSS bounds are scaled)."""
    with open(harness.binary("smtpgate-inbound"), "rb") as f:
        return b"__asan_init" in f.read()


def big_body(size, tag=b""):
    """A message of about size bytes, CRLF lines, some starting with a dot,
    lines up to 1000 bytes long."""
    parts = [SUBJECT + tag + b"\r\n\r\n"]
    n = len(parts[0])
    i = 0
    while n < size:
        line = (b"." if i % 7 == 0 else b"") + b"%08d " % i + b"x" * (i % 990) + b"\r\n"
        parts.append(line)
        n += len(line)
        i += 1
    return b"".join(parts)


def dot_stuff(body):
    """DATA form: leading dots doubled, the end marker added."""
    return body.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def lf_hash(body):
    return hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()


def new_files(spool, box="alice", want=0):
    """Paths of the files in a mailbox's new/, once at least want are there
    (the inbound publishes a file after its 250: harness.wait_files)."""
    harness.wait_files(os.path.join(spool, "mailboxes", box, "new"), want)
    return sorted(glob.glob(os.path.join(spool, "mailboxes", box, "new", "*")))


def tmp_names(spool):
    """What is in the spool's tmp/ apart from the workers' journal probes."""
    return sorted(n for n in os.listdir(os.path.join(spool, "tmp")) if not n.startswith("."))


def stored_hash(path):
    """Hash of a stored message from its Subject on (after the trace block)."""
    with open(path, "rb") as f:
        data = f.read()
    i = data.find(SUBJECT)
    assert i > 0, "no message in %s" % path
    return hashlib.sha256(data[i:]).hexdigest()


class Client:
    """A raw SMTP client with a reply reader."""

    def __init__(self, port, timeout=60):
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.f = self.s.makefile("rb")

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise ConnectionError("closed by server")
            if line[3:4] != b"-":
                return line.decode("latin-1").rstrip("\r\n")

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.reply()

    def start_mail(self, rcpt="alice@example.com"):
        assert self.reply().startswith("220")
        assert self.cmd("EHLO spill.example").startswith("250")
        assert self.cmd("MAIL FROM:<s@example.org>").startswith("250")
        assert self.cmd("RCPT TO:<%s>" % rcpt).startswith("250")

    def close(self):
        for x in (self.f, self.s):
            try:
                x.close()
            except OSError:
                pass


class HwmSampler(threading.Thread):
    """Samples the daemon's VmHWM until stopped (the peak while receiving)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            try:
                self.peak = max(self.peak, vm_kb(self.pid, "VmHWM"))
            except (OSError, AssertionError):
                return

    def stop(self):
        self.done.set()
        self.join(5)
        return self.peak


class SpillTest(harness.GatewayTestCase):
    EXTRA = "max_message_size = 31457280\n"

    def setUp(self):
        super().setUp()
        self.gw, self.port, self.spool = self.start_inbound(extra=self.EXTRA)

    def send_data(self, body):
        c = Client(self.port)
        try:
            c.start_mail()
            self.assertTrue(c.cmd("DATA").startswith("354"))
            c.s.sendall(dot_stuff(body))
            return c.reply()
        finally:
            c.close()

    def send_bdat(self, body, chunk=MB):
        c = Client(self.port)
        try:
            c.start_mail()
            for off in range(0, len(body), chunk):
                piece = body[off:off + chunk]
                last = " LAST" if off + chunk >= len(body) else ""
                c.s.sendall(b"BDAT %d%s\r\n" % (len(piece), last.encode()) + piece)
                r = c.reply()
                if not last:
                    self.assertTrue(r.startswith("250"), r)
            return r
        finally:
            c.close()

    def check_big(self, send):
        body = big_body(20 * MB)
        base = vm_kb(self.gw.pid, "VmHWM")
        sampler = HwmSampler(self.gw.pid)
        sampler.start()
        r = send(body)
        peak = max(sampler.stop(), vm_kb(self.gw.pid, "VmHWM"))
        self.assertTrue(r.startswith("250 2.0.0"), r)
        files = new_files(self.spool, want=1)
        self.assertEqual(len(files), 1)
        self.assertEqual(stored_hash(files[0]), lf_hash(body))
        size = int(files[0].rsplit(",S=", 1)[1])
        self.assertEqual(size, os.path.getsize(files[0]))
        # the publisher thread removes the spill file after the publish
        harness.wait_for(lambda: tmp_names(self.spool) == [], 10, "tmp/ empty after the publish")
        # 20 MB went through; the daemon grew by far less than that
        bound = 12 * 1024 * (4 if asan_build() else 1)
        self.assertLess(peak - base, bound, "VmHWM %d kB -> %d kB" % (base, peak))
        self.assertRegex(self.gw.log(), r"status=delivered")
        self.assertEqual(self.gw.stop(), 0)	# a clean exit (under ASan: no leak)

    def test_20mb_through_data(self):
        self.check_big(self.send_data)

    def test_20mb_through_bdat(self):
        self.check_big(self.send_bdat)

    def test_small_message_stays_in_memory(self):
        body = big_body(20000)
        self.assertTrue(self.send_data(body).startswith("250"))
        files = new_files(self.spool, want=1)
        self.assertEqual(len(files), 1)
        self.assertEqual(stored_hash(files[0]), lf_hash(body))
        self.assertEqual(tmp_names(self.spool), [])

    def test_cut_off_transfer_leaves_nothing(self):
        for verb in ("DATA", "BDAT"):
            c = Client(self.port)
            c.start_mail()
            if verb == "DATA":
                self.assertTrue(c.cmd("DATA").startswith("354"))
                c.s.sendall(big_body(3 * MB))
            else:
                c.s.sendall(b"BDAT %d\r\n" % (6 * MB) + big_body(3 * MB))
            harness.wait_for(lambda: any(n.startswith("spill-") for n in
                                         tmp_names(self.spool)), 10, "a spill file")
            c.close()
            harness.wait_for(lambda: tmp_names(self.spool) == [], 10,
                             "tmp/ empty after the session ended")
        self.assertEqual(new_files(self.spool), [])

    def test_too_big_spilled_message_is_refused_and_removed(self):
        body = big_body(31 * MB)
        r = self.send_data(body)
        self.assertTrue(r.startswith("552 5.3.4"), r)
        self.assertEqual(tmp_names(self.spool), [])
        self.assertEqual(new_files(self.spool), [])

    def test_kill9_mid_transfer_loses_nothing_acknowledged(self):
        acked = big_body(4 * MB, b" acked")
        self.assertTrue(self.send_data(acked).startswith("250"))
        c = Client(self.port)
        c.start_mail()
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.s.sendall(big_body(5 * MB, b" cut"))
        harness.wait_for(lambda: any(n.startswith("spill-") and
                                     os.path.getsize(os.path.join(self.spool, "tmp", n)) > MB
                                     for n in tmp_names(self.spool)), 10, "a spill file")
        self.gw.kill9()
        c.close()
        self.assertTrue(any(n.startswith("spill-") for n in tmp_names(self.spool)))
        conf = self.path("inbound.conf")
        gw = self.start("smtpgate-inbound", conf, wait_port=self.port)
        gw.wait_log(r"removed \d+ stale files")
        self.assertEqual(tmp_names(self.spool), [])
        files = new_files(self.spool)
        self.assertEqual(len(files), 1)
        self.assertEqual(stored_hash(files[0]), lf_hash(acked))
        for box in ("bob", "branch"):
            self.assertEqual(new_files(self.spool, box), [])
        # and the daemon serves again
        self.port_after = self.port
        r = self.send_data(big_body(300 * 1024, b" after"))
        self.assertTrue(r.startswith("250"), r)


class SpillFailureTest(harness.GatewayTestCase):
    def test_spill_file_not_made_refuses_with_452(self):
        pattern = self.write("fail-create", "")	# empty: nothing fails yet
        env = self.shim_env(SMTPGATE_FAIL_CREATE_FILE=pattern)
        port = harness.free_port()
        spool = self.path("in-spool")
        conf = self.write("inbound.conf", harness.inbound_config(spool, port))
        gw = self.start("smtpgate-inbound", conf, env=env, wait_port=port)
        self.write("fail-create", "spill-*")		# ENOSPC for spill files
        c = Client(port)
        try:
            c.start_mail()
            self.assertTrue(c.cmd("DATA").startswith("354"))
            c.s.sendall(dot_stuff(big_body(2 * MB)))
            r = c.reply()
            self.assertTrue(r.startswith("452 4.3.1"), r)
            # the session goes on: a small message is still accepted
            self.assertTrue(c.cmd("MAIL FROM:<s@example.org>").startswith("250"))
            self.assertTrue(c.cmd("RCPT TO:<alice@example.com>").startswith("250"))
            self.assertTrue(c.cmd("DATA").startswith("354"))
            c.s.sendall(dot_stuff(big_body(1000)))
            self.assertTrue(c.reply().startswith("250"))
        finally:
            c.close()
        self.assertEqual(len(new_files(spool, want=1)), 1)
        self.assertEqual(tmp_names(spool), [])
        self.assertRegex(gw.log(), r"spill: .*spill-.*No space left")
        self.assertRegex(gw.log(), r"status=deferred reason=.*message body not kept")


class BudgetTest(harness.GatewayTestCase):
    """A tiny memory budget held by sessions that pipelined input while the
    disk is slow: a new connection gets 421 4.3.2, the sessions are slowed
    and not killed, a legitimate transaction completes after them."""

    PARKERS = 6

    def test_budget_refuses_new_connections_and_slows(self):
        delay = self.write("fsync-delay-ms", "0")
        env = self.shim_env(SMTPGATE_SLOW_FSYNC_FILE=delay)
        port = harness.free_port()
        spool = self.path("in-spool")
        conf = self.write("inbound.conf", harness.inbound_config(
            spool, port, extra="memory_budget = 1048576\nbody_memory_limit = 65536\n"
            "max_connections_per_client = 100\n"))
        gw = self.start("smtpgate-inbound", conf, env=env, wait_port=port)
        self.write("fsync-delay-ms", "2000")  # the disk is slow from now on
        noops = 50000
        results = [None] * self.PARKERS
        ready = threading.Barrier(self.PARKERS, timeout=30)

        def parker(i):
            c = Client(port, timeout=120)
            try:
                c.start_mail()
                assert c.cmd("DATA").startswith("354")
                ready.wait()	# every parker is in before the budget fills
                # the message, and pipelined behind it 300 KB the daemon
                # cannot read on until the message is on disk
                c.s.sendall(b"Subject: parked\r\n\r\nhello\r\n.\r\n")
                sender = threading.Thread(target=c.s.sendall, args=(b"NOOP\r\n" * noops,))
                sender.start()
                first = c.reply()
                ok = sum(c.reply().startswith("250") for _ in range(noops))
                sender.join(60)
                results[i] = (first, ok, c.cmd("QUIT"))
            except (OSError, ConnectionError, AssertionError, threading.BrokenBarrierError) as e:
                results[i] = ("error", 0, repr(e))
            finally:
                c.close()

        threads = [threading.Thread(target=parker, args=(i,)) for i in range(self.PARKERS)]
        for t in threads:
            t.start()
        refused = []

        def probe():
            c = Client(port, timeout=10)
            try:
                r = c.reply()
                if r.startswith("421"):
                    refused.append(r)
                    return True
                c.cmd("QUIT")
                return False
            finally:
                c.close()

        harness.wait_for(probe, 20, "421 while the budget is full")
        self.assertIn("4.3.2", refused[0])
        self.write("fsync-delay-ms", "0")
        for t in threads:
            t.join(120)
        for r in results:
            self.assertIsNotNone(r)
            self.assertTrue(r[0].startswith("250 2.0.0"), r)
            self.assertEqual(r[1], noops, r)
            self.assertTrue(r[2].startswith("221"), r)
        c = Client(port)
        try:
            c.start_mail()
            self.assertTrue(c.cmd("DATA").startswith("354"))
            c.s.sendall(b"Subject: legit\r\n\r\nafter\r\n.\r\n")
            self.assertTrue(c.reply().startswith("250 2.0.0"))
        finally:
            c.close()
        self.assertEqual(len(new_files(spool, want=self.PARKERS + 1)), self.PARKERS + 1)
        log = gw.log()
        self.assertRegex(log, r"status=refused reason=memory-budget count=\d+")
        self.assertNotIn("greeting=busy", log)
        self.assertNotIn("timeout=", log)


if __name__ == "__main__":
    harness.main()
