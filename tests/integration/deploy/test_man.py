"""The man pages: built from their scdoc sources, clean, and complete.

Each of the seven pages is built by meson (custom_target, scdoc) and must
render with `man --warnings` (groff's warnings) without a single warning
and pass `mandoc -Tlint -W warning`, except for mandoc's "skipping paragraph
macro" notes: scdoc emits a .PP after every .SH and between indented
blocks, which groff and mandoc both ignore.  Every key of the shipped
example configs (set or commented out) and every key of the option tables
in common/config*.c must appear in its config page; every option of each
program's --help must appear in its page, as must the exit codes the page
promises for -V/--help.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

PAGES = {
    "smtpgate-inbound.8": "inbound/smtpgate-inbound.8.scd",
    "smtpgate-outbound.8": "outbound/smtpgate-outbound.8.scd",
    "smtpgate-check.8": "common/smtpgate-check.8.scd",
    "smtpgate-sendmail.1": "outbound/smtpgate-sendmail.1.scd",
    "smtpgate-queue.1": "outbound/smtpgate-queue.1.scd",
    "smtpgate-inbound.conf.5": "conf/smtpgate-inbound.conf.5.scd",
    "smtpgate-outbound.conf.5": "conf/smtpgate-outbound.conf.5.scd",
}
PROGRAM_PAGES = {"smtpgate-inbound": "smtpgate-inbound.8",
                 "smtpgate-outbound": "smtpgate-outbound.8",
                 "smtpgate-check": "smtpgate-check.8",
                 "smtpgate-sendmail": "smtpgate-sendmail.1",
                 "smtpgate-queue": "smtpgate-queue.1"}
# scdoc's own markup: harmless, ignored by both formatters
SCDOC_NOISE = re.compile(r"WARNING: skipping paragraph macro: PP (empty|after SH)")


def built(page):
    return os.path.join(harness.BUILD, page)


def render(page):
    """The page as `man -l` shows it at 80 columns; (text, stderr)."""
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    r = subprocess.run(["man", "--warnings", "-l", built(page)], capture_output=True,
                       text=True, env=env, timeout=60)
    if r.returncode != 0:
        raise AssertionError("man -l %s exited %d: %s" % (page, r.returncode, r.stderr))
    # drop overstrike and joined hyphenation so words can be searched
    text = re.sub(r".\x08", "", r.stdout)
    text = re.sub("[\u2010\u00ad-]\n\\s*", "", text)
    return text, r.stderr


def example_keys(conf):
    """Every key of a shipped example config, set or commented out."""
    keys = set()
    with open(os.path.join(harness.SRC, "conf", conf)) as f:
        for line in f:
            m = re.match(r"\s*#?\s*([a-z_]+)\s*(=|\"[^\"]*\"\s*\{)", line)
            if m:
                keys.add(m.group(1))
    return keys


def table_keys(*sources):
    """Every option name of the libconfuse tables in the given C files."""
    keys = set()
    for src in sources:
        with open(os.path.join(harness.SRC, "common", src)) as f:
            keys |= set(re.findall(r"CFG_[A-Z_]+\(\"([a-z_0-9]+)\"", f.read()))
    return keys


class ManTests(unittest.TestCase):

    def test_pages_built_and_installed_sources(self):
        for page, src in PAGES.items():
            self.assertTrue(os.path.exists(os.path.join(harness.SRC, src)), src)
            self.assertTrue(os.path.exists(built(page)), "%s not built (scdoc?)" % page)
            with open(built(page)) as f:
                head = f.read(4096)
            name, section = page.rsplit(".", 1)
            self.assertRegex(head, r'\.TH "%s" "%s"' % (re.escape(name), section), page)

    def test_man_renders_without_warnings(self):
        for page in PAGES:
            text, err = render(page)
            self.assertEqual(err, "", "%s: man --warnings: %s" % (page, err))
            for sect in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
                self.assertIn("\n" + sect + "\n", text, "%s lacks %s" % (page, sect))

    def test_mandoc_lint_clean(self):
        for page in PAGES:
            r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", built(page)],
                               capture_output=True, text=True, timeout=60)
            lines = [l for l in (r.stdout + r.stderr).splitlines()
                     if l.strip() and not SCDOC_NOISE.search(l)]
            self.assertEqual(lines, [], page)

    def test_program_pages(self):
        for prog, page in PROGRAM_PAGES.items():
            text, _ = render(page)
            for sect in ("OPTIONS", "EXIT STATUS", "PERMISSIONS"):
                self.assertIn("\n" + sect + "\n", text, "%s lacks %s" % (page, sect))
            # every option of the program's --help is documented
            usage = harness.run([harness.binary(prog), "--help"]).stdout
            opts = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", usage))
            self.assertTrue(opts, prog)
            for opt in opts:
                # a cluster such as -ftvV: the cluster or each of its letters
                alts = [opt] if opt.startswith("--") else [opt] + ["-" + c for c in opt[1:]]
                found = [a for a in alts
                         if re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(a), text)]
                self.assertTrue(opt in found or (len(alts) > 2 and len(found) == len(alts) - 1),
                                "%s: option %s of --help is not in the page" % (page, opt))
        for page in ("smtpgate-inbound.8", "smtpgate-outbound.8"):
            text, _ = render(page)
            for sect in ("SIGNALS", "LOG LINES", "FILES"):
                self.assertIn("\n" + sect + "\n", text, "%s lacks %s" % (page, sect))
            for sig in ("SIGHUP", "SIGTERM"):
                self.assertIn(sig, text, page)

    def test_log_reference_names_the_daemons_lines(self):
        # the first word(s) of every info line the daemons log today
        for page, src_dir, starts in (
                ("smtpgate-inbound.8", "inbound",
                 ["start:", "conn id=", "in id=", "disconnect id=", "refused client=",
                  "tls id=", "session id=", "status connections=", "reload: config="]),
                ("smtpgate-outbound.8", "outbound",
                 ["start version=", "pickup id=", "out id=", "done id=", "dsn id=",
                  "relay relay=", "status queue=", "reload status=ok", "maildrop name="])):
            text, _ = render(page)
            flat = " ".join(text.split())
            srcs = ""
            for name in os.listdir(os.path.join(harness.SRC, src_dir)):
                if name.endswith(".c"):
                    with open(os.path.join(harness.SRC, src_dir, name)) as f:
                        srcs += f.read()
            for start in starts:
                self.assertIn('log_info("' + start, srcs, "%s no longer logged" % start)
                self.assertIn(start, flat, "%s: log line %s missing" % (page, start))

    def test_config_pages_list_every_key(self):
        for conf, page, tables in (
                ("inbound.conf", "smtpgate-inbound.conf.5", ("config_inbound.c", "config_int.h")),
                ("outbound.conf", "smtpgate-outbound.conf.5", ("config_outbound.c",
                                                               "config_int.h"))):
            text, _ = render(page)
            keys = example_keys(conf) | table_keys(*tables)
            self.assertGreater(len(example_keys(conf)), 15, conf)
            for key in sorted(keys):
                # documented as a key: "key = ..." or a section "key "NAME" {"
                self.assertRegex(text, r"(?m)(^\s+|\{ )%s (=|\"|\{)" % re.escape(key),
                                 "%s: key %s is not documented" % (page, key))
            for key in sorted(example_keys(conf)):
                # and with its default (or as required)
                m = re.search(r"(?ms)^ {7}(?: {4})?%s (?:=|\").*?(?=^ {7}\S|\Z)"
                              % re.escape(key), text)
                self.assertIsNotNone(m, key)
                self.assertRegex(m.group(0), r"Default|[Rr]equired",
                                 "%s: %s has no default" % (page, key))


if __name__ == "__main__":
    harness.main()
