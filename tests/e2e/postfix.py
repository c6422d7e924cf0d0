"""A private Postfix instance for interop tests (class Postfix).

It lives in a temp dir (config, queue, data, mailboxes, log), is started with
`postfix -c DIR start` inside a Network (so its smtpd binds e.g. 127.0.0.6:25
there), and uses no DNS at all: next hops are `[ip]:port`, client host names
are not looked up.

Two roles, combinable:
  * final destination for LOCAL_DOMAINS (default pf.test): virtual(8)
    delivers into Maildirs under ROOT/vmail/<domain>/ (one catch-all Maildir
    per domain), or, when USERS is given, ROOT/vmail/<domain>/<local>/ for
    those addresses only (others get 550 at RCPT); read them with
    delivered() / wait_delivered();
  * relay: mail for RELAY_DOMAINS (accepted from anyone) or from MYNETWORKS
    (default 127.0.0.0/8, to any domain) goes to RELAYHOST (e.g.
    "[127.0.0.2]:25") or per domain by TRANSPORT ({"example.org":
    "[127.0.0.2]:25"}; a plain string is the next hop of every relay
    domain). Postfix does no DNS: mail to a domain with neither stays
    deferred.

The smtp client offers STARTTLS opportunistically (smtp_tls_security_level =
may); tls=True also gives smtpd a self-signed certificate. Retries are fast
(queue_run_delay 1s, backoff 1-2 s) so tempfail tests need not wait minutes.
EXTRA ({param: value}) adds or overrides main.cf parameters.

The daemons run as `postfix` (and virtual(8) as nobody), so ROOT is made
world-traversable. Postfix must be installed (scripts/install-test-deps);
without /usr/sbin/postfix creating a Postfix skips the test.
"""

import email
import email.policy
import grp
import os
import pwd
import shutil
import tempfile
import time

import pytest

from helper_process import HelperProcess

POSTFIX = "/usr/sbin/postfix"
READY_TIMEOUT = 30.0
MAILBOX_UID = "nobody"
MAILBOX_GID = "nogroup"

_SERVICES = [
    # service        type         private unpriv chroot wakeup maxproc command
    ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
    ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
    ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
    ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
    ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
    ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
    ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
    ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
    ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
    ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
    ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
    ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
    ("error", "unix", "-", "-", "n", "-", "-", "error"),
    ("retry", "unix", "-", "-", "n", "-", "-", "error"),
    ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
    ("local", "unix", "-", "n", "n", "-", "-", "local"),
    ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
    ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
    ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
    ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
]


def _cf_list(values):
    if isinstance(values, str):
        return values
    return ", ".join(values)


