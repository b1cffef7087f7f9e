"""smtpgate-outbound: failover, retries, bounces (RFC 3464), expiry, delay
warnings, timeouts, broken smart hosts."""

import os
import re
import signal

from outbound_case import OutboundCase, message
import harness

SLOW = "451 4.7.1 try again later"


class FailureTest(OutboundCase):

    def dsns(self, fake):
        return [m for m in fake.snapshot()[1] if m["sender"] == ""]

    def test_failover_when_first_refuses_connections(self):
        dead = harness.free_port()
        fake = self.fake()
        d = self.start_outbound([self.host(dead), self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="failover"))
        self.wait_messages(fake, 1)
        d.wait_log(r"relay relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d id=\w+ status=failed" % dead)
        d.wait_log(r"out id=\w+ to=<b@example.net> relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d status=sent"
                   % fake.port)
        self.stop_outbound(d)

    def test_failover_on_421_greeting(self):
        busy = self.fake(script={"greeting": "421 4.3.2 too busy"})
        fake = self.fake()
        d = self.start_outbound([self.host(busy), self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="421"))
        self.wait_messages(fake, 1)
        self.assertEqual(busy.message_count(), 0)
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_all_hosts_failing_defers(self):
        busy = self.fake(script={"greeting": "554 5.3.2 go away"})
        d = self.start_outbound([self.host(busy), self.host(harness.free_port())])
        self.drop(message("a@example.com", ["b@example.net"], subject="nowhere"))
        d.wait_log(r"out id=\w+ to=<b@example.net> .*status=deferred")
        self.assertEqual(len(self.queued()), 1)
        self.stop_outbound(d)

    def test_greylisting_then_delivered(self):
        fake = self.fake(script={"greylist": True})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="grey"))
        d.wait_log(r"to=<b@example.net> .*status=deferred reply=\"451 4\.7\.1[^\"]*\" attempts=1")
        self.wait_messages(fake, 1)
        d.wait_log(r"to=<b@example.net> .*status=sent .*attempts=2")
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_partial_bounce_reports_only_the_failed_recipient(self):
        fake = self.fake(script={"rcpt": {"bad@example.net": "550 5.1.1 no such user here"}})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("alice@example.com", ["good@example.net", "bad@example.net"],
                          subject="partial"))
        harness.wait_for(lambda: self.dsns(fake), 20, "a DSN at the fake")
        orig = [m for m in fake.snapshot()[1] if m["sender"] == "alice@example.com"]
        self.assertEqual(orig[0]["rcpts"], ["good@example.net"])
        dsn = self.dsns(fake)[0]
        self.assertEqual(dsn["rcpts"], ["alice@example.com"])
        data = dsn["data"].decode("utf-8", "replace")
        self.assertIn("multipart/report", data)
        self.assertRegex(data, r"Final-Recipient: rfc822;\s*bad@example.net")
        self.assertNotRegex(data, r"Final-Recipient: rfc822;\s*good@example.net")
        self.assertRegex(data, r"Action: failed")
        self.assertRegex(data, r"Diagnostic-Code: smtp;\s*550 5\.1\.1 no such user here")
        self.assertIn("Subject: partial", data)         # original headers
        d.wait_log(r"to=<bad@example.net> .*status=bounced reply=\"550 5\.1\.1")
        self.wait_queue_empty()
        self.assertEqual(len(self.dsns(fake)), 1)
        self.stop_outbound(d)

    def test_null_sender_never_bounced(self):
        fake = self.fake(script={"rcpt": "550 5.1.1 nobody"})
        d = self.start_outbound([self.host(fake)])
        self.drop("X-Sender: <>\r\nX-Receiver: <x@example.net>\r\n" +
                  message(None, ["x@example.net"], subject="from null"))
        d.wait_log(r"done id=\w+ delivered=0 failed=1")
        self.wait_queue_empty()
        self.assertEqual(fake.message_count(), 0)
        self.assertNotIn("dsn id=", d.log())
        self.stop_outbound(d)

    def test_expiry_bounces(self):
        fake = self.fake(script={"rcpt": {"slow@example.net": SLOW}})
        d = self.start_outbound([self.host(fake)], extra="max_queue_lifetime = 3600\n")
        self.drop(message("alice@example.com", ["slow@example.net"], subject="expire me"))
        d.wait_log(r"to=<slow@example.net> .*status=deferred")
        self.stop_outbound(d)
        env = self.queued()[0]
        with open(env) as f:
            text = f.read()
        text = re.sub(r"(?m)^created=\d+$", "created=1000", text)
        with open(env, "w") as f:
            f.write(text)
        d = self.start_outbound()
        harness.wait_for(lambda: self.dsns(fake), 20, "an expiry DSN")
        data = self.dsns(fake)[0]["data"].decode("utf-8", "replace")
        self.assertRegex(data, r"Final-Recipient: rfc822;\s*slow@example.net")
        self.assertRegex(data, r"Status: 4\.4\.7")
        d.wait_log(r"to=<slow@example.net> .*status=bounced reply=\"[^\"]*expired")
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_delay_warning_sent_once(self):
        fake = self.fake(script={"rcpt": {"slow@example.net": SLOW}})
        d = self.start_outbound([self.host(fake)], extra="delay_warning = 1\n")
        self.drop(message("alice@example.com", ["slow@example.net"], subject="slowly"))
        harness.wait_for(lambda: self.dsns(fake), 20, "a delayed DSN")
        d.wait_log(r"to=<slow@example.net> .*status=deferred .*attempts=4", timeout=30)
        dsns = self.dsns(fake)
        self.assertEqual(len(dsns), 1)
        data = dsns[0]["data"].decode("utf-8", "replace")
        self.assertRegex(data, r"Action: delayed")
        self.assertRegex(data, r"Final-Recipient: rfc822;\s*slow@example.net")
        self.assertEqual(len(self.queued()), 1)
        self.stop_outbound(d)

    def test_host_that_never_answers_is_deferred_after_timeout(self):
        fake = self.fake(script={"greeting": "hang"})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="hang"))
        d.wait_log(r"to=<b@example.net> .*status=deferred reply=\"timeout in stage greeting",
                   timeout=15)
        self.assertEqual(len(self.queued()), 1)
        self.stop_outbound(d)

    def test_timeout_after_final_dot_logs_possible_duplicate(self):
        fake = self.fake(script={"data_end": ["hang", "250 2.0.0 ok"]})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="dup"))
        d.wait_log(r"possible duplicate", timeout=15)
        self.wait_messages(fake, 1, timeout=20)
        self.stop_outbound(d)

    def test_drop_mid_data_then_delivered(self):
        fake = self.fake(script={"data_end": ["drop", "250 2.0.0 ok"]})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="dropped",
                          body="line\r\n" * 5000))
        d.wait_log(r"to=<b@example.net> .*status=deferred")
        msgs = self.wait_messages(fake, 1)
        self.assertEqual(msgs[0]["data"].count(b"line\r\n"), 5000)
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_huge_reply_deferred_daemon_fine(self):
        fake = self.fake(script={"mail": ["big", "250 2.1.0 ok"]})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net"], subject="big reply"))
        d.wait_log(r"to=<b@example.net> .*status=deferred")
        self.wait_messages(fake, 1)
        self.assertTrue(d.alive())
        self.stop_outbound(d)


if __name__ == "__main__":
    harness.main()
