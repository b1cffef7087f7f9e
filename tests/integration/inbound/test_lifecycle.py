"""smtpgate-inbound: start-up checks, signals, reload, crash safety."""

import email
import os
import re
import signal
import smtplib
import socket
import threading
import time
import unittest

import harness
from inbound_util import (InboundCase, all_new_files, maildir, message, new_count,
                          port_open, wait_until)


class StartupTest(InboundCase):

    def conf(self, extra="", port=None):
        self.port = port or harness.free_port()
        self.spool = self.path("in-spool")
        return self.write("inbound.conf", harness.inbound_config(self.spool, self.port,
                                                                 extra=extra))

    def test_t_prints_ok(self):
        conf = self.conf()
        out = harness.run([harness.binary("smtpgate-inbound"), "-t", "-c", conf])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "ok")

    def test_t_bad_config_78(self):
        conf = self.conf(extra="max_recipients = -5\n")
        out = harness.run([harness.binary("smtpgate-inbound"), "-t", "-c", conf])
        self.assertEqual(out.returncode, 78, out.stdout + out.stderr)
        self.assertNotEqual(out.stderr.strip(), "")

    def test_bad_config_exits_78(self):
        conf = self.write("bad.conf", "this is { not valid\n")
        out = harness.run([harness.binary("smtpgate-inbound"), "-f", "-c", conf])
        self.assertEqual(out.returncode, 78)

    def test_second_instance_same_spool_exits_75(self):
        first = self.start("smtpgate-inbound", self.conf(), wait_port=self.port)
        conf2 = self.write("inbound2.conf", harness.inbound_config(self.spool,
                                                                   harness.free_port()))
        out = harness.run_daemon_user([harness.binary("smtpgate-inbound"), "-f", "-c", conf2],
                                      timeout=30)
        self.assertEqual(out.returncode, 75, out.stdout + out.stderr)
        self.assertIn(str(first.pid), out.stdout + out.stderr)
        self.assertTrue(first.alive())

    def test_delivery_workers_run_as_batch_threads(self):
        # the two disk workers, the commit log's checkpoint thread, its
        # publisher thread and the mailbox size scanner (issue 19) are
        # SCHED_BATCH, so that a woken one does not preempt the event loop;
        # the loop itself stays SCHED_OTHER
        d = self.start("smtpgate-inbound", self.conf(), wait_port=self.port)
        policies, names = {}, []
        for tid in os.listdir("/proc/%d/task" % d.pid):
            with open("/proc/%d/task/%s/stat" % (d.pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            policies[int(tid)] = int(fields[38])	# field 41, "policy"
            if int(tid) != d.pid:
                with open("/proc/%d/task/%s/comm" % (d.pid, tid)) as f:
                    names.append(f.read().strip())
        self.assertEqual(policies.pop(d.pid), os.SCHED_OTHER)
        self.assertEqual(sorted(policies.values()), [os.SCHED_BATCH] * 5, policies)
        self.assertEqual(sorted(n for n in names if n in ("checkpoint", "delivery", "publish")),
                         ["checkpoint", "delivery", "delivery", "publish"], names)
        self.assertNotIn("SCHED_BATCH", d.log())

    def test_maildirs_created_and_stale_tmp_removed(self):
        conf = self.conf()
        d = self.start("smtpgate-inbound", conf, wait_port=self.port)
        for name in ("alice", "bob", "branch"):
            for sub in ("tmp", "new", "cur"):
                self.assertTrue(os.path.isdir(os.path.join(self.spool, "mailboxes", name, sub)))
        self.assertEqual(d.stop(), 0)
        old = os.path.join(self.spool, "tmp", "stale.file")
        fresh = os.path.join(self.spool, "tmp", "fresh.file")
        for p in (old, fresh):
            with open(p, "w") as f:
                f.write("x")
            if harness.privileged():	# the daemon's own leftovers (root's: refused, 77)
                os.chown(p, harness.DAEMON_UID, harness.DAEMON_GID)
        t = time.time() - 37 * 3600
        os.utime(old, (t, t))
        self.start("smtpgate-inbound", conf, wait_port=self.port)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(fresh))


class SignalTest(InboundCase):

    def test_sigterm_exits_0(self):
        d = self.inbound()
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        self.assertIn("stop", d.log())

    def test_sigterm_lets_data_finish(self):
        d = self.inbound()
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: in flight\r\n\r\nfirst half\r\n")
        idle = self.raw()
        idle.ehlo()
        d.send_signal(signal.SIGTERM)
        # The idle session gets 421 and is closed; the listener is closed.
        code, text = idle.reply()
        self.assertEqual(code, 421, text)
        wait_until(lambda: not port_open(self.port), 10, "listener closed")
        r.send("second half\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        self.assertEqual(r.reply()[0], 421)
        d.proc.wait(15)
        self.assertEqual(d.proc.returncode, 0)
        with open(all_new_files(self.spool)[0], "rb") as f:
            raw = f.read()
        self.assertTrue(raw.endswith(b"first half\nsecond half\n"), raw)

    def test_sighup_adds_mailbox_keeps_session(self):
        d = self.inbound(mailboxes={"alice": ["alice@example.com"]})
        r = self.raw()
        r.ehlo()
        self.assertEqual(r.cmd("MAIL FROM:<s@c.test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<carol@example.com>")[0], 550)
        self.write("inbound.conf", harness.inbound_config(
            self.spool, self.port, {"alice": ["alice@example.com"],
                                    "carol": ["carol@example.com"]}))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload: ")
        self.assertTrue(d.alive())
        self.assertTrue(os.path.isdir(os.path.join(self.spool, "mailboxes", "carol", "new")))
        # The open session carries on.
        self.assertEqual(r.cmd("RCPT TO:<alice@example.com>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(message() + ".\r\n")
        self.assertEqual(r.reply()[0], 250)
        # A new session sees the new mailbox.
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("c.test")
            self.assertEqual(s.sendmail("s@c.test", ["carol@example.com"], message()), {})
        self.assertEqual(new_count(self.spool, "carol", want=1), 1)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)
        # A broken config on SIGHUP is refused, the daemon keeps running.
        self.write("inbound.conf", "garbage {\n")
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"keeping the running configuration")
        self.assertTrue(d.alive())
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("c.test")
            self.assertEqual(s.sendmail("s@c.test", ["carol@example.com"], message()), {})


class CrashTest(InboundCase):

    CLIENTS = 20

    def _client(self, n, acked, stop):
        i = 0
        while not stop.is_set():
            mid = "<load-%d-%d@c.test>" % (n, i)
            i += 1
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
                    s.ehlo("load%d.test" % n)
                    for _ in range(5):
                        rcpts = ["alice@example.com"] if i % 2 else ["alice@example.com",
                                                                     "bob@example.com"]
                        s.sendmail("s@c.test", rcpts, message(mid=mid))
                        acked.append((mid, tuple(rcpts)))
                        mid = "<load-%d-%d@c.test>" % (n, i)
                        i += 1
            except (OSError, smtplib.SMTPException):
                if stop.is_set():
                    return
                time.sleep(0.01)

    def test_kill9_under_load_loses_nothing_acknowledged(self):
        d = self.inbound()
        acked, stop = [], threading.Event()
        threads = [threading.Thread(target=self._client, args=(n, acked, stop))
                   for n in range(self.CLIENTS)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(acked) >= 200, 60, "200 acknowledged messages")
            d.kill9()
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        snapshot = list(acked)
        # acknowledged means durable in the commit log: what the publisher
        # had not yet put into new/ when it was killed, the restart's
        # recovery puts there before the daemon listens again
        self.inbound()
        found = {}
        for path in all_new_files(self.spool):
            with open(path, "rb") as f:
                raw = f.read()
            m = re.search(rb",S=(\d+)", path.encode())
            self.assertIsNotNone(m, path)
            self.assertEqual(int(m.group(1)), len(raw), "%s is incomplete" % path)
            msg = email.message_from_bytes(raw)
            box = path.split(os.sep)[-3]
            found.setdefault(msg["Message-ID"], set()).add(box)
        for mid, rcpts in snapshot:
            boxes = {r.split("@")[0] for r in rcpts}
            self.assertIn(mid, found, "acknowledged %s is missing" % mid)
            self.assertTrue(boxes <= found[mid], "%s: %s not in %s" % (mid, boxes, found[mid]))
        # The restarted daemon delivers.
        before = new_count(self.spool, "bob")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("c.test")
            self.assertEqual(s.sendmail("s@c.test", ["bob@example.com"],
                                        message(mid="<after@c.test>")), {})
        md = maildir(self.spool, "bob", want=before + 1)
        ids = [md.get_message(k)["Message-ID"] for k in md.keys()]
        self.assertIn("<after@c.test>", ids)


class MetricsTest(InboundCase):

    def rejections(self, text):
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'(?m)^smtpgate_inbound_rejections_total\{reason="(\w+)"\} (\d+)$', text)}

    def test_metrics_counters(self):
        """Counters by the Prometheus conventions, refusals counted by
        reason (unknown user, SIZE, over the per-client cap, relay_hosts),
        build_info, and the whole page clean for promtool."""
        mport = harness.free_port()
        self.inbound(extra='metrics_listen = "127.0.0.1:%d"\nmax_message_size = 100000\n'
                     'max_connections_per_relay_host = 2\nrelay_hosts = {"127.0.0.1/32"}\n' % mport)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("c.test")
            s.sendmail("s@c.test", ["alice@example.com"], message())
        r = self.raw()
        r.ehlo()
        self.assertEqual(r.cmd("MAIL FROM:<s@c.test> SIZE=200000")[0], 552)
        self.assertEqual(r.cmd("MAIL FROM:<s@c.test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<nobody@example.com>")[0], 550)
        self.assertEqual(r.cmd("RCPT TO:<nobody2@example.com>")[0], 550)
        r2 = self.raw()
        self.assertEqual(r2.reply()[0], 220)
        r3 = self.raw()                          # the third from 127.0.0.1: over the cap
        self.assertEqual(r3.reply()[0], 421)
        denied = socket.create_connection(("127.0.0.1", self.port), timeout=10,
                                          source_address=("127.0.0.2", 0))
        self.addCleanup(denied.close)
        self.assertTrue(denied.recv(512).startswith(b"554 5.7.1"))
        text = harness.wait_for(lambda: (lambda t: self.rejections(t).get("relay_denied")
                                         and t)(harness.scrape(mport)), 10, "relay_denied")
        rej = self.rejections(text)
        self.assertEqual((rej["unknown_user"], rej["size"], rej["over_cap"], rej["relay_denied"]),
                         (2, 1, 1, 1), rej)
        self.assertEqual(rej["disk_full"], 0)
        self.assertGreaterEqual(len(rej), 20)    # every reason there from the start
        self.assertRegex(text, r"(?m)^smtpgate_inbound_messages_delivered_total 1$")
        self.assertRegex(text, r"(?m)^smtpgate_inbound_connections_total [4-9]$")
        self.assertRegex(text, r"(?m)^smtpgate_inbound_received_bytes_total [1-9]")
        self.assertRegex(text, r"(?m)^smtpgate_inbound_connections_open [0-9]")
        self.assertRegex(text, r"(?m)^smtpgate_inbound_loop_lag_seconds [0-9.e-]+$")
        self.assertRegex(text, r"(?m)^smtpgate_inbound_loop_lag_max_seconds [0-9.e-]+$")
        self.assertRegex(text, r'(?m)^smtpgate_build_info\{program="smtpgate-inbound",'
                         r'version="[^"]+"\} 1$')
        self.assertNotRegex(text, r"(?m)^smtpgate_\w*(_ms|loop_lag) ")
        self.assertEqual(harness.promtool_problems(text), "")


class GraceTest(InboundCase):

    def test_grace_period_ends_stalled_data(self):
        d = self.inbound()
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: never finished\r\n\r\npartial\r\n")
        start = time.monotonic()
        d.send_signal(signal.SIGTERM)
        r.s.settimeout(30)
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertGreaterEqual(time.monotonic() - start, 8)
        d.proc.wait(20)
        self.assertEqual(d.proc.returncode, 0)
        self.assertEqual(new_count(self.spool, "alice"), 0)


if __name__ == "__main__":
    harness.main()
