# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The two modules end to end, with HTTP answered by `responses` and every request checked."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_enforced_tls, sendgrid_enforced_tls_info

KEY = "SG.module-test-secret"
URL = "https://api.sendgrid.com/v3/user/settings/enforced_tls"
INITIAL = {"require_tls": False, "require_valid_cert": False, "version": 1.1}


def run(module, capsys, **args):
    return run_module(module, capsys, **dict({"api_key": KEY}, **args))


def sent():
    return [(call.request.method, call.request.url, json.loads(call.request.body) if call.request.body else None)
            for call in responses.calls]


@responses.activate
def test_in_sync_sends_one_get_and_reports_ok(capsys):
    responses.get(URL, json={"require_tls": True, "require_valid_cert": True, "version": 1.2})
    result = run(sendgrid_enforced_tls, capsys, require_tls=True, require_valid_cert=True, min_tls_version="1.2")
    assert sent() == [("GET", URL, None)]
    assert result["changed"] is False
    assert result["enforced_tls"] == {"require_tls": True, "require_valid_cert": True, "min_tls_version": "1.2"}


@responses.activate
def test_drift_sends_one_minimal_patch_with_version_as_number(capsys):
    responses.get(URL, json=INITIAL)
    responses.patch(URL, json={"require_tls": True, "require_valid_cert": False, "version": 1.2, "new_api_field": "x"})
    result = run(sendgrid_enforced_tls, capsys, require_tls=True, require_valid_cert=False, min_tls_version="1.2")
    assert sent() == [("GET", URL, None), ("PATCH", URL, {"require_tls": True, "version": 1.2})]
    assert isinstance(json.loads(responses.calls[1].request.body)["version"], float)
    assert responses.calls[1].request.headers["Authorization"] == "Bearer " + KEY
    assert result["changed"] is True
    assert result["changes"] == {"require_tls": True, "min_tls_version": "1.2"}
    assert result["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"}
    assert "new_api_field" not in json.dumps(result)


@responses.activate
def test_turning_valid_cert_off_leaves_require_tls_alone(capsys):
    responses.get(URL, json={"require_tls": True, "require_valid_cert": True, "version": 1.3})
    responses.patch(URL, json={"require_tls": True, "require_valid_cert": False, "version": 1.3})
    run(sendgrid_enforced_tls, capsys, require_valid_cert=False)
    assert sent()[1] == ("PATCH", URL, {"require_valid_cert": False})


@responses.activate
def test_check_mode_sends_no_patch_and_reports_what_would_change(capsys):
    responses.get(URL, json=INITIAL)
    result = run(sendgrid_enforced_tls, capsys, require_tls=True, _ansible_check_mode=True, _ansible_diff=True)
    assert [method for method, _url, _body in sent()] == ["GET"]
    assert result["changed"] is True
    assert result["enforced_tls"]["require_tls"] is True
    assert result["diff"] == {
        "before": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
        "after": {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.1"},
    }


@responses.activate
def test_diff_holds_settings_only(capsys):
    responses.get(URL, json=INITIAL)
    responses.patch(URL, json={"require_tls": False, "require_valid_cert": False, "version": 1.3})
    result = run(sendgrid_enforced_tls, capsys, min_tls_version="1.3", _ansible_diff=True)
    assert result["diff"]["before"]["min_tls_version"] == "1.1"
    assert result["diff"]["after"]["min_tls_version"] == "1.3"
    assert set(result["diff"]) == {"before", "after"}


@responses.activate
def test_no_diff_key_without_diff_mode(capsys):
    responses.get(URL, json=INITIAL)
    assert "diff" not in run(sendgrid_enforced_tls, capsys, require_tls=False)


@responses.activate
def test_no_desired_option_only_reads(capsys):
    responses.get(URL, json=INITIAL)
    result = run(sendgrid_enforced_tls, capsys)
    assert sent() == [("GET", URL, None)]
    assert result["changed"] is False


@responses.activate
def test_api_key_and_url_come_from_environment(capsys, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.from-environment")
    monkeypatch.setenv("SENDGRID_API_URL", "http://127.0.0.1:8025")
    responses.get("http://127.0.0.1:8025/v3/user/settings/enforced_tls", json=INITIAL)
    result = run_module(sendgrid_enforced_tls, capsys, require_tls=False)
    assert "SG.from-environment" not in json.dumps(result)
    assert responses.calls[0].request.headers["Authorization"] == "Bearer SG.from-environment"


@responses.activate
def test_eu_region_uses_the_eu_host_and_on_behalf_of(capsys):
    eu_url = "https://api.eu.sendgrid.com/v3/user/settings/enforced_tls"
    responses.get(eu_url, json=INITIAL)
    run(sendgrid_enforced_tls, capsys, region="eu", on_behalf_of="eu-newsletter")
    assert responses.calls[0].request.url == eu_url
    assert responses.calls[0].request.headers["on-behalf-of"] == "eu-newsletter"


@responses.activate
@pytest.mark.parametrize("args,expected", [
    ({"min_tls_version": "1.0"}, "min_tls_version must be one of: 1.1, 1.2, 1.3"),
    ({"require_tls": "sometimes"}, "require_tls"),
    ({"region": "us"}, "region must be one of: global, eu"),
    ({"colour": "blue"}, "Unsupported parameters"),
    ({"api_url": "http://sendgrid.example.com"}, "plain http://"),
    ({"api_key": ""}, "missing required arguments: api_key (or the environment variable SENDGRID_API_KEY)"),
])
def test_bad_input_fails_before_any_request(capsys, args, expected):
    result = run(sendgrid_enforced_tls, capsys, **args)
    assert result["failed"] is True
    assert expected in result["msg"]
    assert len(responses.calls) == 0


def test_missing_api_key_fails_naming_the_option(capsys, monkeypatch):
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    result = run_module(sendgrid_enforced_tls, capsys, require_tls=True)
    assert result["failed"] is True and "api_key" in result["msg"]


def test_missing_requests_fails_with_missing_required_lib(capsys, monkeypatch):
    from ansible_collections.mailops.sendgrid.plugins.module_utils import _client
    monkeypatch.setattr(_client, "HAS_REQUESTS", False)
    result = run(sendgrid_enforced_tls, capsys, require_tls=True)
    assert result["failed"] is True
    assert "Failed to import the required Python library (requests)" in result["msg"]


@responses.activate
def test_api_error_fails_with_status_and_api_message(capsys):
    responses.get(URL, status=403, json={"errors": [{"field": None, "message": "access forbidden"}]})
    result = run(sendgrid_enforced_tls, capsys, require_tls=True)
    assert result["failed"] is True
    assert result["status"] == 403
    assert "HTTP 403: access forbidden" in result["msg"]
    assert "user.settings.enforced_tls.read" in result["msg"]


@responses.activate
def test_info_module_only_reads(capsys):
    responses.get(URL, json={"require_tls": True, "require_valid_cert": False})
    result = run(sendgrid_enforced_tls_info, capsys, on_behalf_of="billing")
    assert sent() == [("GET", URL, None)]
    assert responses.calls[0].request.headers["on-behalf-of"] == "billing"
    assert result["changed"] is False
    assert result["enforced_tls"] == {"require_tls": True, "require_valid_cert": False, "min_tls_version": None}
