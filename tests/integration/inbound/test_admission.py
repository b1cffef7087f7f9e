"""smtpgate-inbound: who gets in -- relay_hosts, connection caps, early talkers,
IPv6 listeners, and many concurrent sessions."""

import signal
import smtplib
import socket
import unittest

import harness
from inbound_util import (InboundCase, Raw, ipv6_loopback, maildir, message, new_count,
                          wait_until)


class AdmissionTest(InboundCase):

    def test_relay_hosts_excluding_client_554_at_connect(self):
        self.inbound(extra='relay_hosts = {"192.0.2.10/32", "2001:db8::10/128"}\n')
        r = self.raw()
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertIn("5.7.1", text)
        self.assertTrue(r.eof())

    def test_relay_hosts_including_client(self):
        self.inbound(extra='relay_hosts = {"192.0.2.10/32", "127.0.0.0/8"}\n')
        r = self.raw()
        r.ehlo()

    def test_max_connections_per_client(self):
        self.inbound(extra="max_connections_per_client = 2\n")
        a, b = self.raw(), self.raw()
        self.assertEqual(a.reply()[0], 220)
        self.assertEqual(b.reply()[0], 220)
        c = self.raw()
        code, text = c.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("4.7.0", text)
        self.assertTrue(c.eof())
        self.assertEqual(a.cmd("QUIT")[0], 221)
        self.assertTrue(a.eof())
        # Once a slot is free (the daemon saw the close), a new client gets in
        # (the refused one logs no disconnect line: the probe's and a's).
        wait_until(lambda: self.daemon.log().count("disconnect id=") >= 2, 10, "disconnects")
        d = self.raw()
        self.assertEqual(d.reply()[0], 220)
        self.assertEqual(b.cmd("NOOP")[0], 250)

    def test_max_connections(self):
        self.inbound(extra="max_connections = 3\n")
        held = [self.raw() for _ in range(3)]
        for r in held:
            self.assertEqual(r.reply()[0], 220)
        r = self.raw()
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("4.7.0", text)

    def test_early_talker_rejected(self):
        d = self.inbound()
        # Freeze the daemon so the client's bytes are queued before the
        # greeting could possibly be written.
        d.send_signal(signal.SIGSTOP)
        try:
            r = self.raw()
            r.send("EHLO early.test\r\nMAIL FROM:<x@y.test>\r\n")
        finally:
            d.send_signal(signal.SIGCONT)
        code, text = r.reply()
        self.assertEqual(code, 554, text)
        self.assertTrue(r.eof())
        d.wait_log(r"reject id=[0-9a-f]{16} client=127\.0\.0\.1:\d+ cmd=connect "
                   r"reply=\"554 5\.5\.1 gw-in\.test Protocol error: input before greeting\" "
                   r"reason=early-talker net=127\.0\.0\.0/24 open=\d+ from_client=\d+ first=yes$")
        # A patient client is served normally.
        ok = self.raw()
        ok.ehlo()

    def test_early_talker_flood_is_summarised(self):
        """Early talkers are refusals like any other: the first is logged,
        the rest counted into one summary line, never three lines each."""
        d = self.inbound(extra="refusal_log_interval = 1\n")
        n = 40
        d.send_signal(signal.SIGSTOP)
        talkers = []
        try:
            for _ in range(n):
                r = self.raw()
                r.send("EHLO early.test\r\n")
                talkers.append(r)
        finally:
            d.send_signal(signal.SIGCONT)
        for r in talkers:
            code, text = r.reply()
            self.assertEqual(code, 554, text)
        m = d.wait_log(r"refused client=127\.0\.0\.0/24 reason=early-talker count=(\d+)")
        self.assertEqual(int(m.group(1)), n, d.log())
        log = d.log()
        self.assertEqual(log.count("reason=early-talker"), 2, log)
        self.assertNotIn("greeting=early-talker", log)
        self.assertNotIn("reject=early-talker", log)

    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback")
    def test_ipv6_listen(self):
        self.inbound(host="::1")
        r = Raw(self.port, host="::1")
        self.addCleanup(r.close)
        r.ehlo()
        with smtplib.SMTP("::1", self.port, timeout=10) as s:
            s.ehlo("v6.test")
            self.assertEqual(s.sendmail("s@v6.test", ["alice@example.com"], message()), {})
        msg = maildir(self.spool, "alice", want=1).values()[0]
        self.assertIn("[IPv6:::1]", msg["Received"])
        self.daemon.wait_log(r"client=\[::1\]:\d+")


    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback")
    def test_two_listen_addresses_same_port(self):
        port = harness.free_port()
        self.spool = self.path("in-spool")
        conf = harness.inbound_config(self.spool, port).replace(
            'listen = {"127.0.0.1:%d"}' % port,
            'listen = {"127.0.0.1:%d", "[::1]:%d"}' % (port, port))
        self.start("smtpgate-inbound", self.write("inbound.conf", conf), wait_port=port)
        for host in ("127.0.0.1", "::1"):
            with smtplib.SMTP(host, port, timeout=10) as s:
                s.ehlo("c.test")
                self.assertEqual(s.sendmail("s@c.test", ["bob@example.com"], message()), {})
        self.assertEqual(new_count(self.spool, "bob", want=2), 2)

class ConcurrencyTest(InboundCase):

    N = 500

    def test_500_concurrent_sessions(self):
        self.inbound(extra="max_connections = 2000\nmax_connections_per_client = 2000\n")
        conns = []
        for _ in range(self.N):
            r = Raw(self.port, timeout=30)
            conns.append(r)
            self.addCleanup(r.close)
        for r in conns:
            self.assertEqual(r.reply()[0], 220)
        for i, r in enumerate(conns):
            r.send("EHLO c%d.test\r\nMAIL FROM:<s%d@c.test>\r\nRCPT TO:<u%d@branch.example.com>\r\n"
                   "DATA\r\n" % (i, i, i))
        for r in conns:
            r.reply()           # EHLO
            self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])
        for i, r in enumerate(conns):
            r.send(message(mid="<c%d@c.test>" % i) + ".\r\nQUIT\r\n")
        for r in conns:
            code, text = r.reply()
            self.assertEqual(code, 250, text)
            self.assertEqual(r.reply()[0], 221)
        self.assertEqual(new_count(self.spool, "branch", want=self.N), self.N)


if __name__ == "__main__":
    harness.main()
