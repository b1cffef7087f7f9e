"""smtpgate-outbound: the log lines an admin greps for (smtpgate-outbound(8),
LOG LINES), with the daemon running as the service user.

The Message-ID once per message, on the pickup line; a smart host's
failure names the message it was trying (its queue id); the per-recipient
lines carry it too; a repeated line is written once and then summarised.
"""

import os
import re
import signal

from outbound_case import OutboundCase, maildrop_message, message
import harness


def lines(log, pattern):
    """Log lines (prefix stripped) that match pattern from their start."""
    out = []
    for line in log.splitlines():
        body = line.split("]: ", 1)[1] if "]: " in line else line
        if re.match(pattern, body):
            out.append(body)
    return out


class OutboundLogTest(OutboundCase):

    def test_message_id_once_and_queue_id_on_relay_failure(self):
        dead = harness.free_port()
        fake = self.fake()
        d = self.start_outbound([self.host(dead), self.host(fake)])
        self.drop(message("a@example.com", ["b@example.net", "c@example.net"],
                          subject="logged once"))
        self.drop_maildrop(maildrop_message("u@example.com", ["d@example.net"]))
        self.wait_messages(fake, 2)
        self.wait_queue_empty()
        self.stop_outbound(d)
        log = d.log()
        qid = re.search(r"pickup id=(\w+) source=pickup uid=\d+ name=drop00001\.eml "
                        r"from=<a@example\.com> nrcpt=2 size=\d+ "
                        r"message-id=<logged\.once@test\.example>$", log, re.M)
        self.assertTrue(qid, log)
        qid = qid.group(1)
        self.assertEqual(log.count("logged.once@test.example"), 1, log)
        self.assertEqual(len(lines(log, r"pickup id=\w+ source=maildrop uid=\d+ name=md00002 "
                                   r"from=<u@example\.com> nrcpt=1 size=\d+ "
                                   r"message-id=none$")), 1, log)
        # the dead smart host: tried for some message, named by its queue id
        failed = lines(log, r"relay relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d id=(\w+) "
                       r"status=failed stage=connect " % dead)
        self.assertTrue(failed, log)
        ids = set(re.findall(r"pickup id=(\w+)", log))
        for f in failed:
            self.assertIn(re.search(r" id=(\w+) ", f).group(1), ids, f)
        for rcpt in ("b", "c"):
            self.assertEqual(len(lines(log, r"out id=%s to=<%s@example\.net> relay=\S+ "
                                       r"status=sent " % (qid, rcpt))), 1, log)
        # every line about a message carries its id
        for l in lines(log, r"(out|done|dsn) |queue (?!loaded=)"):
            self.assertRegex(l, r"^\w+ id=\w+ ", l)

    def test_repeated_control_error_is_summarised(self):
        fake = self.fake()
        d = self.start_outbound([self.host(fake)])
        control = os.path.join(self.spool, "control")
        # a request for a message that is not there (smtpgate-queue would
        # refuse it; a stale script might not): the same error each time
        for i in range(4):
            with open(os.path.join(control, "delete.00000000deadbeef.%d" % i), "w"):
                pass
            harness.wait_for(lambda: not os.listdir(control), 10, "the request taken")
        self.stop_outbound(d)
        log = d.log()
        first = lines(log, r"control verb=delete target=00000000deadbeef status=error ")
        self.assertEqual(len(first), 1, log)
        self.assertEqual(lines(log, r"message repeated"),
                         ["message repeated 3 more times in %s s: %s" % (
                             re.search(r"in (\d+) s: control", log).group(1), first[0])], log)


if __name__ == "__main__":
    harness.main()
