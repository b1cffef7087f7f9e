"""smtpgate-sendmail and smtpgate-queue against a running smtpgate-outbound.

A tiny SMTP sink on loopback stands in for the smart host.  Checks that
what the injector writes into maildrop/ is accepted and relayed with the
right envelope (Bcc: recipients in the envelope, not in the header; the
message's own X-Receiver: lines never envelope), whether root or an
ordinary user (the injector installed set-group-id, see test_setgid.py)
submitted it, and that the queue tool's requests reach the running daemon
through control/.  The daemon runs as the service user (harness).
"""

import json
import os
import socket
import socketserver
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from maildrop import install_setgid  # noqa: E402

SM = harness.binary("smtpgate-sendmail")
Q = harness.binary("smtpgate-queue")


class SinkHandler(socketserver.StreamRequestHandler):
    """Just enough of an SMTP server: accepts everything, records messages."""

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 sink.test ESMTP")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink.test")
            elif verb == "MAIL":
                sender, rcpts = cmd[10:].strip(), []
                self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].strip())
                self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = []
                while True:
                    ln = self.rfile.readline()
                    if not ln or ln == b".\r\n":
                        break
                    data.append(ln[1:] if ln.startswith(b".") else ln)
                self.server.messages.append((sender, rcpts, b"".join(data)))
                self.reply("250 2.0.0 ok queued")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            else:
                self.reply("250 2.0.0 ok")


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), SinkHandler)
        self.messages = []
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class ToolsWithDaemonTest(harness.GatewayTestCase):

    def start_gateway(self, port):
        # maildrop/ gets the submission group, as the units' config sets it
        self.spool = self.path("spool")
        self.conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": port, "tls": "none"}],
            extra='retry_min = 60\nscan_interval = 1\nsubmit_group = "%d"\n'
            % harness.SUBMIT_GID))
        d = self.start("smtpgate-outbound", self.conf)
        ready = lambda: (os.path.isdir(os.path.join(self.spool, "maildrop")) and  # noqa: E731
                         os.path.isdir(os.path.join(self.spool, "control")) and
                         "daemon: running" in
                         harness.run([Q, "-c", self.conf, "status"]).stdout)
        harness.wait_for(lambda: not d.alive() or ready(), 10,
                         "smtpgate-outbound holding its spool with maildrop/ and control/")
        self.assertTrue(d.alive(), d.log())
        return d

    def queue_json(self):
        r = harness.run([Q, "-c", self.conf, "list", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_sendmail_message_is_relayed(self):
        sink = Sink()
        self.addCleanup(sink.stop)
        self.start_gateway(sink.port)
        msg = ("To: Jane <jane@example.com>\nBcc: hidden@example.net\nSubject: e2e\n\n"
               "line one\n..dotted\n")
        r = harness.run([SM, "-C", self.conf, "-t", "-f", "me@example.org"], input=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: sink.messages, 15, "the message at the smart host")
        sender, rcpts, data = sink.messages[0]
        self.assertEqual(sender, "<me@example.org>")
        self.assertEqual(sorted(rcpts), ["<hidden@example.net>", "<jane@example.com>"])
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"Bcc:", head)
        self.assertNotIn(b"X-Sender", head)
        self.assertNotIn(b"X-Smtpgate-Envelope", head)
        self.assertTrue(head.startswith(b"Received: by gw-out.test (smtpgate-sendmail, "
                                        b"from userid 0);\r\n\t"), head)
        self.assertIn(b"\r\nSubject: e2e\r\n", b"\r\n" + head + b"\r\n")
        for name in (b"From:", b"Date:", b"Message-ID:"):
            self.assertIn(b"\r\n" + name, b"\r\n" + head)
        self.assertEqual(body, b"line one\r\n..dotted\r\n")
        harness.wait_for(lambda: self.queue_json() == [], 10, "the queue to empty")

    @unittest.skipUnless(harness.privileged(), "needs root to switch ids")
    def test_user_message_is_relayed(self):
        # USER_A through the set-group-id injector: the daemon takes the
        # user's 0644 file from maildrop/, records the uid, and the message's
        # own first line (X-Receiver:) stays message header, no recipient
        sink = Sink()
        self.addCleanup(sink.stop)
        d = self.start_gateway(sink.port)
        sm = install_setgid(self.path("bin"))
        os.chmod(self.conf, 0o644)
        msg = "X-Receiver: <x@evil.example>\nSubject: from a user\n\nhello\n"
        r = harness.run_as(harness.USER_A, harness.USER_A,
                           [sm, "-C", self.conf, "-f", "a@example.org", "jane@example.com"],
                           input=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: sink.messages, 15, "the message at the smart host")
        sender, rcpts, data = sink.messages[0]
        self.assertEqual((sender, rcpts), ("<a@example.org>", ["<jane@example.com>"]))
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"Received: by gw-out.test (smtpgate-sendmail, "
                                        b"from userid %d);\r\n\t" % harness.USER_A), head)
        self.assertIn(b"\r\nX-Receiver: <x@evil.example>\r\n", head)
        self.assertEqual(body, b"hello\r\n")
        d.wait_log(r"uid=%d\b" % harness.USER_A)
        harness.wait_for(lambda: self.queue_json() == [], 10, "the queue to empty")
        self.assertEqual(os.listdir(os.path.join(self.spool, "maildrop")), [])

    def test_queue_requests_reach_running_daemon(self):
        dead = harness.free_port()	# nothing listens: every attempt defers
        self.start_gateway(dead)
        r = harness.run([SM, "-C", self.conf, "a@example.com"], input="Subject: x\n\nb\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        entries = harness.wait_for(
            lambda: [e for e in self.queue_json() if e["state"] == "deferred"], 15,
            "the message to be deferred")
        qid = entries[0]["id"]
        self.assertGreater(entries[0]["next_attempt"], 0)
        control = os.path.join(self.spool, "control")
        r = harness.run([Q, "-c", self.conf, "retry", qid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("running daemon", r.stdout)
        harness.wait_for(lambda: os.listdir(control) == [], 10, "the daemon to take the retry")
        r = harness.run([Q, "-c", self.conf, "delete", qid])
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: self.queue_json() == [], 10, "the daemon to delete it")
        harness.wait_for(lambda: os.listdir(control) == [], 10, "the daemon to take the delete")


if __name__ == "__main__":
    harness.main()
