"""`postie store migrate --to postgres://…` moves a running mail system from the
embedded store to PostgreSQL without changing what clients see (issue 15).

A server on the embedded store gets an account with an app password, mail over
SMTP, flags and an expunge over IMAP; it is stopped, the CLI copies its data
directory into a fresh database (fixture `cluster_db`, pgcluster.py), and a new
node with its own, empty data directory and `[store] url` serves it: the same
password and app password log in, the IMAP view is identical (UIDVALIDITY,
UIDNEXT, UIDs, flags, bytes), QRESYNC still reports the expunged UID, and new
mail gets the next UID. A second migration into the now non-empty database is
refused with a clear message and changes nothing.
"""

import re

from harness import unique

USER, PASSWORD = "mover@example.org", "mover-secret-1"


def imap_view(server, password=PASSWORD):
    """(UIDVALIDITY, UIDNEXT, {uid: (flags, bytes)}) of the INBOX over IMAP."""
    m = server.imap()
    try:
        m.login(USER, password)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        validity = int(m.response("UIDVALIDITY")[1][0])
        uidnext = int(m.response("UIDNEXT")[1][0])
        typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        messages = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            head = item[0].decode()
            uid = int(re.search(r"UID (\d+)", head).group(1))
            flags = re.search(r"FLAGS \(([^)]*)\)", head).group(1)
            messages[uid] = (sorted(flags.split()), item[1])
        return validity, uidnext, messages
    finally:
        m.logout()


def test_an_embedded_store_moves_to_postgres_and_clients_see_no_difference(
        cluster_db, server_factory):
    old = server_factory(listen={"imap": ["127.0.0.1:0"]})
    old.add_user(USER, PASSWORD)
    # DKIM keys as files in the data directory; the migration carries them over.
    selectors = re.findall(r"(?m)^; DKIM key (\S+) ",
                           old.cli("dkim", "generate", "example.org").stdout)
    assert len(selectors) == 2, selectors
    # The password alone on the last line (test_app_passwords.py checks the form).
    app_password = old.cli("user", "app-password", "add", USER, "--name", "phone") \
        .stdout.splitlines()[-1].strip()
    tags = [unique("moved") for _ in range(4)]
    for tag in tags:
        with old.smtp() as s:
            s.sendmail("sender@example.net", [USER],
                       "Subject: %s\r\n\r\nbody %s\r\n" % (tag, tag))
    old.wait_for_mail(USER, 4)
    m = old.imap()
    m.login(USER, PASSWORD)
    m.select("INBOX")
    m.uid("STORE", "1", "+FLAGS", r"(\Seen $Important)")
    m.uid("STORE", "2", "+FLAGS", r"(\Deleted)")
    m.expunge()
    m.logout()
    before = imap_view(old)
    assert sorted(before[2]) == [1, 3, 4]
    old.stop()

    out = old.cli("store", "migrate", "--to", cluster_db).stdout
    counts = dict(re.findall(r"^\s+(\w+)\s+(\d+)$", out, re.M))
    assert counts["accounts"] == "1" and counts["messages"] == "3", out
    # Four bodies while the delivered queue entries wait for collection, else three.
    assert counts["expunged"] == "1" and counts["blobs"] in ("3", "4"), out
    assert counts["dkim_keys"] == "2", out
    assert "counts verified" in out

    # A new node: its own empty data directory, the database for everything else.
    new = server_factory(listen={"imap": ["127.0.0.1:0"]},
                         extra={"store": {"url": cluster_db}})
    assert new.data_dir != old.data_dir
    # The keys are in the database now: listed through the new node's config.
    listed = new.cli("dkim", "list", "--json").stdout
    assert all(s in listed for s in selectors), listed
    assert imap_view(new) == before
    # The app password (a separate secret) came along too.
    assert imap_view(new, app_password) == before
    # QRESYNC knows the UID expunged before the move (RFC 7162 §3.2.10).
    raw = new.imap()
    raw.login(USER, PASSWORD)
    typ, data = raw._simple_command("ENABLE", "QRESYNC")
    assert typ == "OK", data
    typ, data = raw._simple_command(
        "SELECT", "INBOX", "(QRESYNC (%d 1))" % before[0])
    assert typ == "OK", data
    vanished = raw.untagged_responses.get("VANISHED", [])
    assert any(b"2" in v for v in vanished), vanished
    raw.logout()
    # New mail continues the UIDs.
    with new.smtp() as s:
        s.sendmail("sender@example.net", [USER], "Subject: after\r\n\r\nafter\r\n")
    new.wait_for_mail(USER, 4)
    validity, uidnext, messages = imap_view(new)
    assert validity == before[0] and sorted(messages) == [1, 3, 4, 5]
    assert uidnext == 6

    # Into a database that is no longer empty: refused, nothing changed.
    again = old.cli("store", "migrate", "--to", cluster_db, check=False)
    assert again.returncode != 0
    assert "not empty" in again.stderr, again.stderr
    assert sorted(imap_view(new)[2]) == [1, 3, 4, 5]
