"""The daemons under the units' sandbox (issue 17).

PID 1 is not systemd on the test machines, so systemd-run cannot show the
units' settings at work.  seccomp_run (beside this file) loads the filters
those settings make systemd load: the SystemCallFilter= allow-list, read
from the unit file and expanded with `systemd-analyze syscall-filter`,
with a kill for anything else (a miss is loud; the unit says EPERM),
MemoryDenyWriteExecute=, RestrictAddressFamilies=, RestrictNamespaces=,
LockPersonality= and RestrictRealtime=, plus no_new_privs;
then it execs the daemon.  Before it: the unit's file-system settings in a
private mount namespace (UNIT_MOUNTS: ProtectSystem=strict with the spool
as ReadWritePaths=, NoExecPaths=/ with its ExecPaths=, ProtectProc=,
ProcSubset=, PrivateDevices=, ProtectHome=), LimitNOFILE= (prlimit), the
service user and its SupplementaryGroups=, and for the inbound the ambient
CAP_NET_BIND_SERVICE and its bounding set (setpriv).

Proved: the harness is live (a program is killed for a syscall outside the
list, refused a writable+executable mapping, a netlink socket, a new
namespace and another personality, and runs
otherwise, threads and SCHED_BATCH included); each syscall a unit adds to @system-service minus @privileged
and @resources is needed (without it the daemon dies at start); started as
root without User=, a daemon fails closed (71); the daemon's mount
namespace holds the settings; the inbound binds a privileged port with its
one capability, gives it up, takes a message over SMTP with STARTTLS and
delivers it to a Maildir of mailbox_group; the outbound takes a pickup
file and relays it to a fake smart host; both notify READY=1 and ping the
watchdog over AF_UNIX; smtpgate-check (ExecStartPre=) passes; SIGHUP
reloads both, SIGTERM stops both with exit 0.
"""
import glob
import os
import re
import resource
import signal
import smtplib
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "outbound"))

import harness          # noqa: E402
import outbound_case    # noqa: E402

CONF = os.path.join(harness.SRC, "conf")
SECCOMP_RUN = os.environ.get("SMTPGATE_SECCOMP_RUN", "")


def syscall_groups():
    """Every group `systemd-analyze syscall-filter` knows: {"@name": [entries]}."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), [])
        elif not line.strip():
            cur = None
        elif cur is not None and not line.strip().startswith("#"):
            cur.append(line.strip())
    return groups


def expand(names, groups, seen=None):
    """The syscall names of a list of names and @groups, groups resolved."""
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if n.startswith("@"):
            if n in seen:
                continue
            seen.add(n)
            if n not in groups:
                raise AssertionError("unknown syscall group " + n)
            out |= expand(groups[n], groups, seen)
        else:
            out.add(n)
    return out


def unit_service(name):
    """The [Service] settings of conf/name, each key's values in order."""
    values = {}
    with open(os.path.join(CONF, name)) as f:
        section = None
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                values.setdefault(k, []).append(v)
    return values


def unit_allow_list(name, groups):
    """The allow-list the unit's SystemCallFilter= lines make, in systemd's
    way: the first line is an allow-list, a later "~" line takes names out
    of it, a later plain line puts names in."""
    allowed = set()
    lines = unit_service(name)["SystemCallFilter"]
    assert not lines[0].startswith("~"), "%s: SystemCallFilter= is not an allow-list" % name
    for v in lines:
        deny = v.startswith("~")
        names = set(expand(v.lstrip("~").split(), groups))
        allowed = allowed - names if deny else allowed | names
    return allowed


def families(name):
    """RestrictAddressFamilies= of the unit as seccomp_run's -a argument."""
    fams = unit_service(name)["RestrictAddressFamilies"][-1].split()
    return ",".join(f[3:].lower() for f in fams)


