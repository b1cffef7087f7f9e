"""harness: run the real smtpgate programs on loopback for integration tests.

Shared by every integration test (stdlib only: unittest, smtplib, ssl).
Ports are picked free on 127.0.0.1, waits are on conditions (never bare
sleeps), and every process started here is stopped by pid in tearDown.

The daemons run as the shipped units run them: as an unprivileged service
user (numeric ids of the tests' own, switched to with setpriv(1); no
account is needed), with the test directory owned by that user.  Producers,
readers and attackers are further numeric ids (see the constants below).
When the tests do not run as root, everything runs as the caller.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("SMTPGATE_BUILD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SRC = os.environ.get("SMTPGATE_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")

PROGRAMS = {
    "smtpgate-inbound": "inbound/smtpgate-inbound",
    "smtpgate-outbound": "outbound/smtpgate-outbound",
    "smtpgate-sendmail": "outbound/smtpgate-sendmail",
    "smtpgate-queue": "outbound/smtpgate-queue",
    "smtpgate-check": "common/smtpgate-check",
}


# The ids the tests run as.  None of them needs an account.
DAEMON_UID = DAEMON_GID = 64101	# the units' service user and its group (trusted producers)
SUBMIT_GID = 64102		# the set-group-id injector's submission group
MAIL_GID = 64103		# the Maildirs' group (a reader such as Dovecot)
USER_A = 64111			# ordinary local users: producers, attackers
USER_B = 64112
READER_UID = 64121		# a mail reader, member of MAIL_GID


def privileged():
    """True when the tests run as root and so can switch ids."""
    return os.geteuid() == 0


def as_ids(uid, gid, groups=()):
    """The argv prefix that runs a program as uid:gid with exactly the
    supplementary groups given (empty when not running as root)."""
    if not privileged():
        return []
    g = ["--groups=" + ",".join(str(x) for x in groups)] if groups else ["--clear-groups"]
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid] + g + ["--"]


def daemon_ids():
    """The argv prefix of a daemon: the service user, in the submission and
    Maildir groups as the units' SupplementaryGroups= put it."""
    return as_ids(DAEMON_UID, DAEMON_GID, (DAEMON_GID, SUBMIT_GID, MAIL_GID))


def binary(name):
    """Absolute path of a built program."""
    return os.path.abspath(os.path.join(BUILD, PROGRAMS[name]))


def sanitized(name="smtpgate-inbound"):
    """True when the program is built with AddressSanitizer: its allocator
    keeps freed memory in quarantine, so RSS figures mean nothing there."""
    r = subprocess.run(["ldd", binary(name)], capture_output=True, text=True)
    return "libasan" in r.stdout


def free_port(host="127.0.0.1"):
    """A TCP port that was free on host a moment ago."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, what="condition"):
    """Poll cond() until it returns a true value; return it or fail."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run(argv, input=None, timeout=30, env=None):
    """Run a program to completion; returns CompletedProcess (text)."""
    return subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                          env=env, text=isinstance(input, str) or input is None)


def run_as(uid, gid, argv, groups=(), **kw):
    """run() as uid:gid (see as_ids)."""
    return run(as_ids(uid, gid, groups) + list(argv), **kw)


def run_daemon_user(argv, **kw):
    """run() as the daemons' service user (a tool run the way the units'
    user would run it)."""
    return run(daemon_ids() + list(argv), **kw)


def shim_path():
    """The fault shim (slowfsync.so): where meson's shim_env says, else in
    the build tree; None when it was not built."""
    shim = os.environ.get("SMTPGATE_SLOWFSYNC") or os.path.join(
        BUILD, "tests", "integration", "slowfsync.so")
    return os.path.abspath(shim) if os.path.exists(shim) else None


def shim_preload(env):
    """env (a dict, changed) with the fault shim in LD_PRELOAD, after
    whatever is preloaded already; returns env."""
    shim = shim_path()
    if shim is None:
        raise AssertionError("fault shim not built (ninja -C %s)" % BUILD)
    have = [p for p in env.get("LD_PRELOAD", "").replace(" ", ":").split(":") if p]
    if shim not in [os.path.abspath(p) for p in have]:
        env["LD_PRELOAD"] = ":".join(have + [shim])
    # an ASan build: the shim is preloaded ahead of the sanitizer runtime
    if "verify_asan_link_order=0" not in env.get("ASAN_OPTIONS", ""):
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return env


def slow_publish_ms():
    """SMTPGATE_TEST_SLOW_PUBLISH_MS: when set (and not 0), every
    smtpgate-inbound the suite starts runs with the fault shim delaying each
    publish into a Maildir's new/ by that many ms, so a test that reads a
    Maildir without waiting for the publisher thread fails."""
    v = os.environ.get("SMTPGATE_TEST_SLOW_PUBLISH_MS", "").strip()
    return int(v) if v and int(v) > 0 else 0


