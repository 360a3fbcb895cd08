"""Fixtures of the tests of tools/sendgrid_api_server.py (helpers and constants: server_helpers.py).

One test file per endpoint family (test_enforced_tls.py, test_subusers.py, ...), one for the core (test_core.py:
HTTP, auth, on-behalf-of, rate limits, the request log, the control endpoint, HTTPS), one for faults
(test_faults.py) and one for the configuration and the command line (test_config.py), as the server is split.
"""

import pytest
import trustme

from .helpers import SETTING_ROUTES, SUBUSERS, dns_tool, options, sg


@pytest.fixture(name="shared_srv", scope="module")
def fixture_shared_srv():
    """One server per test file: stopping one waits for its accept loop to notice (up to 50 ms)."""
    with sg.running_server(**options()) as server:
        yield server


@pytest.fixture(name="srv")
def fixture_srv(shared_srv):
    """The shared server, back in its start state."""
    shared_srv.reset()
    yield shared_srv


@pytest.fixture(name="shared_dns", scope="module")
def fixture_shared_dns():
    """One DNS server (tools/dns_server.py) per test file, on 127.0.0.1 and a free port."""
    with dns_tool.running_dns_server() as server:
        yield server


@pytest.fixture(name="dns")
def fixture_dns(shared_dns):
    """The shared DNS server, serving no record."""
    shared_dns.clear()
    yield shared_dns


@pytest.fixture(name="scoped_srv", scope="module")
def fixture_scoped_srv():
    """A server with, per tracking and mail settings route, a key holding only its scope and one holding every other."""
    keys = {}
    for dummy, dummy, scope in SETTING_ROUTES:
        keys[f"SG.only.{scope}"] = [scope]
        keys[f"SG.but.{scope}"] = [s for s in sg.ALL_SCOPES if s != scope]
    with sg.running_server(keys=keys, subusers=SUBUSERS) as server:
        yield server


@pytest.fixture(name="tls_files", scope="module")
def fixture_tls_files(tmp_path_factory):
    """PEM files: a CA, a server certificate for 127.0.0.1 and localhost, its key, both in one, and a foreign CA."""
    directory = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    files = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key", "combined", "other_ca")}
    authority.cert_pem.write_to_path(files["ca"])
    for pem in issued.cert_chain_pems:
        pem.write_to_path(files["cert"], append=True)
    issued.private_key_pem.write_to_path(files["key"])
    issued.private_key_and_cert_chain_pem.write_to_path(files["combined"])
    trustme.CA().cert_pem.write_to_path(files["other_ca"])
    return {name: str(path) for name, path in files.items()}
