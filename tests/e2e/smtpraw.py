"""A tiny line-oriented SMTP client on a raw socket, for the cases a real
client library refuses to produce (bare LF, NUL, over-long lines, pipelined
injection, abrupt disconnects)."""

import base64
import re
import socket
import ssl
import struct
import time

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


def client_tls_context():
    """TLS without verification: the test server uses a self-signed cert."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Reply:
    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines  # text after "NNN-" / "NNN "
        self.raw = raw      # the reply bytes as received

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """The enhanced status code of the first line ("5.7.1"), or None."""
        m = _ENHANCED.match(self.lines[0]) if self.lines else None
        return m.group(0) if m else None

    def __repr__(self):
        return "Reply(%r)" % self.raw.decode("utf-8", "replace")

    __str__ = __repr__


class ConnectionClosed(Exception):
    pass


class RawSMTP:
    """Reads the greeting on construction (self.greeting)."""

    def __init__(self, sock, timeout=15, read_greeting=True):
        self.sock = sock
        self.timeout = timeout
        self.sock.settimeout(timeout)
        self.buf = b""
        self.transcript = []
        self.greeting = self.reply() if read_greeting else None

    # ----- bytes in, bytes out -------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.transcript.append(("C", data))
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            chunk = b""
        except socket.timeout:
            raise TimeoutError(
                "no data from the server within %ss; transcript:\n%s"
                % (self.timeout, self.format_transcript())
            )
        if not chunk:
            raise ConnectionClosed(
                "server closed the connection; transcript:\n%s" % self.format_transcript()
            )
        self.buf += chunk

    def line(self):
        """One line from the server, CRLF stripped."""
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError("reply line without CRLF: %r" % self.buf[:200])
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        self.transcript.append(("S", line + b"\r\n"))
        return line

    def reply(self):
        """One whole (possibly multi-line) reply."""
        lines, raw, code = [], b"", None
        while True:
            line = self.line()
            raw += line + b"\r\n"
            m = re.match(rb"^(\d{3})([ -])(.*)$", line, re.S)
            if not m:
                # "NNN" alone is a valid last line too.
                m = re.match(rb"^(\d{3})()()$", line)
            assert m, "malformed reply line %r; transcript:\n%s" % (line, self.format_transcript())
            this = int(m.group(1))
            assert code is None or code == this, "reply code changed mid-reply: %r" % raw
            code = this
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return Reply(code, lines, raw)

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def expect(self, line, code, enhanced=None):
        """Sends LINE (None: send nothing), reads a reply and asserts its code
        (an int, or a 1-digit class like 5) and enhanced code prefix."""
        r = self.reply() if line is None else self.cmd(line)
        ok = r.code == code if code >= 100 else r.code // 100 == code
        assert ok, "%r: expected %s, got %r\ntranscript:\n%s" % (
            line, code, r, self.format_transcript())
        if enhanced is not None:
            assert r.enhanced is not None and r.enhanced.startswith(enhanced), (
                "%r: expected enhanced code %s, got %r" % (line, enhanced, r))
        return r

    def ehlo(self, name="client.test.example"):
        """EHLO; returns {KEYWORD: "params"} of the advertised extensions."""
        r = self.expect("EHLO " + name, 250)
        return parse_ehlo(r)

    def starttls(self, hostname="mx.test.example"):
        assert self.buf == b"", "unread bytes before TLS: %r" % self.buf
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=hostname)
        self.sock.settimeout(self.timeout)

    def auth_plain(self, user, password):
        token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        return self.cmd("AUTH PLAIN " + token)

    def closed(self, timeout=None):
        """True when the server closes the connection within TIMEOUT seconds
        (anything it sends first is read and kept in the transcript)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                    return True
                if not chunk:
                    return True
                self.buf += chunk
                self.transcript.append(("S", chunk))
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close with a TCP reset (SO_LINGER 0)."""
        try:
            raw = self.sock
            if isinstance(raw, ssl.SSLSocket):
                raw = socket.socket(fileno=raw.detach())
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        except OSError:
            pass

    def format_transcript(self, limit=4000):
        out = []
        for who, data in self.transcript[-60:]:
            text = data.decode("utf-8", "replace")
            if len(text) > 300:
                text = text[:300] + "...(%d bytes)" % len(data)
            out.append("%s: %r" % (who, text))
        return "\n".join(out)[-limit:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_ehlo(reply):
    """{KEYWORD: params} from an EHLO reply (the first line is the greeting)."""
    exts = {}
    for line in reply.lines[1:]:
        parts = line.split(None, 1)
        if parts:
            exts[parts[0].upper()] = parts[1] if len(parts) > 1 else ""
    return exts
