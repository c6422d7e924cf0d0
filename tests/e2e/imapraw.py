"""A byte-level IMAP client for the tests that imaplib cannot drive: UTF-8 mailbox
names (RFC 6855), COMPRESS=DEFLATE (RFC 4978) and exact response checks.

`RawIMAP.cmd` sends one tagged command and returns its untagged responses and its
tagged status as text (UTF-8). A response that carries literals comes back as one
string with each literal inline (`{n}\\r\\n` + its bytes), so a FETCH of a message is
one element. After `compress()` both directions go through raw DEFLATE
(`zlib` with `wbits=-15`), each command ending with a sync flush.
"""

import re
import zlib

LITERAL = re.compile(rb"~?\{(\d+)\+?\}$")


class RawIMAP:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.n = 0
        self.tag = None
        self.inflate = None
        self.deflate = None
        self.greeting = self.readline().decode()

    # ----- bytes ------------------------------------------------------------------

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("connection closed; got %r" % self.buf)
        if self.inflate is not None:
            data = self.inflate.decompress(data)
        self.buf += data

    def send(self, data):
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def readline(self):
        """One CRLF-terminated line, without the CRLF."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self):
        """One response, literals inline."""
        line = self.readline()
        out = line
        while True:
            m = LITERAL.search(line)
            if not m:
                return out.decode("utf-8", "surrogateescape")
            out += b"\r\n" + self.read_exactly(int(m.group(1)))
            line = self.readline()
            out += line

    # ----- commands ---------------------------------------------------------------

    def next_tag(self):
        self.n += 1
        self.tag = "t%d" % self.n
        return self.tag

    def finish(self, tag):
        """Reads up to the tagged status of `tag`: (untagged, status text)."""
        lines = []
        while True:
            resp = self.response()
            if resp.startswith(tag + " "):
                return lines, resp[len(tag) + 1:]
            lines.append(resp)

    def cmd(self, text):
        """Sends `tag text` (str or bytes); returns (untagged lines, status)."""
        tag = self.next_tag()
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.finish(tag)

    def ok(self, text):
        lines, status = self.cmd(text)
        assert status.startswith("OK"), (text, lines, status)
        return lines

    def append(self, mailbox, message, utf8=False):
        """APPEND with a non-synchronizing literal (LITERAL+); with `utf8`, inside
        RFC 6855's `UTF8 (~{n+}...)`. Returns (untagged, status)."""
        tag = self.next_tag()
        if isinstance(mailbox, str):
            mailbox = mailbox.encode()
        if utf8:
            literal = b"UTF8 (~{%d+}\r\n" % len(message) + message + b")"
        else:
            literal = b"{%d+}\r\n" % len(message) + message
        self.send(tag.encode() + b" APPEND " + mailbox + b" " + literal + b"\r\n")
        return self.finish(tag)

    def compress(self):
        """COMPRESS DEFLATE; everything after the OK is raw DEFLATE both ways."""
        self.ok("COMPRESS DEFLATE")
        self.deflate = zlib.compressobj(wbits=-15)
        self.inflate = zlib.decompressobj(wbits=-15)
        # Anything already read past the OK was compressed.
        pending, self.buf = self.buf, b""
        if pending:
            self.buf = self.inflate.decompress(pending)

    def close(self):
        self.sock.close()


def login(srv, user, password, kind="imap"):
    """A RawIMAP logged in as `user` on listener `kind` (imap or imaps)."""
    c = RawIMAP(srv.connect(kind))
    c.ok("LOGIN %s %s" % (user, password))
    return c


def quoted(name):
    """An IMAP quoted string (RFC 3501 §9), as bytes; UTF-8 passes through."""
    return b'"' + name.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
