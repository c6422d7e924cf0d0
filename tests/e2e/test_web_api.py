"""The HTTP API under /api/v1 (docs/web.md, "HTTP API") through a real server,
with Python `requests`: a token made by `postie token create`, every endpoint's
happy path and its error codes (400, 401, 403, 404, 409), an account made over
the API logging in over IMAP at once, Basic auth with an administrator's app
password, a user limited to their own account, the live DNS check against a
test DNS server, and the generated OpenAPI document."""

import requests

from dnsserver import TestDNS
from harness import IMAP_LISTEN
from network import network  # noqa: F401  (the fixture)

LISTEN = dict(IMAP_LISTEN, http=["127.0.0.1:0"])
ADMIN = "admin@example.org"
ADMIN_PW = "admin-secret"
BOB = "bob@example.org"
BOB_PW = "bob-secret"


class Api:
    """Requests to one server's http listener, made inside its network namespace."""

    def __init__(self, server, auth=None):
        self.server = server
        host, port = server.addr("http")
        self.base = "http://%s:%d/api/v1" % (host, port)
        self.auth = auth

    def with_auth(self, auth):
        return Api(self.server, auth)

    def request(self, method, path, **kwargs):
        headers = kwargs.pop("headers", {})
        auth = kwargs.pop("auth", self.auth)
        if isinstance(auth, str):
            headers["Authorization"] = "Bearer " + auth
        elif auth is not None:
            kwargs["auth"] = auth
        with self.server.netns():
            return requests.request(method, self.base + path, headers=headers,
                                    timeout=60, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def error(response, status):
    """Asserts an error response: `status`, a JSON body `{"error": "..."}`."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def make_token(server, name="ci"):
    p = server.cli("token", "create", "--name", name)
    token = p.stdout.strip()
    assert token and "\n" not in token, p.stdout
    return token


def test_every_endpoint_with_a_cli_token(server_factory):
    server = server_factory(listen=LISTEN)
    server.add_user(BOB, BOB_PW)
    token = make_token(server)
    anonymous = Api(server)
    api = anonymous.with_auth(token)

    # 401 without credentials, with a wrong token, with a wrong password.
    r = anonymous.get("/domains")
    error(r, 401)
    assert "Bearer" in r.headers["WWW-Authenticate"]
    error(anonymous.get("/domains", auth="not-a-token"), 401)
    error(anonymous.get("/domains", auth=(BOB, "wrong")), 401)
    assert ok(api.get("/me")) == {"token": "ci"}

    # Domains.
    assert {"domain": "example.org"} in ok(api.get("/domains"))
    assert ok(api.post("/domains", json={"domain": "example.net"}), 201) == {"domain": "example.net"}
    error(api.post("/domains", json={"domain": "example.net"}), 409)
    error(api.post("/domains", json={"domain": "not a domain"}), 400)
    error(api.post("/domains", data="{", headers={"Content-Type": "application/json"}), 400)
    error(api.post("/domains", json={}), 400)
    assert {"domain": "example.net"} in ok(api.get("/domains"))

    # An account made over the API logs in over IMAP at once.
    made = ok(api.post("/accounts", json={
        "address": "carol@example.net", "password": "carol-secret",
        "display_name": "Carol C."}), 201)
    assert made == {"address": "carol@example.net", "display_name": "Carol C.", "admin": False,
                    "quota": {"storage_limit": None, "messages_limit": None,
                              "storage_used": 0, "messages_used": 0}}, made
    imap = server.imap()
    typ, _ = imap.login("carol@example.net", "carol-secret")
    assert typ == "OK"
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data[0] == b"0", data
    imap.logout()
    error(api.post("/accounts", json={"address": "carol@example.net", "password": "x"}), 409)
    error(api.post("/accounts", json={"address": "nope", "password": "x"}), 400)
    error(api.post("/accounts", json={"address": "x@elsewhere.example", "password": "x"}), 400)
    error(api.post("/accounts", json={"address": "x@example.net", "password": ""}), 400)

    addresses = [a["address"] for a in ok(api.get("/accounts"))]
    assert addresses == sorted(addresses) and "carol@example.net" in addresses, addresses
    carol = "/accounts/carol@example.net"
    assert ok(api.get(carol))["display_name"] == "Carol C."
    error(api.get("/accounts/nobody@example.net"), 404)
    error(api.get("/accounts/nope"), 400)
    changed = ok(api.patch(carol, json={"display_name": None, "storage_limit": 1000000,
                                        "messages_limit": 100, "password": "carol-new"}))
    assert changed["display_name"] is None
    assert changed["quota"]["storage_limit"] == 1000000 and changed["quota"]["messages_limit"] == 100
    assert ok(api.patch(carol, json={"storage_limit": None}))["quota"]["storage_limit"] is None
    error(api.patch(carol, json={"password": ""}), 400)
    error(api.patch(carol, json={"admin": "yes"}), 400)
    error(api.patch("/accounts/nobody@example.net", json={"admin": True}), 404)
    imap = server.imap()
    assert imap.login("carol@example.net", "carol-new")[0] == "OK"
    imap.logout()

    # Aliases.
    alias = {"alias": "info@example.net", "target": "carol@example.net"}
    assert ok(api.post("/aliases", json=alias), 201) == alias
    error(api.post("/aliases", json=alias), 409)
    error(api.post("/aliases", json={"alias": "x@example.net", "target": "nobody@example.net"}), 400)
    assert alias in ok(api.get("/aliases"))
    assert ok(api.delete("/aliases/info@example.net"), 204) is None
    error(api.delete("/aliases/info@example.net"), 404)

    # App passwords (an administrator may manage anyone's).
    pw = "/accounts/carol@example.net/app-passwords"
    created = ok(api.post(pw, json={"name": "phone"}), 201)
    assert created["name"] == "phone" and created["password"]
    error(api.post(pw, json={"name": "phone"}), 409)
    error(api.post(pw, json={"name": ""}), 400)
    listed = ok(api.get(pw))
    assert [p["name"] for p in listed] == ["phone"] and "password" not in listed[0]
    imap = server.imap()
    assert imap.login("carol@example.net", created["password"])[0] == "OK"
    imap.logout()
    assert ok(api.delete(pw + "/phone"), 204) is None
    error(api.delete(pw + "/phone"), 404)
    error(api.get("/accounts/nobody@example.net/app-passwords"), 404)

    # DKIM keys and DNS records.
    assert ok(api.get("/dkim")) == []
    keys = ok(api.post("/dkim", json={"domain": "example.net"}), 201)
    assert [k["algorithm"] for k in keys] == ["ed25519", "rsa"], keys
    error(api.post("/dkim", json={"domain": "elsewhere.example"}), 400)
    assert len(ok(api.get("/dkim", params={"domain": "example.net"}))) == 2
    assert ok(api.get("/dkim", params={"domain": "example.org"})) == []
    records = ok(api.get("/domains/example.net/dns"))
    assert records["note"] is None
    by_type = {}
    for record in records["records"]:
        assert record["ttl"] > 0 and record["name"] and record["value"], record
        by_type.setdefault(record["type"], []).append(record)
    assert by_type["MX"][0]["name"] == "example.net"
    dkim_names = {k["record_name"] for k in keys}
    assert dkim_names <= {r["name"] for r in by_type["TXT"]}, (dkim_names, by_type["TXT"])
    error(api.get("/domains/elsewhere.example/dns"), 404)
    error(api.get("/domains/elsewhere.example/dns/check"), 404)
    assert ok(api.delete("/dkim/example.net/" + keys[0]["selector"]), 204) is None
    error(api.delete("/dkim/example.net/" + keys[0]["selector"]), 404)

    # The queue: a message to a remote domain stays (no DNS in here), deferred.
    s = server.smtp("submission")
    s.ehlo()
    s.login(BOB, BOB_PW)
    s.sendmail(BOB, ["dave@remote.example"],
               "From: %s\r\nTo: dave@remote.example\r\nSubject: queued\r\n\r\nhi\r\n" % BOB)
    s.quit()
    entries = ok(api.get("/queue"))
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["sender"] == BOB and entry["held"] is False
    assert [r["address"] for r in entry["recipients"]] == ["dave@remote.example"]
    assert entry["recipients"][0]["status"] == "pending"
    one = "/queue/" + entry["id"]
    assert ok(api.get(one))["id"] == entry["id"]
    assert ok(api.post(one + "/hold"))["held"] is True
    released = ok(api.post(one + "/release"))
    assert released["due"] == 1, released
    assert ok(api.post("/queue/flush"))["due"] >= 0
    assert ok(api.post("/queue/flush", json={"id": entry["id"]}))["due"] in (0, 1)
    assert "due" in ok(api.post("/queue/flush", json={"domain": "remote.example"}))
    error(api.post("/queue/flush", json={"id": "nope"}), 400)
    error(api.post("/queue/flush", json={"id": "0000000000000001"}), 404)
    error(api.get("/queue/nope"), 400)
    for method, path in [("GET", "/queue/0000000000000001"),
                         ("POST", "/queue/0000000000000001/hold"),
                         ("POST", "/queue/0000000000000001/release"),
                         ("DELETE", "/queue/0000000000000001")]:
        error(api.request(method, path), 404)
    error(api.delete(one, params={"bounce": "maybe"}), 400)
    deleted = ok(api.delete(one, params={"bounce": "true"}))
    assert deleted["id"] == entry["id"] and deleted["bounce"], deleted
    error(api.get(one), 404)
    # The failure report goes to the sender (local: delivered to bob's INBOX).
    server.wait_for_mail(BOB, 1)

    # Removing: an account (it can no longer log in), then its domain.
    error(api.delete("/domains/example.net"), 400)
    assert ok(api.delete(carol), 204) is None
    error(api.delete(carol), 404)
    imap = server.imap()
    try:
        imap.login("carol@example.net", "carol-new")
        raise AssertionError("a removed account logged in")
    except imap.error:
        pass
    assert ok(api.delete("/domains/example.net"), 204) is None
    error(api.delete("/domains/example.net"), 404)

    # A revoked token is refused.
    server.cli("token", "revoke", "ci")
    error(api.get("/me"), 401)

    # Every change was audited with who made it.
    log = server.log_text()
    assert "token:ci" in log and "account.add" in log, server.log_tail()


def test_basic_auth_app_password_and_a_user_limited_to_their_own(server_factory):
    server = server_factory(listen=LISTEN)
    server.add_domain("example.org")
    server.cli("user", "add", ADMIN, "--admin", "--password-stdin", input=ADMIN_PW + "\n")
    server.add_user(BOB, BOB_PW)
    admin_api = Api(server, (ADMIN, ADMIN_PW))
    me = ok(admin_api.get("/me"))
    assert me == {"address": ADMIN, "display_name": None, "admin": True}, me

    # Basic with an administrator's app password.
    made = ok(admin_api.post("/accounts/%s/app-passwords" % ADMIN, json={"name": "ci"}), 201)
    app_api = Api(server, (ADMIN, made["password"]))
    assert ADMIN in [a["address"] for a in ok(app_api.get("/accounts"))]
    ok(app_api.post("/domains", json={"domain": "example.com"}), 201)

    # A user: 403 on what administrators do, their own account and app passwords only.
    bob = Api(server, (BOB, BOB_PW))
    assert ok(bob.get("/me"))["admin"] is False
    for method, path, body in [
        ("GET", "/domains", None), ("POST", "/domains", {"domain": "x.example"}),
        ("DELETE", "/domains/example.com", None), ("GET", "/domains/example.org/dns", None),
        ("GET", "/accounts", None),
        ("POST", "/accounts", {"address": "x@example.org", "password": "x"}),
        ("DELETE", "/accounts/%s" % BOB, None), ("GET", "/aliases", None),
        ("POST", "/aliases", {"alias": "x@example.org", "target": BOB}),
        ("GET", "/dkim", None), ("POST", "/dkim", {"domain": "example.org"}),
        ("GET", "/queue", None), ("POST", "/queue/flush", None),
        ("GET", "/accounts/%s" % ADMIN, None),
        ("PATCH", "/accounts/%s" % ADMIN, {"password": "taken-over"}),
        ("GET", "/accounts/%s/app-passwords" % ADMIN, None),
        ("POST", "/accounts/%s/app-passwords" % ADMIN, {"name": "evil"}),
        ("PATCH", "/accounts/%s" % BOB, {"admin": True}),
        ("PATCH", "/accounts/%s" % BOB, {"storage_limit": None}),
    ]:
        error(bob.request(method, path, json=body), 403)
    own = ok(bob.patch("/accounts/%s" % BOB, json={"display_name": "Bob B."}))
    assert own["display_name"] == "Bob B." and own["admin"] is False
    created = ok(bob.post("/accounts/%s/app-passwords" % BOB, json={"name": "laptop"}), 201)
    imap = server.imap()
    assert imap.login(BOB, created["password"])[0] == "OK"
    imap.logout()
    assert [p["name"] for p in ok(bob.get("/accounts/%s/app-passwords" % BOB))] == ["laptop"]
    assert ok(bob.delete("/accounts/%s/app-passwords/laptop" % BOB), 204) is None
    # The administrator's password still works: bob changed nothing of theirs.
    assert ok(admin_api.get("/me"))["address"] == ADMIN


def test_openapi_document(server_factory):
    server = server_factory(listen=LISTEN)
    r = Api(server).get("/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["openapi"].startswith("3."), doc["openapi"]
    paths = doc["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/accounts"])
    for path in ["/api/v1/domains", "/api/v1/queue", "/api/v1/accounts/{address}",
                 "/api/v1/domains/{domain}/dns/check", "/api/v1/dkim/{domain}/{selector}"]:
        assert path in paths, sorted(paths)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["basic"]["scheme"] == "basic"


DNS_ADDR = "127.0.0.2"
DNS_LISTEN = {"smtp": ["%s:25" % DNS_ADDR], "submission": ["%s:587" % DNS_ADDR],
              "http": ["%s:8080" % DNS_ADDR]}


def test_dns_check_against_a_dns_server(network, server_factory):
    dns = TestDNS(network, [], zones=["test"]).start()
    server = server_factory(network=network, name="a", listen=DNS_LISTEN,
                            extra={"hostname": "mx.a.test",
                                   "dns": {"nameservers": [dns.nameserver]}})
    server.add_domain("a.test")
    api = Api(server, make_token(server))
    expected = ok(api.get("/domains/a.test/dns"))["records"]

    checked = ok(api.get("/domains/a.test/dns/check"))
    assert checked["all_ok"] is False
    assert {r["status"] for r in checked["records"]} <= {"missing", "ok"}, checked

    # Publish what the API says (the "not offered" SRV records are absent by design).
    published = [{"name": r["name"], "type": r["type"], "value": r["value"]}
                 for r in expected if not (r["type"] == "SRV" and r["value"].endswith(" ."))]
    dns.set_records(published)
    checked = ok(api.get("/domains/a.test/dns/check"))
    assert [r["status"] for r in checked["records"]] == ["ok"] * len(expected), checked
    assert checked["all_ok"] is True

    # A wrong MX: "wrong" with what was found.
    dns.set_records([dict(r, value="10 mail.elsewhere.test") if r["type"] == "MX" else r
                     for r in published])
    checked = ok(api.get("/domains/a.test/dns/check"))
    mx = [r for r in checked["records"] if r["type"] == "MX"][0]
    assert mx["status"] == "wrong" and "mail.elsewhere.test" in mx["found"], mx
