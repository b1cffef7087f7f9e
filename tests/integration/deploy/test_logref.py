"""The log reference: every line the daemons can write is in their man page.

Each format string of a log call (log_info, log_warn, log_warnx, log_debug,
fatal, fatalx) in the daemons' sources is cut at its conversions (%s, %zu,
...); every piece with a letter in it -- the leading keywords ("reject
id="), each key ("cmd="), the fixed words ("possible duplicate") -- must
appear in the LOG LINES section of the daemon's page (inbound/
smtpgate-inbound.8.scd, outbound/smtpgate-outbound.8.scd), markup
removed.  So a new line, a renamed key or a changed wording fails here
until the page says it.  The check is shown to fail: a page with one
entry taken out is reported.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

CALL = re.compile(r'\b(?:log_info|log_warnx|log_warn|log_debug|fatalx|fatal)\(\s*'
                  r'((?:"(?:[^"\\]|\\.)*"\s*(?:PRI\w+\s*)?)+)')
CONV = re.compile(r"%[-#0 +']*\d*(?:\.\d+)?(?:hh|h|ll|l|j|z|t)?[diouxXcsp]|%%")
COMMON = ["common/daemon.c", "common/util.c", "common/logrepeat.c"]
DAEMONS = {
    "inbound/smtpgate-inbound.8.scd": ["inbound/*"] + COMMON,
    # the daemon's files: every outbound/*.c but the tools' own
    "outbound/smtpgate-outbound.8.scd": ["outbound/*"] + COMMON,
}
# lines not written through a log call with its own format
EXTRA = ["message repeated %llu more times in %llu s: %s"]


# outbound/ files of the injector and the queue tool (they write to stderr,
# documented in their own pages), not of the daemon
TOOLS = {"sendmail.c", "sendmail_bs.c", "maildrop.c", "submit.c", "submit_bs.c", "queuetool.c"}


def sources(patterns):
    out = []
    for p in patterns:
        if p.endswith("/*"):
            d = os.path.join(harness.SRC, p[:-2])
            out += sorted(os.path.join(d, n) for n in os.listdir(d)
                          if n.endswith(".c") and n not in TOOLS)
        else:
            out.append(os.path.join(harness.SRC, p))
    return out


def formats(paths):
    """Every distinct format string of a log call in paths."""
    seen = []
    for path in paths:
        with open(path) as f:
            text = f.read()
        for m in CALL.finditer(text):
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"|(PRI\w+)', m.group(1))
            fmt = "".join(a if a else "llu" for a, _ in parts).replace('\\"', '"')
            if fmt not in seen:
                seen.append(fmt)
    return seen + [e for e in EXTRA if e not in seen]


def flat(text):
    """Markup and spacing gone: scdoc's * and _, line breaks, runs of blanks."""
    return " ".join(text.replace("*", "").replace("_", "").split())


def pieces(fmt):
    """The fixed pieces of fmt that must be documented (a letter in each)."""
    return [flat(p) for p in CONV.split(fmt) if re.search(r"[A-Za-z]", p)]


def log_lines_section(scd):
    m = re.search(r"^# LOG LINES\n(.*?)^# ", scd, re.M | re.S)
    return m.group(1) if m else ""


def undocumented(section, fmts):
    """[(format, piece)] for each piece the section lacks."""
    page = flat(section)
    return [(f, p) for f in fmts for p in pieces(f) if p not in page]


class LogReferenceTest(unittest.TestCase):

    def test_every_line_is_documented(self):
        for page, srcs in DAEMONS.items():
            with open(os.path.join(harness.SRC, page)) as f:
                section = log_lines_section(f.read())
            self.assertTrue(section, "%s has no LOG LINES section" % page)
            fmts = formats(sources(srcs))
            self.assertGreater(len(fmts), 40, page)
            missing = undocumented(section, fmts)
            self.assertEqual(missing, [], "%s: undocumented log lines (format, piece):\n%s" % (
                page, "\n".join("  %r: %r" % m for m in missing)))

    def test_the_check_can_fail(self):
        with open(os.path.join(harness.SRC, "inbound/smtpgate-inbound.8.scd")) as f:
            section = log_lines_section(f.read())
        fmts = formats(sources(DAEMONS["inbound/smtpgate-inbound.8.scd"]))
        # the recipient line's entry taken out of the page
        entry = re.search(r"^\*in id=\*_qid_ \*to=.*?(?=^\*)", section, re.M | re.S).group(0)
        missing = undocumented(section.replace(entry, ""), fmts)
        self.assertEqual(missing, [("in id=%s to=<%s> mailbox=%s status=delivered",
                                    "> mailbox=")])
        # a format with a new key, or new words, is reported too
        self.assertEqual(undocumented(section, ["in id=%s to=<%s> mailbox=%s shelf=%s"]),
                         [("in id=%s to=<%s> mailbox=%s shelf=%s", "shelf=")])
        self.assertEqual(undocumented(section, ["reject id=%s: made up words"]),
                         [("reject id=%s: made up words", ": made up words")])


if __name__ == "__main__":
    harness.main()
