"""Both daemons speak the service manager's notify protocol (issue 5).

A datagram socket stands in for systemd: NOTIFY_SOCKET points at it and
WATCHDOG_USEC asks for a watchdog.  Each daemon must send READY=1 once it
serves, a STATUS= summary, WATCHDOG=1 pings from its event loop (several
within a second at a 400 ms watchdog), and STOPPING=1 on SIGTERM, then exit
0.  Without NOTIFY_SOCKET the same daemons run as before (every other test).
The daemons run as the service user, so the socket is made reachable by it,
as systemd's own socket is (/run/systemd/notify accepts every sender).
"""
import os
import signal
import socket
import time

import harness


class NotifyTest(harness.GatewayTestCase):
    def listen_notify(self):
        path = self.path("notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        os.chmod(path, 0o666)
        if harness.privileged():
            os.chown(path, harness.DAEMON_UID, harness.DAEMON_GID)
        s.settimeout(0.2)
        self.addCleanup(s.close)
        return s, path

    def collect(self, s, until, timeout=10.0):
        """Datagrams received until until(messages) is true."""
        msgs = []
        deadline = time.monotonic() + timeout
        while not until(msgs):
            if time.monotonic() > deadline:
                raise AssertionError("notify messages so far: %r" % msgs)
            try:
                msgs.append(s.recv(4096).decode())
            except socket.timeout:
                pass
        return msgs

    def check_daemon(self, program, conf, port=None):
        s, path = self.listen_notify()
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
        env.pop("WATCHDOG_PID", None)
        d = self.start(program, conf, env=env, wait_port=port)
        t0 = time.monotonic()
        msgs = self.collect(s, lambda m: sum("WATCHDOG=1" in x for x in m) >= 3
                            and any("READY=1" in x for x in m)
                            and any("STATUS=" in x for x in m))
        self.assertLess(time.monotonic() - t0, 5)
        ready = [i for i, m in enumerate(msgs) if "READY=1" in m][0]
        self.assertTrue(any("STATUS=" in m for m in msgs))
        if port:
            self.assertTrue(harness.port_open(port))
        d.send_signal(signal.SIGTERM)
        msgs += self.collect(s, lambda m: any("STOPPING=1" in x for x in m))
        self.assertEqual(d.proc.wait(15), 0)
        self.assertGreaterEqual(len(msgs), ready + 1)
        self.assertRegex(d.log(), r"(?m)status ")

    def test_inbound_notify(self):
        port = harness.free_port()
        conf = self.write("inbound.conf", harness.inbound_config(self.path("in-spool"), port))
        self.check_daemon("smtpgate-inbound", conf, port)

    def test_outbound_notify(self):
        conf = self.write("outbound.conf", harness.outbound_config(
            self.path("out-spool"), [{"host": "127.0.0.1", "port": harness.free_port(), "tls": "none"}]))
        self.check_daemon("smtpgate-outbound", conf)


if __name__ == "__main__":
    harness.main()
