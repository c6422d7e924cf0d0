"""pytest fixtures for the end-to-end tests; the harness is in harness.py.

Each test starts its own server (function scope), so any test can run alone:
    python3 -m pytest -q tests/e2e/test_smtplib.py::test_plain_send_round_trip
"""

import pytest

from harness import POP3_LISTEN, Server
from pgcluster import cluster_db, postgres_url  # noqa: F401  (fixtures: one PostgreSQL per run, a fresh database)


# ----- pytest wiring ---------------------------------------------------------

@pytest.fixture
def server_factory(request):
    """Returns make(**config_overrides) -> started Server; all are stopped with
    SIGTERM (exit status 0 asserted) at the end of the test."""
    servers = []
    request.node._postie_servers = servers

    def make(start=True, **kwargs):
        srv = Server(**kwargs)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    errors = []
    for srv in servers:
        try:
            if srv.running():
                srv.stop()
        except Exception as e:  # report after cleaning up everything
            errors.append(e)
        finally:
            srv.cleanup()
    if errors:
        raise errors[0]


@pytest.fixture
def server(server_factory):
    """A started server with domain example.org and users alice and bob."""
    srv = server_factory()
    srv.add_user("alice@example.org", "alice-secret")
    srv.add_user("bob@example.org", "bob-secret")
    return srv


@pytest.fixture
def pop3_server(server_factory):
    """Like `server`, with the pop3 (STLS) and pop3s listeners on as well."""
    srv = server_factory(listen=POP3_LISTEN)
    srv.add_user("alice@example.org", "alice-secret")
    srv.add_user("bob@example.org", "bob-secret")
    return srv


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, srv in enumerate(getattr(item, "_postie_servers", [])):
            rep.sections.append(
                ("postie server %d log tail (%s)" % (i, srv.log_path), srv.log_tail())
            )
