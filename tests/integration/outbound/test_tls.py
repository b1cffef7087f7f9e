"""smtpgate-outbound: STARTTLS verification, refusing bad certificates,
never sending in clear when TLS is required, AUTH after TLS, implicit TLS."""

import os

from outbound_case import OutboundCase, message
import harness


class TLSTest(OutboundCase):

    def setUp(self):
        super().setUp()
        self.ca = harness.make_ca(self.tmp, names=("localhost",), ips=("127.0.0.1",))

    def sent_mail(self, fake):
        conns, _ = fake.snapshot()
        return [c for c in conns if any(x.startswith("MAIL") for x in c["commands"])]

    def test_starttls_verified_with_test_ca(self):
        fake = self.fake(tls=self.ca)
        d = self.start_outbound([self.host(fake, host="localhost", tls="starttls",
                                           ca_file=self.ca["ca"])])
        self.drop(message("a@example.com", ["b@example.net"], subject="tls ok"))
        msgs = self.wait_messages(fake, 1)
        self.assertTrue(msgs[0]["tls"])
        d.wait_log(r"out id=\w+ to=<b@example.net> .*status=sent .*tls=TLSv1\.[23]")
        self.wait_queue_empty()
        self.stop_outbound(d)

    def assert_refused(self, fake, hostname="localhost"):
        d = self.start_outbound([self.host(fake, host=hostname, tls="starttls",
                                           ca_file=self.ca["ca"])])
        self.drop(message("a@example.com", ["b@example.net"], subject="tls refused"))
        d.wait_log(r"out id=\w+ to=<b@example.net> .*status=deferred reply=\"TLS handshake failed")
        self.assertEqual(self.sent_mail(fake), [])
        self.assertEqual(fake.message_count(), 0)
        self.assertEqual(len(self.queued()), 1)
        conns, _ = fake.snapshot()
        self.assertTrue(any("STARTTLS" in c["commands"] for c in conns))
        self.stop_outbound(d)

    def test_self_signed_certificate_refused(self):
        ss = harness.make_self_signed(self.tmp, name="localhost")
        self.assert_refused(self.fake(tls=ss))

    def test_wrong_name_certificate_refused(self):
        other = harness.make_ca(self.tmp, names=("other.example",), ips=(), prefix="other")
        self.assert_refused(self.fake(tls=other))

    def test_tls_none_never_starts_tls(self):
        fake = self.fake(tls=self.ca)
        d = self.start_outbound([self.host(fake, tls="none")])
        self.drop(message("a@example.com", ["b@example.net"], subject="clear"))
        msgs = self.wait_messages(fake, 1)
        self.assertFalse(msgs[0]["tls"])
        conns, _ = fake.snapshot()
        self.assertFalse(any("STARTTLS" in c["commands"] for c in conns))
        self.stop_outbound(d)

    def test_required_starttls_not_offered_never_sends_in_clear(self):
        fake = self.fake()          # no TLS at all: STARTTLS not offered
        d = self.start_outbound([self.host(fake, tls="starttls", ca_file=self.ca["ca"])])
        self.drop(message("a@example.com", ["b@example.net"], subject="must be tls"))
        d.wait_log(r"status=deferred reply=\"TLS required but not offered")
        self.assertEqual(self.sent_mail(fake), [])
        self.assertEqual(len(self.queued()), 1)
        self.stop_outbound(d)

    def test_auth_plain_after_tls(self):
        secret = "s3cr3t-Pa55word"
        pwfile = self.write("relay.secret", secret + "\nsecond line ignored\n")
        harness.service_key(pwfile)     # 0640 root:smtpgate: others may not read it
        fake = self.fake(tls=self.ca, script={"auth_creds": ("gateway", secret)})
        d = self.start_outbound([self.host(fake, host="localhost", tls="starttls",
                                           ca_file=self.ca["ca"], auth_user="gateway",
                                           auth_password_file=pwfile)])
        self.drop(message("a@example.com", ["b@example.net"], subject="auth"))
        self.wait_messages(fake, 1)
        conns = self.sent_mail(fake)
        self.assertEqual(conns[0]["auth"]["user"], "gateway")
        self.assertEqual(conns[0]["auth"]["password"], secret)
        self.assertTrue(conns[0]["auth"]["tls"])
        self.wait_queue_empty()
        self.stop_outbound(d)
        self.assertNotIn(secret, d.log())

    def test_input_after_starttls_reply_is_discarded(self):
        # a line smuggled after "220" must not reach the TLS layer or the session
        fake = self.fake(tls=self.ca, script={"starttls": "220 2.0.0 go ahead\r\n250 2.0.0 injected"})
        d = self.start_outbound([self.host(fake, host="localhost", tls="starttls",
                                           ca_file=self.ca["ca"])])
        self.drop(message("a@example.com", ["b@example.net"], subject="smuggle"))
        msgs = self.wait_messages(fake, 1)
        self.assertTrue(msgs[0]["tls"])
        self.stop_outbound(d)

    def test_implicit_tls(self):
        fake = self.fake(tls=self.ca, implicit=True)
        d = self.start_outbound([self.host(fake, host="localhost", tls="implicit",
                                           ca_file=self.ca["ca"])])
        self.drop(message("a@example.com", ["b@example.net"], subject="implicit"))
        msgs = self.wait_messages(fake, 1)
        self.assertTrue(msgs[0]["tls"])
        self.stop_outbound(d)


if __name__ == "__main__":
    harness.main()
