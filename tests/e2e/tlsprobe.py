"""The certificate a listener presents: connect, say STARTTLS (or STLS) where the
listener starts in clear text, handshake with a given context, and return the leaf
certificate (DER). Shared by the reload and ACME tests."""

import socket

# Every TLS-capable listener kind of the harness.
TLS_KINDS = ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "https")


def presented_certificate(server, kind, ctx, server_hostname=None):
    """The leaf certificate (DER) listener KIND of SERVER presents in a handshake
    with CTX (which decides what is verified) for SERVER_HOSTNAME."""
    with server.netns():
        sock = socket.create_connection(server.addr(kind), timeout=15)
    with sock:
        f = sock.makefile("rb")
        if kind in ("smtp", "submission"):
            f.readline()
            sock.sendall(b"EHLO client.test\r\n")
            while f.readline()[3:4] != b" ":
                pass
            sock.sendall(b"STARTTLS\r\n")
            assert f.readline().startswith(b"220"), kind
        elif kind == "imap":
            f.readline()
            sock.sendall(b"a STARTTLS\r\n")
            assert f.readline().startswith(b"a OK"), kind
        elif kind == "pop3":
            f.readline()
            sock.sendall(b"STLS\r\n")
            assert f.readline().startswith(b"+OK"), kind
        with ctx.wrap_socket(sock, server_hostname=server_hostname) as tls:
            return tls.getpeercert(binary_form=True)
