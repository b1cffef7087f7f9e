"""smtpgate-inbound: SMTP transactions end to end, read back from the Maildirs."""

import email
import os
import re
import threading
import time
import smtplib
import subprocess
import unittest

import harness
from inbound_util import (InboundCase, maildir, maildir_messages, message, new_count,
                          size_in_name, tmp_files, wait_until)


class TransactionTest(InboundCase):

    def setUp(self):
        super().setUp()
        self.inbound()

    def test_smtplib_transaction_maildir_contents(self):
        body = "Line one.\r\n.Leading dot line.\r\nLast line.\r\n"
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            code, _ = s.ehlo("client.test")
            self.assertEqual(code, 250)
            refused = s.sendmail("sender@client.test", ["alice@example.com"],
                                 message(body=body))
            self.assertEqual(refused, {})
        md = maildir(self.spool, "alice", want=1)
        keys = list(md.keys())
        self.assertEqual(len(keys), 1)
        msg = md.get_message(keys[0])
        self.assertEqual(msg["Return-Path"], "<sender@client.test>")
        self.assertEqual(msg["Delivered-To"], "alice@example.com")
        received = " ".join(msg["Received"].split())
        self.assertIn("from client.test", received)
        self.assertIn("[127.0.0.1]", received)
        self.assertIn("by gw-in.test", received)
        self.assertIn("with ESMTP id", received)
        self.assertIn("for <alice@example.com>;", received)
        self.assertEqual(msg["Subject"], "hello")
        self.assertEqual(msg.get_payload(), body.replace("\r\n", "\n"))
        fn, raw = maildir_messages(self.spool, "alice")[0]
        # stored as the Maildir convention has it: LF line ends, ,S= its size
        self.assertEqual(size_in_name(fn), len(raw))
        self.assertNotIn(b"\r", raw)
        self.assertTrue(raw.endswith(b"Last line.\n"))
        self.assertIn(b"\n.Leading dot line.\n", raw)
        self.assertEqual(tmp_files(self.spool), [])
        log = self.daemon.log()
        self.assertRegex(log, r"in id=[0-9a-f]{16} session=[0-9a-f]{16} client=127\.0\.0\.1:\d+ "
                         r"message-id=<m1@client\.test> from=<sender@client\.test> size=\d+ nrcpt=1 tls=no status=delivered")

    def test_queue_id_in_reply_matches_received(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            s.mail("sender@client.test")
            s.rcpt("bob@example.com")
            code, text = s.data(message(to="bob@example.com").encode())
            self.assertEqual(code, 250)
        qid = text.decode().split()[-1]
        md = maildir(self.spool, "bob", want=1)
        self.assertEqual(len(md), 1)
        received = " ".join(md.values()[0]["Received"].split())
        self.assertIn("id %s" % qid, received)

    def test_two_mailboxes_and_catch_all(self):
        rcpts = ["alice@example.com", "bob@example.com", "x@branch.example.com",
                 "Y@Branch.Example.com"]
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", rcpts, message()), {})
        a = maildir_messages(self.spool, "alice", want=1)
        b = maildir_messages(self.spool, "bob", want=1)
        c = maildir_messages(self.spool, "branch", want=1)
        self.assertEqual((len(a), len(b), len(c)), (1, 1, 1))
        ma = email.message_from_bytes(a[0][1])
        mb = email.message_from_bytes(b[0][1])
        mc = email.message_from_bytes(c[0][1])
        self.assertEqual(ma.get_all("Delivered-To"), ["alice@example.com"])
        self.assertEqual(mb.get_all("Delivered-To"), ["bob@example.com"])
        self.assertEqual(sorted(x.lower() for x in mc.get_all("Delivered-To")),
                         ["x@branch.example.com", "y@branch.example.com"])
        self.assertNotIn("for <", " ".join(mc["Received"].split()))
        for fn, raw in a + b + c:
            self.assertEqual(size_in_name(fn), len(raw))
        self.assertRegex(self.daemon.log(), r"nrcpt=4 tls=no status=delivered")

    def test_unknown_user_550(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            s.mail("s@client.test")
            code, text = s.rcpt("nobody@example.com")
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b"5.1.1"), text)
            code, text = s.rcpt("x@other.example.org")
            self.assertEqual(code, 550)

    def test_pipelining_one_write(self):
        r = self.raw()
        self.assertIn("PIPELINING", r.ehlo())
        r.send("MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.com>\r\n"
               "RCPT TO:<nobody@example.com>\r\nDATA\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 550)
        self.assertEqual(r.reply()[0], 354)
        r.send(message() + ".\r\nQUIT\r\n")
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        self.assertIn("queued as", text)
        self.assertEqual(r.reply()[0], 221)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)

    def test_half_close_after_the_last_command_is_still_answered(self):
        # like `printf ... | nc -N`: everything sent, then the sending side
        # shut; every command still gets its reply, the message its 250
        import socket
        r = self.raw()
        self.assertEqual(r.reply()[0], 220)
        r.send("EHLO half.test\r\nMAIL FROM:<s@client.test>\r\n"
               "RCPT TO:<alice@example.com>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        r.send(message() + ".\r\nQUIT\r\n")
        r.s.shutdown(socket.SHUT_WR)
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        self.assertIn("queued as", text)
        self.assertEqual(r.reply()[0], 221)
        self.assertEqual(r.s.recv(100), b"")    # then closed by the server
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)

    def test_half_close_inside_data_delivers_nothing(self):
        import socket
        r = self.raw()
        r.ehlo()
        r.send("MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])
        r.send("Subject: cut\r\n\r\nno end of data\r\n")
        r.s.shutdown(socket.SHUT_WR)
        self.assertEqual(r.s.recv(100), b"")    # closed without a reply
        self.assertEqual(len(re.findall(r"disconnect id=\S+ client=\S+ messages=0",
                                        self.daemon.log())), 2)   # the probe's and ours
        self.assertEqual(new_count(self.spool, "alice"), 0)
        self.assertEqual(tmp_files(self.spool), [])

    def test_two_messages_one_session_pipelined(self):
        r = self.raw()
        r.ehlo()
        m = message()
        r.send("MAIL FROM:<a@c.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])
        r.send(m + ".\r\nMAIL FROM:<b@c.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
        self.assertEqual([r.reply()[0] for _ in range(4)], [250, 250, 250, 354])
        r.send(m + ".\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(new_count(self.spool, "bob", want=2), 2)

    def test_bdat(self):
        r = self.raw()
        self.assertIn("CHUNKING", r.ehlo())
        self.assertEqual(r.cmd("MAIL FROM:<s@client.test>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.com>")[0], 250)
        part1 = b"Subject: bdat\r\n\r\nfirst "
        part2 = b"chunk\r\n.dot kept\r\n"
        r.send(b"BDAT %d\r\n" % len(part1) + part1)
        self.assertEqual(r.reply()[0], 250)
        r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        code, text = r.reply()
        self.assertEqual(code, 250, text)
        msgs = maildir_messages(self.spool, "bob", want=1)
        self.assertEqual(len(msgs), 1)
        fn, raw = msgs[0]
        self.assertTrue(raw.endswith(b"\n\nfirst chunk\n.dot kept\n"), raw)
        self.assertNotIn(b"\r", raw)
        self.assertEqual(size_in_name(fn), len(raw))

    def test_swaks(self):
        out = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.port),
                              "--from", "swaks@client.test", "--to", "alice@example.com",
                              "--helo", "swaks.test", "--header", "Subject: via swaks"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("250 2.0.0", out.stdout)
        md = maildir(self.spool, "alice", want=1)
        self.assertEqual(len(md), 1)
        msg = md.values()[0]
        self.assertEqual(msg["Subject"], "via swaks")
        self.assertIn("from swaks.test", msg["Received"])

    def test_vrfy_help_noop_rset(self):
        r = self.raw()
        r.ehlo()
        self.assertEqual(r.cmd("VRFY alice")[0], 252)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(r.cmd("RSET")[0], 250)
        self.assertIn(r.cmd("HELP")[0], (214, 250))
        self.assertEqual(r.cmd("QUIT")[0], 221)
        self.assertTrue(r.eof())
        self.daemon.wait_log(r"disconnect id=[0-9a-f]{16} client=127\.0\.0\.1:\d+ messages=0 "
                             r"errors=\d+")


class LimitsTest(InboundCase):

    def setUp(self):
        super().setUp()
        self.inbound(extra="max_message_size = 2000\nmax_recipients = 3\nmax_errors = 3\n")

    def test_size_parameter_too_big(self):
        r = self.raw()
        self.assertIn("SIZE 2000", r.ehlo())
        code, text = r.cmd("MAIL FROM:<s@c.test> SIZE=5000")
        self.assertEqual(code, 552, text)
        self.assertIn("5.3.4", text)

    def test_body_too_big_read_to_end_session_continues(self):
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 100 + ".\r\n")
        code, text = r.reply()
        self.assertEqual(code, 552, text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(new_count(self.spool, "alice"), 0)
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: small\r\n\r\nok\r\n.\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)

    def test_max_recipients(self):
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        for i in range(3):
            self.assertEqual(r.cmd("RCPT TO:<u%d@branch.example.com>" % i)[0], 250)
        code, text = r.cmd("RCPT TO:<u9@branch.example.com>")
        self.assertEqual(code, 452, text)
        self.assertIn("4.5.3", text)

    def test_overlong_line_then_in_sync(self):
        r = self.raw()
        r.ehlo()
        r.send("NOOP " + "a" * 5000 + "\r\nNOOP\r\n")
        code, text = r.reply()
        self.assertEqual(code, 500, text)
        self.assertIn("5.5.2", text)
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.cmd("RSET")[0], 250)

    def test_max_errors_disconnects(self):
        r = self.raw()
        r.ehlo()
        codes = []
        try:
            for _ in range(10):
                codes.append(r.cmd("BOGUS")[0])
                if codes[-1] == 421:
                    break
        except EOFError:
            pass
        self.assertIn(421, codes)
        self.assertLessEqual(len(codes), 5)
        self.assertTrue(r.eof())

    def _data(self, payload):
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(payload)
        return r

    def test_bare_lf_rejected(self):
        r = self._data(b"Subject: x\r\n\r\nbad\nline\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 550, text)
        self.assertIn("5.5.2", text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(new_count(self.spool, "alice"), 0)

    def test_bare_lf_dot_does_not_end_data(self):
        # "\n.\n" (smuggling attempt) must not end DATA; only CRLF.CRLF does.
        r = self._data(b"Subject: x\r\n\r\nbad\n.\nMAIL FROM:<evil@c.test>\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 550, text)
        self.assertEqual(r.cmd("NOOP")[0], 250)
        self.assertEqual(new_count(self.spool, "alice"), 0)

    def test_bare_cr_rejected(self):
        r = self._data(b"Subject: x\r\n\r\nbad\rline\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 550, text)
        self.assertEqual(new_count(self.spool, "alice"), 0)
        self.daemon.wait_log(r"in id=- session=[0-9a-f]{16} client=127\.0\.0\.1:\d+ tls=no "
                             r"status=rejected reason=bare-cr-in-data")

    def test_nul_rejected(self):
        r = self._data(b"Subject: x\r\n\r\nbad\x00byte\r\n.\r\n")
        code, text = r.reply()
        self.assertEqual(code, 550, text)
        self.assertEqual(new_count(self.spool, "alice"), 0)
        self.assertEqual(tmp_files(self.spool), [])


class TimeoutTest(InboundCase):

    def test_data_timeout_421(self):
        self.inbound(extra="timeout_data = 1\n")
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send("Subject: stalled\r\n")
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("4.4.2", text)
        self.assertTrue(r.eof())
        self.assertEqual(new_count(self.spool, "alice"), 0)

    def test_command_timeout_421(self):
        self.inbound(extra="timeout_command = 1\n")
        r = self.raw()
        r.ehlo()
        code, text = r.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("4.4.2", text)
        self.assertTrue(r.eof())


class DeliveryFailureTest(InboundCase):

    def test_link_failure_451_and_nothing_left_in_any_new(self):
        self.inbound()
        new = os.path.join(self.spool, "mailboxes", "bob", "new")
        os.rmdir(new)
        with open(new, "w") as f:      # a file where the directory should be
            f.write("not a directory\n")
        r = self.raw()
        r.ehlo()
        r.cmd("MAIL FROM:<s@c.test>")
        self.assertEqual(r.cmd("RCPT TO:<alice@example.com>")[0], 250)
        self.assertEqual(r.cmd("RCPT TO:<bob@example.com>")[0], 250)
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(message() + ".\r\n")
        code, text = r.reply()
        self.assertEqual(code, 451, text)
        self.assertIn("4.3.0", text)
        self.assertEqual(new_count(self.spool, "alice"), 0)
        self.assertEqual(tmp_files(self.spool), [])
        self.assertRegex(self.daemon.log(), r"nrcpt=2 tls=no status=deferred reason=")
        # The session goes on; a message to alice alone is delivered.
        r.cmd("MAIL FROM:<s@c.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(message() + ".\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)


class BackpressureTest(InboundCase):

    def test_client_not_reading_replies_is_not_buffered(self):
        d = self.inbound()
        r = self.raw()
        r.ehlo()
        chunk = b"NOOP\r\n" * 10000
        sent = [0]
        done = threading.Event()

        def writer():
            try:
                for _ in range(2000):          # 120 MB if nothing pushed back
                    r.s.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass
            done.set()

        r.s.settimeout(None)
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        last = [-1]

        def stalled():
            time.sleep(0.3)
            same = sent[0] == last[0]
            last[0] = sent[0]
            return same
        wait_until(stalled, 30, "the writer to be pushed back")
        self.assertFalse(done.is_set())
        self.assertLess(sent[0], 60 * 1024 * 1024)
        with open("/proc/%d/status" % d.pid) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
        self.assertLess(rss, 64 * 1024, "daemon RSS %d kB" % rss)
        r.close()
        d.wait_log(r"disconnect id=.* messages=0", 30)


if __name__ == "__main__":
    harness.main()
