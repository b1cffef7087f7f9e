"""outbound_case: a base class for the smtpgate-outbound integration tests.

Starts the real daemon against fakesmtp.FakeSMTP smart hosts with fast
retry and timeout settings, drops files the way producers do and inspects
the spool: trusted producers write in <spool>/staging and rename into
<spool>/pickup; the injector's maildrop/ files (the strict format with the
"X-Smtpgate-Envelope: end" line) are written here the way smtpgate-sendmail
writes them, as maildrop/.w.<name>, mode 0644, owned by the submitting
user, renamed to maildrop/<name>.
"""

import glob
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness          # noqa: E402
import fakesmtp         # noqa: E402

FAST = """
retry_min = 1
retry_max = 2
scan_interval = 1
timeout_connect = 3
timeout_greeting = 3
timeout_command = 3
timeout_data_init = 3
timeout_data_block = 3
timeout_data_end = 3
delay_warning = 0
"""


def message(sender=None, rcpts=(), subject="test", headers="", body="hello world\r\n"):
    """A pickup file: envelope lines when sender is given, then a message."""
    out = []
    if sender is not None:
        out.append("X-Sender: <%s>" % sender)
        out += ["X-Receiver: <%s>" % r for r in rcpts]
    out += ["From: Sender <%s>" % (sender or "sender@example.com"),
            "To: %s" % ", ".join(rcpts or ["someone@example.net"]),
            "Subject: %s" % subject,
            "Message-ID: <%s@test.example>" % subject.replace(" ", "."),
            "Date: Mon, 23 Nov 2026 12:00:00 +0000"]
    if headers:
        out.append(headers.rstrip("\r\n"))
    return "\r\n".join(out) + "\r\n\r\n" + body


def maildrop_message(sender, rcpts, uid=0, subject="test", headers="", body="hello world\r\n",
                     end=True):
    """A maildrop file as smtpgate-sendmail writes it: the envelope, the
    end line (unless end is False), a Received: line, the message."""
    out = ["X-Sender: <%s>" % sender] + ["X-Receiver: <%s>" % r for r in rcpts]
    if end:
        out.append("X-Smtpgate-Envelope: end")
    out += ["Received: by gw-out.test (smtpgate-sendmail, from userid %d);" % uid,
            "\tMon, 23 Nov 2026 12:00:00 +0000"]
    if headers:
        out.append(headers.rstrip("\r\n"))
    out += ["From: <%s>" % sender, "To: %s" % ", ".join(rcpts), "Subject: %s" % subject,
            "Date: Mon, 23 Nov 2026 12:00:00 +0000"]
    return "\r\n".join(out) + "\r\n\r\n" + body


class OutboundCase(harness.GatewayTestCase):
    """Fake smart hosts and one outbound daemon per test."""

    def setUp(self):
        super().setUp()
        self.spool = self.path("out-spool")
        self.conf = None
        self.ndrops = 0

    def fake(self, **kw):
        f = fakesmtp.FakeSMTP(**kw).start()
        self.addCleanup(f.stop)
        return f

    def host(self, fake_or_port, **kw):
        port = fake_or_port if isinstance(fake_or_port, int) else fake_or_port.port
        h = {"host": "127.0.0.1", "port": port, "tls": "none"}
        h.update(kw)
        return h

    def configure(self, hosts, extra=""):
        self.conf = self.write("outbound.conf",
                               harness.outbound_config(self.spool, hosts, FAST + extra))
        return self.conf

    def start_outbound(self, hosts=None, extra="", args=()):
        if hosts is not None:
            self.configure(hosts, extra)
        d = self.start("smtpgate-outbound", self.conf, extra_args=list(args))
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10,
                         "outbound start")
        if not d.alive():
            raise AssertionError("outbound exited %s:\n%s" % (d.proc.returncode, d.log()))
        return d

    def drop(self, text, name=None):
        """Hand a message over like a trusted producer: staging/, then
        rename into pickup/."""
        self.ndrops += 1
        name = name or "drop%05d.eml" % self.ndrops
        tmp = os.path.join(self.spool, "staging", "producer." + name)
        with open(tmp, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(self.spool, "pickup", name))
        return name

    def drop_maildrop(self, text, name=None, uid=None, mode=0o644):
        """Hand a message over the way smtpgate-sendmail does for the user
        uid: maildrop/.w.<name> (mode set with fchmod, owner uid, fsynced),
        renamed to maildrop/<name>.  Returns the name."""
        self.ndrops += 1
        name = name or "md%05d" % self.ndrops
        md = os.path.join(self.spool, "maildrop")
        tmp = os.path.join(md, ".w." + name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
            os.fchmod(f.fileno(), mode)
            if uid is not None and harness.privileged():
                os.fchown(f.fileno(), uid, harness.SUBMIT_GID)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(md, name))
        return name

    def trace_file(self, name="fstrace"):
        """A fault-shim trace file the daemon can append to: made here for
        the service user (the shim, preloaded into setpriv too, would
        otherwise create it as root, unwritable to the daemon)."""
        p = self.path(name)
        with open(p, "w"):
            pass
        if harness.privileged():
            os.chown(p, harness.DAEMON_UID, harness.DAEMON_GID)
        return p

    def queued(self):
        return sorted(glob.glob(os.path.join(self.spool, "queue", "*.env")))

    def pickup_left(self):
        """Names still waiting in pickup/ and maildrop/."""
        return [n for sub in ("pickup", "maildrop")
                if os.path.isdir(os.path.join(self.spool, sub))
                for n in os.listdir(os.path.join(self.spool, sub)) if not n.startswith(".")]

    def wait_messages(self, fake, n, timeout=20):
        harness.wait_for(lambda: fake.message_count() >= n, timeout,
                         "%d message(s) at the fake smart host" % n)
        return fake.snapshot()[1]

    def wait_queue_empty(self, timeout=20):
        harness.wait_for(lambda: not self.queued() and not self.pickup_left(), timeout,
                         "an empty queue")

    def stop_outbound(self, d):
        rc = d.stop(signal.SIGTERM, 20)
        self.assertEqual(rc, 0, d.log())
        return rc