def publish_timeout(n, timeout=None):
    """timeout, or how long an inbound may take to publish n acknowledged
    messages into new/: 20 s plus, under SMTPGATE_TEST_SLOW_PUBLISH_MS, n
    delayed renames (its publisher thread does them one after the other)."""
    if timeout is not None:
        return timeout
    return 20.0 + max(n, 1) * slow_publish_ms() / 1000.0


def wait_files(directory, n, timeout=None):
    """Wait until directory (a Maildir's new/, say) holds at least n
    entries; return the sorted names of all of them.  The inbound answers
    250 before its publisher thread renames the file into new/, so a test
    that knows n messages were acknowledged waits here instead of reading
    new/ at once (timeout: see publish_timeout)."""
    def names():
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    if n <= 0:
        return names()
    try:
        return wait_for(lambda: (lambda fs: fs if len(fs) >= n else None)(names()),
                        publish_timeout(n, timeout), "%d file(s) in %s" % (n, directory))
    except AssertionError as e:
        raise AssertionError("%s (%d there)" % (e, len(names()))) from None


def is_inbound(argv):
    """True when argv runs smtpgate-inbound (through any prefix)."""
    return any(os.path.basename(str(a)) == "smtpgate-inbound" for a in argv)


def inbound_env(env=None):
    """The environment of an inbound daemon: env (None: this process's)
    unchanged, or with SMTPGATE_TEST_SLOW_PUBLISH_MS set the fault shim
    added to its LD_PRELOAD and SMTPGATE_SLOW_PUBLISH_MS set (unless env
    sets it already)."""
    ms = slow_publish_ms()
    if not ms:
        return env
    env = dict(os.environ if env is None else env)
    env.setdefault("SMTPGATE_SLOW_PUBLISH_MS", str(ms))
    return shim_preload(env)


class Daemon:
    """A daemon started in the foreground, its stderr captured to a file.
    An smtpgate-inbound gets inbound_env() (the slow-publish switch)."""

    def __init__(self, argv, logpath, env=None):
        if is_inbound(argv):
            env = inbound_env(env)
        self.argv = argv
        self.logpath = logpath
        self._log = open(logpath, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        self.pid = self.proc.pid

    def log(self):
        with open(self.logpath, "r", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0):
        """Wait until the log matches regex pattern; return the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout,
                        "log line /%s/ in %s" % (pattern, self.logpath))

    def alive(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Send sig, wait for exit (SIGKILL after timeout); return the exit code."""
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL, 5)


def make_ca(directory, names=("localhost",), ips=("127.0.0.1",), prefix="server"):
    """A throwaway CA and a server certificate for names/ips signed by it.

    Returns dict(ca=, cert=, key=) of PEM paths.  EC keys keep it fast.
    """
    ca_key = os.path.join(directory, "ca.key")
    ca_crt = os.path.join(directory, "ca.crt")
    if not os.path.exists(ca_crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key,
                        "-out", ca_crt, "-days", "2", "-subj", "/CN=smtpgate test CA"],
                       check=True, capture_output=True)
    key = os.path.join(directory, prefix + ".key")
    csr = os.path.join(directory, prefix + ".csr")
    crt = os.path.join(directory, prefix + ".crt")
    ext = os.path.join(directory, prefix + ".ext")
    san = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" % san)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
                   check=True, capture_output=True)
    service_key(key)
    return {"ca": ca_crt, "cert": crt, "key": key}


def service_key(path):
    """Make a private key readable by the service user the way an admin
    would (root:<service group> 0640), not by everybody."""
    os.chmod(path, 0o640)
    if privileged():
        os.chown(path, 0, DAEMON_GID)


def make_self_signed(directory, name="localhost", prefix="selfsigned"):
    """A self-signed certificate (no CA) for name; returns dict(cert=, key=)."""
    key = os.path.join(directory, prefix + ".key")
    crt = os.path.join(directory, prefix + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:%s" % name],
                   check=True, capture_output=True)
    service_key(key)
    return {"cert": crt, "key": key}


