"""Configuration and command line (tools/sendgrid_api/config.py): start options, the accounts file, the demo
defaults, and the command with its options, ready file and signals."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import json
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from .helpers import (DEFAULT, KEY, MAIL, TLS, TOOL, TRACKING, call, errors_of, names_enabled, run_cli,
                      sg, stop_cli)


# ----------------------------------------------------------------------------- start options and the accounts file

def test_default_definition_has_demo_key_and_subusers():
    with sg.running_server() as srv:
        listed = call(srv, "GET", "/v3/subusers", key=sg.DEMO_KEY, params={"include_region": "true"}).json()
        assert {s["username"]: s["region"] for s in listed} == {"marketing": "global", "billing": "global", "eu-newsletter": "eu"}
        assert call(srv, "PATCH", TLS, key=sg.DEMO_KEY, json={"require_tls": True}).status_code == 200


def test_two_hosts_share_one_accounts_file(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"keys": {KEY: list(sg.ALL_SCOPES)},
                                    "subusers": [{"username": "g1"}, {"username": "e1", "region": "eu", "id": 10001}]}))
    with sg.running_server(accounts_file=str(accounts)) as world, sg.running_server(accounts_file=str(accounts), region="eu") as eu:
        assert call(eu, "PATCH", TLS, obo="e1", json={"require_tls": True}).json()["require_tls"] is True
        response = call(eu, "GET", TLS, obo="g1")
        assert response.status_code == 403 and "https://api.sendgrid.com" in errors_of(response)[0]["message"]
        assert call(world, "GET", TLS, obo="g1").status_code == 200
        assert call(world, "GET", TLS, obo="e1").status_code == 403
        # both hosts list every subuser
        for host in (world, eu):
            listed = call(host, "GET", "/v3/subusers", params={"include_region": "true"}).json()
            assert [(s["username"], s["region"], s["id"]) for s in listed] == [("e1", "eu", 10001), ("g1", "global", 10002)]


def test_accounts_file_state_may_set_any_setting(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"subusers": [{"username": "m"}], "state": {
        "m": {"require_tls": True, "mail_settings/footer": {"enabled": True, "plain_content": "bye"}},
        "parent": {"tracking_settings/open": {"enabled": False}}}}))
    with sg.running_server(accounts_file=str(accounts)) as srv:
        assert srv.state()["m"] == dict(DEFAULT, require_tls=True) and srv.state()["parent"] == DEFAULT
        assert srv.state("mail_settings/footer")["m"] == {"enabled": True, "html_content": "", "plain_content": "bye"}
        assert call(srv, "GET", f"{TRACKING}/open", key=sg.DEMO_KEY).json() == {"enabled": False}
        assert names_enabled(call(srv, "GET", TRACKING, key=sg.DEMO_KEY))["open"] is False
        srv.reset()
        assert srv.state("tracking_settings/open")["parent"] == {"enabled": False}
    accounts.write_text(json.dumps({"state": {"parent": {"mail_settings/spam_check": {"enabled": True}}}}))
    with pytest.raises(ValueError, match="spam_check"):
        sg.build_config(accounts_file=str(accounts))
    with pytest.raises(ValueError):
        sg.build_config(state={"parent": {"mail_settings/footer": True}})


@pytest.mark.parametrize("option", [{"max_page_size": 0}, {"max_page_size": "10"}, {"rate_reset": "minutes"},
                                    {"rate_reset": None}])
def test_bad_start_options_are_refused(option):
    with pytest.raises(ValueError):
        sg.build_config(**option)


# ----------------------------------------------------------------------------- command line

def test_cli_prints_url_serves_and_exits_0_on_sigterm(tmp_path):
    ready = tmp_path / "ready"
    command = [sys.executable, str(TOOL), "--host", "127.0.0.1", "--port", "0", "--region", "eu",
               "--key", f"{KEY}=user.settings.enforced_tls.read", "--subuser", "eu-one:eu", "--ready-file", str(ready)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline().strip()
            assert line.startswith("SendGrid-compatible API server listening on http://127.0.0.1:")
            assert line.endswith(" (region eu)")
            url = line.split(" on ", 1)[1].split(" ", 1)[0]
            assert ready.read_text().strip() == url
            response = requests.get(url + TLS, headers={"Authorization": f"Bearer {KEY}", "on-behalf-of": "eu-one"}, timeout=5)
            assert response.json() == DEFAULT
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert out == "" and KEY not in err


def test_cli_exits_0_on_sigint_with_an_open_keep_alive_connection():
    with subprocess.Popen([sys.executable, str(TOOL), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            url = proc.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
            with requests.Session() as session:
                assert session.get(url + TLS, headers={"Authorization": f"Bearer {sg.DEMO_KEY}"}, timeout=5).status_code == 200
                proc.send_signal(signal.SIGINT)
                dummy, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert sg.DEMO_KEY not in err


def test_cli_serves_https_with_tls_cert_and_key(tmp_path, tls_files):
    ready = tmp_path / "ready"
    proc, url = run_cli("--tls-cert", tls_files["cert"], "--tls-key", tls_files["key"], "--ready-file", str(ready))
    try:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", url)
        assert ready.read_text().strip() == url
        headers = {"Authorization": f"Bearer {sg.DEMO_KEY}"}
        assert requests.get(url + TLS, headers=headers, verify=tls_files["ca"], timeout=5).json() == DEFAULT
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url + TLS, headers=headers, verify=tls_files["other_ca"], timeout=5)
    finally:
        status, err = stop_cli(proc)
    assert status == 0 and err == ""


def test_cli_rate_reset_max_page_size_and_truncated_fault():
    proc, url = run_cli("--rate-reset", "seconds", "--max-page-size", "1", "--fault", "truncated:1:GET")
    try:
        config = requests.get(url + "/__control__/config", timeout=5).json()
        assert config["rate_reset"] == "seconds" and config["max_page_size"] == 1
        headers = {"Authorization": f"Bearer {sg.DEMO_KEY}"}
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url + TLS, headers=headers, timeout=5)
        response = requests.get(url + "/v3/subusers", headers=headers, params={"limit": 3}, timeout=5)
        assert [s["username"] for s in response.json()] == ["marketing"]
        assert response.headers["X-RateLimit-Reset"] == "60"
    finally:
        status, err = stop_cli(proc)
    assert status == 0 and err == ""


@pytest.mark.parametrize("args, message", [(["--max-page-size", "0"], "max_page_size"),
                                           (["--tls-key", "server.key"], "certificate"),
                                           (["--tls-cert", "/nonexistent/server.pem"], "No such file"),
                                           (["--rate-reset", "minutes"], "invalid choice")])
def test_cli_refuses_bad_new_options(args, message):
    result = subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_cli_rejects_bad_options_without_echoing_keys():
    result = subprocess.run([sys.executable, str(TOOL), "--key", "SG.secret value=x"], capture_output=True, text=True,
                            timeout=10, check=False)
    assert result.returncode == 2 and "SG.secret" not in result.stdout + result.stderr
    result = subprocess.run([sys.executable, str(TOOL), "--subuser", "x:mars"], capture_output=True, text=True, timeout=10,
                            check=False)
    assert result.returncode == 2 and "mars" in result.stderr


def test_cli_help_lists_the_options():
    result = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    for option in ("--endpoint-rate-limit", "--rate-limit", "--accounts-file", "--ready-file", "--fault", "--tls-cert",
                   "--api-key-answer"):
        assert option in result.stdout


def test_cli_help_names_every_fault_kind_the_server_accepts():
    result = subprocess.run([sys.executable, str(TOOL), "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    # the option's own help, after the usage line, words joined again across argparse's line breaks
    fault_help = " ".join(result.stdout.split("\n  --fault ", 1)[1].split("\n  --ready-file", 1)[0].split())
    assert len(sg.FAULT_KINDS) == 8
    for kind in sg.FAULT_KINDS:
        assert sg.make_fault(kind)["kind"] == kind
        assert re.search(rf"\b{kind}\b", fault_help), kind
    for kind, params in sg.FAULT_PARAMS.items():
        for param in params:
            assert param in fault_help, (kind, param)
    with pytest.raises(ValueError, match="unknown fault kind"):
        sg.make_fault("timeout")


def test_cli_starts_from_another_directory_with_a_ready_file_and_endpoint_rate_limits(tmp_path):
    ready = tmp_path / "server.url"
    command = [sys.executable, str(TOOL), "--host", "127.0.0.1", "--port", "0", "--ready-file", str(ready),
               "--key", KEY, "--subuser", "marketing", "--endpoint-rate-limit", f"{MAIL}/footer=1",
               "--endpoint-rate-limit", f"{TRACKING}=2"]
    # like scripts/lib.sh: in the background, output to a file, wait for the ready file
    with open(tmp_path / "server.log", "wb") as log, \
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path) as proc:
        try:
            deadline = time.monotonic() + 10
            while not (ready.exists() and ready.read_text().strip()):
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.05)
            url = ready.read_text().strip()
            headers = {"Authorization": f"Bearer {KEY}", "on-behalf-of": "marketing"}
            assert requests.get(url + f"{MAIL}/footer", headers=headers, timeout=5).status_code == 200
            assert requests.get(url + f"{MAIL}/footer", headers=headers, timeout=5).status_code == 429
            response = requests.patch(url + f"{TRACKING}/click", headers=headers, json={"enabled": False}, timeout=5)
            assert response.json() == {"enable_text": False, "enabled": False}
            assert response.headers["X-RateLimit-Limit"] == "10000"
            assert requests.get(url + "/__control__/config", timeout=5).json()["endpoint_rate_limits"] == {
                f"{MAIL}/footer": 1, TRACKING: 2}
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0


@pytest.mark.parametrize("value", ["/v3/mail_settings/footer", "/v3/mail_settings/footer=0", "=5", "/x=many"])
def test_cli_refuses_a_bad_endpoint_rate_limit(value):
    result = subprocess.run([sys.executable, str(TOOL), "--endpoint-rate-limit", value], capture_output=True, text=True,
                            timeout=10, check=False)
    assert result.returncode == 2 and "endpoint" in result.stderr and result.stdout == ""
