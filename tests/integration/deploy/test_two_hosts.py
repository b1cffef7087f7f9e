"""Two "hosts": inbound and outbound in two network namespaces (issue 5).

The namespaces are joined by a veth pair (addresses of this test's own
namespaces only); both spools sit on one shared filesystem, as in the old
postoffice-share setup.  Shows the round trip between the hosts, then the
refusals the dedicated topology promises: the outbound pointed at the
inbound's spool exits 78, and a second inbound in the other namespace on the
same spool exits 75 while the first keeps serving.  The daemons run as
the service user, as the units run them; the message is handed over by a
trusted producer of the service group.
"""
import os
import shutil
import subprocess
import unittest

import harness

A_IP, B_IP = "10.250.77.1", "10.250.77.2"


def can_make_netns():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if not shutil.which("ip"):
        return "iproute2 (ip) is not installed"
    name = "sgprobe%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot create a network namespace here: " + r.stderr.strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


SKIP = can_make_netns()


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True, text=True)


@unittest.skipIf(SKIP, SKIP or "")
class TwoHostsTest(harness.GatewayTestCase):
    def setUp(self):
        super().setUp()
        tag = "%d" % os.getpid()
        self.ns_a, self.ns_b = "sgA" + tag, "sgB" + tag
        ip("netns", "add", self.ns_a)
        ip("netns", "add", self.ns_b)
        ip("link", "add", "sgva" + tag, "type", "veth", "peer", "name", "sgvb" + tag)
        ip("link", "set", "sgva" + tag, "netns", self.ns_a)
        ip("link", "set", "sgvb" + tag, "netns", self.ns_b)
        for ns, dev, addr in ((self.ns_a, "sgva" + tag, A_IP), (self.ns_b, "sgvb" + tag, B_IP)):
            ip("-n", ns, "addr", "add", addr + "/30", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        self.shared = self.path("postoffice-share")
        os.mkdir(self.shared)
        if harness.privileged():	# the service user creates its spools here
            os.chown(self.shared, harness.DAEMON_UID, harness.DAEMON_GID)

    def tearDown(self):
        super().tearDown()  # stops the daemons first
        for ns in (self.ns_a, self.ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def in_ns(self, ns, program, config, name):
        log = self.path("%s.%d.log" % (name, len(self.daemons)))
        d = harness.Daemon(["ip", "netns", "exec", ns] + harness.daemon_ids() +
                           [harness.binary(program), "-f", "-c", config], log)
        self.daemons.append(d)
        return d

    def ns_port_open(self, ns, host, port):
        r = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                            "import socket; socket.create_connection(('%s', %d), 1)" % (host, port)],
                           capture_output=True)
        return r.returncode == 0

    def send_from(self, ns, host, port, rcpt, msgid):
        script = ("import smtplib\n"
                  "s = smtplib.SMTP('%s', %d, timeout=10)\n"
                  "s.sendmail('probe@example.org', ['%s'], 'Message-ID: %s\\r\\nSubject: probe\\r\\n\\r\\nhi\\r\\n')\n"
                  "s.quit()\n" % (host, port, rcpt, msgid))
        return subprocess.run(["ip", "netns", "exec", ns, "python3", "-c", script],
                              capture_output=True, text=True, timeout=30)

    def maildir_has(self, spool, msgid):
        new = os.path.join(spool, "mailboxes", "alice", "new")
        if not os.path.isdir(new):
            return False
        for name in os.listdir(new):
            with open(os.path.join(new, name), errors="replace") as f:
                if msgid in f.read():
                    return True
        return False

    def test_round_trip_and_refusals(self):
        port = harness.free_port()
        in_spool = os.path.join(self.shared, "inbound")
        out_spool = os.path.join(self.shared, "outbound")
        in_conf = self.write("inbound.conf", harness.inbound_config(
            in_spool, port, {"alice": ["alice@example.com"]},
            extra='relay_hosts = {"%s/32", "127.0.0.1/32"}' % B_IP, host=A_IP))
        out_conf = self.write("outbound.conf", harness.outbound_config(
            out_spool, [{"host": A_IP, "port": port, "tls": "none"}], extra="retry_min = 1"))

        r = harness.run([harness.binary("smtpgate-check"), in_conf, out_conf])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        inbound = self.in_ns(self.ns_a, "smtpgate-inbound", in_conf, "inbound-A")
        harness.wait_for(lambda: self.ns_port_open(self.ns_a, A_IP, port) or not inbound.alive(),
                         10, "inbound listening in namespace A")
        self.assertTrue(inbound.alive(), inbound.log())
        outbound = self.in_ns(self.ns_b, "smtpgate-outbound", out_conf, "outbound-B")
        harness.wait_for(lambda: os.path.isdir(os.path.join(out_spool, "pickup")) or not outbound.alive(),
                         10, "outbound spool initialised")
        self.assertTrue(outbound.alive(), outbound.log())

        # host B's producer injects; host B's outbound relays to host A's inbound
        msgid = "<two-hosts.%d@example.org>" % os.getpid()
        r = harness.run_daemon_user([harness.binary("smtpgate-sendmail"), "-C", out_conf, "-f",
                                     "sender@example.org", "alice@example.com"],
                        input="Message-ID: %s\nSubject: across hosts\n\nhello\n" % msgid)
        self.assertEqual(r.returncode, 0, r.stderr)
        harness.wait_for(lambda: self.maildir_has(in_spool, msgid), 30, "delivery across namespaces")
        self.assertRegex(inbound.log(), r"client=%s" % B_IP.replace(".", r"\."))

        # the outbound pointed at the inbound's spool: refused, exit 78
        bad_conf = self.write("outbound-bad.conf", harness.outbound_config(
            in_spool, [{"host": A_IP, "port": port, "tls": "none"}]))
        r = subprocess.run(["ip", "netns", "exec", self.ns_b] + harness.daemon_ids() +
                           [harness.binary("smtpgate-outbound"), "-f", "-c", bad_conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)
        self.assertIn(in_spool, r.stdout + r.stderr)
        r = harness.run([harness.binary("smtpgate-check"), in_conf, bad_conf])
        self.assertEqual(r.returncode, 78, r.stdout + r.stderr)

        # a second inbound in the other namespace on the same spool: exit 75
        port2 = harness.free_port()
        second_conf = self.write("inbound-second.conf", harness.inbound_config(
            in_spool, port2, {"alice": ["alice@example.com"]}, host=B_IP))
        r = subprocess.run(["ip", "netns", "exec", self.ns_b] + harness.daemon_ids() +
                           [harness.binary("smtpgate-inbound"), "-f", "-c", second_conf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertIn("pid=%d" % inbound.pid, r.stdout + r.stderr)

        # ... while the first keeps serving
        msgid2 = "<two-hosts-2.%d@example.org>" % os.getpid()
        r = self.send_from(self.ns_b, A_IP, port, "alice@example.com", msgid2)
        self.assertEqual(r.returncode, 0, r.stderr)
        # published into new/ after the 250
        harness.wait_for(lambda: self.maildir_has(in_spool, msgid2), harness.publish_timeout(1),
                         "the second inbound's delivery")
        self.assertTrue(inbound.alive())


if __name__ == "__main__":
    harness.main()