class Postfix(HelperProcess):
    def __init__(self, network, addr, root=None, port=25, hostname="mx.pf.test",
                 local_domains=("pf.test",), users=None, relay_domains=(), relayhost=None,
                 transport=None, mynetworks="127.0.0.0/8", tls=False, extra=None):
        if not os.path.exists(POSTFIX):
            pytest.skip("postfix is not installed (%s missing): run scripts/install-test-deps"
                        % POSTFIX)
        self.network = network
        self.addr = addr
        self.port = port
        self.hostname = hostname
        self.local_domains = list(local_domains)
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="postie-postfix-")
        self._tmp_dir, self._own_tmp, self.what = self.root, self._own_root, "postfix"
        os.chmod(self.root, 0o755)  # the daemons run as postfix / nobody
        self.etc = os.path.join(self.root, "etc")
        self.queue = os.path.join(self.root, "queue")
        self.data = os.path.join(self.root, "data")
        self.vmail = os.path.join(self.root, "vmail")
        self.log_path = os.path.join(self.root, "postfix.log")
        for d in (self.etc, self.queue, self.data, self.vmail):
            os.makedirs(d, exist_ok=True)
        shutil.chown(self.data, "postfix")
        shutil.chown(self.vmail, MAILBOX_UID, MAILBOX_GID)

        mailboxes = []
        for domain in self.local_domains:
            if users is None:
                mailboxes.append("@%s %s/" % (domain, domain))
        for user in users or ():
            local, _, domain = user.rpartition("@")
            assert domain in self.local_domains, "%s is not in a local domain" % user
            mailboxes.append("%s %s/%s/" % (user, domain, local))
        self._write("vmailbox", "\n".join(mailboxes) + "\n")
        if isinstance(transport, str):  # one next hop for every relay domain
            transport = {d: transport for d in relay_domains}
        transports = []
        for domain, nexthop in (transport or {}).items():
            if not nexthop.split(":", 1)[0] in ("smtp", "relay", "error", "discard", "lmtp"):
                nexthop = "smtp:" + nexthop
            transports.append("%s %s" % (domain, nexthop))
        self._write("transport", "\n".join(transports) + "\n")

        params = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": addr,
            "inet_protocols": "ipv4",
            # Outgoing connections come from this "host" too (Postfix does
            # that by itself only for non-loopback addresses).
            "smtp_bind_address": addr,
            "myhostname": hostname,
            "mydomain": hostname.split(".", 1)[-1],
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "mynetworks": mynetworks,
            "relay_domains": _cf_list(relay_domains),
            "relayhost": relayhost or "",
            "transport_maps": "texthash:%s/transport" % self.etc,
            "virtual_mailbox_domains": _cf_list(self.local_domains),
            "virtual_mailbox_base": self.vmail,
            "virtual_mailbox_maps": "texthash:%s/vmailbox" % self.etc,
            "virtual_uid_maps": "static:%d" % pwd.getpwnam(MAILBOX_UID).pw_uid,
            "virtual_gid_maps": "static:%d" % grp.getgrnam(MAILBOX_GID).gr_gid,
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            # No DNS, ever: next hops are [ip]:port, client names not looked up.
            "smtp_dns_support_level": "disabled",
            "smtpd_peername_lookup": "no",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            "smtp_connect_timeout": "10s",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "maillog_file_prefixes": self.root,
            "maillog_file": self.log_path,
            "biff": "no",
        }
        if tls:
            from peer import self_signed_cert
            cert, key = self_signed_cert(self.etc, hostname)
            params.update({
                "smtpd_tls_cert_file": cert,
                "smtpd_tls_key_file": key,
                "smtpd_tls_security_level": "may",
                "smtpd_tls_loglevel": "1",
            })
        params.update(extra or {})
        self.params = params
        self._write("main.cf", "".join("%s = %s\n" % kv for kv in params.items()))
        services = [("%s:%d" % (addr, port), "inet", "n", "-", "n", "-", "-", "smtpd")]
        self._write("master.cf", "".join("%-14s %-10s %s %s %s %s %s %s\n" % s
                                         for s in services + _SERVICES))
        self.started = False
        self.master_pid = None
        network.track(self)

    def _write(self, name, text):
        with open(os.path.join(self.etc, name), "w") as f:
            f.write(text)

    # ----- life cycle ------------------------------------------------------------

    def postfix(self, *args, timeout=120):
        """Runs `postfix -c ETC ARGS` inside the network. postfix prints its
        diagnostics only to a terminal: `script` gives it one."""
        cmd = " ".join(["postfix", "-c", self.etc] + list(args))
        return self.network.run(["script", "-qec", cmd, "/dev/null"], text=True,
                                timeout=timeout)

    def start(self, timeout=READY_TIMEOUT):
        # inet_interfaces must name an address an interface has.
        self.network.add_address(self.addr)
        p = self.postfix("start")
        if p.returncode != 0:
            raise AssertionError("postfix start failed (%d): %s %s\n%s"
                                 % (p.returncode, p.stdout, p.stderr, self.log()))
        self.started = True
        pid_file = os.path.join(self.queue, "pid", "master.pid")
        with open(pid_file) as f:
            self.master_pid = int(f.read().strip())
        try:
            self.network.wait_listening(self.addr, self.port, timeout, what="postfix")
        except AssertionError as e:
            raise AssertionError("%s\npostfix log:\n%s" % (e, self.log()))
        return self

    def stop(self, timeout=30):
        """`postfix stop`; waits until the master process is gone."""
        if not self.started:
            return
        self.started = False
        p = self.postfix("stop")
        pid = self.master_pid
        deadline = time.monotonic() + timeout
        while pid and _alive(pid):
            if time.monotonic() > deadline:
                raise AssertionError("postfix master %d still running %.0fs after `postfix stop` "
                                     "(%s %s)\n%s" % (pid, timeout, p.stdout, p.stderr, self.log()))
            time.sleep(0.05)

    def flush(self):
        """Asks Postfix to retry its deferred mail now."""
        p = self.postfix("flush")
        if p.returncode != 0:
            raise AssertionError("postfix flush failed: %s %s" % (p.stdout, p.stderr))

    def queue_ids(self):
        """The queue ids of the messages waiting in Postfix's queue."""
        ids = []
        for sub in ("incoming", "active", "deferred", "hold", "maildrop"):
            for dirpath, _, files in os.walk(os.path.join(self.queue, sub)):
                ids.extend(files)
        return ids

    # ----- delivered mail -----------------------------------------------------------

    def delivered(self, domain=None):
        """Every message delivered to a local Maildir (DOMAIN's only when
        given), oldest first: [{"path", "data" (bytes), "rcpt" (the
        Delivered-To header), "msg" (an email.message.EmailMessage)}]."""
        out = []
        for dirpath, dirnames, files in os.walk(self.vmail):
            if os.path.basename(dirpath) not in ("new", "cur"):
                continue
            rel = os.path.relpath(dirpath, self.vmail)
            if domain is not None and rel.split(os.sep)[0] != domain:
                continue
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    data = f.read()
                msg = email.message_from_bytes(data, policy=email.policy.default)
                out.append({"path": path, "data": data, "rcpt": msg.get("Delivered-To"),
                            "msg": msg, "_key": (os.stat(path).st_mtime_ns, name)})
        out.sort(key=lambda m: m.pop("_key"))
        return out

    def wait_delivered(self, count, timeout=30, domain=None):
        """Polls until at least COUNT messages are delivered; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.delivered(domain)
            if len(msgs) >= count:
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError(
                    "postfix delivered %d message(s) after %.0fs, expected %d; queue: %s\nlog:\n%s"
                    % (len(msgs), timeout, count, self.queue_ids(), self.log()[-4000:]))
            time.sleep(0.1)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"