# The units' file-system settings in a mount namespace of the daemon's own
# (unshare --propagation private: nothing is seen outside it), applied by root
# before the ids change.  Stricter than the units where it differs: /tmp
# stays read-only (PrivateTmp= would give a fresh writable one; the daemons
# write nowhere but their spool).  $1: ReadWritePaths (':'-separated),
# $2: ExecPaths; then the program.
UNIT_MOUNTS = r"""
set -eu
rw=$1; ex=$2; shift 2
old=$(awk '{print $5}' /proc/self/mountinfo | sort -u | grep -v '\\')
IFS=:
for p in $ex $rw; do    # their own mounts, which the next step leaves alone
    mount --bind "$p" "$p"
done
unset IFS
# ProtectSystem=strict, NoExecPaths=/: every other mount read-only, nothing
# executable (a mount that cannot be remounted is checked by the test)
for mp in $old; do
    mount -o remount,bind,ro,noexec,nosuid "$mp" 2>/dev/null || true
done
IFS=:
for p in $ex; do    # ExecPaths=
    mount -o remount,bind,ro,nosuid "$p"
done
for p in $rw; do    # ReadWritePaths=
    mount -o remount,bind,rw,noexec,nosuid,nodev "$p"
done
unset IFS
# ProtectProc=invisible, ProcSubset=pid (also ProtectKernelTunables: no /proc/sys)
mount -t proc -o nosuid,nodev,noexec,hidepid=invisible,subset=pid proc /proc
# PrivateDevices=yes: a /dev of the pseudo devices only
mount -t tmpfs -o nosuid,noexec,mode=0755 tmpfs /dev
for d in null:3 zero:5 full:7 random:8 urandom:9; do
    mknod -m 0666 "/dev/${d%:*}" c 1 "${d#*:}"
done
mount -o remount,ro /dev
# ProtectHome=yes
for h in /home /root /run/user; do
    if [ -d "$h" ]; then mount -t tmpfs -o ro,nosuid,nodev,noexec,mode=0000 tmpfs "$h"; fi
done
exec "$@"
"""


def exec_paths(unit):
    """The unit's ExecPaths= with the build directories for @bindir@ and
    @sbindir@, optional ("-") paths that do not exist left out."""
    svc = unit_service(unit)
    assert svc["NoExecPaths"] == ["/"], unit
    out = []
    for p in svc["ExecPaths"][-1].split():
        if p in ("@bindir@", "@sbindir@"):
            direction = "inbound" if "inbound" in unit else "outbound"
            prog = "smtpgate-check" if p == "@bindir@" else "smtpgate-" + direction
            p = os.path.dirname(harness.binary(prog))
        elif p.startswith("-"):
            p = p[1:]
            if not os.path.exists(p):
                continue
        p = os.path.realpath(p)
        if p not in out:
            out.append(p)
    return out


