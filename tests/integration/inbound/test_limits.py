"""smtpgate-inbound under hostile load (issue 17): deadlines that activity
does not reset (command line, DATA rate and whole phase, TLS handshake,
session), connection caps shared per network with a larger share for a
relay host, and refusals summarised in the log instead of a line each.

Clients drip bytes on a schedule (that is the behaviour under test); every
wait for the daemon is a condition (wait_for / a blocking read)."""

import re
import socket
import ssl
import threading
import time

import harness
from inbound_util import InboundCase, message, new_count, wait_until


class Client:
    """A plain SMTP client socket bound to a chosen loopback source address."""

    def __init__(self, port, source="127.0.0.1", timeout=15.0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.bind((source, 0))
        self.s.connect(("127.0.0.1", port))
        self.buf = b""

    def reply(self):
        """One complete reply: (code, text); (0, "") at EOF."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    return 0, "\n".join(lines)
                self.buf += d
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(lines[-1][:3]), "\n".join(lines)

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def eof(self, timeout=15.0):
        self.s.settimeout(timeout)
        try:
            while self.s.recv(65536):
                pass
            return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Dripper(threading.Thread):
    """Sends chunks with a pause between them until told to stop or the
    socket fails: a client that is never idle yet never finishes."""

    def __init__(self, sock, chunks, pause=0.3):
        super().__init__(daemon=True)
        self.sock, self.chunks, self.pause = sock, chunks, pause
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        for chunk in self.chunks:
            if self.stop.wait(self.pause):
                return
            try:
                self.sock.sendall(chunk)
                self.sent += len(chunk)
            except OSError:
                return


class LimitsCase(InboundCase):

    def client(self, source="127.0.0.1", greet=True):
        c = Client(self.port, source)
        self.addCleanup(c.close)
        if greet:
            code, text = c.reply()
            self.assertEqual(code, 220, text)
        return c

    def drip(self, c, chunks, pause=0.3):
        t = Dripper(c.s, chunks, pause)
        self.addCleanup(t.join, 5)
        self.addCleanup(t.stop.set)
        t.start()
        return t

    def assert_cut(self, c, started, low, high):
        """The server said 421 4.4.2 and closed, between low and high s after started."""
        code, text = c.reply()
        elapsed = time.monotonic() - started
        self.assertEqual(code, 421, text)
        self.assertIn("4.4.2", text)
        self.assertTrue(c.eof())
        self.assertGreaterEqual(elapsed, low, "cut too early")
        self.assertLessEqual(elapsed, high, "cut too late")
        return elapsed


class DeadlineTest(LimitsCase):

    def test_command_line_dripped_is_cut_at_its_deadline(self):
        # idle timer 1 s never fires (a byte every 0.3 s); the line's 2 s do
        d = self.inbound(extra="timeout_command = 1\ndeadline_command = 2\n")
        c = self.client()
        self.assertEqual(c.cmd("EHLO drip.test")[0], 250)
        started = time.monotonic()
        self.drip(c, [b"N", b"O", b"O", b"P", b" "] + [b"x"] * 100)
        elapsed = self.assert_cut(c, started, 1.7, 4.0)
        d.wait_log(r"session id=\S+ client=127\.0\.0\.1:\d+ deadline=command seconds=2")
        self.assertNotIn("timeout=command", d.log())
        self.assertEqual(len(re.findall(r"deadline=", d.log())), 1)
        self.assertNotIn("reject=timeout", d.log())     # one line for the cut
        print("command deadline: cut after %.2f s" % elapsed)

    def test_command_deadline_restarts_for_each_line(self):
        # five lines, each within its 2 s, over 3+ s in all: never cut
        self.inbound(extra="deadline_command = 2\ndeadline_session = 60\n")
        c = self.client()
        c.cmd("EHLO ok.test")
        for _ in range(5):
            c.send("NO")
            time.sleep(0.35)   # the client's pace, part of the scenario
            c.send("OP\r\n")
            self.assertEqual(c.reply()[0], 250)
            time.sleep(0.35)
        self.assertEqual(c.cmd("QUIT")[0], 221)

    def data_session(self, extra, source="127.0.0.1"):
        d = self.inbound(extra=extra)
        c = self.client(source)
        c.cmd("EHLO data.test")
        self.assertEqual(c.cmd("MAIL FROM:<s@c.test>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<alice@example.com>")[0], 250)
        self.assertEqual(c.cmd("DATA")[0], 354)
        return d, c

    def test_data_below_minimum_rate_after_grace_is_cut(self):
        # 100 bytes per 0.3 s = 333 B/s, under 2000 B/s; idle timer never fires
        d, c = self.data_session("timeout_data = 5\ndeadline_data = 60\n"
                                 "min_data_rate = 2000\ndata_rate_grace = 1\n")
        started = time.monotonic()
        self.drip(c, [b"Subject: slow\r\n"] + [b"y" * 98 + b"\r\n"] * 200)
        self.assert_cut(c, started, 0.8, 3.5)
        m = d.wait_log(r"deadline=data-rate bytes=(\d+) seconds=\d+ min_data_rate=2000")
        self.assertEqual(new_count(self.spool, "alice"), 0)
        self.assertNotIn("timeout=data", d.log())

    def test_data_at_a_good_rate_passes_the_rate_rule(self):
        d, c = self.data_session("min_data_rate = 2000\ndata_rate_grace = 1\n")
        c.send(message(body=("z" * 998 + "\r\n") * 200) + ".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)
        self.assertNotIn("deadline=", d.log())

    def test_whole_data_phase_deadline(self):
        # a steady, fast enough trickle still must end within deadline_data
        d, c = self.data_session("timeout_data = 1\ndeadline_data = 2\nmin_data_rate = 0\n")
        started = time.monotonic()
        self.drip(c, [b"Subject: long\r\n"] + [b"line\r\n"] * 100)
        self.assert_cut(c, started, 1.7, 4.0)
        d.wait_log(r"deadline=data seconds=2")

    def test_bdat_sequence_under_the_data_deadline(self):
        # small BDAT chunks, each on time, but the sequence outlasts 2 s
        d = self.inbound(extra="timeout_command = 1\ndeadline_data = 2\n"
                               "deadline_command = 30\nmin_data_rate = 0\n")
        c = self.client()
        c.cmd("EHLO bdat.test")
        c.cmd("MAIL FROM:<s@c.test>")
        c.cmd("RCPT TO:<alice@example.com>")
        started = time.monotonic()
        code = 250
        while code == 250 and time.monotonic() - started < 6:
            c.send("BDAT 5\r\nabcde")
            code, text = c.reply()
            time.sleep(0.3)    # the client's pace
        self.assertEqual(code, 421, text)
        self.assertIn("4.4.2", text)
        self.assertLess(time.monotonic() - started, 4.0)
        d.wait_log(r"deadline=data seconds=2")

    def test_stalled_tls_handshake_is_cut(self):
        pki = harness.make_ca(self.tmp)
        d = self.inbound(tls=pki, extra="timeout_command = 30\ndeadline_tls_handshake = 2\n")
        c = self.client()
        c.cmd("EHLO tls.test")
        self.assertEqual(c.cmd("STARTTLS")[0], 220)
        # a real ClientHello, sent one byte every 0.3 s
        ctx = ssl.create_default_context(cafile=pki["ca"])
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = out.read()
        started = time.monotonic()
        t = self.drip(c, [hello[i:i + 1] for i in range(len(hello))])
        self.assertTrue(c.eof())
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 1.7)
        self.assertLessEqual(elapsed, 4.0)
        self.assertLess(t.sent, len(hello))
        d.wait_log(r"deadline=tls-handshake seconds=2")

    def test_session_deadline(self):
        d = self.inbound(extra="deadline_session = 3\ntimeout_command = 2\n")
        started = time.monotonic()
        c = self.client()
        c.cmd("EHLO busy.test")
        code = 250
        while code == 250 and time.monotonic() - started < 8:
            code, text = c.cmd("NOOP")
            time.sleep(0.3)    # the client's pace
        elapsed = time.monotonic() - started
        self.assertEqual(code, 421, text)
        self.assertIn("4.4.2", text)
        self.assertGreaterEqual(elapsed, 2.7)
        self.assertLessEqual(elapsed, 5.0)
        d.wait_log(r"deadline=session seconds=3")

    def test_session_deadline_during_a_delivery_answers_the_message_first(self):
        # the disk takes 2.5 s per sync; the session's 2 s pass meanwhile
        slow = self.path("slow-ms")
        with open(slow, "w") as f:
            f.write("0")
        env = self.shim_env(SMTPGATE_SLOW_FSYNC_FILE=slow)
        self.port = harness.free_port()
        self.spool = self.path("in-spool")
        conf = self.write("inbound.conf", harness.inbound_config(
            self.spool, self.port, None, "deadline_session = 2\n"))
        d = self.start("smtpgate-inbound", conf, env=env, wait_port=self.port)
        c = self.client()
        c.cmd("EHLO slowdisk.test")
        c.cmd("MAIL FROM:<s@c.test>")
        c.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(c.cmd("DATA")[0], 354)
        with open(slow, "w") as f:
            f.write("2500")
        c.send(message() + ".\r\n")
        code, text = c.reply()
        self.assertEqual(code, 250, text)       # the message in flight is answered
        code, text = c.reply()
        self.assertEqual(code, 421, text)       # then the passed deadline
        self.assertIn("4.4.2", text)
        self.assertTrue(c.eof())
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)
        d.wait_log(r"deadline=session seconds=2")


class FairShareTest(LimitsCase):

    def test_one_slash24_shares_one_cap(self):
        d = self.inbound(extra="max_connections_per_client = 3\n")
        held = [self.client("127.0.0.%d" % i) for i in (2, 3, 4)]
        c = self.client("127.0.0.5", greet=False)
        code, text = c.reply()
        self.assertEqual(code, 421, text)
        self.assertIn("4.7.0", text)
        d.wait_log(r"client=127\.0\.0\.5:\d+ cmd=connect .* reason=over-cap net=127\.0\.0\.0/24 ")
        # another /24 is not affected
        other = [self.client("127.0.1.%d" % i) for i in (2, 3, 4)]
        self.assertEqual(other[0].cmd("NOOP")[0], 250)
        # a slot freed in the /24 lets a new address of it in
        held[0].cmd("QUIT")
        self.assertTrue(held[0].eof())
        wait_until(lambda: d.log().count("disconnect id=") >= 2, 10, "the QUIT's disconnect")
        self.client("127.0.0.6")

    def test_prefix_is_configurable(self):
        d = self.inbound(extra="max_connections_per_client = 1\nclient_prefix_ipv4 = 32\n")
        self.client("127.0.0.2")
        self.client("127.0.0.3")          # its own /32
        c = self.client("127.0.0.3", greet=False)
        self.assertEqual(c.reply()[0], 421)
        d.wait_log(r"cmd=connect .* net=127\.0\.0\.3/32 ")

    def test_relay_host_gets_in_while_its_network_is_at_cap(self):
        d = self.inbound(extra='relay_hosts = {"127.0.0.0/8", "127.0.0.1/32"}\n'
                               "max_connections_per_client = 2\n")
        flood = [self.client("127.0.0.%d" % i) for i in (2, 3)]
        for i in range(4, 10):
            c = self.client("127.0.0.%d" % i, greet=False)
            self.assertEqual(c.reply()[0], 421)
        # the relay host (same /24, but named by a /32 entry) has its own share
        relays = [self.client("127.0.0.1") for _ in range(4)]
        r = relays[-1]
        r.cmd("EHLO relay.test")
        r.cmd("MAIL FROM:<s@relay.test>")
        r.cmd("RCPT TO:<alice@example.com>")
        self.assertEqual(r.cmd("DATA")[0], 354)
        r.send(message() + ".\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)
        self.assertEqual(len(flood), 2)
        self.assertNotIn("relay 127.0.0.1/32", re.findall(r"cmd=connect .* net=(.*?) open=", d.log()))

    def test_relay_host_share_is_capped_too(self):
        d = self.inbound(extra='relay_hosts = {"127.0.0.1/32"}\n'
                               "max_connections_per_relay_host = 2\n")
        self.client()
        self.client()
        c = self.client(greet=False)
        self.assertEqual(c.reply()[0], 421)
        d.wait_log(r"client=127\.0\.0\.1:\d+ cmd=connect .* reason=over-relay-cap "
                   r"net=relay 127\.0\.0\.1/32 ")


class LogFloodTest(LimitsCase):

    N = 60

    def summary_count(self, log, client, reason):
        return sum(int(n) for n in re.findall(
            r"refused client=%s reason=%s count=(\d+)" % (re.escape(client), reason), log))

    def test_refusals_over_cap_are_summarised(self):
        d = self.inbound(extra="max_connections_per_client = 1\nrefusal_log_interval = 1\n")
        self.client("127.0.0.2")
        before = len(d.log().splitlines())
        for _ in range(self.N):
            c = Client(self.port, "127.0.0.3")
            self.assertEqual(c.reply()[0], 421)
            c.close()
        wait_until(lambda: self.summary_count(d.log(), "127.0.0.0/24", "over-cap") >= self.N,
                   10, "the summary of %d refusals" % self.N)
        log = d.log()
        self.assertEqual(self.summary_count(log, "127.0.0.0/24", "over-cap"), self.N)
        lines = log.splitlines()[before:]
        refused = [l for l in lines if "127.0.0." in l]
        self.assertLessEqual(len(refused), 6, "\n".join(refused))
        self.assertEqual(len([l for l in lines if "127.0.0.3" in l]), 1)   # the first only
        self.assertNotIn("greeting=busy", log)
        print("%d refusals over the cap: %d log lines" % (self.N, len(refused)))

    def test_denied_at_connect_is_summarised(self):
        d = self.inbound(extra='relay_hosts = {"127.0.0.1/32"}\nrefusal_log_interval = 1\n')
        before = len(d.log().splitlines())
        for _ in range(self.N):
            c = Client(self.port, "127.0.2.9")
            self.assertEqual(c.reply()[0], 554)
            c.close()
        wait_until(lambda: self.summary_count(d.log(), "127.0.2.0/24", "denied") >= self.N,
                   10, "the summary")
        lines = d.log().splitlines()[before:]
        self.assertLessEqual(len(lines), 6, "\n".join(lines))
        self.assertEqual(self.summary_count(d.log(), "127.0.2.0/24", "denied"), self.N)

    def test_a_lone_refusal_is_one_line(self):
        d = self.inbound(extra="max_connections_per_client = 1\nrefusal_log_interval = 1\n")
        self.client("127.0.0.2")
        c = Client(self.port, "127.0.0.3")
        self.assertEqual(c.reply()[0], 421)
        c.close()
        d.wait_log(r"client=127\.0\.0\.3:\d+ cmd=connect .* reason=over-cap net=127\.0\.0\.0/24 ")
        # a burst from another network: once its summary is out, the sweep
        # has also passed the lone refusal's interval
        self.client("127.0.3.2")
        for _ in range(3):
            c = Client(self.port, "127.0.3.3")
            self.assertEqual(c.reply()[0], 421)
            c.close()
        wait_until(lambda: self.summary_count(d.log(), "127.0.3.0/24", "over-cap") == 3,
                   10, "the burst's summary")
        log = d.log()
        self.assertEqual(len(re.findall(r"net=127\.0\.0\.0/24 |refused client=127\.0\.0\.0/24",
                                        log)), 1, log)
        self.assertEqual(len(re.findall(r"client=127\.0\.3\.3:", log)), 1, log)


if __name__ == "__main__":
    harness.main()
