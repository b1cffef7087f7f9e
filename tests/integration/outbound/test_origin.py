"""it-outbound-origin: what the send-only daemon decides for mail this host
originates (issue 19): the admin address map, sender masquerading and
sender_address, /etc/mailname, the postmaster notice of a double bounce,
and body lines over 998 characters; a reload changes the settings for
the files taken after it.

The daemon runs as the service user (harness); producers are root and
USER_A through the real injector installed set-group-id (maildrop/), and a
trusted producer renaming files into pickup/.  The smart host is
fakesmtp.FakeSMTP (the integration tests use Postfix only as smtp-sink in
the load test, which checks nothing about lines): it records every DATA,
and the tests check that no line over 998 characters arrives and that the
decoded body is the one submitted.
"""

import base64
import binascii
import glob
import os
import pwd
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

import harness                  # noqa: E402
from outbound_case import OutboundCase, message  # noqa: E402
from maildrop import install_setgid  # noqa: E402

A = harness.USER_A


def login(uid):
    """The login name smtpgate-sendmail uses for uid."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "uid%d" % uid


def head_body(data):
    """(header bytes, body bytes) of a message as received."""
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def field(head, name):
    """The unfolded value of the first field name in head, or None."""
    m = re.search(rb"(?mi)^" + name.encode() + rb":[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)",
                  head)
    return None if m is None else re.sub(rb"\r\n[ \t]", b" ", m.group(1)).decode()


def longest_line(data):
    return max(len(line) for line in data.split(b"\r\n"))


@unittest.skipUnless(harness.privileged(), "needs root to play other users")
class OriginTest(OutboundCase):

    def start_origin(self, fake, extra):
        d = self.start_outbound([self.host(fake)],
                                extra='submit_group = "%d"\n' % harness.SUBMIT_GID + extra)
        self.sm = install_setgid(self.path("bin"))
        os.chmod(self.conf, 0o644)
        return d

    def sendmail(self, uid, args, text):
        """Run the set-group-id injector as uid (0: root) with -C conf."""
        argv = [self.sm, "-C", self.conf] + list(args)
        r = (harness.run(argv, input=text.encode()) if uid == 0 else
             harness.run_as(uid, uid, argv, input=text.encode()))
        self.assertEqual(r.returncode, 0, r.stderr)

    def by_subject(self, messages, subject):
        found = [m for m in messages if field(head_body(m["data"])[0], "Subject") == subject]
        self.assertEqual(len(found), 1, [m["data"][:300] for m in messages])
        return found[0]

    def test_local_recipients_go_to_the_admin(self):
        # root (cron) and USER_A through sendmail, and a trusted producer:
        # every local recipient reaches the admin address, others keep theirs
        fake = self.fake()
        d = self.start_origin(fake, 'admin_address = "ops@example.org"\n'
                              'sender_domain = "example.org"\n')
        self.sendmail(0, ["root"], "Subject: cron root\n\nroot's output\n")
        self.sendmail(A, ["root", "postmaster@localhost", "alice@example.net"],
                      "Subject: user mix\n\nhello\n")
        self.drop(message("app@example.com", ["daemon@gw-out.test"], subject="from pickup"))
        msgs = self.wait_messages(fake, 3)
        cron = self.by_subject(msgs, "cron root")
        self.assertEqual(cron["rcpts"], ["ops@example.org"])
        self.assertEqual(cron["sender"], "root@example.org")
        head = head_body(cron["data"])[0]
        self.assertEqual(field(head, "X-Original-To"), "root@gw-out.test")
        self.assertIn("root@example.org", field(head, "From"))
        mix = self.by_subject(msgs, "user mix")
        self.assertEqual(sorted(mix["rcpts"]), ["alice@example.net", "ops@example.org"])
        self.assertEqual(mix["sender"], "%s@example.org" % login(A))
        self.assertIsNone(field(head_body(mix["data"])[0], "X-Original-To"))
        app = self.by_subject(msgs, "from pickup")
        self.assertEqual((app["sender"], app["rcpts"]), ("app@example.com", ["ops@example.org"]))
        log = d.log()
        self.assertRegex(log, r"rewrite id=\w+ rcpt=<root@gw-out.test> to=<ops@example.org>")
        self.assertRegex(log, r"rewrite id=\w+ rcpt=<postmaster@localhost> to=<ops@example.org>")
        self.assertRegex(log, r"rewrite id=\w+ sender=<root@gw-out.test> to=<root@example.org>")
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_reload_changes_the_admin_address(self):
        # SIGHUP: files taken after it follow the new settings
        fake = self.fake()
        d = self.start_origin(fake, 'admin_address = "ops@example.org"\n')
        self.sendmail(0, ["root"], "Subject: before\n\nx\n")
        self.wait_messages(fake, 1)
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("ops@example.org", "oncall@example.org"))
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload status=ok")
        self.sendmail(0, ["root"], "Subject: after\n\nx\n")
        msgs = self.wait_messages(fake, 2)
        self.assertEqual(self.by_subject(msgs, "before")["rcpts"], ["ops@example.org"])
        self.assertEqual(self.by_subject(msgs, "after")["rcpts"], ["oncall@example.org"])
        self.stop_outbound(d)

    def test_sender_address_for_local_users_only(self):
        fake = self.fake()
        d = self.start_origin(fake, 'sender_address = "noreply@example.org"\n'
                              'sender_domain = "example.org"\n')
        self.sendmail(A, ["bob@example.net"],
                      "From: Alice Example <alice@home.example>\nSubject: user\n\nx\n")
        self.sendmail(0, ["-f", "root@gw-out.test", "bob@example.net"],
                      "Reply-To: team@example.org\nSubject: root\n\nx\n")
        self.drop(message("app@gw-out.test", ["bob@example.net"], subject="app local"))
        self.drop(message("billing@example.com", ["bob@example.net"], subject="app own"))
        msgs = self.wait_messages(fake, 4)
        user = self.by_subject(msgs, "user")
        self.assertEqual(user["sender"], "noreply@example.org")
        head = head_body(user["data"])[0]
        self.assertEqual(field(head, "From"), "Alice Example <noreply@example.org>")
        self.assertEqual(field(head, "Reply-To"), "<alice@home.example>")
        root = self.by_subject(msgs, "root")
        self.assertEqual(root["sender"], "noreply@example.org")
        head = head_body(root["data"])[0]
        self.assertEqual(field(head, "Reply-To"), "team@example.org")   # kept, not added
        self.assertEqual(len(re.findall(rb"(?mi)^Reply-To:", head)), 1)
        # trusted producers: local addresses masqueraded, their own kept
        local = self.by_subject(msgs, "app local")
        self.assertEqual(local["sender"], "app@example.org")
        self.assertIn("<app@example.org>", field(head_body(local["data"])[0], "From"))
        own = self.by_subject(msgs, "app own")
        self.assertEqual(own["sender"], "billing@example.com")
        self.assertIsNone(field(head_body(own["data"])[0], "Reply-To"))
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_mailname_file_is_the_mail_domain(self):
        fake = self.fake()
        mailname = self.write("mailname", "Mail.Example.NET\n")
        os.chmod(mailname, 0o644)
        d = self.start_origin(fake, 'mailname_file = "%s"\n' % mailname)
        self.sendmail(0, ["bob@example.net"], "Subject: mailname\n\nx\n")
        msg = self.wait_messages(fake, 1)[0]
        self.assertEqual(msg["sender"], "root@mail.example.net")
        self.assertIn("<root@mail.example.net>", field(head_body(msg["data"])[0], "From"))
        self.stop_outbound(d)

    def postmaster_rcpts(self, fake, addr):
        return sum(1 for c in fake.snapshot()[0] for cmd in c["commands"]
                   if cmd.upper().startswith("RCPT TO:<%s>" % addr.upper()))

    def test_double_bounce_goes_to_the_postmaster_once(self):
        # a smart host that refuses every recipient: the message bounces,
        # the bounce fails (a double bounce) and goes to the postmaster,
        # whose notice fails too and is dropped with one line: no loop
        fake = self.fake(script={"rcpt": "550 5.7.1 relaying denied"})
        d = self.start_origin(fake, 'admin_address = "ops@example.org"\n')
        self.sendmail(A, ["-f", "alice@example.com", "x@example.net"],
                      "Subject: doomed\n\nx\n")
        d.wait_log(r"dsn orig=\w+ kind=failed status=dropped "
                   r"reason=\"from <>, to the postmaster_address itself\"", 30)
        self.wait_queue_empty()
        log = d.log()
        self.assertRegex(log, r"dsn id=\w+ orig=\w+ kind=failed to=<alice@example.com>")
        self.assertRegex(log, r"dsn id=\w+ orig=\w+ kind=postmaster to=<ops@example.org>")
        self.assertEqual(len(re.findall(r"dsn id=", log)), 2, log)
        self.assertEqual(len(re.findall(r"status=dropped", log)), 1, log)
        self.assertEqual(self.postmaster_rcpts(fake, "ops@example.org"), 1)
        self.assertEqual(self.postmaster_rcpts(fake, "alice@example.com"), 1)
        self.stop_outbound(d)

    def test_bounce_to_a_local_sender_goes_to_the_admin(self):
        # USER_A's mail from <login@gw-out.test> is refused: nobody outside
        # could deliver its bounce, so the admin gets it
        fake = self.fake(script={"rcpt": {"x@example.net": "550 5.1.1 no such user",
                                          "*": "250 2.1.5 ok"}})
        d = self.start_origin(fake, 'admin_address = "ops@example.org"\n')
        self.sendmail(A, ["x@example.net"], "Subject: refused\n\nx\n")
        msgs = self.wait_messages(fake, 1)
        self.assertEqual((msgs[0]["sender"], msgs[0]["rcpts"]), ("", ["ops@example.org"]))
        data = msgs[0]["data"].decode("utf-8", "replace")
        self.assertIn("To: <%s@gw-out.test>" % login(A), data)
        self.assertRegex(data, r"Final-Recipient: rfc822;\s*x@example.net")
        d.wait_log(r"dsn id=\w+ orig=\w+ kind=failed to=<ops@example.org>")
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_double_bounce_without_postmaster_is_dropped(self):
        fake = self.fake(script={"rcpt": "550 5.7.1 relaying denied"})
        d = self.start_origin(fake, 'admin_address = "ops@example.org"\n'
                              'postmaster_address = ""\n')
        self.drop(message("alice@example.com", ["x@example.net"], subject="doomed"))
        d.wait_log(r"dsn orig=\w+ kind=failed status=dropped "
                   r"reason=\"from <>, no postmaster_address\"", 30)
        self.wait_queue_empty()
        self.assertEqual(self.postmaster_rcpts(fake, "ops@example.org"), 0)
        self.assertEqual(len(re.findall(r"dsn id=", d.log())), 1)
        self.stop_outbound(d)

    def test_long_lines_are_reencoded_once_at_queue_time(self):
        # the smart host refuses the DATA (451) until told otherwise: the
        # queued copy already has no long line, and the retry sends exactly
        # the queued bytes
        fake = self.fake(script={"data_end": "451 4.3.0 not now"})
        d = self.start_origin(fake, "")
        text = "line " + "0123456789" * 500 + " end\n\u00e9t\u00e9 \nlast\n"
        self.sendmail(A, ["bob@example.net"], "Subject: long\n\n" + text)
        d.wait_log(r"longline id=\w+ line=1 length=5009 action=quoted-printable", 20)
        d.wait_log(r"status=deferred", 20)
        [msgfile] = glob.glob(os.path.join(self.spool, "queue", "*.msg"))
        with open(msgfile, "rb") as f:
            queued = f.read()
        fake.set(data_end="250 2.0.0 ok")
        msgs = self.wait_messages(fake, 1)
        data = msgs[0]["data"]
        self.assertEqual(data, queued)
        self.assertLessEqual(longest_line(data), 998)
        head, body = head_body(data)
        self.assertEqual(field(head, "Content-Transfer-Encoding"), "quoted-printable")
        self.assertEqual(field(head, "MIME-Version"), "1.0")
        self.assertEqual(field(head, "Content-Type"), "text/plain; charset=utf-8")
        self.assertEqual(binascii.a2b_qp(body), text.replace("\n", "\r\n").encode())
        self.assertEqual(len(re.findall(r"longline id=", d.log())), 1)   # once, not per try
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_long_lines_by_producer_and_type(self):
        fake = self.fake()
        d = self.start_origin(fake, "")
        plain = "p" * 3000 + "\n= x \n"
        self.sendmail(0, ["bob@example.net"], "Subject: root long\n\n" + plain)
        blob = ("{\"k\": \"" + "v" * 4000 + "\"}\r\n").encode()
        self.drop(message("app@example.com", ["bob@example.net"], subject="json",
                          headers="MIME-Version: 1.0\r\nContent-Type: application/json\r\n"
                          "Content-Transfer-Encoding: 8bit", body=blob.decode()))
        multi = ("--b\r\nContent-Type: text/plain\r\n\r\n" + "m" * 2000 + "\r\n--b--\r\n")
        self.drop(message("carol@example.com", ["bob@example.net"], subject="multi",
                          headers="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                          "boundary=\"b\"", body=multi))
        msgs = self.wait_messages(fake, 3)
        for m in msgs:
            self.assertLessEqual(longest_line(m["data"]), 998, m["data"][:200])
        root = self.by_subject(msgs, "root long")
        self.assertEqual(binascii.a2b_qp(head_body(root["data"])[1]),
                         plain.replace("\n", "\r\n").encode())
        js = self.by_subject(msgs, "json")
        head, body = head_body(js["data"])
        self.assertEqual(field(head, "Content-Transfer-Encoding"), "base64")
        self.assertEqual(len(re.findall(rb"(?mi)^Content-Transfer-Encoding:", head)), 1)
        self.assertEqual(base64.b64decode(body), blob)
        # the multipart one is not sent: its sender gets a bounce that says why
        bounce = [m for m in msgs if m["sender"] == ""]
        self.assertEqual(len(bounce), 1)
        self.assertEqual(bounce[0]["rcpts"], ["carol@example.com"])
        data = bounce[0]["data"].decode("utf-8", "replace")
        self.assertRegex(data, r"Status: 5\.6\.0")
        self.assertIn("2000 characters", data)
        self.assertIn("multipart/mixed", data)
        self.assertFalse([m for m in msgs if m["sender"] == "carol@example.com"])
        self.assertRegex(d.log(), r"longline id=\w+ line=\d+ length=2000 action=bounce")
        self.wait_queue_empty()
        self.stop_outbound(d)


if __name__ == "__main__":
    harness.main()
