"""Inbound SPF / DMARC end to end on the smtp listener: a forged From is refused
(p=reject) or filed into the recipient's Junk folder (p=quarantine), forged
Authentication-Results claiming our name are removed, and the checks follow the
[smtp] spf / dkim_verify / dmarc keys.

    mx.b.test 127.0.0.3   Postie B (bob@b.test), the receiver
    good senders connect from 127.0.0.9 (listed in SPF), forgers from 127.0.0.12
"""

import email
import email.policy
import smtplib

import pytest

from dnsserver import TestDNS
from harness import unique, wait_until
from network import network  # noqa: F401  (the fixture)

B_ADDR, GOOD, FORGER = "127.0.0.3", "127.0.0.9", "127.0.0.12"
BOB = "bob@b.test"

RECORDS = [
    {"name": "b.test", "type": "MX", "value": "10 mx.b.test"},
    {"name": "mx.b.test", "type": "A", "value": B_ADDR},
    {"name": "bank.test", "type": "TXT", "value": "v=spf1 ip4:%s -all" % GOOD},
    {"name": "_dmarc.bank.test", "type": "TXT", "value": "v=DMARC1; p=reject"},
    {"name": "shop.test", "type": "TXT", "value": "v=spf1 ip4:%s -all" % GOOD},
    {"name": "_dmarc.shop.test", "type": "TXT", "value": "v=DMARC1; p=quarantine"},
]


# The harness turns the checks off (its default DNS is dead); these tests want them
# as a default configuration has them.
CHECKS_ON = {"spf": True, "dkim_verify": True, "dmarc": "enforce"}


def receiver(network, server_factory, smtp=None):
    dns = TestDNS(network, RECORDS).start()
    b = server_factory(
        network=network,
        name="b",
        listen={"smtp": ["%s:25" % B_ADDR], "submission": [], "submissions": []},
        smtp=dict(CHECKS_ON, **(smtp or {})),
        extra={"hostname": "mx.b.test", "dns": {"nameservers": [dns.nameserver]}},
    )
    b.add_user(BOB, "bob-secret")
    return b


def send(network, server, source, sender, body):
    """Sends BODY from SOURCE (an address on lo); returns the DATA reply."""
    host, port = server.addr("smtp")
    with network.netns():
        s = smtplib.SMTP(host, port, local_hostname="mail.sender.test",
                         source_address=(source, 0), timeout=30)
    try:
        s.ehlo()
        s.mail(sender)
        code, msg = s.rcpt(BOB)
        assert code == 250, (code, msg)
        reply = s.data(body)
        s.quit()
        return reply
    finally:
        s.close()


def message(sender, marker, extra=""):
    return ("%sFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\nmarker %s\r\n"
            % (extra, sender, BOB, marker, marker)).encode()


def folder(server, mailbox):
    out = server.cli("mail", "list", BOB, "--mailbox", mailbox).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.split() and line.split()[0].isdigit()]


def read(server, uid, mailbox):
    return server.cli("mail", "read", BOB, uid, "--mailbox", mailbox, binary=True).stdout


def auth_results(raw):
    values = email.message_from_bytes(raw, policy=email.policy.compat32).get_all(
        "Authentication-Results") or []
    return [" ".join(v.split()) for v in values]


def test_authentic_mail_passes_and_forged_results_are_removed(network, server_factory):
    b = receiver(network, server_factory)
    marker = unique("ok")
    forged = "Authentication-Results: MX.B.TEST; dmarc=pass header.from=bank.test\r\n"
    code, msg = send(network, b, GOOD, "news@bank.test", message("news@bank.test", marker, forged))
    assert code == 250, msg
    b.wait_for_mail(BOB, 1)
    (raw,) = b.mailbox(BOB)
    (results,) = auth_results(raw)
    assert results.startswith("mx.b.test;"), results
    assert "spf=pass" in results and "dkim=none" in results, results
    assert "dmarc=pass header.from=bank.test" in results, results
    # The top of the stored header: our verdict above our Received line.
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.index(b"Authentication-Results: mx.b.test") < head.index(b"Received: from")


def test_a_forged_from_is_rejected_under_p_reject(network, server_factory):
    b = receiver(network, server_factory)
    code, msg = send(network, b, FORGER, "ceo@bank.test", message("ceo@bank.test", unique("f")))
    assert code == 550, msg
    assert msg.startswith(b"5.7.1") and b"bank.test" in msg, msg
    assert b.mail_list(BOB) == []
    assert folder(b, "Junk") == []


def test_a_forged_from_goes_to_junk_under_p_quarantine(network, server_factory):
    b = receiver(network, server_factory)
    marker = unique("q")
    code, msg = send(network, b, FORGER, "deals@shop.test", message("deals@shop.test", marker))
    assert code == 250, msg
    wait_until(lambda: folder(b, "Junk"), 20, message="the message in Junk")
    (uid,) = folder(b, "Junk")
    raw = read(b, uid, "Junk")
    assert marker.encode() in raw
    (results,) = auth_results(raw)
    assert "spf=fail" in results and "dmarc=fail" in results, results
    assert "policy.dmarc=quarantine" in results, results
    assert b.mail_list(BOB) == [], "nothing in INBOX"


def test_report_only_records_but_delivers(network, server_factory):
    b = receiver(network, server_factory, smtp={"dmarc": "report-only"})
    marker = unique("r")
    code, msg = send(network, b, FORGER, "ceo@bank.test", message("ceo@bank.test", marker))
    assert code == 250, msg
    b.wait_for_mail(BOB, 1)
    (raw,) = b.mailbox(BOB)
    (results,) = auth_results(raw)
    assert "dmarc=fail" in results and "policy.dmarc=reject" in results, results


def test_checks_off_add_no_results(network, server_factory):
    b = receiver(network, server_factory,
                 smtp={"spf": False, "dkim_verify": False, "dmarc": "off"})
    marker = unique("off")
    code, msg = send(network, b, FORGER, "ceo@bank.test", message("ceo@bank.test", marker))
    assert code == 250, msg
    b.wait_for_mail(BOB, 1)
    (raw,) = b.mailbox(BOB)
    assert auth_results(raw) == []


def test_authenticated_mail_on_port_25_is_not_checked(network, server_factory):
    b = receiver(network, server_factory)
    host, port = b.addr("smtp")
    with network.netns():
        s = smtplib.SMTP(host, port, local_hostname="laptop.test",
                         source_address=(FORGER, 0), timeout=30)
    try:
        s.ehlo()
        s.login(BOB, "bob-secret")
        marker = unique("auth")
        s.sendmail(BOB, [BOB], message(BOB, marker))
        s.quit()
    finally:
        s.close()
    b.wait_for_mail(BOB, 1)
    (raw,) = b.mailbox(BOB)
    assert auth_results(raw) == []
