"""What the tests of tools/sendgrid_api_server.py share: the server module, keys, options and request helpers.

The fixtures (srv, shared_srv, scoped_srv, tls_files, dns, shared_dns) are in conftest.py.  tests/server is a package so that its
modules never take the names of tests/unit's (test_api_keys.py, ...) or of tests/integration/conftest.py, which
its test files import as "conftest", when several trees run in one session.
"""

import importlib.util
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

TOOL = Path(__file__).resolve().parents[2] / "tools" / "sendgrid_api_server.py"


def _load_server():
    """The server module, under the name tests/integration/conftest.py gives it: one module object for both trees."""
    if "sendgrid_api_server" in sys.modules:
        return sys.modules["sendgrid_api_server"]
    spec = importlib.util.spec_from_file_location("sendgrid_api_server", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["sendgrid_api_server"] = module
    spec.loader.exec_module(module)
    return module


sg = _load_server()


def _load_dns_server():
    """tools/dns_server.py, the DNS server the validation tests give the API server as its resolver."""
    if "dns_server" in sys.modules:
        return sys.modules["dns_server"]
    spec = importlib.util.spec_from_file_location("dns_server", DNS_TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dns_server"] = module
    spec.loader.exec_module(module)
    return module


DNS_TOOL = TOOL.parent / "dns_server.py"
dns_tool = _load_dns_server()

KEY = "SG.test-all"
READ_ONLY = "SG.test-read"
UPDATE_ONLY = "SG.test-update"
NO_SCOPES = "SG.test-none"
KEYS = {KEY: sg.ALL_SCOPES, READ_ONLY: [sg.SCOPE_TLS_READ], UPDATE_ONLY: [sg.SCOPE_TLS_UPDATE], NO_SCOPES: []}
SUBUSERS = ["marketing", "billing:disabled", "eu-news:eu"]
# Every account of a server started with options(), in state() order.
ACCOUNTS = ("parent", "marketing", "billing", "eu-news", "account-id 777")
DEFAULT = {"require_tls": False, "require_valid_cert": False, "version": 1.1}
TLS = "/v3/user/settings/enforced_tls"

TRACKING = "/v3/tracking_settings"
MAIL = "/v3/mail_settings"
TRACKING_DEFAULTS = {
    "tracking_settings/click": {"enable_text": False, "enabled": True},
    "tracking_settings/google_analytics": {"enabled": False, "utm_source": "", "utm_medium": "", "utm_term": "",
                                           "utm_content": "", "utm_campaign": ""},
    "tracking_settings/open": {"enabled": True},
    "tracking_settings/subscription": {"enabled": False, "html_content": "", "plain_content": "", "landing": "",
                                       "replace": "", "url": ""},
}
MAIL_DEFAULTS = {
    "mail_settings/address_whitelist": {"enabled": False, "list": []},
    "mail_settings/bounce_purge": {"enabled": False, "soft_bounces": None, "hard_bounces": None},
    "mail_settings/footer": {"enabled": False, "html_content": "", "plain_content": ""},
    "mail_settings/forward_bounce": {"enabled": False, "email": None},
    "mail_settings/forward_spam": {"enabled": False, "email": ""},
    "mail_settings/template": {"enabled": False, "html_content": ""},
}
# The tracking and mail settings of a fresh account.
SETTING_DEFAULTS = {**TRACKING_DEFAULTS, **MAIL_DEFAULTS}


def setting_routes(summary, defaults):
    """(method, path, scope) of a family's summary route and of GET and PATCH of each of its settings."""
    family = summary.rsplit("/", 1)[-1]
    return [("GET", summary, f"{family}.read")] + [
        (method, f"/v3/{key}", f"{key.replace('/', '.')}.{action}")
        for key in defaults for method, action in (("GET", "read"), ("PATCH", "update"))]


TRACKING_ROUTES = setting_routes(TRACKING, TRACKING_DEFAULTS)
MAIL_ROUTES = setting_routes(MAIL, MAIL_DEFAULTS)
SETTING_ROUTES = TRACKING_ROUTES + MAIL_ROUTES


def options(**overrides):
    """Server options used by most tests; overrides win."""
    base = {"keys": KEYS, "subusers": SUBUSERS, "account_ids": ["777"]}
    base.update(overrides)
    return base


def call(server, method, path, *, key=KEY, obo=None, timeout=5, session=None, **kwargs):
    """One API request with the usual headers."""
    headers = dict(kwargs.pop("headers", {}))
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if obo is not None:
        headers["on-behalf-of"] = obo
    return (session or requests).request(method, server.url + path, headers=headers, timeout=timeout, **kwargs)


def errors_of(response):
    """The errors list, after checking the SendGrid error shape."""
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors"} and body["errors"]
    for item in body["errors"]:
        assert set(item) == {"field", "message"} and isinstance(item["message"], str)
    return body["errors"]


def control(server, method, name, **kwargs):
    """Call the control endpoint."""
    response = requests.request(method, f"{server.url}/__control__/{name}", timeout=5, **kwargs)
    response.raise_for_status()
    return response.json()


def path_of(key):
    """The API path of a setting key."""
    return f"/v3/{key}"


def names_enabled(response):
    """{name: enabled} of a tracking or mail settings summary."""
    assert response.status_code == 200
    return {item["name"]: item["enabled"] for item in response.json()["result"]}


def raw_exchange(server, method, path, body=None):
    """One request on a fresh socket, read until the server closes it; return (status line, headers, body)."""
    payload = b"" if body is None else json.dumps(body).encode()
    request_head = (f"{method} {path} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    chunks = []
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(request_head.encode() + payload)
        # a keep-alive answer would time out here: only a closed connection ends the loop
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answer_head, dummy, received = b"".join(chunks).partition(b"\r\n\r\n")
    status, *lines = answer_head.decode().split("\r\n")
    return status, {k.lower(): v.strip() for k, dummy, v in (line.partition(":") for line in lines)}, received


def run_cli(*args):
    """Start the server command, return (process, URL from its first line)."""
    proc = subprocess.Popen([sys.executable, str(TOOL), "--port", "0", *args],  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0] if " on " in line else None


def stop_cli(proc):
    """SIGTERM, then (exit status, stderr)."""
    try:
        proc.send_signal(signal.SIGTERM)
        dummy, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err