def inbound_config(spool, port, mailboxes=None, extra="", tls=None, host="127.0.0.1"):
    """Text of an inbound.conf on loopback.

    mailboxes: {"alice": ["alice@example.com"], ...}; tls: make_ca() dict.
    """
    if mailboxes is None:
        mailboxes = {"alice": ["alice@example.com"], "bob": ["bob@example.com"],
                     "branch": ["@branch.example.com"]}
    lines = ['hostname = "gw-in.test"', 'spool = "%s"' % spool]
    addr = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    lines.append('listen = {"%s"}' % addr)
    if tls:
        lines.append('tls {\n  certificate = "%s"\n  key = "%s"\n}' % (tls["cert"], tls["key"]))
    for name, addrs in mailboxes.items():
        lines.append('mailbox "%s" { address = {%s} }'
                     % (name, ", ".join('"%s"' % a for a in addrs)))
    # RFC 5321 4.5.1: a config must have a postmaster's mailbox (issue 19);
    # unless the test chooses, it is the first mailbox
    first = next(iter(mailboxes.values()), [""])[0].lower()
    dom = first[first.find("@"):]
    has_pm = any(a.lower() in ("postmaster" + dom, dom) for v in mailboxes.values() for a in v)
    if mailboxes and not has_pm and not re.search(r"^\s*postmaster\s*=", extra, re.M):
        lines.append('postmaster = "%s"' % next(iter(mailboxes)))
    lines.append(extra)
    return "\n".join(lines) + "\n"


def outbound_config(spool, smarthosts, extra=""):
    """Text of an outbound.conf; smarthosts: list of dicts with host, port, and
    optional tls, tls_verify, ca_file, auth_user, auth_password_file."""
    # mailname_file = "": this host's /etc/mailname must not masquerade the
    # tests' senders (a test sets its own after it, in extra: the last wins)
    lines = ['hostname = "gw-out.test"', 'spool = "%s"' % spool, 'mailname_file = ""']
    for i, sh in enumerate(smarthosts):
        body = []
        for k in ("host", "port", "tls", "tls_verify", "ca_file", "auth_user", "auth_password_file"):
            if k in sh:
                v = sh[k]
                if isinstance(v, bool):
                    body.append("%s = %s" % (k, "true" if v else "false"))
                elif isinstance(v, int):
                    body.append("%s = %d" % (k, v))
                else:
                    body.append('%s = "%s"' % (k, v))
        lines.append('smarthost "sh%d" {\n  %s\n}' % (i, "\n  ".join(body)))
    lines.append(extra)
    return "\n".join(lines) + "\n"


class GatewayTestCase(unittest.TestCase):
    """Base class: a temporary directory and daemons that are always stopped."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="smtpgate-test-")
        self.tmp = self._tmp.name
        self.daemons = []
        # like /var/spool/smtpgate: the service user may create its spools here
        os.chmod(self.tmp, 0o755)
        if privileged():
            os.chown(self.tmp, DAEMON_UID, DAEMON_GID)

    def tearDown(self):
        for d in self.daemons:
            d.stop(signal.SIGKILL if d.alive() else signal.SIGTERM)
        self._tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def start(self, program, config, extra_args=(), env=None, wait_port=None, name=None,
              ids=None):
        """Start program -f -c config as the service user (or with the argv
        prefix ids, e.g. [] for root); wait until wait_port accepts
        connections."""
        log = self.path((name or program) + ".%d.log" % len(self.daemons))
        prefix = daemon_ids() if ids is None else list(ids)
        d = Daemon(prefix + [binary(program), "-f", "-c", config] + list(extra_args), log,
                   env=env)
        self.daemons.append(d)
        if wait_port:
            wait_for(lambda: port_open(wait_port) or not d.alive(), 10,
                     "%s listening on %d" % (program, wait_port))
            if not d.alive():
                raise AssertionError("%s exited %s:\n%s" % (program, d.proc.returncode, d.log()))
        return d

    def shim_env(self, **extra):
        """The environment that preloads the fault shim (slowfsync.so), with
        extra set; skips the test when the shim was not built."""
        shim = os.environ.get("SMTPGATE_SLOWFSYNC")
        if not shim or not os.path.exists(shim):
            self.skipTest("fault shim not built")
        env = dict(os.environ, LD_PRELOAD=shim, **extra)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        return env

    def start_inbound(self, mailboxes=None, extra="", tls=None, spool=None):
        """An inbound daemon on a free loopback port; returns (daemon, port, spool)."""
        port = free_port()
        spool = spool or self.path("in-spool")
        conf = self.write("inbound.conf", inbound_config(spool, port, mailboxes, extra, tls))
        d = self.start("smtpgate-inbound", conf, wait_port=port)
        return d, port, spool


def scrape(port, timeout=10):
    """The text of http://127.0.0.1:PORT/metrics."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=timeout) as r:
        return r.read().decode()


def promtool_problems(text):
    """What `promtool check metrics` says about an exposition text ("" when
    it is clean).  promtool comes with Debian's prometheus package, which
    scripts/bootstrap installs: its absence is a failure, not a skip."""
    import shutil
    tool = shutil.which("promtool")
    if tool is None:
        raise AssertionError("promtool not found: run scripts/bootstrap (package prometheus)")
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    out = (r.stdout + r.stderr).strip()
    return out if r.returncode != 0 or out else ""


def main():
    unittest.main(verbosity=2)
