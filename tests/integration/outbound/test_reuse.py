"""smtpgate-outbound: connections to the smart host are kept for the next
message (Postfix's connection cache): trickle traffic shares one session
(one STARTTLS, one AUTH), an idle session is closed with QUIT after
timeout_idle, and a cached session the server closed meanwhile (421 while
idle, 421 or a drop at the RSET that reopens it) loses, defers and bounces
nothing: the message goes out over a new connection."""

import re
import signal
import sys
import time

from outbound_case import OutboundCase, message
import harness

SM = harness.binary("smtpgate-sendmail")


class ReuseTest(OutboundCase):

    def sessions(self, fake):
        """Connections that sent at least one MAIL."""
        conns, _ = fake.snapshot()
        return [c for c in conns if any(x.startswith("MAIL") for x in c["commands"])]

    def subjects(self, fake):
        return sorted(re.search(rb"Subject: (\S+)", m["data"]).group(1).decode()
                      for m in fake.snapshot()[1])

    def assert_nothing_failed(self, d):
        log = d.log()
        self.assertNotRegex(log, r"status=(deferred|bounced)")
        self.assertNotIn("dsn id=", log)
        self.assertNotRegex(log, r"out id=\w+ .*attempts=[2-9]")

    def test_trickle_over_one_tls_auth_session(self):
        """20 messages from smtpgate-sendmail 0.5 s apart: at most 2
        sessions (1 expected), each message delivered once."""
        ca = harness.make_ca(self.tmp, names=("localhost",), ips=("127.0.0.1",))
        secret = "reuse-Pa55"
        pwfile = self.write("relay.secret", secret + "\n")
        harness.service_key(pwfile)     # 0640 root:smtpgate, as the check wants
        fake = self.fake(tls=ca, script={"auth_creds": ("gateway", secret)})
        d = self.start_outbound([self.host(fake, host="localhost", tls="starttls",
                                           ca_file=ca["ca"], auth_user="gateway",
                                           auth_password_file=pwfile)],
                                extra='submit_group = "%d"\n' % harness.SUBMIT_GID)
        t0 = time.monotonic()
        for i in range(20):
            # the pace is the load under test: one message every 0.5 s
            harness.wait_for(lambda: time.monotonic() >= t0 + 0.5 * i, 5, "the next slot")
            r = harness.run_as(harness.USER_A, harness.SUBMIT_GID,
                               [SM, "-C", self.conf, "-f", "app@example.com",
                                "user%d@example.net" % i],
                               input="Subject: trickle%02d\n\nmessage %d\n" % (i, i))
            self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_messages(fake, 20, timeout=30)
        self.wait_queue_empty()
        conns, msgs = fake.snapshot()
        sessions = self.sessions(fake)
        sys.stderr.write("[trickle: %d messages, %d transactions over %d session(s), "
                         "%d connection(s), %d STARTTLS, %d AUTH] " %
                         (20, len(msgs), len(sessions), len(conns),
                          sum(c["commands"].count("STARTTLS") for c in conns),
                          sum(1 for c in conns if c["auth"])))
        self.assertEqual(self.subjects(fake), ["trickle%02d" % i for i in range(20)])
        self.assertLessEqual(len(conns), 2)
        self.assertLessEqual(len(sessions), 2)
        for c in sessions:
            self.assertEqual(c["commands"].count("STARTTLS"), 1)
            self.assertTrue(c["auth"]["tls"])
        self.assertTrue(all(m["tls"] for m in msgs))
        self.assert_nothing_failed(d)
        self.stop_outbound(d)

    def test_idle_session_quits_after_timeout_idle(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)], extra="timeout_idle = 2\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="first"))
        sent_at = self.wait_messages(fake, 1)[0]["at"]
        harness.wait_for(lambda: "QUIT" in fake.snapshot()[0][0]["commands"], 10,
                         "QUIT on the idle session")
        conn = fake.snapshot()[0][0]
        quit_at = conn["times"][conn["commands"].index("QUIT")]
        idle = quit_at - sent_at
        sys.stderr.write("[QUIT %.2f s after the message, timeout_idle = 2] " % idle)
        self.assertGreaterEqual(idle, 1.5)
        self.assertLess(idle, 5)
        self.assertFalse(conn["idle_closed"])
        # the next message needs a new session, which works
        self.drop(message("a@example.com", ["b@example.net"], subject="second"))
        self.wait_messages(fake, 2)
        self.assertEqual(len(self.sessions(fake)), 2)
        self.assert_nothing_failed(d)
        self.stop_outbound(d)

    def test_session_kept_idle_between_messages(self):
        """Within timeout_idle the second message reuses the session: RSET,
        no second EHLO."""
        fake = self.fake()
        d = self.start_outbound([self.host(fake)], extra="timeout_idle = 30\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="one"))
        self.wait_messages(fake, 1)
        t0 = time.monotonic()
        harness.wait_for(lambda: time.monotonic() >= t0 + 1.5, 5, "an idle gap")
        self.drop(message("a@example.com", ["c@example.net"], subject="two"))
        self.wait_messages(fake, 2)
        conns, _ = fake.snapshot()
        self.assertEqual(len(conns), 1)
        cmds = conns[0]["commands"]
        self.assertEqual(sum(1 for x in cmds if x.startswith("EHLO")), 1)
        self.assertEqual(cmds.count("RSET"), 1)
        self.assertNotIn("QUIT", cmds)
        self.assert_nothing_failed(d)
        self.stop_outbound(d)

    def test_reload_retires_idle_sessions(self):
        """After SIGHUP a session of the old configuration gets no more
        messages: it QUITs and the next message goes to the new smart host."""
        a, b = self.fake(), self.fake()
        d = self.start_outbound([self.host(a)], extra="timeout_idle = 60\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="old"))
        self.wait_messages(a, 1)
        self.configure([self.host(b)], "timeout_idle = 60\n")
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload status=ok")
        harness.wait_for(lambda: "QUIT" in a.snapshot()[0][0]["commands"], 10,
                         "QUIT on the old session")
        self.drop(message("a@example.com", ["c@example.net"], subject="new"))
        self.wait_messages(b, 1)
        self.assertEqual(a.message_count(), 1)
        self.assert_nothing_failed(d)
        self.stop_outbound(d)

    def closed_cached_session(self, script, extra="", wait_closed=None):
        """One message opens a session; the server then ends it the way
        script says; the second message must be sent once, on a new
        connection, with no deferral and no bounce."""
        fake = self.fake(script=script)
        d = self.start_outbound([self.host(fake)], extra="timeout_idle = 30\n" + extra)
        self.drop(message("a@example.com", ["b@example.net"], subject="before"))
        self.wait_messages(fake, 1)
        if wait_closed:
            wait_closed(fake, d)
        self.drop(message("a@example.com", ["c@example.net"], subject="after"))
        self.wait_messages(fake, 2)
        self.wait_queue_empty()
        self.assertEqual(self.subjects(fake), ["after", "before"])
        d.wait_log(r"out id=\w+ to=<c@example.net> .*status=sent .*attempts=1 ")
        self.assert_nothing_failed(d)
        self.assertEqual(len(self.sessions(fake)), 2)
        self.stop_outbound(d)
        return fake, d

    def test_server_closes_idle_session_with_421(self):
        def closed(fake, d):
            harness.wait_for(lambda: fake.snapshot()[0][0]["idle_closed"], 10,
                             "the server's idle timeout")
            d.wait_log(r"relay relay=\S+ id=\S+ status=lost stage=idle reply=\"421 4\.4\.2")
        self.closed_cached_session({"idle_close": 1}, wait_closed=closed)

    def test_cached_session_answers_rset_with_421(self):
        _, d = self.closed_cached_session({"rset": ["421 4.4.2 closing", "250 2.0.0 ok"]})
        self.assertRegex(d.log(), r"relay relay=\S+ id=\S+ status=stale reply=\"421 4\.4\.2 closing\" "
                                  r"retry=new-connection")

    def test_cached_session_dropped_at_rset(self):
        _, d = self.closed_cached_session({"rset": ["drop", "250 2.0.0 ok"]})
        # EOF, or a reset when the server closed with our pipelined commands unread
        self.assertRegex(d.log(), r"relay relay=\S+ id=\S+ status=stale reply=\"connection "
                                  r"(closed by \S+|to \S+ failed: Connection reset by peer)\" "
                                  r"retry=new-connection")
        self.assertNotIn("Success", d.log())

    def test_cached_session_dropped_without_pipelining(self):
        _, d = self.closed_cached_session(
            {"rset": ["drop", "250 2.0.0 ok"],
             "caps": ["8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 52428800"]})
        self.assertIn("status=stale", d.log())

    def test_failure_after_rset_answered_is_a_real_deferral(self):
        """A live cached session that refuses MAIL is not retried at once."""
        fake = self.fake(script={"mail": ["250 2.1.0 ok", "451 4.3.0 busy", "250 2.1.0 ok"]})
        d = self.start_outbound([self.host(fake)], extra="timeout_idle = 30\n")
        self.drop(message("a@example.com", ["b@example.net"], subject="one"))
        self.wait_messages(fake, 1)
        self.drop(message("a@example.com", ["c@example.net"], subject="two"))
        d.wait_log(r"to=<c@example.net> .*status=deferred reply=\"451 4\.3\.0 busy\" attempts=1")
        self.assertNotIn("status=stale", d.log())
        self.wait_messages(fake, 2)
        self.stop_outbound(d)


if __name__ == "__main__":
    harness.main()
