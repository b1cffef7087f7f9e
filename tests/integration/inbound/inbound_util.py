"""inbound_util: helpers for the smtpgate-inbound integration tests.

A raw SMTP socket client (for pipelining, BDAT, broken input), Maildir
read-back with Python's mailbox module, and a test base class that starts
the daemon with a given config.  Stdlib only.

The daemon answers 250 once a message is durable in its commit log and
its publisher thread renames the file into new/ a moment later: a test
that read a Maildir right after a 250 would race it.  So the Maildir
readers take want=N (the number of files the test knows must be there:
its 250s) and wait until at least that many are published, then return
everything there (a test asserting an exact count compares the result,
so one too many still fails).  Only where nothing may have been
delivered (no 250) does a test read without waiting.  Run the suite
with SMTPGATE_TEST_SLOW_PUBLISH_MS=N to delay every publish by N ms
(harness.inbound_env) and see a test that forgot to wait fail.
"""

import mailbox
import os
import re
import socket
import ssl
import time

import harness

MAILBOXES = {"alice": ["alice@example.com"], "bob": ["bob@example.com"],
             "branch": ["@branch.example.com"]}


class Raw:
    """A line-oriented SMTP client on a plain socket (optionally TLS later)."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One complete (possibly multi-line) reply: (code, text)."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line):
        """Send one command line, return its reply."""
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name="client.test"):
        code, text = self.reply()
        assert code == 220, text
        code, text = self.cmd("EHLO " + name)
        assert code == 250, text
        return text

    def eof(self, timeout=10.0):
        """True when the server closes the connection (buffered data skipped)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def starttls(self, cafile, server_hostname="localhost"):
        ctx = ssl.create_default_context(cafile=cafile)
        self.s = ctx.wrap_socket(self.s, server_hostname=server_hostname)
        return self.s

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def new_files(spool, name):
    """Sorted names in <spool>/mailboxes/<name>/new ([] when it is missing)."""
    new = os.path.join(spool, "mailboxes", name, "new")
    return sorted(os.listdir(new)) if os.path.isdir(new) else []


def wait_new(spool, name, n, timeout=None):
    """Wait until <spool>/mailboxes/<name>/new holds at least n files (the
    publisher thread renames them in after the 250); return the sorted
    names of all of them (harness.wait_files)."""
    return harness.wait_files(os.path.join(spool, "mailboxes", name, "new"), n, timeout)


def maildir_messages(spool, name, want=0, timeout=None):
    """[(filename, bytes)] of every message in <spool>/mailboxes/<name>/new,
    once at least want of them are there (see wait_new)."""
    new = os.path.join(spool, "mailboxes", name, "new")
    out = []
    for fn in wait_new(spool, name, want, timeout) if want else sorted(os.listdir(new)):
        with open(os.path.join(new, fn), "rb") as f:
            out.append((fn, f.read()))
    return out


def maildir(spool, name, want=0, timeout=None):
    """The mailbox module's view of a mailbox, once at least want files are
    in its new/ (see wait_new)."""
    wait_new(spool, name, want, timeout)
    return mailbox.Maildir(os.path.join(spool, "mailboxes", name), factory=None, create=False)


def size_in_name(fn):
    m = re.search(r",S=(\d+)", fn)
    return int(m.group(1)) if m else None


def new_count(spool, name, want=0, timeout=None):
    """How many files <spool>/mailboxes/<name>/new holds, once at least
    want are there (see wait_new)."""
    return len(wait_new(spool, name, want, timeout))


def all_new_files(spool, want=0, timeout=None):
    """Paths of the files in every mailbox's new/, once at least want are
    there in all (see wait_new)."""
    root = os.path.join(spool, "mailboxes")

    def files():
        out = []
        for name in sorted(os.listdir(root)):
            new = os.path.join(root, name, "new")
            if os.path.isdir(new):
                out += [os.path.join(new, f) for f in os.listdir(new)]
        return out
    if want > 0:
        harness.wait_for(lambda: len(files()) >= want, harness.publish_timeout(want, timeout),
                         "%d file(s) published into the mailboxes' new/" % want)
    return files()


def tmp_files(spool):
    return [f for f in os.listdir(os.path.join(spool, "tmp")) if not f.startswith(".")]


def message(mid="<m1@client.test>", subject="hello", body="Hello world.\r\n",
            to="alice@example.com"):
    return ("From: sender@client.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            "\r\n%s" % (to, subject, mid, body))


class InboundCase(harness.GatewayTestCase):
    """Start smtpgate-inbound with MAILBOXES and extra config lines."""

    def inbound(self, extra="", tls=None, mailboxes=None, host="127.0.0.1"):
        self.port = harness.free_port(host)
        self.spool = self.path("in-spool")
        self.conf = self.write("inbound.conf", harness.inbound_config(
            self.spool, self.port, mailboxes or MAILBOXES, extra, tls, host))
        log = self.path("inbound.%d.log" % len(self.daemons))
        # as the unit runs it: the service user, in the Maildir group
        self.daemon = harness.Daemon(harness.daemon_ids() +
                                     [harness.binary("smtpgate-inbound"), "-f", "-c", self.conf],
                                     log)
        self.daemons.append(self.daemon)
        d = self.daemon
        harness.wait_for(lambda: port_open(self.port, host) or not d.alive(), 10,
                         "inbound listening on %d" % self.port)
        if not d.alive():
            raise AssertionError("smtpgate-inbound exited %s:\n%s" % (d.proc.returncode, d.log()))
        # The probe connection must be gone before tests count connections
        # (a probe refused at connect is logged as a reject at connect).
        d.wait_log(r"disconnect id=|refused client=| cmd=connect ")
        return d

    def raw(self, **kw):
        r = Raw(self.port, **kw)
        self.addCleanup(r.close)
        return r


def port_open(port, host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect((host, port))
            return True
    except OSError:
        return False


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
            return True
    except OSError:
        return False


def wait_until(cond, timeout=10.0, what="condition"):
    return harness.wait_for(cond, timeout, what)


def sleep_tick():
    time.sleep(0.01)
