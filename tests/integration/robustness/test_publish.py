"""Publishing after the 250 (issue 21, point 2): a message is answered as
soon as its commit log record is durable, and its file reaches the
Maildir's new/ afterwards, on the publisher thread.  With the publish held
up (the fault shim's SMTPGATE_SLOW_PUBLISH_MS), the 250 still comes, the
backlog shows in the metrics, a kill -9 before the publish loses nothing
(recovery publishes from the log, once), and a failed publish turns the
commit_log_ok gauge to 0 until a checkpoint has written the file again.
The daemon runs as the service user, as the units run it.
"""
import os
import re
import unittest

import harness
from test_commitlog import send  # one message to alice: (code, text)

GROUP = 'mailbox_group = %d' % harness.MAIL_GID


def new_files(spool):
    """{name: bytes} of alice's new/."""
    d = os.path.join(spool, "mailboxes", "alice", "new")
    out = {}
    for n in os.listdir(d):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


def gauge(mport, name):
    """The value of smtpgate_inbound_<name>."""
    m = re.search(r"^smtpgate_inbound_%s (\S+)$" % name, harness.scrape(mport), re.M)
    assert m, name
    return float(m.group(1))


class PublishTest(harness.GatewayTestCase):

    def start_on(self, spool, env=None):
        """An inbound on spool with metrics; (daemon, port, metrics port)."""
        port, mport = harness.free_port(), harness.free_port()
        conf = self.write("pub-%d.conf" % len(self.daemons), harness.inbound_config(
            spool, port, extra=GROUP + '\nmetrics_listen = "127.0.0.1:%d"\n' % mport))
        d = self.start("smtpgate-inbound", conf, env=env, wait_port=port)
        return d, port, mport

    def test_250_comes_before_the_file_is_published(self):
        spool = self.path("spool")
        d, port, mport = self.start_on(spool, self.shim_env(SMTPGATE_SLOW_PUBLISH_MS="3000"))
        body = "Message-ID: <early@x>\r\nSubject: early\r\n\r\nanswered before published\r\n"
        code, text = send(port, body)
        self.assertEqual(code, 250, text)
        # acknowledged, durable in the log, not yet in new/: the backlog shows
        self.assertEqual(new_files(spool), {})
        self.assertEqual(gauge(mport, "unpublished_messages"), 1)
        self.assertEqual(gauge(mport, "commit_log_ok"), 1)
        harness.wait_for(lambda: new_files(spool), 15, "the publish")
        files = new_files(spool)
        self.assertEqual(len(files), 1)
        raw = list(files.values())[0]
        self.assertIn(b"\nanswered before published\n", raw)
        self.assertNotIn(b"\r\n", raw)
        harness.wait_for(lambda: gauge(mport, "unpublished_messages") == 0, 10, "backlog 0")

    def test_kill9_before_the_publish_loses_nothing(self):
        spool = self.path("spool")
        d, port, _ = self.start_on(spool, self.shim_env(SMTPGATE_SLOW_PUBLISH_MS="60000"))
        for i in range(3):
            code, text = send(port, "Message-ID: <k%d@x>\r\n\r\nbody %d\r\n" % (i, i))
            self.assertEqual(code, 250, text)
        d.kill9()
        self.assertEqual(new_files(spool), {})
        # started again without the shim: recovery publishes from the log
        d, port, _ = self.start_on(spool)
        self.assertRegex(d.log(), r"commit log \S+/log: \d+ messages after the checkpoint "
                         r"checked, 0 could not be stored")
        files = new_files(spool)
        ids = sorted(re.search(rb"Message-ID: (<k\d@x>)", raw).group(1) for raw in files.values())
        self.assertEqual(ids, [b"<k0@x>", b"<k1@x>", b"<k2@x>"])
        for name, raw in files.items():
            self.assertEqual(int(re.search(r",S=(\d+)", name).group(1)), len(raw))
        self.assertEqual(send(port, "Message-ID: <after@x>\r\n\r\nok\r\n")[0], 250)

    def test_failed_publish_shows_and_heals(self):
        spool = self.path("spool")
        pattern = self.write("rename-pattern", "")
        d, port, mport = self.start_on(spool, self.shim_env(SMTPGATE_FAIL_RENAME_FILE=pattern))
        self.write("rename-pattern", "1*")	# Maildir names, by their time
        code, text = send(port, "Message-ID: <late@x>\r\n\r\nlate\r\n")
        self.assertEqual(code, 250, text)
        harness.wait_for(lambda: gauge(mport, "commit_log_ok") == 0, 10, "commit_log_ok 0")
        self.assertIn("kept in the commit log", d.log())
        code, text = send(port, "Message-ID: <refused@x>\r\n\r\nno\r\n")
        self.assertEqual(code, 451, text)
        with open(pattern, "w"):
            pass
        harness.wait_for(lambda: gauge(mport, "commit_log_ok") == 1, 10, "commit_log_ok 1")
        self.assertEqual([re.search(rb"Message-ID: (\S+)", r).group(1)
                          for r in new_files(spool).values()], [b"<late@x>"])


if __name__ == "__main__":
    unittest.main()
