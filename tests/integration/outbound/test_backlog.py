"""A smart host that accepts connections and never answers must not stop
the outbound from queueing its pickup directory.

Regression: picked-up messages are held in memory for the relay, and
the claimer stopped at 384 held messages, so with a hanging smart host
everything after that stayed in pickup/ (invisible to smtpgate-queue, never
expired or bounced).  Now the overflow goes to the on-disk schedule.
"""
import os

import harness
from outbound_case import OutboundCase, message


class BacklogTest(OutboundCase):
    def test_hanging_smarthost_does_not_stop_pickup(self):
        hang = self.fake(script={"greeting": "hang"})
        d = self.start_outbound([self.host(hang)], extra="timeout_greeting = 300\n")
        n = 1200
        for i in range(n):
            self.drop(message("s@example.org", ["r%d@example.net" % i], subject="backlog %d" % i))
        harness.wait_for(lambda: len(self.queued()) == n and not self.pickup_left(), 60,
                         "%d messages queued" % n)
        self.assertTrue(d.alive())
        r = harness.run([harness.binary("smtpgate-queue"), "-c", self.conf, "status"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"queued: *%d\b" % n)
        self.stop_outbound(d)


if __name__ == "__main__":
    harness.main()
