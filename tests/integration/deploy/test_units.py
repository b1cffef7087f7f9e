"""The systemd units, sysusers.d and tmpfiles.d files (issue 5).

systemd-analyze verify must pass on both direction units and both template
units, with the ExecStart paths pointing at the freshly built programs, and
the units must carry the settings the README promises (notify, watchdog,
restart policy, hardening, the spool as the only writable path).
systemd-analyze security --offline=true must rate every unit's exposure
under 2.0 (issue 17: 3.4 and 3.2 before the sandbox), and the sandbox's key
settings must be there, the same in a template as in its direction's unit.
"""
import configparser
import os
import re
import shutil
import subprocess
import unittest

import harness

CONF = os.path.join(harness.SRC, "conf")
UNITS = ["smtpgate-inbound.service", "smtpgate-outbound.service",
         "smtpgate-inbound@.service", "smtpgate-outbound@.service"]


def load_unit(text):
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str
    cp.read_string(text)
    return cp


class UnitTests(harness.GatewayTestCase):
    def render(self, name):
        with open(os.path.join(CONF, name)) as f:
            text = f.read()
        direction = "inbound" if "inbound" in name else "outbound"
        text = (text.replace("@bindir@", os.path.dirname(harness.binary("smtpgate-check")))
                .replace("@sbindir@", os.path.dirname(harness.binary("smtpgate-" + direction)))
                .replace("@docdir@", harness.SRC))
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path, text

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_systemd_analyze_verify(self):
        for name in UNITS:
            path, _ = self.render(name)
            # a template is verified through an instance of it
            target = path.replace("@.service", "@test.service")
            r = subprocess.run(["systemd-analyze", "verify", target], capture_output=True,
                               text=True, timeout=60)
            mine = [l for l in (r.stdout + r.stderr).splitlines() if self.tmp in l]
            self.assertEqual(r.returncode, 0, "%s: %s%s" % (name, r.stdout, r.stderr))
            self.assertEqual(mine, [], "%s: systemd-analyze complained: %s" % (name, mine))

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_security_exposure(self):
        for name in UNITS:
            path, _ = self.render(name)
            target = path.replace("@.service", "@test.service")
            r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                                target], capture_output=True, text=True, timeout=60)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
            self.assertIsNotNone(m, "%s: %s%s" % (name, r.stdout, r.stderr))
            self.assertLess(float(m.group(1)), 2.0, "%s:\n%s" % (name, r.stdout))
            # what is left is what the daemons need (network, their groups,
            # the inbound's port 25, the clock's rtc device) or unsafe by
            # default (UMask 0027 keeps Maildirs readable to mailbox_group)
            bad = {l.split()[1] for l in r.stdout.splitlines() if l.startswith("\u2717")}
            self.assertIn("PrivateNetwork=", bad, name)	# the parse sees the marks
            self.assertNotIn("SystemCallFilter=~@mount", bad, name)
            for key in ("ProtectProc=", "ProcSubset=", "PrivateMounts=", "RemoveIPC=",
                        "RestrictNamespaces=~user", "LockPersonality=",
                        "MemoryDenyWriteExecute=", "SystemCallArchitectures="):
                self.assertNotIn(key, bad, name)

    def test_sandbox_settings(self):
        for name in UNITS:
            _, text = self.render(name)
            cp = load_unit(text)
            svc = cp["Service"]
            inbound = "inbound" in name
            for key, want in (("ProtectProc", "invisible"), ("ProcSubset", "pid"),
                              ("RemoveIPC", "yes"), ("RestrictNamespaces", "yes"),
                              ("LockPersonality", "yes"), ("MemoryDenyWriteExecute", "yes"),
                              ("SystemCallArchitectures", "native"), ("PrivateDevices", "yes"),
                              ("DevicePolicy", "closed"), ("KeyringMode", "private"),
                              ("PrivateMounts", "yes"), ("PrivateIPC", "yes"),
                              ("ProtectHostname", "yes"), ("UMask", "0027"),
                              ("SystemCallErrorNumber", "EPERM"), ("NoExecPaths", "/"),
                              ("MemoryMax", "512M"), ("TasksMax", "64"),
                              ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")):
                self.assertEqual(svc.get(key), want, "%s %s" % (name, key))
            self.assertNotIn("PrivateNetwork", svc, name)
            self.assertNotIn("PrivateUsers", svc, name)
            self.assertIn(os.path.dirname(harness.binary("smtpgate-" + ("inbound" if inbound
                                                                       else "outbound"))),
                          svc["ExecPaths"].split(), name)
            self.assertEqual(svc["CapabilityBoundingSet"],
                             "CAP_NET_BIND_SERVICE" if inbound else "", name)
            # configparser keeps only the last of repeated keys: read them all
            filters = [l.split("=", 1)[1] for l in text.splitlines()
                       if l.startswith("SystemCallFilter=")]
            self.assertEqual(filters, ["@system-service", "~@privileged @resources",
                                       "capset fchown sched_setscheduler" if inbound
                                       else "fchown"], name)
            if "@" in name:
                # a template is sandboxed exactly like its direction's unit
                plain = name.replace("@", "")
                _, ptext = self.render(plain)
                strip = lambda s: [l for l in s.splitlines()
                                   if not l.startswith(("#", "Description=", "ExecStart",
                                                        "ExecReload=", "ReadWritePaths="))]
                self.assertEqual(strip(text), strip(ptext), name)

    def test_unit_settings(self):
        for name in UNITS:
            _, text = self.render(name)
            svc = load_unit(text)["Service"]
            inbound = "inbound" in name
            suffix = "-%i" if "@" in name else ""
            self.assertEqual(svc["Type"], "notify", name)
            self.assertTrue(svc["WatchdogSec"].rstrip("s").isdigit(), name)
            self.assertEqual(svc["Restart"], "on-failure", name)
            self.assertEqual(svc["RestartPreventExitStatus"], "67 77 78", name)
            # reload: first the daemon's own -t on the same config (a broken
            # config fails `systemctl reload`), then the SIGHUP
            reloads = [l.split("=", 1)[1] for l in text.splitlines()
                       if l.startswith("ExecReload=")]
            conf = "/etc/smtpgate/%s%s.conf" % ("inbound" if inbound else "outbound", suffix)
            prog = "smtpgate-inbound" if inbound else "smtpgate-outbound"
            self.assertEqual(len(reloads), 2, name)
            self.assertRegex(reloads[0], r"^/\S*/%s -t -c %s$" % (prog, re.escape(conf)),
                             name)
            self.assertEqual(reloads[1], "/bin/kill -HUP $MAINPID", name)
            self.assertIn("smtpgate-check", svc["ExecStartPre"], name)
            conf = "/etc/smtpgate/%s%s.conf" % ("inbound" if inbound else "outbound", suffix)
            self.assertIn(conf, svc["ExecStartPre"], name)
            self.assertIn("-c " + conf, svc["ExecStart"], name)
            self.assertEqual(svc["ProtectSystem"], "strict", name)
            self.assertEqual(svc["ReadWritePaths"], "/var/spool/smtpgate/%s%s"
                             % ("inbound" if inbound else "outbound", suffix), name)
            for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
                self.assertEqual(svc[key], "yes", "%s %s" % (name, key))
            self.assertEqual(svc["User"], "smtpgate", name)
            # the daemon may give its Maildirs / its maildrop/ to these groups
            self.assertEqual(svc["SupplementaryGroups"],
                             "smtpgate-mail" if inbound else "smtpgate-submit", name)
            if inbound:
                self.assertEqual(svc["AmbientCapabilities"], "CAP_NET_BIND_SERVICE", name)
            else:
                self.assertNotIn("AmbientCapabilities", svc, name)
                self.assertEqual(svc["CapabilityBoundingSet"], "", name)

    def test_sysusers_and_tmpfiles(self):
        with open(os.path.join(CONF, "smtpgate.sysusers")) as f:
            users = [l.split() for l in f if l.strip() and not l.startswith("#")]
        self.assertEqual(users[0][:2], ["u", "smtpgate"])
        # the trust model's groups, and the service user in both
        self.assertIn(["g", "smtpgate-submit", "-"], users)
        self.assertIn(["g", "smtpgate-mail", "-"], users)
        self.assertIn(["m", "smtpgate", "smtpgate-submit"], users)
        self.assertIn(["m", "smtpgate", "smtpgate-mail"], users)
        with open(os.path.join(CONF, "smtpgate.tmpfiles")) as f:
            dirs = {l.split()[1]: l.split() for l in f if l.strip() and not l.startswith("#")}
        for d in ("/var/spool/smtpgate/inbound", "/var/spool/smtpgate/outbound"):
            self.assertEqual(dirs[d][0], "d")
            self.assertEqual(dirs[d][3:5], ["smtpgate", "smtpgate"])
        # others may only search the spools: the injector reaches maildrop/,
        # readers reach mailboxes/; nobody else lists or writes them
        self.assertEqual(dirs["/var/spool/smtpgate/inbound"][2], "0711")
        self.assertEqual(dirs["/var/spool/smtpgate/outbound"][2], "0751")


if __name__ == "__main__":
    harness.main()
