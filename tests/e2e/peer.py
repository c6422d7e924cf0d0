"""Scripted SMTP peers for the end-to-end tests (aiosmtpd): the remote MX,
smarthost or broken server that postie's outbound relay talks to.

Run inside a Network (class Peer below does that):

    python3 peer.py --listen 127.0.0.4:25 --spool DIR --mode MODE
                    [--tempfail N] [--tempfail-at rcpt|data] [--reject-rcpt ADDR ...]
                    [--tls-cert C --tls-key K [--require-tls]]
                    [--auth USER:PASS [--auth-optional]] [--hostname NAME] [--size N]

Modes:
  accept       every message is stored: DIR/<n>.eml (the bytes as received,
               dot-unstuffed) and DIR/<n>.json ({n, txn, mail_from, rcpt_tos,
               mail_options, rcpt_options, helo, client, tls, tls_version,
               auth, size}), n counting accepted messages from 1;
  tempfail     the first N transactions (--tempfail N, default 1) get
               "451 4.3.0 try again later" at every RCPT (--tempfail-at rcpt,
               the default) or at the end of DATA (--tempfail-at data); later
               ones are accepted as above;
  reject       "550 5.1.1 mailbox unavailable" at every RCPT;
  reject-data  "554 5.6.0 message refused" at the end of DATA;
  tarpit       takes the TCP connection and never says anything (no greeting),
               reading and dropping what the client sends;
  greet421     greets with "421 4.3.2 too busy" and closes the connection.
--reject-rcpt ADDR (repeatable, any mode) answers 550 5.1.1 for that recipient.

EHLO offers what aiosmtpd supports: SIZE, 8BITMIME, SMTPUTF8 (no PIPELINING,
no DSN); STARTTLS with a certificate; AUTH PLAIN LOGIN with --auth (then
MAIL needs AUTH unless --auth-optional; with --require-tls, STARTTLS comes
first and AUTH is offered only after it). MAIL parameters other than SIZE,
BODY and SMTPUTF8 (e.g. DSN's RET/ENVID) get 555, as from aiosmtpd.

Every command's outcome is appended to DIR/transactions.jsonl
({txn, cmd, arg, reply}); prints "peer ready" once listening.
"""

import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time

from aiosmtpd.smtp import SMTP, AuthResult

from helper_process import HelperProcess

TEMPFAIL = "451 4.3.0 try again later"
REJECT_RCPT = "550 5.1.1 mailbox unavailable"
REJECT_DATA = "554 5.6.0 message refused"
GREET_421 = "421 4.3.2 too busy"
MODES = ("accept", "tempfail", "reject", "reject-data", "tarpit", "greet421")
# Modes that are not SMTP servers at all: a raw TCP handler instead of aiosmtpd.
RAW_MODES = ("tarpit", "greet421")


class Handler:
    def __init__(self, args):
        self.args = args
        self.spool = args.spool
        self.txn = 0
        self.stored = 0
        self.reject_rcpts = {a.lower() for a in args.reject_rcpt}
        self.journal = open(os.path.join(self.spool, "transactions.jsonl"), "a", encoding="utf-8")

    def note(self, envelope, cmd, arg, reply):
        self.journal.write(json.dumps({"txn": getattr(envelope, "txn", None), "cmd": cmd,
                                       "arg": arg, "reply": reply}) + "\n")
        self.journal.flush()
        return reply

    def failing(self, envelope, where):
        a = self.args
        return a.mode == "tempfail" and a.tempfail_at == where and envelope.txn <= a.tempfail

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if not self.args.auth:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.txn += 1
        envelope.txn = self.txn
        envelope.mail_from = address  # "<>" for the null reverse-path
        envelope.mail_options.extend(mail_options)
        return self.note(envelope, "MAIL", null_as_empty(address), "250 2.1.0 OK")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.mode == "reject" or address.lower() in self.reject_rcpts:
            return self.note(envelope, "RCPT", address, REJECT_RCPT)
        if self.failing(envelope, "rcpt"):
            return self.note(envelope, "RCPT", address, TEMPFAIL)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return self.note(envelope, "RCPT", address, "250 2.1.5 OK")

    async def handle_DATA(self, server, session, envelope):
        size = len(envelope.original_content)
        if self.args.mode == "reject-data":
            return self.note(envelope, "DATA", size, REJECT_DATA)
        if self.failing(envelope, "data"):
            return self.note(envelope, "DATA", size, TEMPFAIL)
        self.stored += 1
        n = self.stored
        tls = None
        if session.ssl:
            tls = session.ssl.get("ssl_object")
        record = {
            "n": n,
            "txn": envelope.txn,
            "mail_from": null_as_empty(envelope.mail_from),
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "helo": session.host_name,
            "client": session.peer[0] if session.peer else None,
            "tls": session.ssl is not None,
            "tls_version": tls.version() if tls else None,
            "auth": session.auth_data if session.authenticated else None,
            "size": size,
        }
        base = os.path.join(self.spool, str(n))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.replace(base + ".eml.tmp", base + ".eml")
        # The .json last: its presence means the message is complete.
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(base + ".json.tmp", base + ".json")
        return self.note(envelope, "DATA", size, "250 2.0.0 OK stored as %d" % n)


