"""fakesmtp: a scriptable fake smart host for the outbound integration tests.

A threaded SMTP server on 127.0.0.1 (stdlib only).  Every stage can be
scripted with a reply line; a list of replies is used one per use (the last
one sticks), so ["451 4.7.1 later", "250 2.0.0 ok"] means "greylist once".
Special tokens instead of a reply:

  "hang"  accept the command and never answer
  "drop"  close the connection (for "data_end": in the middle of the body)
  "close" (for "data_end") read the whole body, then close without a reply
  "big"   a multi-line reply of about 100 KB

Script keys: greeting, ehlo (reply to EHLO, else 250 + caps), caps (list of
extensions), starttls (reply to STARTTLS), auth (reply when the credentials
match auth_creds; 535 otherwise), mail, rcpt (a reply, or a dict address ->
reply), greylist (True: 451 the first RCPT of each address), data,
data_end, rset, quit; idle_close (seconds: a connection that sends no
command for that long gets "421 4.4.2" and is closed, like a server's own
idle timeout).

Everything received is recorded: conns (per connection: commands, times
(time.monotonic() of each command), tls, auth, idle_closed), messages
(accepted transactions: sender, rcpts, data, tls).
"""

import base64
import socket
import ssl
import threading
import time

DEFAULT_CAPS = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 52428800"]


class _Closed(Exception):
    pass


