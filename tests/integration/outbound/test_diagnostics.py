"""smtpgate-outbound: the words of a failure.  A connection that ends in the
middle of a session is logged as closed by the peer (never errno 0's
"Success"), and a bounce says "smtp;" only for a reply the remote server
sent: a refused connection or a lost one is "X-Unix;" (RFC 3464 2.3.6)."""

import re

from outbound_case import OutboundCase, message
import harness


class DiagnosticsTest(OutboundCase):

    def dsns(self, fake):
        return [m for m in fake.snapshot()[1] if m["sender"] == ""]

    def expire_and_bounce(self, fake, hosts=None):
        """Make the queued message too old, restart against fake, return the
        text of the DSN it gets."""
        env = self.queued()[0]
        with open(env) as f:
            text = f.read()
        with open(env, "w") as f:
            f.write(re.sub(r"(?m)^created=\d+$", "created=1000", text))
        if hosts is not None:
            self.configure(hosts, "max_queue_lifetime = 3600\n")
        d = self.start_outbound()
        harness.wait_for(lambda: self.dsns(fake), 20, "an expiry DSN")
        self.wait_queue_empty()
        return d, self.dsns(fake)[0]["data"].decode("utf-8", "replace")

    def diagnostic(self, dsn):
        """The Diagnostic-Code field, unfolded."""
        m = re.search(r"(?m)^Diagnostic-Code: (.*(?:\r?\n[ \t].*)*)", dsn)
        self.assertIsNotNone(m, dsn)
        return re.sub(r"\r?\n[ \t]+", " ", m.group(1)).strip()

    def test_refused_connection_bounces_as_x_unix(self):
        dead = harness.free_port()
        d = self.start_outbound([self.host(dead)], extra="max_queue_lifetime = 3600\n")
        self.drop(message("alice@example.com", ["b@example.net"], subject="refused"))
        refused = r"connect to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: Connection refused" % dead
        d.wait_log(r"out id=\w+ to=<b@example.net> relay=\S+ status=deferred reply=\"%s\""
                   % refused)
        self.stop_outbound(d)
        fake = self.fake()
        d, dsn = self.expire_and_bounce(fake, [self.host(fake)])
        self.assertRegex(self.diagnostic(dsn),
                         r"^X-Unix; 4\.4\.7 delivery time expired; last reply: %s$" % refused)
        self.assertRegex(dsn, r"Status: 4\.4\.7")
        self.assertNotIn("smtp;", dsn)
        self.stop_outbound(d)

    def drop_mid_data(self, tls, how="drop"):
        """The server closes in the middle of the body ("drop") or after it,
        without a reply ("close"): over TLS that is an EOF without
        close_notify, once logged as "failed: Success"."""
        ca = harness.make_ca(self.tmp, names=("localhost",), ips=("127.0.0.1",)) if tls else None
        fake = self.fake(tls=ca, script={"data_end": how})
        host = (self.host(fake, host="localhost", tls="starttls", ca_file=ca["ca"]) if tls
                else self.host(fake))
        d = self.start_outbound([host], extra="max_queue_lifetime = 3600\n")
        self.drop(message("alice@example.com", ["b@example.net"], subject="dropped",
                          body="line\r\n" * 20000))
        lost = r"connection (closed by|to) (127\.0\.0\.1|localhost)\[127\.0\.0\.1\]:%d" % fake.port
        try:
            m = d.wait_log(r"out id=\w+ to=<b@example.net> relay=\S+ status=deferred "
                           r"reply=\"(%s[^\"]*)\"" % lost)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, d.log()))
        reply = m.group(1)
        self.assertRegex(reply, r"^connection closed by \S+$|^connection to \S+ failed: "
                                r"(Connection reset by peer|Broken pipe)$")
        self.assertRegex(d.log(), r"relay relay=\S+ id=\S+ status=lost stage=data-\w+ reply=\"%s"
                         % lost)
        self.assertNotIn("Success", d.log())
        if tls:     # the TLS version of the session that broke is still named
            self.assertRegex(d.log(), r"status=deferred .* tls=TLSv1\.[23]")
        self.stop_outbound(d)
        fake.set(data_end="250 2.0.0 queued")
        d, dsn = self.expire_and_bounce(fake)
        self.assertEqual(self.diagnostic(dsn),
                         "X-Unix; 4.4.7 delivery time expired; last reply: " + reply)
        self.assertNotIn("smtp;", dsn)
        self.assertNotIn("Success", dsn)
        self.stop_outbound(d)

    def test_drop_mid_data_plain(self):
        self.drop_mid_data(tls=False)

    def test_drop_mid_data_tls(self):
        self.drop_mid_data(tls=True)

    def test_close_after_data_plain(self):
        self.drop_mid_data(tls=False, how="close")

    def test_close_after_data_tls(self):
        self.drop_mid_data(tls=True, how="close")

    def test_remote_reply_stays_smtp(self):
        fake = self.fake(script={"rcpt": {"b@example.net": "550 5.1.1 no such user here"}})
        d = self.start_outbound([self.host(fake)])
        self.drop(message("alice@example.com", ["b@example.net"], subject="unknown"))
        harness.wait_for(lambda: self.dsns(fake), 20, "a DSN")
        dsn = self.dsns(fake)[0]["data"].decode("utf-8", "replace")
        self.assertEqual(self.diagnostic(dsn), "smtp; 550 5.1.1 no such user here")
        self.assertRegex(dsn, r"Status: 5\.1\.1")
        self.stop_outbound(d)


if __name__ == "__main__":
    harness.main()
