"""Latency per SMTP command, for bench/smtp-accept (it imports run() and table()).

A small client on raw sockets (no smtplib): for each message a new connection,
then one command at a time, each timed with time.perf_counter_ns() from just
before its write (for the greeting, from just before connect()) to the end of
the reply's last line:

    connect   connect() -> 220 greeting
    EHLO      -> last line of the 250 reply
    MAIL      -> 250
    RCPT      -> 250
    DATA      -> 354
    end       the message and "." in one write -> 250 (end of data: where a
              server commits the message to its queue before answering)

then QUIT (not timed; the 221 is read so the close is clean). Nothing is
pipelined, so each figure is one round trip plus the server's work for that
command. With sessions > 1, threads share the messages; the GIL adds its own
waits there, so the 1-session figures are the ones to compare.

Standalone: python3 bench/smtp_latency.py HOST:PORT [--messages 500]
[--sessions 1] [--size 4096] [--rcpt bench@bench.example].
"""

import argparse
import socket
import threading
import time

COMMANDS = ("connect", "EHLO", "MAIL", "RCPT", "DATA", "end")


class Reply(Exception):
    pass


class Conn:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def reply(self):
        """Reads one (possibly multi-line) reply; returns its code."""
        while True:
            start = 0
            while True:
                end = self.buf.find(b"\r\n", start)
                if end < 0:
                    break
                line = self.buf[start:end]
                start = end + 2
                if len(line) < 4 or line[3:4] == b" ":
                    self.buf = self.buf[start:]
                    return line[:3]
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Reply("connection closed by the server")
            self.buf += chunk

    def close(self):
        self.sock.close()


def message(size, k, sender, rcpt):
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: latency %d\r\n"
            "Message-ID: <%d.latency@client.example>\r\n\r\n" % (sender, rcpt, k, k)).encode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(0, (size - len(head)) // len(line))
    return head + body + b".\r\n"


def one(addr, data, sender, rcpt, out):
    perf = time.perf_counter_ns
    t = perf()
    c = Conn(addr)
    try:
        steps = [(None, b"220"),
                 (b"EHLO client.example\r\n", b"250"),
                 (b"MAIL FROM:<%s>\r\n" % sender.encode(), b"250"),
                 (b"RCPT TO:<%s>\r\n" % rcpt.encode(), b"250"),
                 (b"DATA\r\n", b"354"),
                 (data, b"250")]
        for i, (send, want) in enumerate(steps):
            if send is not None:
                t = perf()
                c.sock.sendall(send)
            code = c.reply()
            out[i].append(perf() - t)
            if code != want:
                raise Reply("%s: expected %s, got %s" % (COMMANDS[i], want, code))
        c.sock.sendall(b"QUIT\r\n")
        c.reply()
    finally:
        c.close()


def run(addr, messages, sessions=1, size=4096, sender="load@client.example",
        rcpt="bench@bench.example"):
    """Sends MESSAGES messages over SESSIONS concurrent sessions, one connection
    per message; returns {command: sorted latencies in ns}."""
    samples = [[[] for _ in COMMANDS] for _ in range(sessions)]
    lock = threading.Lock()
    left = [messages]
    errors = []

    def worker(out):
        while True:
            with lock:
                if left[0] == 0 or errors:
                    return
                left[0] -= 1
                k = left[0]
            try:
                one(addr, message(size, k, sender, rcpt), sender, rcpt, out)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(e)
                return

    threads = [threading.Thread(target=worker, args=(samples[i],)) for i in range(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError("latency client: %s" % errors[0])
    return {cmd: sorted(x for s in samples for x in s[i]) for i, cmd in enumerate(COMMANDS)}


def pct(sorted_ns, p):
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_ns:
        return float("nan")
    k = max(0, min(len(sorted_ns) - 1, -(-p * len(sorted_ns) // 100) - 1))
    return sorted_ns[k] / 1e6


def table(results, percentiles=(50, 90, 99)):
    """results: [(server, {command: sorted ns})]; returns the table's lines: one
    row per command and server, milliseconds."""
    lines = ["%-8s %-18s %s" % ("command", "server", " ".join("%8s" % ("p%d ms" % p)
                                                              for p in percentiles))]
    for cmd in COMMANDS:
        for server, lat in results:
            lines.append("%-8s %-18s %s" % (cmd, server, " ".join(
                "%8.3f" % pct(lat[cmd], p) for p in percentiles)))
    return lines


def main():
    ap = argparse.ArgumentParser(description="SMTP latency per command (raw sockets)")
    ap.add_argument("addr", help="HOST:PORT")
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rcpt", default="bench@bench.example")
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    lat = run((host, int(port)), args.messages, args.sessions, args.size, rcpt=args.rcpt)
    for line in table([(args.addr, lat)]):
        print(line)


if __name__ == "__main__":
    main()
