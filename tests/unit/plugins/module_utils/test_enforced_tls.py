# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Enforced TLS through the settings engine: translation, comparison, and reconcile() over a recording fake client.

These tests predate the engine; the names below bind them to it, so they prove the setting behaves as before.
"""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError
from ansible_collections.mailops.sendgrid.plugins.module_utils import _settings
from ansible_collections.mailops.sendgrid.plugins.module_utils._enforced_tls import ENFORCED_TLS

settings_from_api = ENFORCED_TLS.from_api
api_body = ENFORCED_TLS.api_body


def compute_changes(current, desired):
    return ENFORCED_TLS.differences(current, ENFORCED_TLS.desired(desired))


def reconcile(client, desired, check_mode):
    return _settings.reconcile(client, {ENFORCED_TLS: ENFORCED_TLS.desired(desired)}, check_mode)[ENFORCED_TLS.name]


SETTINGS = st.fixed_dictionaries({
    "require_tls": st.booleans(),
    "require_valid_cert": st.booleans(),
    "min_tls_version": st.sampled_from(["1.1", "1.2", "1.3"]),
})
DESIRED = st.fixed_dictionaries({
    "require_tls": st.none() | st.booleans(),
    "require_valid_cert": st.none() | st.booleans(),
    "min_tls_version": st.none() | st.sampled_from(["1.1", "1.2", "1.3"]),
})


class FakeClient:
    """Answers like the API from a dict of settings and records every request."""

    def __init__(self, settings, patch_applies=True):
        self.settings = dict(settings)
        self.patch_applies = patch_applies
        self.sent = []

    def request(self, method, path, operation, body=None, params=None):
        self.sent.append((method, path, body))
        if method == "PATCH":
            answer = dict(self.settings, **body)
            if self.patch_applies:
                self.settings = answer
            return dict(answer, unknown_field="ignored")
        return dict(self.settings, unknown_field="ignored")


def test_version_number_from_api_becomes_text():
    assert settings_from_api({"require_tls": True, "require_valid_cert": False, "version": 1.2}) == {
        "require_tls": True, "require_valid_cert": False, "min_tls_version": "1.2"}


def test_missing_version_becomes_none_and_unknown_fields_are_dropped():
    assert settings_from_api({"require_tls": False, "require_valid_cert": False, "extra": 1}) == {
        "require_tls": False, "require_valid_cert": False, "min_tls_version": None}


def test_answer_that_is_not_an_object_is_an_error():
    with pytest.raises(SendGridError, match="Enforced TLS settings object"):
        settings_from_api(["not", "an", "object"])


def test_api_body_sends_version_as_json_number():
    assert api_body({"min_tls_version": "1.2", "require_tls": True}) == {"version": 1.2, "require_tls": True}


def test_text_version_compares_equal_to_number_coming_back():
    current = settings_from_api({"require_tls": True, "require_valid_cert": True, "version": 1.2})
    assert compute_changes(current, {"min_tls_version": "1.2"}) == {}


def test_options_left_out_are_not_compared():
    current = {"require_tls": False, "require_valid_cert": True, "min_tls_version": "1.1"}
    assert compute_changes(current, {"require_tls": True, "require_valid_cert": None, "min_tls_version": None}) == {
        "require_tls": True}


def test_turning_one_field_off_leaves_the_other_alone():
    current = {"require_tls": True, "require_valid_cert": True, "min_tls_version": "1.2"}
    assert compute_changes(current, {"require_valid_cert": False}) == {"require_valid_cert": False}


def test_missing_current_version_differs_from_any_desired_version():
    current = {"require_tls": True, "require_valid_cert": False, "min_tls_version": None}
    assert compute_changes(current, {"min_tls_version": "1.1"}) == {"min_tls_version": "1.1"}


@given(current=SETTINGS, desired=DESIRED)
def test_changes_are_exactly_the_given_options_that_differ(current, desired):
    changes = compute_changes(current, desired)
    for name, value in desired.items():
        if value is None or current[name] == value:
            assert name not in changes
        else:
            assert changes[name] == value


@given(current=SETTINGS, desired=DESIRED)
def test_applying_the_changes_leaves_nothing_to_change(current, desired):
    changes = compute_changes(current, desired)
    assert compute_changes(dict(current, **changes), desired) == {}


@given(current=SETTINGS, desired=DESIRED)
def test_reconcile_sends_one_get_and_at_most_one_minimal_patch(current, desired):
    client = FakeClient({"require_tls": current["require_tls"], "require_valid_cert": current["require_valid_cert"],
                         "version": float(current["min_tls_version"])})
    outcome = reconcile(client, desired, check_mode=False)
    expected = compute_changes(current, desired)
    if expected:
        assert client.sent == [("GET", "/v3/user/settings/enforced_tls", None),
                               ("PATCH", "/v3/user/settings/enforced_tls", api_body(expected))]
    else:
        assert client.sent == [("GET", "/v3/user/settings/enforced_tls", None)]
    assert outcome["changed"] is bool(expected)
    assert outcome["after"] == dict(current, **expected)


def test_check_mode_reports_the_change_without_patch():
    client = FakeClient({"require_tls": False, "require_valid_cert": False, "version": 1.1})
    outcome = reconcile(client, {"require_tls": True, "min_tls_version": "1.3"}, check_mode=True)
    assert [method for method, _path, _body in client.sent] == ["GET"]
    assert outcome == {
        "changed": True,
        "changes": {"require_tls": True, "min_tls_version": "1.3"},
        "before": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
        "after": {"require_tls": True, "require_valid_cert": False, "min_tls_version": "1.3"},
    }


def test_patch_that_does_not_take_is_read_again_and_fails_naming_the_field():
    client = FakeClient({"require_tls": False, "require_valid_cert": False, "version": 1.1}, patch_applies=False)
    client.request = _echo_without(client.request, "version")
    with pytest.raises(SendGridError, match=r"did not take: min_tls_version \(wanted 1.2, is 1.1\)"):
        reconcile(client, {"min_tls_version": "1.2"}, check_mode=False)
    assert [method for method, _path, _body in client.sent] == ["GET", "PATCH", "GET"]


def test_patch_echo_without_the_value_is_confirmed_by_one_more_read():
    client = FakeClient({"require_tls": False, "require_valid_cert": False, "version": 1.1})
    client.request = _echo_without(client.request, "version", stale=1.1)
    outcome = reconcile(client, {"min_tls_version": "1.3"}, check_mode=False)
    assert [method for method, _path, _body in client.sent] == ["GET", "PATCH", "GET"]
    assert outcome["after"]["min_tls_version"] == "1.3"


def _echo_without(request, field, stale=None):
    """Wrap a fake's request so that PATCH answers show a stale value for one field."""
    def wrapped(method, path, operation, body=None, params=None):
        answer = request(method, path, operation, body=body, params=params)
        if method == "PATCH":
            answer = dict(answer)
            answer[field] = stale if stale is not None else 1.1
        return answer
    return wrapped
