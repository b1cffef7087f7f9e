"""smtpgate-outbound: plain delivery, envelopes, Bcc, connection reuse,
crash safety, bad pickup files, reload, -t."""

import os
import re
import signal
import time
import urllib.request

from outbound_case import OutboundCase, message
import harness


class DeliveryTest(OutboundCase):

    def test_xsender_pickup_delivered(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)])
        self.drop(message("alice@example.com", ["bob@example.net", "carol@example.net"],
                          subject="envelope lines"))
        msgs = self.wait_messages(fake, 1)
        self.assertEqual(msgs[0]["sender"], "alice@example.com")
        self.assertEqual(sorted(msgs[0]["rcpts"]), ["bob@example.net", "carol@example.net"])
        data = msgs[0]["data"]
        self.assertIn(b"Subject: envelope lines\r\n", data)
        self.assertNotIn(b"X-Sender", data)
        self.assertNotIn(b"X-Receiver", data)
        self.wait_queue_empty()
        log = d.wait_log(r"out id=\w+ to=<bob@example.net> relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d "
                         r"status=sent reply=\"250[^\"]*\" attempts=1 delay=\d+s tls=none" % fake.port)
        self.assertTrue(log)
        d.wait_log(r"pickup id=\w+ source=pickup uid=\d+ name=drop00001.eml "
                   r"from=<alice@example.com> nrcpt=2")
        self.stop_outbound(d)

    def test_header_only_file_and_bcc_removed(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)])
        text = ("From: Dave <dave@example.com>\r\nTo: erin@example.net\r\n"
                "Cc: frank@example.net\r\nBcc: secret@example.net\r\n"
                "Subject: headers only\r\n\r\nbody line\r\n.leading dot\r\n")
        self.drop(text)
        msgs = self.wait_messages(fake, 1)
        m = msgs[0]
        self.assertEqual(m["sender"], "dave@example.com")
        self.assertEqual(sorted(m["rcpts"]),
                         ["erin@example.net", "frank@example.net", "secret@example.net"])
        self.assertNotIn(b"Bcc:", m["data"])
        self.assertNotIn(b"secret@example.net", m["data"])
        self.assertIn(b"\r\n.leading dot\r\n", m["data"])   # dot-stuffing undone by the fake
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_connection_reuse_with_rset(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)],
                                extra="max_connections = 1\nmessages_per_connection = 10\n")
        self.stop_outbound(d)       # the spool exists now; queue 5 while stopped
        for i in range(5):
            self.drop(message("s@example.com", ["r%d@example.net" % i], subject="reuse %d" % i))
        d = self.start_outbound()
        self.wait_messages(fake, 5)
        self.wait_queue_empty()
        conns, msgs = fake.snapshot()
        used = [c for c in conns if any(x.startswith("MAIL") for x in c["commands"])]
        self.assertEqual(len(used), 1, conns)
        cmds = used[0]["commands"]
        self.assertEqual(sum(1 for x in cmds if x.startswith("MAIL")), 5)
        self.assertEqual(sum(1 for x in cmds if x == "RSET"), 4)
        self.assertEqual(sorted(m["rcpts"][0] for m in msgs),
                         ["r%d@example.net" % i for i in range(5)])
        self.stop_outbound(d)

    def test_kill9_with_hundreds_queued_loses_nothing(self):
        fake = self.fake(script={"greeting": "421 4.3.2 not now"})
        d = self.start_outbound([self.host(fake)])
        n = 300
        for i in range(n):
            self.drop(message("s@example.com", ["r@example.net"], subject="crash-%d" % i))
        harness.wait_for(lambda: len(self.pickup_left()) < n // 2, 20, "pickup under way")
        d.kill9()
        fake.set(greeting="220 fake.test ESMTP")
        d = self.start_outbound()
        harness.wait_for(lambda: len({m["data"] for m in fake.snapshot()[1]}) >= n, 60,
                         "all %d messages delivered" % n)
        subjects = set()
        for m in fake.snapshot()[1]:
            subjects.add(re.search(rb"Subject: (crash-\d+)", m["data"]).group(1))
        self.assertEqual(subjects, {b"crash-%d" % i for i in range(n)})
        self.wait_queue_empty(30)
        self.stop_outbound(d)

    def test_bad_pickup_file_moved_to_bad(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)])
        name = self.drop("this is not a message\r\nno header\x00at all\r\n")
        bad = os.path.join(self.spool, "bad", name)
        harness.wait_for(lambda: os.path.exists(bad) and os.path.exists(bad + ".reason"), 10,
                         "bad/ file and reason")
        with open(bad + ".reason") as f:
            self.assertTrue(f.read().strip())
        d.wait_log(r"pickup source=pickup uid=\d+ name=%s status=bad bad=%s reason="
                   % (re.escape(name), re.escape(name)))
        self.assertEqual(self.pickup_left(), [])
        self.assertEqual(fake.message_count(), 0)
        self.stop_outbound(d)

    def test_sighup_reloads_smart_hosts(self):
        a, b = self.fake(), self.fake()
        d = self.start_outbound([self.host(a)])
        self.configure([self.host(b)])
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload status=ok")
        self.drop(message("s@example.com", ["r@example.net"], subject="after reload"))
        self.wait_messages(b, 1)
        self.assertEqual(a.message_count(), 0)
        self.assertTrue(d.alive())
        # a broken config is refused and the daemon keeps running
        self.write("outbound.conf", "this is { not valid\n")
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload status=failed")
        self.assertTrue(d.alive())
        self.stop_outbound(d)

    def test_sigterm_abandons_hung_transaction_after_grace(self):
        fake = self.fake(script={"data_end": ["hang", "250 2.0.0 ok"]})
        d = self.start_outbound([self.host(fake)], extra="timeout_data_end = 120\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="in flight"))
        harness.wait_for(lambda: any("DATA" in c["commands"] for c in fake.snapshot()[0]),
                         10, "DATA sent")
        t0 = time.monotonic()
        rc = d.stop(signal.SIGTERM, 30)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, d.log())
        self.assertGreater(took, 8)
        self.assertLess(took, 20)
        self.assertIn("status=abandoned", d.log())
        self.assertEqual(len(self.queued()), 1)         # still queued
        d = self.start_outbound()
        self.wait_messages(fake, 1)
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_delete_of_a_hung_transaction_holds_through_shutdown(self):
        # a delete request for a message in flight is applied when its
        # transaction ends; abandoned at shutdown, it must still be applied
        fake = self.fake(script={"data_end": ["hang", "250 2.0.0 ok"]})
        d = self.start_outbound([self.host(fake)], extra="timeout_data_end = 120\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="delete in flight"))
        m = d.wait_log(r"pickup id=(\w+)")
        harness.wait_for(lambda: any("DATA" in c["commands"] for c in fake.snapshot()[0]),
                         10, "DATA sent")
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "delete", m.group(1)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        d.wait_log(r"control verb=delete target=%s status=pending" % m.group(1))
        self.assertEqual(d.stop(signal.SIGTERM, 30), 0, d.log())
        self.assertIn("status=abandoned", d.log())
        self.assertIn("queue id=%s status=deleted" % m.group(1), d.log())
        self.assertEqual(self.queued(), [])
        self.assertEqual(os.listdir(os.path.join(self.spool, "control")), [])
        # and it stays gone
        d = self.start_outbound()
        d.wait_log(r"start version=")
        self.assertEqual(self.queued(), [])
        self.stop_outbound(d)

    def test_retry_of_a_message_in_flight_leaves_it_alone(self):
        fake = self.fake(script={"data_end": ["hang", "250 2.0.0 ok"]})
        d = self.start_outbound([self.host(fake)], extra="timeout_data_end = 120\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="retry in flight"))
        qid = d.wait_log(r"pickup id=(\w+)").group(1)
        harness.wait_for(lambda: any("DATA" in c["commands"] for c in fake.snapshot()[0]),
                         10, "DATA sent")
        env = os.path.join(self.spool, "queue", qid + ".env")
        before = os.stat(env)
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "retry", qid])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        d.wait_log(r"control verb=retry target=%s status=ok \(in flight\)" % qid)
        after = os.stat(env)
        self.assertEqual((before.st_ino, before.st_mtime_ns), (after.st_ino, after.st_mtime_ns))
        self.assertEqual(d.stop(signal.SIGTERM, 30), 0, d.log())
        self.assertEqual(len(self.queued()), 1)         # abandoned, still queued

    def test_metrics_count_deliveries(self):
        """Recipients by result and smart host (a bounce and a deferral
        from sh1 after sh0 refused the session), bytes once per transaction,
        bad/ and the pickup backlog, build_info; promtool finds nothing."""
        down = self.fake(script={"greeting": "421 4.3.2 not now"})
        fake = self.fake(script={"rcpt": {"gone@example.net": "550 5.1.1 no such user",
                                          "later@example.net": "451 4.3.0 later"}})
        port = harness.free_port()
        d = self.start_outbound([self.host(down), self.host(fake)],
                                extra='metrics_listen = "127.0.0.1:%d"\nretry_min = 3600\n'
                                'retry_max = 3600\n' % port)
        text = harness.scrape(port)
        self.assertRegex(text, r'(?m)^smtpgate_outbound_recipients_delivered_total'
                         r'\{smarthost="sh0"\} 0$')           # there from the start
        self.assertEqual(harness.promtool_problems(text), "")
        self.drop(message("a@example.com", ["b@example.net", "c@example.net", "gone@example.net",
                                            "later@example.net"], subject="m"))
        bad = self.drop("this is not a message\r\nno header\x00at all\r\n")
        self.wait_messages(fake, 1)

        def counted():
            t = harness.scrape(port)
            return t if re.search(r'(?m)^smtpgate_outbound_recipients_deferred_total'
                                  r'\{smarthost="sh1"\} 1$', t) and re.search(
                                      r"(?m)^smtpgate_outbound_bad_files 1$", t) else None
        text = harness.wait_for(counted, 10, "results counted")
        # delivered: the two, and the bounce's DSN to a@example.com once it went out
        self.assertRegex(text, r'(?m)^smtpgate_outbound_recipients_delivered_total'
                         r'\{smarthost="sh1"\} [23]$')
        for name, host, n in (("bounced", "sh1", 1),
                              ("delivered", "sh0", 0), ("deferred", "sh0", 0)):
            self.assertRegex(text, r'(?m)^smtpgate_outbound_recipients_%s_total'
                             r'\{smarthost="%s"\} %d$' % (name, host, n))
        self.assertRegex(text, r"(?m)^smtpgate_outbound_recipients_expired_total 0$")
        self.assertRegex(text, r"(?m)^smtpgate_outbound_connections_total 2$")
        self.assertRegex(text, r"(?m)^smtpgate_outbound_pickup_backlog_files 0$")
        self.assertRegex(text, r"(?m)^smtpgate_outbound_queue_messages [12]$")  # + the DSN
        self.assertRegex(text, r"(?m)^smtpgate_outbound_queue_oldest_age_seconds \d+$")
        self.assertRegex(text, r"(?m)^smtpgate_outbound_loop_lag_seconds [0-9.e-]+$")
        self.assertRegex(text, r'(?m)^smtpgate_build_info\{program="smtpgate-outbound",'
                         r'version="[^"]+"\} 1$')
        sent = int(re.search(r'(?m)^smtpgate_outbound_sent_bytes_total\{smarthost="sh1"\} '
                             r'(\d+)$', text).group(1))
        self.assertGreater(sent, 100)  # one message, counted once for two recipients
        self.assertLess(sent, 1000)
        self.assertNotRegex(text, r"(?m)^smtpgate_\w*(_ms|_delivered|_depth) ")
        self.assertEqual(harness.promtool_problems(text), "")
        self.assertTrue(os.path.exists(os.path.join(self.spool, "bad", bad)))
        self.stop_outbound(d)

    def test_metrics_pickup_backlog(self):
        """Entries waiting in pickup/ are the backlog gauge (directories,
        which are never taken, stand for a backlog that stays)."""
        fake = self.fake()
        port = harness.free_port()
        d = self.start_outbound([self.host(fake)],
                                extra='metrics_listen = "127.0.0.1:%d"\n' % port)
        for name in ("x1", "x2", "x3"):
            os.mkdir(os.path.join(self.spool, "pickup", name))  # never a message: stays
        text = harness.wait_for(lambda: (lambda t: re.search(
            r"(?m)^smtpgate_outbound_pickup_backlog_files (\d+)$", t).group(1) == "3" and t)(
                harness.scrape(port)), 10, "backlog of 3")
        self.assertEqual(harness.promtool_problems(text), "")
        self.stop_outbound(d)

    def test_control_retry_and_delete(self):
        fake = self.fake(script={"rcpt": {"later@example.net": ["451 4.3.0 later", "250 ok"],
                                          "never@example.net": "451 4.3.0 never"}})
        d = self.start_outbound([self.host(fake)], extra="retry_min = 3600\nretry_max = 3600\n")
        self.drop(message("a@example.com", ["later@example.net"], subject="retry me"))
        m = d.wait_log(r"out id=(\w+) to=<later@example.net> .*status=deferred")
        queue = harness.binary("smtpgate-queue")
        r = harness.run([queue, "-c", self.conf, "retry", m.group(1)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.wait_messages(fake, 1)
        d.wait_log(r"control verb=retry target=%s status=ok" % m.group(1))
        self.drop(message("a@example.com", ["never@example.net"], subject="delete me"))
        m = d.wait_log(r"out id=(\w+) to=<never@example.net> .*status=deferred")
        r = harness.run([queue, "-c", self.conf, "delete", m.group(1)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        d.wait_log(r"control verb=delete target=%s status=ok" % m.group(1))
        self.wait_queue_empty()
        self.assertEqual(os.listdir(os.path.join(self.spool, "control")), [])
        self.stop_outbound(d)

    def test_check_flag(self):
        fake = self.fake()
        conf = self.configure([self.host(fake)])
        r = harness.run([harness.binary("smtpgate-outbound"), "-t", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "ok")
        bad = self.write("bad.conf", 'spool = "%s"\n' % self.spool)
        r = harness.run([harness.binary("smtpgate-outbound"), "-t", "-c", bad])
        self.assertEqual(r.returncode, 78)
        self.assertTrue(r.stderr.strip())


if __name__ == "__main__":
    harness.main()
