"""smtpgate-inbound: STARTTLS (RFC 3207) with smtplib, openssl s_client and raw sockets."""

import email
import smtplib
import socket
import ssl
import subprocess
import unittest

import harness
from inbound_util import InboundCase, maildir_messages, message, new_count


class StartTlsTest(InboundCase):

    def setUp(self):
        super().setUp()
        self.pki = harness.make_ca(self.tmp)
        self.inbound(tls=self.pki)

    def context(self):
        return ssl.create_default_context(cafile=self.pki["ca"])

    def test_smtplib_starttls_received_names_tls(self):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertTrue(s.has_extn("starttls"))
            code, _ = s.starttls(context=self.context())
            self.assertEqual(code, 220)
            s.ehlo("client.test")
            self.assertFalse(s.has_extn("starttls"))
            version = s.sock.version()
            self.assertEqual(s.sendmail("s@client.test", ["alice@example.com"], message()), {})
        _, raw = maildir_messages(self.spool, "alice", want=1)[0]
        received = " ".join(email.message_from_bytes(raw)["Received"].split())
        self.assertIn("with ESMTPS id", received)
        self.assertIn(version, received)
        self.daemon.wait_log(r"tls id=[0-9a-f]{16} client=127\.0\.0\.1:\d+ version=%s" % version)
        self.assertRegex(self.daemon.log(), r"nrcpt=1 tls=%s status=delivered" % version)

    def test_openssl_s_client(self):
        # -crlf turns each LF into CRLF.
        script = ("EHLO sclient.test\nMAIL FROM:<s@client.test>\n"
                  "RCPT TO:<bob@example.com>\nDATA\n"
                  + message(to="bob@example.com").replace("\r\n", "\n") + ".\nQUIT\n")
        out = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-crlf", "-quiet",
                              "-connect", "127.0.0.1:%d" % self.port, "-CAfile", self.pki["ca"],
                              "-verify_return_error", "-servername", "localhost"],
                             input=script.encode(), capture_output=True, timeout=60)
        stdout = out.stdout.decode(errors="replace")
        self.assertIn("250 2.0.0", stdout, stdout + out.stderr.decode(errors="replace"))
        _, raw = maildir_messages(self.spool, "bob", want=1)[0]
        received = " ".join(email.message_from_bytes(raw)["Received"].split())
        self.assertRegex(received, r"\(using TLSv1\.[23] with cipher \S+\)")
        self.assertIn("from sclient.test", received)

    def test_plaintext_after_starttls_discarded(self):
        r = self.raw()
        r.ehlo()
        r.send("STARTTLS\r\nRSET\r\n")
        code, text = r.reply()
        self.assertEqual(code, 220, text)
        self.assertEqual(r.buf, b"", "RSET answered in plaintext")
        tls = r.starttls(self.pki["ca"])
        tls.settimeout(10)
        r.buf = b""
        # The first reply over TLS must be the one to this NOOP, not to RSET.
        code, text = r.cmd("NOOP")
        self.assertEqual(code, 250, text)
        self.assertNotIn("Flushed", text)
        tls.settimeout(0.5)
        with self.assertRaises((socket.timeout, ssl.SSLError)):
            extra = tls.recv(100)
            if extra:
                raise AssertionError("unexpected bytes after NOOP: %r" % extra)
            raise socket.timeout()
        tls.settimeout(10)
        # EHLO is forgotten after STARTTLS (RFC 3207): MAIL needs a new EHLO.
        self.assertEqual(r.cmd("MAIL FROM:<s@c.test>")[0], 503)

    def test_failed_handshake_logged(self):
        r = self.raw()
        r.ehlo()
        self.assertEqual(r.cmd("STARTTLS")[0], 220)
        r.send(b"this is not a TLS client hello\r\n" * 4)
        self.assertTrue(r.eof())
        self.daemon.wait_log(r"tls id=[0-9a-f]{16} client=127\.0\.0\.1:\d+ status=failed")


class RequireTlsTest(InboundCase):

    def test_require_530_before_starttls(self):
        pki = harness.make_ca(self.tmp)
        self.port = harness.free_port()
        self.spool = self.path("in-spool")
        conf = harness.inbound_config(self.spool, self.port)
        conf += 'tls {\n  certificate = "%s"\n  key = "%s"\n  require = true\n}\n' % (
            pki["cert"], pki["key"])
        d = self.start("smtpgate-inbound", self.write("inbound.conf", conf), wait_port=self.port)
        r = self.raw()
        r.ehlo()
        code, text = r.cmd("MAIL FROM:<s@c.test>")
        self.assertEqual(code, 530, text)
        self.assertIn("5.7.0", text)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("c.test")
            s.starttls(context=ssl.create_default_context(cafile=pki["ca"]))
            s.ehlo("c.test")
            self.assertEqual(s.sendmail("s@c.test", ["alice@example.com"], message()), {})
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)
        self.assertTrue(d.alive())


if __name__ == "__main__":
    harness.main()
