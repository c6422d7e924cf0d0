"""Connection slots of the web listeners: one address holding idle connections gets
at most WEB_MAX_CONNECTIONS_PER_IP (16, crates/server/src/web_listen.rs) of them; the
next one is answered 503 and closed, the mail listeners keep working, and the slots
come back when the idle connections go.

(The header and connection deadlines and the 16 KiB head cap are tested on the
connection itself, with tokio's paused clock: crates/web/src/tests.rs,
`connection_bounds`.)
"""

import socket
import time

from harness import wait_until

PER_IP = 16


def connect(server, kind="http"):
    host, port = server.addr(kind)
    with server.netns():
        return socket.create_connection((host, port), timeout=10)


def healthz(server):
    """The start of what the server answers on a new connection: a 503 it writes
    at once when the address has no slot left, else its answer to GET /healthz."""
    s = connect(server)
    try:
        s.settimeout(0.5)
        try:
            first = s.recv(4096)
            if first:
                return first  # turned away before any request
        except socket.timeout:
            pass
        s.settimeout(10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return s.recv(4096)
    except ConnectionResetError:
        return b""
    finally:
        s.close()


def test_one_address_gets_at_most_its_share_of_web_connections(server):
    idle = [connect(server) for _ in range(PER_IP)]
    # Each idle connection holds its slot once the listener has accepted it: the
    # next connection is turned away with 503 as soon as all 16 are counted.
    wait_until(lambda: healthz(server).startswith(b"HTTP/1.1 503"), timeout=10,
               message="a 503 for the 17th connection")
    # SMTP, with its own pool, still answers.
    with server.smtp() as s:
        assert s.noop()[0] == 250
    for s in idle:
        s.close()
    wait_until(lambda: healthz(server).startswith(b"HTTP/1.1 200"), timeout=10,
               message="the slots back after the idle connections closed")


def test_a_tls_client_that_never_says_hello_loses_its_slot_at_the_handshake_deadline(server):
    """TLS_HANDSHAKE_DEADLINE (10 s, web_listen.rs): an https connection that sends
    nothing is closed then, so silent sockets cannot keep the address's slots."""
    s = connect(server, "https")
    try:
        s.settimeout(30)
        start = time.monotonic()
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b""
        waited = time.monotonic() - start
    finally:
        s.close()
    assert data == b"", data
    assert 9 <= waited < 25, waited