def raw_handler(mode):
    """The connection handler of a RAW_MODES peer."""
    async def handle(reader, writer):
        try:
            if mode == "greet421":
                writer.write((GREET_421 + "\r\n").encode())
                await writer.drain()
            else:  # tarpit: silence until the client gives up
                while await reader.read(4096):
                    pass
        except ConnectionError:
            pass
        finally:
            writer.close()
    return handle


def null_as_empty(address):
    """The null reverse-path (aiosmtpd keeps "<>") is recorded as ""."""
    return "" if address == "<>" else address


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode("utf-8", "replace") == user
              and auth_data.password.decode("utf-8", "replace") == password)
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)
    return check


async def serve(args):
    loop = asyncio.get_running_loop()
    handler = Handler(args)
    tls_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
    user = password = None
    if args.auth:
        user, _, password = args.auth.partition(":")

    def factory():
        return SMTP(
            handler,
            hostname=args.hostname,
            data_size_limit=args.size,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            require_starttls=bool(tls_context) and args.require_tls,
            auth_required=bool(args.auth) and not args.auth_optional,
            auth_require_tls=args.require_tls,
            authenticator=authenticator(user, password) if args.auth else None,
            auth_exclude_mechanism=None if args.auth else ["LOGIN", "PLAIN"],
            loop=loop,
        )

    host, _, port = args.listen.rpartition(":")
    if args.mode in RAW_MODES:
        server = await asyncio.start_server(raw_handler(args.mode), host.strip("[]"), int(port))
    else:
        server = await loop.create_server(factory, host.strip("[]"), int(port))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("peer ready %s mode=%s" % (args.listen, args.mode), flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()
    print("peer stopped", flush=True)


def main():
    ap = argparse.ArgumentParser(description="scripted SMTP peer for tests")
    ap.add_argument("--listen", required=True, help="IP:PORT")
    ap.add_argument("--spool", required=True)
    ap.add_argument("--mode", choices=MODES, default="accept")
    ap.add_argument("--tempfail", type=int, default=1, help="transactions to tempfail")
    ap.add_argument("--tempfail-at", choices=("rcpt", "data"), default="rcpt")
    ap.add_argument("--reject-rcpt", action="append", default=[])
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--auth", help="USER:PASS")
    ap.add_argument("--auth-optional", action="store_true")
    ap.add_argument("--hostname", default="peer.test")
    ap.add_argument("--size", type=int, default=33554432)
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.require_tls and not args.tls_cert:
        ap.error("--require-tls needs --tls-cert/--tls-key")
    os.makedirs(args.spool, exist_ok=True)
    asyncio.run(serve(args))


# ----- the test side -------------------------------------------------------------

HERE = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT = 20.0


def self_signed_cert(directory, hostname):
    """Writes DIRECTORY/cert.pem and key.pem (self-signed, CN and SAN
    HOSTNAME) with openssl; returns (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=" + hostname, "-addext", "subjectAltName=DNS:" + hostname,
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    return cert, key


class Peer(HelperProcess):
    """peer.py as a process in NETWORK on ADDR:PORT, storing into SPOOL (a
    temp dir when None). tls=True makes a self-signed certificate for
    HOSTNAME (tls=(cert, key) uses given files); auth="user:pass"."""

    def __init__(self, network, addr, spool=None, mode="accept", port=25, tempfail=1,
                 tempfail_at="rcpt", reject_rcpts=(), tls=False, require_tls=False, auth=None,
                 auth_optional=False, hostname=None, size=None):
        assert mode in MODES, mode
        self.network = network
        self.addr = addr
        self.port = port
        self.mode = mode
        self._own_spool = spool is None
        self.spool = spool or tempfile.mkdtemp(prefix="postie-peer-")
        self._tmp_dir, self._own_tmp, self.what = self.spool, self._own_spool, "peer %s" % addr
        os.makedirs(self.spool, exist_ok=True)
        self.hostname = hostname or "mx-%s.peer.test" % addr.replace(".", "-")
        self.log_path = os.path.join(self.spool, "peer.log")
        self.argv = [sys.executable, "-u", os.path.join(HERE, "peer.py"),
                     "--listen", "%s:%d" % (addr, port), "--spool", self.spool,
                     "--mode", mode, "--tempfail", str(tempfail), "--tempfail-at", tempfail_at,
                     "--hostname", self.hostname]
        for r in reject_rcpts:
            self.argv += ["--reject-rcpt", r]
        if tls:
            if tls is True:
                self.cert, self.key = self_signed_cert(self.spool, self.hostname)
            else:
                self.cert, self.key = tls
            self.argv += ["--tls-cert", self.cert, "--tls-key", self.key]
        if require_tls:
            self.argv.append("--require-tls")
        if auth:
            self.argv += ["--auth", auth]
        if auth_optional:
            self.argv.append("--auth-optional")
        if size is not None:
            self.argv += ["--size", str(size)]
        self.proc = None
        network.track(self)

    def start(self, timeout=READY_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        try:
            self.proc = self.network.popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while "peer ready" not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError("peer %s exited with %s before it was ready:\n%s"
                                     % (self.addr, self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("peer %s not ready within %.0fs:\n%s"
                                     % (self.addr, timeout, self.log()))
            time.sleep(0.05)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def messages(self):
        """Every stored message, in order: its .json record plus "data" (the
        bytes received)."""
        out = []
        n = 1
        while os.path.exists(os.path.join(self.spool, "%d.json" % n)):
            base = os.path.join(self.spool, str(n))
            with open(base + ".json", encoding="utf-8") as f:
                record = json.load(f)
            with open(base + ".eml", "rb") as f:
                record["data"] = f.read()
            out.append(record)
            n += 1
        return out

    def wait_for(self, count, timeout=20):
        """Polls until at least COUNT messages are stored; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= count:
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError(
                    "peer %s stored %d message(s) after %.0fs, expected %d\ntransactions: %s\nlog:\n%s"
                    % (self.addr, len(msgs), timeout, count, self.transactions(), self.log()[-3000:]))
            time.sleep(0.05)

    def journal(self):
        """Every command outcome so far: [{txn, cmd, arg, reply}]."""
        try:
            with open(os.path.join(self.spool, "transactions.jsonl"), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def transactions(self):
        """The journal grouped by transaction: [{txn, mail_from, rcpts:
        [(addr, reply)], data: reply or None}], oldest first."""
        txns = {}
        for e in self.journal():
            t = txns.setdefault(e["txn"], {"txn": e["txn"], "mail_from": None, "rcpts": [],
                                           "data": None})
            if e["cmd"] == "MAIL":
                t["mail_from"] = e["arg"]
            elif e["cmd"] == "RCPT":
                t["rcpts"].append((e["arg"], e["reply"]))
            elif e["cmd"] == "DATA":
                t["data"] = e["reply"]
        return [txns[k] for k in sorted(txns, key=lambda k: (k is None, k or 0))]


if __name__ == "__main__":
    sys.exit(main())
