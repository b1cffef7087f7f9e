"""Load from Postfix's smtp-source against smtpgate-inbound with its
default limits (a relay host in front opens many connections in a row).

Regression: closing connections used to stay counted for up to 20 ms
after their last reply, so 20 sessions at full speed hit the default
max_connections_per_client (50) and were refused with 421.
"""
import os
import shutil
import subprocess
import unittest

import harness


@unittest.skipUnless(shutil.which("smtp-source"), "smtp-source (postfix) is not installed")
class LoadTest(harness.GatewayTestCase):
    def test_twenty_sessions_default_limits(self):
        gw, port, spool = self.start_inbound(mailboxes={"box": ["box@example.com"]})
        n = 600
        r = subprocess.run(["smtp-source", "-s", "20", "-l", "8192", "-m", str(n),
                            "-f", "load@example.org", "-t", "box@example.com",
                            "127.0.0.1:%d" % port], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        new = os.path.join(spool, "mailboxes", "box", "new")
        # the publisher thread renames the files in after their 250s
        self.assertEqual(len(harness.wait_files(new, n)), n)
        self.assertNotIn(" cmd=connect ", gw.log())   # no 421 at connect
        # every file is a complete message of the size in its name
        for name in os.listdir(new)[:50]:
            size = int(name.split(",S=")[1].split(":")[0].split(",")[0])
            self.assertEqual(os.path.getsize(os.path.join(new, name)), size)


if __name__ == "__main__":
    harness.main()
