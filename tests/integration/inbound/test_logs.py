"""smtpgate-inbound: the log lines an admin greps for (smtpgate-inbound(8),
LOG LINES), with the daemon running as the service user.

One "reject" line per refused command, exact, for every kind of refusal
(unknown recipient, SIZE=, SMTPUTF8, at connect, the per-client cap, too
many recipients, syntax, an unknown verb), each also counted in
smtpgate_inbound_rejections_total; the delivered line per recipient with
its mailbox; the Message-ID once per message; and the summary of a
repeated line.
"""

import re
import signal
import smtplib
import socket

import harness
from inbound_util import InboundCase, message, wait_until

SID = r"[0-9a-f]{16}"
CLIENT = r"127\.0\.0\.1:\d+"


def lines(log, pattern):
    """Log lines (prefix stripped) that match pattern from their start."""
    out = []
    for line in log.splitlines():
        body = line.split("]: ", 1)[1] if "]: " in line else line
        if re.match(pattern, body):
            out.append(body)
    return out


class RejectLineTest(InboundCase):

    def rejections(self, text):
        return {m.group(1): int(m.group(2)) for m in re.finditer(
            r'(?m)^smtpgate_inbound_rejections_total\{reason="(\w+)"\} (\d+)$', text)}

    def assert_line(self, d, regex):
        """Exactly one line is regex, whole."""
        wait_until(lambda: lines(d.log(), regex + "$"), 10, "log line /%s/ among\n%s" % (
            regex, "\n".join(lines(d.log(), "reject "))))
        got = lines(d.log(), regex + "$")
        self.assertEqual(len(got), 1, "\n".join(got))

    def test_every_refusal_has_its_line_and_is_counted(self):
        mport = harness.free_port()
        d = self.inbound(extra='metrics_listen = "127.0.0.1:%d"\nmax_message_size = 100000\n'
                         'max_recipients = 2\nmax_connections_per_relay_host = 2\n'
                         'relay_hosts = {"127.0.0.1/32"}\n' % mport)
        r = self.raw()
        r.ehlo()
        self.assertEqual(r.cmd("MAIL FROM:<big@client.test> SIZE=200000")[0], 552)
        self.assertEqual(r.cmd("MAIL FROM:<s@client.test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<nobody@example.com>")[0], 550)
        self.assertEqual(r.cmd("RCPT TO:<j\u00f6rg@example.com>")[0], 553)
        self.assertEqual(r.cmd("RCPT TO:<alice@example.com>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.com>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<alice2@example.com>")[0], 452)
        self.assertEqual(r.cmd("RCPT TO:alice@example.com")[0], 501)
        self.assertEqual(r.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==")[0], 500)
        self.assertEqual(r.cmd("RSET")[0], 250)
        self.assertEqual(r.cmd("STARTTLS")[0], 454)           # no tls section
        self.assertEqual(r.cmd("DATA")[0], 503)
        r2 = self.raw()                          # the second from 127.0.0.1: still in
        self.assertEqual(r2.reply()[0], 220)
        r3 = self.raw()                          # the third: over max_connections_per_client
        self.assertEqual(r3.reply()[0], 421)
        denied = socket.create_connection(("127.0.0.1", self.port), timeout=10,
                                          source_address=("127.0.0.2", 0))
        self.addCleanup(denied.close)
        self.assertTrue(denied.recv(512).startswith(b"554 5.7.1"))

        sid = re.search(r"conn id=(%s) client=%s tls=none greeting=ok" % (SID, CLIENT),
                        d.log().split("disconnect id=")[-1]).group(1)
        pre = r"reject id=%s client=%s " % (sid, CLIENT)
        self.assert_line(d, pre + r'cmd=MAIL from=<big@client\.test> '
                         r'reply="552 5\.3\.4 Message size exceeds fixed limit"')
        self.assert_line(d, pre + r'cmd=RCPT from=<s@client\.test> to=<nobody@example\.com> '
                         r'reply="550 5\.1\.1 Recipient address rejected: User unknown"')
        self.assert_line(d, pre + r'cmd=RCPT from=<s@client\.test> '
                         r'to=<j\\xc3\\xb6rg@example\.com> '
                         r'reply="553 5\.6\.7 Non-ASCII address needs SMTPUTF8"')
        self.assert_line(d, pre + r'cmd=RCPT from=<s@client\.test> to=<alice2@example\.com> '
                         r'reply="452 4\.5\.3 Error: too many recipients"')
        self.assert_line(d, pre + r'cmd=RCPT from=<s@client\.test> to=<alice@example\.com> '
                         r'reply="501 5\.1\.3 Bad recipient address syntax"')
        self.assert_line(d, pre + r'cmd=AUTH from=<s@client\.test> '
                         r'reply="500 5\.5\.2 Error: command not recognized"')
        self.assert_line(d, pre + r'cmd=STARTTLS reply="454 4\.7\.0 TLS not available"')
        self.assert_line(d, pre + r'cmd=DATA reply="503 5\.5\.1 Error: need MAIL command"')
        self.assert_line(d, r'reject id=%s client=%s cmd=connect reply="421 4\.7\.0 gw-in\.test '
                         r'Too many connections, try again later" reason=over-relay-cap '
                         r'net=relay 127\.0\.0\.1/32 open=2 from_client=2 first=yes' % (SID, CLIENT))
        self.assert_line(d, r'reject id=%s client=127\.0\.0\.2:\d+ cmd=connect '
                         r'reply="554 5\.7\.1 gw-in\.test Access denied" reason=denied '
                         r'net=127\.0\.0\.0/24 open=\d+ from_client=0 first=yes' % SID)
        # every reject line is one refusal the metrics count, by its reason
        text = harness.wait_for(lambda: (lambda t: self.rejections(t).get("relay_denied")
                                         and t)(harness.scrape(mport)), 10, "relay_denied")
        rej = self.rejections(text)
        want = {"size": 1, "unknown_user": 1, "smtputf8": 1, "too_many_recipients": 1,
                "syntax": 2, "sequence": 1, "over_cap": 1, "relay_denied": 1,
                "tls_unavailable": 1}
        self.assertEqual({k: rej[k] for k in want}, want, rej)
        self.assertEqual(sum(rej.values()), len(lines(d.log(), r"reject ")))

    def test_refused_message_and_line_errors(self):
        d = self.inbound(extra="max_message_size = 10000\n")
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<>")
        r.cmd("RCPT TO:<bob@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 20 + ".\r\n")
        self.assertEqual(r.reply()[0], 552)
        r.send("NOOP\nRSET\r\n")          # a bare LF in a command line
        self.assertEqual(r.reply()[0], 500, d.log())
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.cmd("X" * 3000)[0], 500)
        pre = r"reject id=%s client=%s " % (SID, CLIENT)
        self.assert_line(d, pre + r'cmd=DATA from=<> '
                         r'reply="552 5\.3\.4 Error: message too big"')
        self.assert_line(d, pre + r'cmd=- reply="500 5\.5\.2 Error: bare LF not allowed"')
        self.assert_line(d, pre + r'cmd=- reply="500 5\.5\.2 Error: line too long"')


class DeliveredLineTest(InboundCase):

    def test_three_recipients_each_named_with_its_mailbox(self):
        d = self.inbound()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ["alice@example.com", "bob@example.com",
                                                          "Ann@Branch.Example.com"],
                                        message(mid="<three.rcpts@client.test>")), {})
            self.assertEqual(s.sendmail("s@client.test", ["bob@example.com"],
                                        "Subject: no id\r\n\r\nx\r\n"), {})
        qid = wait_until(lambda: re.search(
            r"in id=([0-9a-f]{16}) session=%s client=%s message-id=<three\.rcpts@client\.test> "
            r"from=<s@client\.test> size=\d+ nrcpt=3 tls=no status=delivered$" % (SID, CLIENT),
            d.log(), re.M), 10, "the message line").group(1)
        got = lines(d.log(), r"in id=%s to=" % qid)
        self.assertEqual(got, ["in id=%s to=<alice@example.com> mailbox=alice status=delivered" % qid,
                               "in id=%s to=<bob@example.com> mailbox=bob status=delivered" % qid,
                               "in id=%s to=<Ann@Branch.Example.com> mailbox=branch "
                               "status=delivered" % qid])
        # the Message-ID once per message: the message line only
        self.assertEqual(d.log().count("three.rcpts@client.test"), 1, d.log())
        wait_until(lambda: lines(d.log(), r"in id=%s session=%s client=%s message-id=none "
                                 r"from=<s@client\.test> size=\d+ nrcpt=1 tls=no "
                                 r"status=delivered$" % (SID, SID, CLIENT)), 10,
                   "message-id=none for a message without one")

    def test_message_id_of_a_spilled_body(self):
        # past body_memory_limit the body goes to a file: its header is
        # read from the first bytes spilled
        d = self.inbound(extra="body_memory_limit = 4096\n")
        body = "line\r\n" * 5000
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.sendmail("s@client.test", ["bob@example.com"],
                       message(mid="<spilled@client.test>", body=body, to="bob@example.com"))
        d.wait_log(r"message-id=<spilled@client\.test> from=<s@client\.test> size=\d+ nrcpt=1 "
                   r"tls=no status=delivered")


class RepeatTest(InboundCase):

    def test_repeated_warning_is_summarised(self):
        # a reload asking for another spool warns the same line each time;
        # the mailbox count differs so each reload is seen to be done
        d = self.inbound()
        base = open(self.conf).read()
        other = self.path("other-spool")
        for n in range(1, 4):
            extra = "".join('mailbox "x%d" { address = {"x%d@example.com"} }\n' % (i, i)
                            for i in range(n))
            self.write("inbound.conf", base.replace(self.spool, other) + extra)
            d.send_signal(signal.SIGHUP)
            d.wait_log(r"reload: config=\S+ mailboxes=%d$" % (3 + n))
        self.assertEqual(d.stop(), 0)
        warn = "reload: spool change %s -> %s refused; still using %s until restart" % (
            self.spool, other, self.spool)
        self.assertEqual(lines(d.log(), re.escape(warn) + "$"), [warn], d.log())
        self.assertEqual(lines(d.log(), r"message repeated"),
                         ["message repeated 2 more times in %s s: %s" % (
                             re.search(r"in (\d+) s: reload: spool", d.log()).group(1), warn)])


if __name__ == "__main__":
    harness.main()
