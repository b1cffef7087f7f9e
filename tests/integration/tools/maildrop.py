"""Helpers of the smtpgate-sendmail tests (test_sendmail, test_setgid,
test_tools_daemon): an outbound spool laid out as the daemon lays it out
(design of issue 16), the injector installed set-group-id as a package
installs it, and the parser of the maildrop file it writes.
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

END_LINE = "X-Smtpgate-Envelope: end"

# <spool>/<dir>: (mode, group); the owner is the service user
LAYOUT = {
    "tmp": (0o700, harness.DAEMON_GID),
    "queue": (0o750, harness.DAEMON_GID),
    "bad": (0o750, harness.DAEMON_GID),
    "control": (0o1730, harness.DAEMON_GID),
    "maildrop": (0o1730, harness.SUBMIT_GID),
    "pickup": (0o1730, harness.DAEMON_GID),
    "staging": (0o1770, harness.DAEMON_GID),
}


def make_spool(path, role="outbound", dirs=tuple(LAYOUT)):
    """An initialised outbound spool with the daemon's owner and modes:
    <spool> 0751, role marker 0644, maildrop/ 1730 group SUBMIT_GID ...
    (what smtpgate-outbound makes at start; here no daemon runs)."""
    os.makedirs(path)
    marker = os.path.join(path, ".smtpgate")
    with open(marker, "w") as f:
        f.write("role=%s\ninstance=0123456789abcdef\nhost=test\ncreated=2024-01-01T00:00:00Z\n"
                % role)
    os.chmod(marker, 0o644)
    os.chmod(path, 0o751)
    owned = [(path, harness.DAEMON_GID), (marker, harness.DAEMON_GID)]
    for d in dirs:
        p = os.path.join(path, d)
        mode, group = LAYOUT[d]
        os.mkdir(p)
        os.chmod(p, mode)
        owned.append((p, group))
    if harness.privileged():
        for p, group in owned:
            os.chown(p, harness.DAEMON_UID, group)


def install_setgid(directory, setgid=True):
    """Copy the built injector into directory as a package installs it:
    root:SUBMIT_GID 02755 (0755 without setgid).  smtpgate-queue is copied
    beside it (-bp runs the one next to the injector).  Returns its path."""
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    dst = os.path.join(directory, "smtpgate-sendmail")
    shutil.copyfile(harness.binary("smtpgate-sendmail"), dst)
    os.chown(dst, 0, harness.SUBMIT_GID)
    os.chmod(dst, 0o2755 if setgid else 0o755)	# after chown, which clears it
    q = os.path.join(directory, "smtpgate-queue")
    if not os.path.exists(q):
        shutil.copyfile(harness.binary("smtpgate-queue"), q)
        os.chmod(q, 0o755)
    return dst


def parse_maildrop(data):
    """Split a maildrop file into (sender, [receivers], uid, header lines,
    body).  The envelope is everything before the end line, which must be
    there; the message starts with our Received: line naming the uid."""
    text = data.decode("utf-8")
    head, sep, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    end = lines.index(END_LINE)
    sender, rcpts = None, []
    for ln in lines[:end]:
        name, _, value = ln.partition(": ")
        if name == "X-Sender":
            assert sender is None, "two X-Sender lines"
            sender = value
        elif name == "X-Receiver":
            rcpts.append(value)
        else:
            raise AssertionError("not an envelope line: %r" % ln)
    assert sender is not None, "no X-Sender line"
    hdr = lines[end + 1:]
    prefix = "Received: by "
    assert hdr[0].startswith(prefix) and " (smtpgate-sendmail, from userid " in hdr[0] \
        and hdr[0].endswith(");"), hdr[0]
    assert hdr[1].startswith("\t"), hdr[1]
    uid = int(hdr[0].rsplit(" ", 1)[1].rstrip(");"))
    return sender, rcpts, uid, hdr[2:], body