def privileged_free_port():
    """A free TCP port under 1024 on 127.0.0.1 (needs root to find)."""
    for port in range(1000, 600, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port under 1024")


class SandboxTests(outbound_case.OutboundCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SECCOMP_RUN):
            raise AssertionError("seccomp_run not built (SMTPGATE_SECCOMP_RUN=%r)" % SECCOMP_RUN)
        if not harness.privileged():
            raise AssertionError("the sandbox test switches ids and capabilities: run as root")
        cls.groups = syscall_groups()
        if harness.sanitized():
            # LeakSanitizer stops the world with ptrace(2) at exit, which the
            # filter refuses as the unit would: it would hang there.  The
            # other tests check the same daemons for leaks.
            os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"

    def filter_file(self, unit, extra_out=()):
        """The unit's allow-list in a file, minus extra_out."""
        names = sorted(unit_allow_list(unit, self.groups) - set(extra_out))
        return self.write(unit + ".syscalls", "\n".join(names) + "\n")

    def sandbox(self, unit, mdwe=True, use_errno=False, caps=(), extra_out=(), spool=None,
                restrict=True):
        """The argv prefix that runs a program the way unit runs it, as far
        as this machine can: with spool, the file-system settings (spool
        made here as systemd-tmpfiles makes it); limits, ids, capabilities,
        seccomp."""
        svc = unit_service(unit)
        self.assertEqual(svc["LimitNOFILE"], ["65536"])
        self.assertEqual(svc["NoNewPrivileges"], ["yes"])
        self.assertEqual(svc["MemoryDenyWriteExecute"], ["yes"])
        self.assertEqual(svc["SystemCallErrorNumber"], ["EPERM"])
        ids = ["setpriv", "--reuid=%d" % harness.DAEMON_UID, "--regid=%d" % harness.DAEMON_GID,
               "--groups=%d,%d,%d" % (harness.DAEMON_GID, harness.SUBMIT_GID, harness.MAIL_GID)]
        if caps:
            c = ",".join("+" + x for x in caps)
            # like AmbientCapabilities=: the capability survives the change
            # of uid (no_setuid_fixup) and is raised in the ambient set
            ids += ["--securebits=+no_setuid_fixup", "--inh-caps=-all," + c,
                    "--ambient-caps=" + c, "--bounding-set=-all," + c]
        else:
            ids += ["--inh-caps=-all", "--bounding-set=-all"]
        for key in ("RestrictNamespaces", "LockPersonality", "RestrictRealtime"):
            self.assertEqual(svc[key], ["yes"], "%s %s" % (unit, key))
        run = [SECCOMP_RUN, "-f", self.filter_file(unit, extra_out), "-a", families(unit)]
        run += ["-m"] if mdwe else []
        run += ["-n", "-p", "-r"] if restrict else []
        run += ["-e"] if use_errno else []
        # LimitNOFILE= sets soft = hard (65536 where this machine allows it)
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        n = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        prefix = ["prlimit", "--nofile=%d:%d" % (n, n)] + ids + ["--"] + run + ["--"]
        if spool is None:
            return prefix
        os.mkdir(spool, 0o711 if "inbound" in unit else 0o751)
        os.chown(spool, harness.DAEMON_UID, harness.DAEMON_GID)
        self.assertEqual(svc["ProtectSystem"], ["strict"])
        execs = exec_paths(unit) + [os.path.dirname(SECCOMP_RUN)]	# the test's helper
        return (["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                 UNIT_MOUNTS, "unit-mounts", spool, ":".join(execs)] + prefix)

    def probe(self, code, **kw):
        """Run python3 -c code in the inbound unit's sandbox."""
        py = "/usr/bin/python3"	# the system's, which the service user can run
        argv = self.sandbox("smtpgate-inbound.service", **kw) + [py, "-S", "-c", code]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def test_harness_is_live(self):
        # sched_setaffinity is in @resources, which the units take out
        groups = self.groups
        self.assertIn("sched_setaffinity", expand(["@system-service"], groups))
        self.assertNotIn("sched_setaffinity", unit_allow_list("smtpgate-inbound.service", groups))
        ok = self.probe("print('ran')")
        self.assertEqual((ok.returncode, ok.stdout), (0, "ran\n"), ok.stderr)
        call = "import os; os.sched_setaffinity(0, os.sched_getaffinity(0)); print('ran')"
        r = self.probe(call)
        self.assertEqual(r.returncode, -signal.SIGSYS, r.stdout + r.stderr)
        self.assertNotIn("ran", r.stdout)
        # with the unit's own action it fails with EPERM instead
        r = self.probe("import os\ntry:\n  os.sched_setaffinity(0, {0})\n"
                       "except PermissionError:\n  print('EPERM')", use_errno=True)
        self.assertEqual((r.returncode, r.stdout), (0, "EPERM\n"), r.stderr)
        # a syscall the list holds, taken out by hand, kills too
        r = self.probe("import os; os.getppid(); print('ran')", extra_out=["getppid"])
        self.assertEqual(r.returncode, -signal.SIGSYS, r.stdout + r.stderr)
        # MemoryDenyWriteExecute: no writable and executable mapping
        wx = ("import mmap\ntry:\n  mmap.mmap(-1, 4096, prot=mmap.PROT_READ|mmap.PROT_WRITE"
              "|mmap.PROT_EXEC)\n  print('mapped')\nexcept PermissionError:\n  print('EPERM')")
        self.assertEqual(self.probe(wx).stdout, "EPERM\n")
        self.assertEqual(self.probe(wx, mdwe=False).stdout, "mapped\n")
        # RestrictNamespaces, LockPersonality: refused only by the filter
        # (an unprivileged user may make a user namespace here)
        libc = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                "def r(v):\n  print(ctypes.get_errno() if v == -1 else 'ok')\n")
        ns = libc + "r(libc.unshare(0x10000000))\nr(libc.personality(0x0040000))"
        self.assertEqual(self.probe(ns).stdout, "1\n1\n")	# EPERM
        self.assertEqual(self.probe(ns, restrict=False).stdout, "ok\nok\n")
        # threads still start (glibc falls back from clone3 to clone)
        th = "import threading\nt = threading.Thread(target=print, args=('thread',))\n" \
             "t.start(); t.join()"
        self.assertEqual(self.probe(th).stdout, "thread\n")
        # RestrictRealtime: SCHED_BATCH (the delivery workers') passes
        rt = ("import os\nos.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))\n"
              "print(os.sched_getscheduler(0) == os.SCHED_BATCH)")
        self.assertEqual(self.probe(rt).stdout, "True\n")
        # RestrictAddressFamilies: no netlink socket, inet still works
        fam = ("import socket\ntry:\n  socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)\n"
               "  print('netlink')\nexcept OSError as e:\n  print(e.errno)\n"
               "socket.socket(socket.AF_INET6).close(); print('inet6')")
        r = self.probe(fam)
        self.assertEqual(r.stdout, "97\ninet6\n", r.stderr)  # EAFNOSUPPORT

    def test_lists_hold_what_the_daemons_use(self):
        # calls the tests below cannot all reach (the outbound maps a body
        # only past 32 MB waiting; started by root, a daemon drops root
        # with setgroups/setresuid, which the units refuse: User= is set)
        common = {"inotify_init1", "inotify_add_watch", "syncfs", "renameat2", "linkat",
                  "eventfd2", "mmap", "madvise", "fsync", "fdatasync", "epoll_wait",
                  "epoll_ctl", "sendmsg", "getrandom", "fcntl", "fchown", "capget"}
        for unit in ("smtpgate-inbound.service", "smtpgate-outbound.service"):
            allowed = unit_allow_list(unit, self.groups)
            self.assertEqual(common - allowed, set(), unit)
            self.assertEqual({"setgroups", "setresuid", "setrlimit", "sched_setaffinity",
                              "mount", "ptrace", "bpf", "kexec_load"} & allowed, set(), unit)
        self.assertIn("sched_setscheduler", unit_allow_list("smtpgate-inbound.service",
                                                            self.groups))
        self.assertIn("capset", unit_allow_list("smtpgate-inbound.service", self.groups))
        self.assertNotIn("capset", unit_allow_list("smtpgate-outbound.service", self.groups))

    def test_root_without_user_fails_closed(self):
        # A unit edited to drop User= starts the daemon as root: it cannot
        # drop root under the filter (setgroups fails with the unit's EPERM)
        # and exits 71 with one line, rather than running as root.
        conf = self.write("root.conf", harness.inbound_config(
            self.path("in-spool"), harness.free_port(),
            extra='user = "%d"\ngroup = "%d"' % (harness.DAEMON_UID, harness.DAEMON_GID)))
        run = [SECCOMP_RUN, "-e", "-m", "-f", self.filter_file("smtpgate-inbound.service"),
               "--", harness.binary("smtpgate-inbound"), "-f", "-c", conf]
        r = subprocess.run(run, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 71, r.stderr)
        self.assertIn("cannot drop root", r.stderr)
        self.assertIn("setgroups", r.stderr)
        self.assertFalse(os.path.exists(self.path("in-spool")))

    def test_check_tool_in_sandbox(self):
        # ExecStartPre=smtpgate-check runs in the same sandbox
        for unit, spool in (("smtpgate-inbound.service", self.path("in-spool")),
                            ("smtpgate-outbound.service", self.path("out-spool"))):
            if "inbound" in unit:
                conf = harness.inbound_config(spool, harness.free_port())
            else:
                conf = harness.outbound_config(spool, [{"host": "127.0.0.1", "port": 25,
                                                        "tls": "none"}])
            path = self.write(unit + ".conf", conf)
            r = subprocess.run(self.sandbox(unit, spool=spool)
                               + [harness.binary("smtpgate-check"), path],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, "%s: %s%s" % (unit, r.stdout, r.stderr))
            self.assertIn("ok", r.stdout + r.stderr)

    def test_additions_are_needed(self):
        # Each syscall a unit adds beyond @system-service minus @privileged
        # and @resources is one its daemon makes at start: without it, the
        # daemon is killed (under the unit: refused, so it fails or warns).
        cases = [("smtpgate-inbound.service", "smtpgate-inbound", ["net_bind_service"]),
                 ("smtpgate-outbound.service", "smtpgate-outbound", [])]
        base = (expand(["@system-service"], self.groups)
                - expand(["@privileged", "@resources"], self.groups))
        for unit, program, caps in cases:
            added = unit_service(unit)["SystemCallFilter"][2].split()
            self.assertEqual(unit_service(unit)["SystemCallFilter"][:2],
                             ["@system-service", "~@privileged @resources"], unit)
            for call in added:
                self.assertNotIn(call, base, "%s: %s is allowed anyway" % (unit, call))
                spool = self.path("%s-%s" % (program, call))
                if caps:
                    conf = harness.inbound_config(spool, harness.free_port(),
                                                  extra='mailbox_group = "%d"' % harness.MAIL_GID)
                else:
                    conf = harness.outbound_config(
                        spool, [{"host": "127.0.0.1", "port": harness.free_port(), "tls": "none"}],
                        'submit_group = "%d"' % harness.SUBMIT_GID)
                conf = self.write("%s-%s.conf" % (program, call), conf)
                d = harness.Daemon(self.sandbox(unit, caps=caps, extra_out=[call])
                                   + [harness.binary(program), "-f", "-c", conf],
                                   self.path("%s-%s.log" % (program, call)))
                self.daemons.append(d)
                harness.wait_for(lambda: not d.alive(), 10, "%s without %s to die" % (program, call))
                self.assertEqual(d.proc.returncode, -signal.SIGSYS, "%s %s:\n%s"
                                 % (program, call, d.log()))

    def test_inbound_in_sandbox(self):
        unit = "smtpgate-inbound.service"
        pki = harness.make_ca(self.tmp)
        port = privileged_free_port()
        spool = self.path("in-spool")
        conf = self.write("inbound.conf", harness.inbound_config(
            spool, port, tls=pki, extra='mailbox_group = "%d"' % harness.MAIL_GID))
        notify, env = self.notify_socket()
        d = self.start("smtpgate-inbound", conf, wait_port=port, env=env,
                       ids=self.sandbox(unit, caps=["net_bind_service"], spool=spool))
        self.wait_notify(notify)
        pid = self.daemon_pid(d, "smtpgate-inbound")
        self.check_mounts(pid, spool, "smtpgate-inbound.service")
        # it bound a port under 1024 with the unit's one capability, then gave it up
        self.assertEqual(self.status(pid, "CapEff"), "0000000000000000")
        self.assertEqual(self.status(pid, "CapAmb"), "0000000000000000")
        self.assertEqual(self.status(pid, "NoNewPrivs"), "1")
        self.assertEqual(self.status(pid, "Seccomp"), "2")
        self.assertGreaterEqual(int(self.status(pid, "Seccomp_filters")), 3)
        ctx = ssl.create_default_context(cafile=pki["ca"])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.starttls(context=ctx)[0], 220)
            s.ehlo("client.test")
            s.sendmail("sender@example.net", ["alice@example.com"],
                       "Subject: sandboxed\r\n\r\nthrough the filter\r\n")
        new = os.path.join(spool, "mailboxes", "alice", "new")
        files = harness.wait_for(lambda: glob.glob(os.path.join(new, "*")), 10, "delivery")
        with open(files[0], "rb") as f:
            data = f.read()
        self.assertIn(b"through the filter", data)
        self.assertRegex(data.decode(), r"(?i)with ESMTPS")
        self.assertEqual(os.stat(files[0]).st_gid, harness.MAIL_GID)
        self.assertNotIn("SCHED_BATCH", d.log())	# the workers got it
        self.reload_and_stop(d, r"reload: config=")

    def test_outbound_in_sandbox(self):
        unit = "smtpgate-outbound.service"
        fake = self.fake()
        self.configure([self.host(fake)], 'submit_group = "%d"' % harness.SUBMIT_GID)
        notify, env = self.notify_socket()
        d = self.start("smtpgate-outbound", self.conf, env=env,
                       ids=self.sandbox(unit, spool=self.spool))
        self.wait_notify(notify)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10,
                         "outbound start")
        self.assertTrue(d.alive(), "outbound exited %s:\n%s" % (d.proc.returncode, d.log()))
        pid = self.daemon_pid(d, "smtpgate-outbound")
        self.check_mounts(pid, self.spool, "smtpgate-outbound.service")
        self.assertEqual(self.status(pid, "CapEff"), "0000000000000000")
        self.assertEqual(self.status(pid, "Seccomp"), "2")
        self.assertEqual(os.stat(os.path.join(self.spool, "maildrop")).st_gid,
                         harness.SUBMIT_GID)
        self.drop(outbound_case.message("alice@example.com", ["bob@example.net"],
                                        subject="sandboxed"))
        msgs = self.wait_messages(fake, 1)
        self.assertEqual(msgs[0]["rcpts"], ["bob@example.net"])
        self.assertIn(b"Subject: sandboxed", msgs[0]["data"])
        self.wait_queue_empty()
        self.reload_and_stop(d, r"reload status=ok")

    def notify_socket(self):
        """A datagram socket standing in for systemd's notify socket, and the
        environment that points a daemon at it with a 400 ms watchdog."""
        path = self.path("notify.%d.sock" % len(self.daemons))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        os.chown(path, harness.DAEMON_UID, harness.DAEMON_GID)
        s.settimeout(0.2)
        self.addCleanup(s.close)
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
        env.pop("WATCHDOG_PID", None)
        return s, env

    def wait_notify(self, s):
        """sd_notify works under the filter: READY=1 and watchdog pings."""
        got = []

        def ready():
            try:
                got.append(s.recv(4096).decode())
            except socket.timeout:
                pass
            return (any("READY=1" in m for m in got)
                    and sum("WATCHDOG=1" in m for m in got) >= 2)
        harness.wait_for(ready, 10, "READY=1 and WATCHDOG=1 (so far %r)" % got)

    def reload_and_stop(self, d, reloaded):
        """SIGHUP reloads under the filter; SIGTERM stops it with 0."""
        d.send_signal(signal.SIGHUP)
        d.wait_log(reloaded)
        self.assertTrue(d.alive(), d.log())
        rc = d.stop(signal.SIGTERM, 20)
        self.assertEqual(rc, 0, "exit %s (-31: a syscall outside the unit's "
                         "SystemCallFilter=; find it with strace -f):\n%s" % (rc, d.log()))

    def daemon_pid(self, d, program):
        """The daemon's pid: the prefix programs exec, so it is d's pid once
        d runs the daemon itself."""
        harness.wait_for(lambda: os.path.basename(os.readlink("/proc/%d/exe" % d.proc.pid))
                         == program, 10, program + " exec'd")
        return d.proc.pid

    def check_mounts(self, pid, spool, unit):
        """The daemon's mount namespace holds the unit's file-system settings:
        only the spool writable, only ExecPaths= executable, /proc of its
        own processes only, a /dev of pseudo devices."""
        mounts = {}
        with open("/proc/%d/mountinfo" % pid) as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                mounts[fields[4]] = (set(fields[5].split(",")), fields[sep + 1],
                                     set(fields[sep + 3].split(",")))
        self.assertNotEqual(os.readlink("/proc/%d/ns/mnt" % pid), os.readlink("/proc/self/ns/mnt"))
        execs = set(exec_paths(unit) + [os.path.dirname(SECCOMP_RUN)])
        for mp, (opts, fstype, sopts) in mounts.items():
            if mp == spool:
                self.assertTrue({"rw", "noexec", "nosuid"} <= opts, (mp, opts))
            elif mp == "/proc":
                self.assertEqual(fstype, "proc")
                self.assertTrue({"hidepid=invisible", "subset=pid"} <= sopts, sopts)
            elif mp in execs:
                self.assertTrue("ro" in opts and "noexec" not in opts, (mp, opts))
            else:
                self.assertTrue({"ro", "noexec"} <= opts, (mp, opts))
        self.assertIn(spool, mounts)
        self.assertIn("/usr", mounts)
        self.assertEqual(mounts["/dev"][1], "tmpfs")

    def status(self, pid, key):
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"(?m)^%s:\s*(\S+)" % key, f.read())
        return m.group(1)


if __name__ == "__main__":
    harness.main()
