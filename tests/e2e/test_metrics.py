"""GET /metrics (docs/metrics.md): the Prometheus text of a real server after it
accepted a message, refused a login and held connections, scraped over the http
listener and read with a small parser of the text format (no client library)."""

import base64
import re
import urllib.request

import pytest

from harness import wait_until

ALICE = "alice@example.org"

# name{labels} value   (labels optional; the exporter writes no timestamps)
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The samples of a Prometheus text exposition: {(name, frozenset(labels)): value},
    and {name: type} from the # TYPE lines."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.groups()
        pairs = frozenset(_LABEL.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def scrape(server):
    host, port = server.addr("http")
    with server.netns():
        with urllib.request.urlopen("http://%s:%d/metrics" % (host, port), timeout=15) as r:
            assert r.status == 200
            assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
            return parse(r.read().decode("utf-8"))


@pytest.fixture
def web_server(server_factory):
    srv = server_factory(listen={"http": ["127.0.0.1:0"]})
    srv.add_user(ALICE, "alice-secret")
    return srv


def test_metrics_count_messages_logins_connections_and_deliveries(web_server):
    srv = web_server
    samples, types = scrape(srv)
    # The fixed series are there at zero before anything happened.
    assert value(samples, "postie_messages_received_total", listener="smtp") == 0
    assert value(samples, "postie_auth_failures_total", protocol="smtp") == 0
    assert value(samples, "postie_connections", protocol="submission") == 0
    assert types["postie_messages_received_total"] == "counter"
    assert types["postie_connections"] == "gauge"

    # One message to a local user; it is filed at acceptance.
    s = srv.smtp("smtp")
    s.ehlo()
    s.sendmail("sender@example.net", [ALICE],
               b"From: <sender@example.net>\r\nTo: <alice@example.org>\r\n"
               b"Subject: counted\r\n\r\nbody\r\n")
    # One failed login on the submission listener, kept open meanwhile.
    sub = srv.smtp("submission")
    sub.ehlo()
    # One AUTH command (smtplib's login() would try each mechanism in turn).
    wrong = base64.b64encode(b"\0alice@example.org\0wrong password").decode()
    code, _ = sub.docmd("AUTH", "PLAIN " + wrong)
    assert code == 535

    samples, types = scrape(srv)
    assert value(samples, "postie_messages_received_total", listener="smtp") == 1
    assert value(samples, "postie_messages_received_total", listener="submission") == 0
    assert value(samples, "postie_auth_failures_total", protocol="smtp") == 1
    assert value(samples, "postie_deliveries_total",
                 result="delivered", domain="example.org") == 1
    assert value(samples, "postie_connections", protocol="smtp") == 1
    assert value(samples, "postie_connections", protocol="submission") == 1
    # The server's own writes went through the SQLite writer: timed commits (the
    # histogram appears with its first sample).
    assert types["postie_store_commit_seconds"] == "histogram"
    assert types["postie_deliveries_total"] == "counter"
    commits = value(samples, "postie_store_commit_seconds_bucket", backend="sqlite", le="+Inf")
    assert commits is not None and commits >= 1
    assert value(samples, "postie_store_commit_seconds_count", backend="sqlite") == commits

    s.quit()
    sub.quit()

    def closed():
        samples, _ = scrape(srv)
        return (value(samples, "postie_connections", protocol="smtp") == 0
                and value(samples, "postie_connections", protocol="submission") == 0)
    wait_until(closed, message="connections counted out")


def test_queue_gauge_and_deferred_delivery(web_server):
    """A message for a remote domain (no DNS here: the relay defers it) is counted
    in the queue gauge, refreshed every 5 seconds, and as a deferred delivery."""
    srv = web_server
    s = srv.smtp("submission")
    s.ehlo()
    s.login(ALICE, "alice-secret")
    s.sendmail(ALICE, ["carol@remote.example"],
               b"From: <alice@example.org>\r\nTo: <carol@remote.example>\r\n"
               b"Subject: far away\r\n\r\nbody\r\n")
    s.quit()

    def deferred_and_queued():
        samples, _ = scrape(srv)
        return (value(samples, "postie_deliveries_total",
                      result="deferred", domain="remote.example") == 1
                and value(samples, "postie_queue_messages") == 1)
    wait_until(deferred_and_queued, timeout=30, interval=0.5,
               message="a deferred delivery and one queued message")
    samples, _ = scrape(srv)
    assert value(samples, "postie_messages_received_total", listener="submission") == 1
