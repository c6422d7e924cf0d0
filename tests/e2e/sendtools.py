"""Helpers shared by test_send.py, test_sendmail.py and test_bulk.py: running
`postie send`, reading its --debug transcript, certificates with IP names."""

import os
import re
import subprocess

from harness import postie_bin

TRANSCRIPT = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?:\[(\d+)\] )?"
    r"(CLIENT -> SERVER|SERVER -> CLIENT|\*\*\*):? (.*)$")


def transcript(stderr):
    """[(direction, text)] of a --debug transcript: 'C' client lines, 'S' server
    lines, '*' notes. Every line of stderr that looks like one must parse."""
    out = []
    for line in stderr.splitlines():
        m = TRANSCRIPT.match(line)
        if m:
            kind = {"CLIENT -> SERVER": "C", "SERVER -> CLIENT": "S"}.get(m.group(3), "*")
            out.append((kind, m.group(4)))
    return out


def data_sent(lines):
    """The message as sent (bytes, CRLF line ends): after DATA's 354 up to the
    lone dot, dot-unstuffed, or the chunks after BDAT commands. None when
    there was none."""
    for i, (d, t) in enumerate(lines):
        if d == "S" and t.startswith("354"):
            body = []
            for d2, t2 in lines[i + 1:]:
                if d2 != "C":
                    continue
                if t2 == ".":
                    break
                body.append(t2[1:] if t2.startswith("..") else t2)
            return ("\r\n".join(body) + "\r\n").encode("utf-8")
    chunks = []
    for i, (d, t) in enumerate(lines):
        if d == "C" and t.upper().startswith("BDAT "):
            chunk = []
            for d2, t2 in lines[i + 1:]:
                if d2 != "C":
                    break
                chunk.append(t2)
            chunks.append(("\r\n".join(chunk) + "\r\n").encode("utf-8"))
            if t.upper().endswith(" LAST"):
                return b"".join(chunks)
    return None


def ip_cert(directory, ip, name="peer.test"):
    """A self-signed certificate for IP (and NAME); returns (cert, key)."""
    cert = os.path.join(directory, "ipcert.pem")
    key = os.path.join(directory, "ipkey.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:%s,DNS:%s" % (ip, name),
         # A leaf, not a CA: rustls (webpki) refuses a CA certificate as the server's own.
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    return cert, key


def send_argv(*args):
    return [postie_bin(), "send"] + [str(a) for a in args]