class _Conn:
    """One client connection with a line reader that survives STARTTLS."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.tls = False

    def readline(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise _Closed()
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)


class FakeSMTP:
    """The fake server; start() it, stop() it (tests use addCleanup)."""

    def __init__(self, script=None, tls=None, implicit=False, host="127.0.0.1"):
        self.script = dict(script or {})
        self.tls = tls                      # dict(cert=, key=) or None
        self.implicit = implicit
        self.host = host
        self.lock = threading.Lock()
        self.conns = []
        self.messages = []
        self.greylisted = set()
        self._stop = threading.Event()
        self._socks = []
        self._ctx = None
        if tls:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(tls["cert"], tls["key"])
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)       # so stop() is noticed promptly
        self.port = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    # ---- control ---------------------------------------------------------
    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def set(self, **kw):
        """Change the script while running."""
        with self.lock:
            self.script.update(kw)

    def snapshot(self):
        """(conns, messages) copies, safe to inspect."""
        with self.lock:
            return ([dict(c, commands=list(c["commands"]), times=list(c["times"]))
                     for c in self.conns], list(self.messages))

    def message_count(self):
        with self.lock:
            return len(self.messages)

    # ---- scripting -------------------------------------------------------
    def _pick(self, key, default, sub=None):
        with self.lock:
            v = self.script.get(key, default)
            if isinstance(v, dict):
                v = v.get(sub, v.get("*", default))
                if isinstance(v, list):
                    cur = v[0]
                    if len(v) > 1:
                        v.pop(0)
                    return cur
                return v
            if isinstance(v, list):
                cur = v[0]
                if len(v) > 1:
                    v.pop(0)
                return cur
            return v

    def _reply(self, conn, r):
        """Send reply r (str) or act on a token; False when the connection ends."""
        if r == "hang":
            self._stop.wait(120)
            return False
        if r == "drop":
            return False
        if r == "big":
            line = "250-" + "x" * 996 + "\r\n"
            conn.send(line * 100 + "250 ok\r\n")
            return True
        conn.send(r + "\r\n")
        return not r.startswith("421")

    # ---- server ----------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(None)
            with self.lock:
                self._socks.append(s)
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        rec = {"commands": [], "times": [], "tls": False, "auth": None, "idle_closed": False}
        with self.lock:
            self.conns.append(rec)
        conn = _Conn(s)
        try:
            if self.implicit:
                conn.sock = self._ctx.wrap_socket(s, server_side=True)
                conn.tls = rec["tls"] = True
            if self._reply(conn, self._pick("greeting", "220 fake.test ESMTP")):
                self._session(conn, rec)
        except (_Closed, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass

    def _ehlo(self, conn, rec):
        r = self._pick("ehlo", None)
        if r is not None:
            return self._reply(conn, r)
        caps = list(self._pick("caps", DEFAULT_CAPS))
        if self._ctx is not None and not conn.tls and not self.implicit:
            caps.append("STARTTLS")
        if "auth_creds" in self.script and (conn.tls or self.script.get("auth_in_clear")):
            caps.append("AUTH PLAIN LOGIN")
        lines = ["fake.test"] + caps
        out = "".join("250-%s\r\n" % l for l in lines[:-1]) + "250 %s\r\n" % lines[-1]
        conn.send(out)
        return True

    def _starttls(self, conn, rec):
        r = self._pick("starttls", "220 2.0.0 go ahead")
        if not self._reply(conn, r):
            return False
        if not r.startswith("220"):
            return True
        if conn.buf:
            rec["commands"].append("<pipelined after STARTTLS>")
            return False
        conn.sock = self._ctx.wrap_socket(conn.sock, server_side=True)
        conn.tls = rec["tls"] = True
        return True

    def _auth(self, conn, rec, arg):
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        if mech == "PLAIN":
            resp = parts[1] if len(parts) > 1 else None
            if resp is None:
                conn.send("334 \r\n")
                resp = conn.readline().decode().strip()
            fields = base64.b64decode(resp).split(b"\0")
            user, pw = fields[1].decode(), fields[2].decode()
        elif mech == "LOGIN":
            conn.send("334 VXNlcm5hbWU6\r\n")
            user = base64.b64decode(conn.readline().strip()).decode()
            conn.send("334 UGFzc3dvcmQ6\r\n")
            pw = base64.b64decode(conn.readline().strip()).decode()
        else:
            conn.send("504 5.5.4 unknown mechanism\r\n")
            return True
        rec["auth"] = {"mech": mech, "user": user, "password": pw, "tls": conn.tls}
        if (user, pw) == tuple(self.script.get("auth_creds", ("", ""))):
            return self._reply(conn, self._pick("auth", "235 2.7.0 authenticated"))
        conn.send("535 5.7.8 bad credentials\r\n")
        return True

    def _rcpt_reply(self, addr):
        if self.script.get("greylist"):
            with self.lock:
                first = addr not in self.greylisted
                self.greylisted.add(addr)
            if first:
                return "451 4.7.1 greylisted, try again later"
        return self._pick("rcpt", "250 2.1.5 ok", sub=addr)

    def _data(self, conn, rec, txn):
        r = self._pick("data", "354 go ahead")
        if not self._reply(conn, r):
            return False
        if not r.startswith("354"):
            return True
        end = self._pick("data_end", "250 2.0.0 queued")
        lines = []
        while True:
            line = conn.readline()
            if end == "drop":
                return False
            if line == b".\r\n":
                break
            if line.startswith(b".."):
                line = line[1:]
            lines.append(line)
        if end == "close":
            return False
        txn["data"] = b"".join(lines)
        txn["tls"] = conn.tls
        txn["at"] = time.monotonic()
        if end not in ("hang", "drop", "big") and end.startswith("2"):
            with self.lock:
                self.messages.append(dict(txn))
        return self._reply(conn, end)

    def _command(self, conn, rec):
        """The next command line; None when idle_close ran out (421 sent)."""
        idle = self.script.get("idle_close")
        if not idle or b"\n" in conn.buf:
            return conn.readline()
        conn.sock.settimeout(idle)
        try:
            return conn.readline()
        except (socket.timeout, TimeoutError):
            with self.lock:
                rec["idle_closed"] = True
            conn.send("421 4.4.2 fake.test idle timeout, closing\r\n")
            return None
        finally:
            conn.sock.settimeout(None)

    def _session(self, conn, rec):
        txn = {"sender": None, "rcpts": []}
        while True:
            raw = self._command(conn, rec)
            if raw is None:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            with self.lock:
                rec["commands"].append(line if verb != "AUTH" else "AUTH " + arg.split(" ")[0])
                rec["times"].append(time.monotonic())
            if verb == "EHLO":
                ok = self._ehlo(conn, rec)
            elif verb == "HELO":
                ok = self._reply(conn, "250 fake.test")
            elif verb == "STARTTLS":
                ok = self._starttls(conn, rec)
            elif verb == "AUTH":
                ok = self._auth(conn, rec, arg)
            elif verb == "MAIL":
                txn = {"sender": arg[arg.find("<") + 1:arg.find(">")], "rcpts": [],
                       "mail": arg}
                ok = self._reply(conn, self._pick("mail", "250 2.1.0 ok"))
            elif verb == "RCPT":
                addr = arg[arg.find("<") + 1:arg.find(">")]
                r = self._rcpt_reply(addr)
                if isinstance(r, str) and r.startswith("2"):
                    txn["rcpts"].append(addr)
                ok = self._reply(conn, r)
            elif verb == "DATA":
                ok = self._data(conn, rec, txn)
            elif verb == "RSET":
                txn = {"sender": None, "rcpts": []}
                ok = self._reply(conn, self._pick("rset", "250 2.0.0 ok"))
            elif verb == "NOOP":
                ok = self._reply(conn, "250 2.0.0 ok")
            elif verb == "QUIT":
                self._reply(conn, self._pick("quit", "221 2.0.0 bye"))
                return
            else:
                ok = self._reply(conn, "500 5.5.2 unknown command")
            if not ok:
                return
