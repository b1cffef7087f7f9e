"""it-outbound-diskwork: the event loop never waits for the disk.

A deferral rewrites the message's queue/<id>.env and a bounce queues a
DSN; both are handed to the disk worker, which stores everything waiting
with one group sync.  The fault shim (slowfsync.so) traces every fsync,
syncfs, creation and rename, marking the calls made by the main thread
(the event loop), slows every sync down, and can make file creation fail.

Checked here: with a slow disk, many deferrals and bounces cause no sync
on the main thread and far fewer syncs than updates; and a DSN that cannot
be stored leaves the bounced message queued with its state, to be bounced
once the disk works again (nothing lost, nothing sent twice).
"""

import os
import re
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness                  # noqa: E402
from outbound_case import OutboundCase, message  # noqa: E402

N = 40
SYNC = re.compile(r"^(fsync|syncfs) ")


class DiskWorkTest(OutboundCase):
    """State updates go to the disk worker, in groups."""

    def dsns(self, fake):
        return [m for m in fake.snapshot()[1] if m["sender"] == ""]

    def trace_lines(self, trace):
        with open(trace) as f:
            return f.read().splitlines()

    def test_deferrals_and_bounces_never_sync_on_the_loop(self):
        trace = self.trace_file()
        slow = self.write("slow-ms", "0")
        # the "grey" recipients get a 451 (a deferral: a new .env), the
        # "bad" ones a 550 (a bounce: a DSN to queue, then the removal)
        rcpt = {"bad%d@example.net" % i: "550 5.1.1 no such user" for i in range(N)}
        rcpt.update({"grey%d@example.net" % i: "451 4.7.1 later" for i in range(N)})
        fake = self.fake(script={"rcpt": rcpt})
        self.configure([self.host(fake)], extra="retry_min = 3600\nretry_max = 7200\n")
        env = self.shim_env(SMTPGATE_FSTRACE_FILE=trace, SMTPGATE_FSTRACE_THREADS="1",
                            SMTPGATE_SLOW_FSYNC_FILE=slow)
        d = self.start("smtpgate-outbound", self.conf, env=env)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        started = len(self.trace_lines(trace))
        with open(slow, "w") as f:
            f.write("30")   # every sync now waits 30 ms, like a loaded disk
        for i in range(N):
            self.drop(message("s%d@example.com" % i, ["grey%d@example.net" % i],
                              subject="grey %d" % i))
            self.drop(message("s%d@example.com" % i, ["bad%d@example.net" % i],
                              subject="bad %d" % i))
        harness.wait_for(lambda: d.log().count("status=deferred") >= N, 60,
                         "%d deferrals" % N)
        harness.wait_for(lambda: len(self.dsns(fake)) >= N, 60, "%d DSNs" % N)
        harness.wait_for(lambda: len(self.queued()) == N, 30,
                         "only the %d deferred messages queued" % N)
        self.assertTrue(d.alive(), d.log())
        lines = self.trace_lines(trace)[started:]
        on_loop = [l for l in lines if SYNC.match(l) and l.endswith(" main")]
        self.assertEqual(on_loop, [], "the event loop waited for the disk")
        # 2N updates (N new .env files, N DSNs) and 2N pickups: grouped
        syncs = [l for l in lines if SYNC.match(l)]
        self.assertLess(len(syncs), 2 * N, "updates are not grouped:\n" + "\n".join(syncs))
        # each deferred message's state says what happened
        for path in self.queued():
            with open(path) as f:
                env_text = f.read()
            self.assertIn("attempts=1", env_text)
            self.assertRegex(env_text, r"451")
        with open(slow, "w") as f:
            f.write("0")
        self.stop_outbound(d)

    def test_dsn_that_cannot_be_stored_is_tried_again(self):
        fail = self.write("fail-create", "put.*.msg")   # a DSN's message file
        fake = self.fake(script={"rcpt": {"bad@example.net": "550 5.1.1 no such user"}})
        self.configure([self.host(fake)], extra="retry_min = 3600\nretry_max = 7200\n")
        env = self.shim_env(SMTPGATE_FAIL_CREATE_FILE=fail)
        d = self.start("smtpgate-outbound", self.conf, env=env)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        self.drop(message("alice@example.com", ["good@example.net", "bad@example.net"],
                          subject="partial"))
        d.wait_log(r"dsn orig=\w+ kind=failed status=error: .*No space left on device")
        qid = re.search(r"dsn orig=(\w+) kind=failed status=error", d.log()).group(1)
        env_path = os.path.join(self.spool, "queue", qid + ".env")
        # still queued, with what happened: good delivered, bad failed, not bounced
        harness.wait_for(lambda: "attempts=1" in self.read(env_path), 10, "the state stored")
        state = self.read(env_path)
        self.assertIn("bounced=0", state)
        self.assertIn("rcpt=delivered good@example.net", state)
        self.assertIn("rcpt=failed bad@example.net", state)
        self.assertEqual(self.dsns(fake), [])
        self.assertEqual(len([m for m in fake.snapshot()[1] if m["sender"]]), 1)
        # the disk works again; an administrator retries it now
        os.unlink(fail)
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "retry", qid])
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: self.dsns(fake), 20, "the DSN at the fake")
        d.wait_log(r"done id=%s delivered=1 failed=1" % qid)
        self.wait_queue_empty()
        self.assertEqual(len(self.dsns(fake)), 1)
        # good@ got the message once: the retry did not send it again
        sent = [m for m in fake.snapshot()[1] if m["sender"] == "alice@example.com"]
        self.assertEqual([m["rcpts"] for m in sent], [["good@example.net"]])
        data = self.dsns(fake)[0]["data"].decode("utf-8", "replace")
        self.assertRegex(data, r"Final-Recipient: rfc822;\s*bad@example.net")
        self.stop_outbound(d)

    def test_delay_notice_that_cannot_be_stored_is_sent_later_once(self):
        fail = self.write("fail-create", "put.*.msg")
        fake = self.fake(script={"rcpt": {"slow@example.net": "451 4.7.1 later"}})
        self.configure([self.host(fake)], extra="delay_warning = 1\n")
        env = self.shim_env(SMTPGATE_FAIL_CREATE_FILE=fail)
        d = self.start("smtpgate-outbound", self.conf, env=env)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        self.drop(message("alice@example.com", ["slow@example.net"], subject="slowly"))
        m = d.wait_log(r"dsn orig=(\w+) kind=delayed status=error: .*No space left", 20)
        env_path = os.path.join(self.spool, "queue", m.group(1) + ".env")
        harness.wait_for(lambda: "delay_warned=0" in self.read(env_path), 10,
                         "the state without the notice stored")
        os.unlink(fail)
        harness.wait_for(lambda: self.dsns(fake), 20, "the delayed DSN")
        harness.wait_for(lambda: "delay_warned=1" in self.read(env_path), 10,
                         "delay_warned stored")
        d.wait_log(r"to=<slow@example.net> .*status=deferred .*attempts=%d" %
                   (int(re.findall(r"attempts=(\d+)", self.read(env_path))[0]) + 1), 20)
        dsns = self.dsns(fake)
        self.assertEqual(len(dsns), 1)
        self.assertRegex(dsns[0]["data"].decode("utf-8", "replace"), r"Action: delayed")
        self.stop_outbound(d)

    def test_retries_are_loaded_off_the_loop(self):
        # deferred messages come due again: their entry and message are
        # read by the worker, not by the event loop
        trace = self.trace_file()
        rcpt = {"r%d@example.net" % i: ["451 4.7.1 later", "250 2.0.0 ok"] for i in range(N)}
        fake = self.fake(script={"rcpt": rcpt})
        self.configure([self.host(fake)])
        env = self.shim_env(SMTPGATE_FSTRACE_FILE=trace, SMTPGATE_FSTRACE_THREADS="1",
                            SMTPGATE_FSTRACE_OPENS="1")
        d = self.start("smtpgate-outbound", self.conf, env=env)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        started = len(self.trace_lines(trace))
        for i in range(N):
            self.drop(message("s%d@example.com" % i, ["r%d@example.net" % i],
                              subject="retry %d" % i))
        harness.wait_for(lambda: d.log().count("status=deferred") >= N, 30, "%d deferrals" % N)
        self.wait_messages(fake, N, 30)
        self.wait_queue_empty()
        self.assertEqual(d.log().count("status=sent"), N)
        lines = self.trace_lines(trace)[started:]
        queue = os.path.join(self.spool, "queue") + "/"
        reads = [l for l in lines if l.startswith("open " + queue)]
        self.assertGreaterEqual(len(reads), N, "the retries' files were never opened?")
        on_loop = [l for l in reads if l.endswith(" main")]
        self.assertEqual(on_loop, [], "the event loop read the queue")
        self.stop_outbound(d)

    def test_messages_beyond_the_memory_budget_are_read_off_the_loop(self):
        # bodies are held in memory up to 32 MB; beyond that a message is
        # mapped instead, and its pages read in by the worker: twelve 4 MB
        # messages claimed in one batch, then due again all at once, open no
        # queue file on the event loop, and arrive whole both times
        trace = self.trace_file()
        n = 12
        body = ("x" * 990 + "\r\n") * 4200            # about 4.2 MB
        rcpt = {"big%d@example.net" % i: ["451 4.7.1 later", "250 2.0.0 ok"]
                for i in range(n)}
        fake = self.fake(script={"rcpt": rcpt})
        self.stop_outbound(self.start_outbound(     # makes the spool
            [self.host(fake)], extra="retry_min = 3600\nretry_max = 7200\n"))
        for i in range(n):        # all there before the start: one claim batch
            self.drop(message("s%d@example.com" % i, ["big%d@example.net" % i],
                              subject="big %d" % i, body=body))
        env = self.shim_env(SMTPGATE_FSTRACE_FILE=trace, SMTPGATE_FSTRACE_THREADS="1",
                            SMTPGATE_FSTRACE_OPENS="1")
        d = self.start("smtpgate-outbound", self.conf, env=env)
        harness.wait_for(lambda: d.log().count("status=deferred") >= n or not d.alive(),
                         60, "%d deferrals" % n)
        self.assertTrue(d.alive(), d.log())
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "retry", "all"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_messages(fake, n, 60)
        self.wait_queue_empty(30)
        want = body.encode()
        for m in fake.snapshot()[1]:
            self.assertIn(want, m["data"], "a big message arrived cut or changed")
            self.assertLess(len(m["data"]) - len(want), 2000)
        lines = self.trace_lines(trace)
        queue = os.path.join(self.spool, "queue") + "/"
        msg_open = re.compile("^open " + re.escape(queue) + r"[^/ ]+\.msg( main)?$")
        msgs = [l for l in lines if msg_open.match(l)]
        self.assertGreaterEqual(len(msgs), n, "the retries' messages were never opened?")
        on_loop = [l for l in msgs if l.endswith(" main")]
        self.assertEqual(on_loop, [], "the event loop read a message")
        self.assertNotIn("status=error", d.log())
        self.stop_outbound(d)

    def unreadable_message(self, spoil, logged):
        # a queued message whose .msg is spoiled under the running daemon:
        # the attempt fails with a clear reply, counted and stored, and the
        # message stays queued (no crash, no loop, nothing sent)
        fake = self.fake(script={"rcpt": {"b@example.net": "451 4.7.1 later"}})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("alice@example.com", ["b@example.net"], subject="lost body"))
        qid = d.wait_log(r"out id=(\w+) to=<b@example.net> .*status=deferred").group(1)
        spoil(os.path.join(self.spool, "queue", qid + ".msg"))    # retried in a second
        d.wait_log(r"queue id=%s: queue/%s\.msg: %s" % (qid, qid, logged), 20)
        env_path = os.path.join(self.spool, "queue", qid + ".env")
        harness.wait_for(lambda: "cannot read the queued message" in self.read(env_path), 10,
                         "the failed attempt stored")
        self.assertRegex(self.read(env_path), r"attempts=[2-9]")
        self.assertTrue(d.alive(), d.log())
        self.assertEqual(fake.message_count(), 0)
        self.stop_outbound(d)

    def test_retry_all_leaves_the_loop_serving(self):
        # "retry all" rewrites every waiting entry; done in one go it held the
        # loop for the whole queue (20,000 entries: 6 s; 100,000 would reach
        # the systemd watchdog's 30 s).  It goes a group at a time now: with
        # every sync slowed to 300 ms, the metrics page (served by the loop)
        # answers after the request was taken and before it is finished.
        slow = self.write("slow-ms", "0")
        mport = harness.free_port()
        fake = self.fake(script={"rcpt": "451 4.7.1 later"})
        self.configure([self.host(fake)], extra="retry_min = 3600\nretry_max = 7200\n"
                       'metrics_listen = "127.0.0.1:%d"\n' % mport)
        d = self.start("smtpgate-outbound", self.conf,
                       env=self.shim_env(SMTPGATE_SLOW_FSYNC_FILE=slow))
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        n = 1000	# four groups
        for i in range(n):
            self.drop(message("s%d@example.com" % i, ["r%d@example.net" % i],
                              subject="retry %d" % i))
        harness.wait_for(lambda: d.log().count("status=deferred") >= n, 120,
                         "%d deferrals" % n)
        fake.set(rcpt="250 2.1.5 ok")
        with open(slow, "w") as f:
            f.write("300")
        control = os.path.join(self.spool, "control")
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "retry", "all"])
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: not os.listdir(control), 30, "the request taken")
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=30) as resp:
            self.assertEqual(resp.status, 200)
        self.assertFalse("target=all status=" in d.log(),
                         "the loop answered only once the whole retry was done")
        d.wait_log(r"control verb=retry target=all status=ok messages=%d" % n, 60)
        with open(slow, "w") as f:
            f.write("0")
        self.wait_messages(fake, n, 120)
        self.wait_queue_empty(60)
        self.stop_outbound(d)

    def test_entry_whose_message_vanished_is_deferred(self):
        self.unreadable_message(os.unlink, "No such file")

    def test_entry_whose_message_cannot_be_opened_is_deferred(self):
        # the .msg is a copy of the daemon's own now (no producer can shrink
        # it below an offset any more): an administrator's chmod spoils it
        self.unreadable_message(lambda p: os.chmod(p, 0), "Permission denied")

    def read(self, path):
        with open(path) as f:
            return f.read()

if __name__ == "__main__":
    unittest.main()
