"""it-outbound-crash: kill -9 smtpgate-outbound in the middle of a drain.

About 2,000 pickup files (envelope lines with CRLF or bare LF line ends,
some with a Bcc: that must be removed, some without envelope lines) are
dropped while the daemon is stopped; the daemon is then killed with
SIGKILL several times at different points of the drain and restarted.
Afterwards every Message-ID must have reached the fake smart host at least
once, with the envelope lines and Bcc: gone and CRLF line ends, and the
spool must be empty (no pickup file, no queue entry, no claim left).
"""

import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness                  # noqa: E402
from outbound_case import OutboundCase, message  # noqa: E402

N = 2000
MID = re.compile(rb"^Message-ID: <([^>]+)>\r$", re.M | re.I)


def pickup_text(i):
    """Pickup file i: varied envelope and line-end forms, ~2 KB."""
    rcpt = "rcpt%d@example.net" % (i % 7)
    head = []
    if i % 5 != 4:
        head = ["X-Sender: <sender@example.com>", "X-Receiver: <%s>" % rcpt]
    head += ["From: Sender <sender@example.com>", "To: <%s>" % rcpt,
             "Subject: crash test %d" % i, "Message-ID: <crash.%d@test.example>" % i]
    if i % 11 == 3:
        head.append("Bcc: <hidden%d@example.org>" % i)
    body = ["line %d of message %d ....................................." % (k, i)
            for k in range(30)]
    eol = "\n" if i % 3 == 1 else "\r\n"
    return eol.join(head + [""] + body) + eol


class CrashTest(OutboundCase):
    """SIGKILL during a drain loses nothing."""

    def drop_all(self):
        pickup = os.path.join(self.spool, "pickup")
        tmp = os.path.join(self.spool, "staging")   # a trusted producer's
        for i in range(N):
            name = "crash%05d.eml" % i
            with open(os.path.join(tmp, "producer." + name), "wb") as f:
                f.write(pickup_text(i).encode())
            os.rename(os.path.join(tmp, "producer." + name), os.path.join(pickup, name))

    def leftovers(self):
        tmp = os.path.join(self.spool, "tmp")
        return (self.pickup_left(), self.queued(),
                [n for n in os.listdir(tmp) if n.startswith(("claim.", "drop."))],
                os.listdir(os.path.join(self.spool, "bad")))

    def check_delivered(self, fake):
        _, msgs = fake.snapshot()
        seen = set()
        for m in msgs:
            data = m["data"]
            ids = MID.findall(data)
            self.assertEqual(len(ids), 1, data[:400])
            i = int(re.match(rb"crash\.(\d+)@", ids[0]).group(1))
            self.assertNotIn(b"X-Sender", data)
            self.assertNotIn(b"X-Receiver", data)
            self.assertNotIn(b"Bcc:", data)
            self.assertNotIn(b"\n", data.replace(b"\r\n", b""), "bare LF in %d" % i)
            self.assertTrue(data.endswith(b"\r\n"))
            self.assertIn("rcpt%d@example.net" % (i % 7), m["rcpts"][0])
            seen.add(i)
        missing = sorted(set(range(N)) - seen)
        self.assertEqual(missing, [], "%d message(s) never delivered" % len(missing))
        return len(msgs)

    def test_replaced_state_is_synced_before_its_rename(self):
        # a deferral replaces queue/<id>.env: the new file must be on disk
        # (a syncfs or its own fsync after it was created) before it replaces
        # the old one, or a crash could leave a torn state that never loads;
        # and queue/ is fsynced after the rename (the fault shim traces
        # creations, syncs and renames)
        trace = self.trace_file()
        fake = self.fake(script={"greylist": True})
        self.configure([self.host(fake)])
        env = self.shim_env(SMTPGATE_FSTRACE_FILE=trace)
        d = self.start("smtpgate-outbound", self.conf, env=env)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        self.drop(message("a@example.com", ["b@example.net"], subject="grey"))
        d.wait_log(r"to=<b@example.net> .*status=deferred")
        replace = re.compile(r"^rename (\S+/tmp/\S+) ((\S+/queue)/\w+\.env)$")

        def replacements():
            with open(trace) as f:
                lines = f.read().splitlines()
            seen, reps = set(), []
            for i, l in enumerate(lines):
                m = replace.match(l)
                if m and m.group(2) in seen:	# replaces an earlier one
                    reps.append((i, m.group(1), m.group(3)))
                elif m:
                    seen.add(m.group(2))
            return lines, reps

        harness.wait_for(lambda: replacements()[1], 10, "the deferred state stored")
        lines, reps = replacements()
        for i, src, queue in reps:
            created = [j for j in range(i) if lines[j] == "create " + src]
            self.assertTrue(created, "no creation traced for " + src)
            between = lines[created[-1] + 1:i]
            self.assertTrue(any(l.startswith("syncfs ") or l == "fsync " + src for l in between),
                            "renamed before it was synced: %s\n%s" % (src, "\n".join(between)))
        i, src, queue = reps[-1]
        harness.wait_for(lambda: "fsync " + queue in replacements()[0][i + 1:], 10,
                         "queue/ fsynced after the rename of " + src)
        self.wait_messages(fake, 1)
        self.wait_queue_empty()
        self.stop_outbound(d)

    def test_kill9_during_drain(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)], extra="max_connections = 8\n"
                                "messages_per_connection = 50\n")
        self.stop_outbound(d)
        self.drop_all()
        # kill points: during the first claims, early and late in the drain
        d = self.start_outbound()
        d.wait_log(r"pickup id=", 20)
        d.kill9()
        for target in (N // 5, N // 2, (N * 4) // 5):
            d = self.start_outbound()
            harness.wait_for(lambda: fake.message_count() >= target or not d.alive(), 60,
                             "%d messages delivered" % target)
            self.assertTrue(d.alive(), d.log())
            d.kill9()
        d = self.start_outbound()
        harness.wait_for(lambda: self.leftovers() == ([], [], [], []), 120,
                         "an empty spool (left: %s)" % (self.leftovers(),))
        got = self.check_delivered(fake)
        self.stop_outbound(d)
        self.assertGreaterEqual(got, N)

    def test_kill9_during_mass_deferral(self):
        # every message is deferred (their new states go to the disk
        # worker in groups); SIGKILL twice in the middle of that, then the
        # smart host accepts and everything is retried: nothing is lost,
        # and every entry still loads
        grey = self.fake(script={"rcpt": "451 4.7.1 try later"})
        d = self.start_outbound([self.host(grey)], extra="max_connections = 8\n"
                                "retry_min = 3600\nretry_max = 7200\n")
        self.stop_outbound(d)
        self.drop_all()
        for target in (N // 4, N // 2):
            d = self.start_outbound()
            harness.wait_for(lambda: d.log().count("status=deferred") >= target or
                             not d.alive(), 60, "%d deferrals" % target)
            self.assertTrue(d.alive(), d.log())
            d.kill9()
        good = self.fake()
        self.configure([self.host(good)], extra="max_connections = 8\n")
        d = self.start_outbound()
        d.wait_log(r"start version=")
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "retry", "all"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        d.wait_log(r"control verb=retry target=all status=ok")
        harness.wait_for(lambda: self.leftovers() == ([], [], [], []), 120,
                         "an empty spool (left %d queued; log tail: %s)" %
                         (len(self.queued()), d.log()[-2000:]))
        self.assertNotIn("cannot", d.log())
        got = self.check_delivered(good)
        self.stop_outbound(d)
        self.assertGreaterEqual(got, N)


if __name__ == "__main__":
    unittest.main()
