"""scripts/demo --once: the README's first command, run against this build."""
import os
import re
import subprocess

import harness


class DemoTest(harness.GatewayTestCase):
    def test_demo_round_trip(self):
        env = dict(os.environ, SMTPGATE_BUILD=os.path.abspath(harness.BUILD))
        r = subprocess.run([os.path.join(harness.SRC, "scripts", "demo"), "--once"],
                           capture_output=True, text=True, timeout=120, env=env)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("== round trip ok", out)
        # the printed Maildir file is the message, with the inbound's trace headers
        self.assertIn("Subject: smtpgate demo", out)
        self.assertIn("Hello through the dedicated gateway pair.", out)
        self.assertRegex(out, r"(?m)^Received: from .*\n?\s*by gw-in\.localhost")
        self.assertRegex(out, r"(?m)^Delivered-To: <?demo@example\.com>?")
        self.assertRegex(out, r"TLSv1\.[23]")  # the outbound used STARTTLS
        # started as root, both daemons run unprivileged (the demo drops them)
        uids = re.findall(r"(?m)^== smtpgate-(?:in|out)bound runs as uid (\d+)$", out)
        self.assertEqual(len(uids), 2, out)
        if os.geteuid() == 0:
            self.assertNotIn("0", uids, out)


if __name__ == "__main__":
    harness.main()
