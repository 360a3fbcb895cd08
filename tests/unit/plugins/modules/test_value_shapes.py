# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Issue 20, item 1: a value of the wrong shape is refused naming its option, before any request, in every module.

AnsibleModule turns a list given for a text option into Python text ("['a@example.com']"); SendGrid then stored that
text. The shape check runs in sendgrid_module(), so every module has it, nested sections and list elements included.
"""

from __future__ import annotations

import json

import pytest
import responses
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import shape_problems
from ansible_collections.mailops.sendgrid.plugins.modules import (
    sendgrid_api_key_info, sendgrid_baseline, sendgrid_enforced_tls, sendgrid_ip_access, sendgrid_mail_settings,
    sendgrid_tracking_settings,
)
from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module

KEY = "SG.unit-SECRET-shapes-1b2c3d"


@pytest.fixture(name="nothing_sent")
def fixture_nothing_sent():
    """Any request at all fails the test (responses refuses an unregistered URL)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked
        assert not mocked.calls


@pytest.mark.parametrize("module, args, message", [
    (sendgrid_mail_settings, dict(forward_bounce={"enabled": True, "email": ["a@example.com"]}),
     'value of forward_bounce.email must be text, got a list: ["a@example.com"]'),
    (sendgrid_mail_settings, dict(footer={"html_content": {"p": "x"}}),
     'value of footer.html_content must be text, got a dictionary: {"p": "x"}'),
    (sendgrid_mail_settings, dict(forward_spam={"email": [["a@example.com"]]}),
     'value of forward_spam.email[0] must be text, got a list: ["a@example.com"]'),
    (sendgrid_tracking_settings, dict(subscription={"url": True}),
     "value of subscription.url must be text, got a boolean: true"),
    (sendgrid_enforced_tls, dict(require_tls=True, on_behalf_of=["marketing"]),
     'value of on_behalf_of must be text, got a list: ["marketing"]'),
    (sendgrid_ip_access, dict(entries=[["203.0.113.0/24"]]),
     'value of entries[0] must be text, got a list: ["203.0.113.0/24"]'),
    (sendgrid_api_key_info, dict(allowed_control_keys=[{"name": "ci"}]),
     'value of allowed_control_keys[0] must be text, got a dictionary: {"name": "ci"}'),
    (sendgrid_baseline, dict(mail_settings={"forward_bounce": {"enabled": True, "email": ["a@example.com"]}}),
     'value of mail_settings.forward_bounce.email must be text, got a list: ["a@example.com"]'),
    (sendgrid_baseline, dict(accounts=[{"name": "billing", "mail_settings": {"forward_bounce": {
        "email": ["a@example.com"]}}}]),
     'value of accounts[0].mail_settings.forward_bounce.email must be text, got: ["a@example.com"]'),
    (sendgrid_baseline, dict(accounts=[{"name": ["billing"]}]),
     'value of accounts[0].name must be text, got a list: ["billing"]'),
    # Python's True is 1: it was sent as {"soft_bounces": true}
    (sendgrid_mail_settings, dict(bounce_purge={"enabled": True, "soft_bounces": True}),
     "value of bounce_purge.soft_bounces must be a whole number, got: true"),
    (sendgrid_tracking_settings, dict(open={"enabled": "maybe"}),
     "value of open.enabled must be true or false, got: maybe"),
    (sendgrid_baseline, dict(accounts=[{"name": "billing", "mail_settings": {"bounce_purge": {"hard_bounces": True}}}]),
     "value of accounts[0].mail_settings.bounce_purge.hard_bounces must be a whole number, got: true."),
    # a role's run names its variables (option_names), at any depth
    (sendgrid_baseline, dict(option_names={"tracking": "baseline_tracking"}, tracking={"open": {"enabled": "maybe"}}),
     "value of baseline_tracking.open.enabled must be true or false, got: maybe"),
    (sendgrid_baseline, dict(option_names={"region": "baseline_region"}, region="us"),
     "value of baseline_region must be one of: global, eu, got: us"),
])
def test_a_list_or_dict_given_for_text_is_refused_naming_the_option_before_any_request(
        capsys, nothing_sent, module, args, message):
    result = run_module(module, capsys, **dict({"api_key": KEY}, **args))
    assert result["failed"] is True
    assert result["msg"].startswith(message), result["msg"]
    assert KEY not in json.dumps(result)


def test_a_list_given_for_the_api_key_is_refused_without_showing_it(capsys, nothing_sent):
    with patch_module_args(dict(api_key=[KEY], require_tls=True)):
        with pytest.raises(SystemExit):
            sendgrid_enforced_tls.main()
    output = capsys.readouterr().out
    assert json.loads(output)["msg"] == "value of api_key must be text, got a list: (hidden: no_log)"
    assert KEY not in output


def test_numbers_stay_welcome_where_text_is_asked():
    spec = dict(min_tls_version=dict(type="str"), on_behalf_of=dict(type="str"))
    assert shape_problems(spec, dict(min_tls_version=1.2, on_behalf_of=1234)) == []


def test_a_comma_separated_text_for_a_list_is_split_without_the_spaces(capsys):
    with responses.RequestsMock() as mocked:
        mocked.get("https://api.sendgrid.com/v3/mail_settings/forward_spam",
                   json={"enabled": False, "email": ""})
        mocked.patch("https://api.sendgrid.com/v3/mail_settings/forward_spam",
                     json={"enabled": False, "email": "a@example.com, b@example.com"})
        result = run_module(sendgrid_mail_settings, capsys, api_key=KEY,
                            forward_spam={"email": "a@example.com, b@example.com"})
        assert json.loads(mocked.calls[1].request.body) == {"email": "a@example.com, b@example.com"}
    assert result["changes"] == {"forward_spam": {"email": ["a@example.com", "b@example.com"]}}


def test_a_url_refused_that_came_from_the_environment_names_the_environment_variable(
        capsys, nothing_sent, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_URL", "http://192.0.2.10:8080")
    result = run_module(sendgrid_enforced_tls, capsys, api_key=KEY, require_tls=True)
    assert result["msg"].startswith("SENDGRID_API_URL http://192.0.2.10:8080 uses plain http:// to a host that is not "
                                    "this machine"), result["msg"]


@pytest.mark.parametrize("module, args, where", [
    # AnsibleModule made "" an empty list: the allow list's every entry, or every exclusion, was to be taken away
    (sendgrid_ip_access, dict(entries="", state="absent"), "entries"),
    (sendgrid_ip_access, dict(entries=" , "), "entries"),
    (sendgrid_api_key_info, dict(allowed_scopes=""), "allowed_scopes"),
    (sendgrid_baseline, dict(discover_subusers=True, exclude=""), "exclude"),
])
def test_an_empty_text_for_a_list_is_refused_since_it_would_mean_no_items(capsys, nothing_sent, module, args, where):
    result = run_module(module, capsys, **dict({"api_key": KEY}, **args))
    assert result["failed"] is True
    assert result["msg"] == ("value of %s is empty text, which would mean no items: give [] for none, or leave it out "
                             "(null) to keep what there is" % where), result["msg"]


def test_an_empty_list_still_means_no_items(capsys):
    with responses.RequestsMock() as mocked:
        mocked.get("https://api.sendgrid.com/v3/api_keys", json={"result": []})
        result = run_module(sendgrid_api_key_info, capsys, api_key=KEY, allowed_scopes=[])
    assert not result.get("failed"), result
    assert result["api_keys"] == []
