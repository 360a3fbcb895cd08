# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Enforced TLS settings: translation to and from the API, and the one reconcile function.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import Operation, SendGridError, as_text

PATH = "/v3/user/settings/enforced_tls"
READ = Operation("Reading the Enforced TLS settings", "user.settings.enforced_tls.read")
UPDATE = Operation("Updating the Enforced TLS settings", "user.settings.enforced_tls.update")

# Option name -> API field name. The API calls the minimum TLS version just "version".
API_FIELDS = {
    "require_tls": "require_tls",
    "require_valid_cert": "require_valid_cert",
    "min_tls_version": "version",
}
TLS_VERSIONS = ["1.1", "1.2", "1.3"]


def policy_argument_spec() -> dict:
    """The desired settings; no defaults, because an option left out is never compared nor sent."""
    return dict(
        require_tls=dict(type="bool"),
        require_valid_cert=dict(type="bool"),
        # No choices: with choices, AnsibleModule refuses an explicit null, which means "not managed" here;
        # check_policy() checks the value instead, before any request.
        min_tls_version=dict(type="str"),
    )


def check_policy(desired: dict, where: str = "") -> None:
    """Refuse a minimum TLS version SendGrid does not know, before any request; None is "not managed"."""
    version = desired.get("min_tls_version")
    if version is not None and version not in TLS_VERSIONS:
        raise SendGridError("value of %smin_tls_version must be one of: %s, got: %s (leave it out, or null, to leave the "
                            "setting alone)." % (where, ", ".join(TLS_VERSIONS), version))


def version_text(value) -> str | None:
    """The API's JSON number (1.2) as the option's text ("1.2"); None when the API has none."""
    if value is None:
        return None
    try:
        return "%.1f" % float(value)
    except (TypeError, ValueError):
        return str(value)


def settings_from_api(body) -> dict:
    """The three settings in option names; unknown fields in the answer are dropped, never sent back."""
    if not isinstance(body, dict):
        raise SendGridError("SendGrid answered with %r where the Enforced TLS settings object was expected." % (body,))
    return {
        "require_tls": body.get("require_tls"),
        "require_valid_cert": body.get("require_valid_cert"),
        "min_tls_version": version_text(body.get("version")),
    }


def api_body(changes: dict) -> dict:
    """The PATCH body for the changed settings; the version goes out as a JSON number."""
    return {
        API_FIELDS[name]: float(value) if name == "min_tls_version" else value
        for name, value in changes.items()
    }


def compute_changes(current: dict, desired: dict) -> dict:
    """The desired settings that differ from the current ones. Options that are None are not compared."""
    return {
        name: value
        for name, value in desired.items()
        if value is not None and current.get(name) != value
    }


def reconcile(client, desired: dict, check_mode: bool) -> dict:
    """Read the settings, write only what differs (not in check mode), and say what happened.

    Returns ``changed``, ``changes`` (the fields that were, or would be, written), ``before`` and ``after``.
    """
    before = settings_from_api(client.request("GET", PATH, READ))
    changes = compute_changes(before, desired)
    if not changes or check_mode:
        return dict(changed=bool(changes), changes=changes, before=before, after=dict(before, **changes))

    answer = settings_from_api(client.request("PATCH", PATH, UPDATE, body=api_body(changes)))
    after = {name: before[name] if answer[name] is None else answer[name] for name in API_FIELDS}
    if compute_changes(after, changes):
        # The PATCH was acknowledged without showing our values: trust a fresh read, not the echo.
        after = settings_from_api(client.request("GET", PATH, READ))
        not_taken = compute_changes(after, changes)
        if not_taken:
            raise SendGridError(
                "SendGrid acknowledged the update but these settings did not take: %s. Run the task again; if it "
                "persists, the account may not allow them." % ", ".join(
                    "%s (wanted %s, is %s)" % (name, as_text(value), as_text(after[name]))
                    for name, value in sorted(not_taken.items())
                )
            )
    return dict(changed=True, changes=changes, before=before, after=after)


def reconcile_accounts(client_for, accounts: list, check_mode: bool, concurrency: int) -> list:
    """Reconcile many accounts, at most ``concurrency`` at a time; one outcome per account, in the given order.

    ``accounts`` items hold ``on_behalf_of`` (None for the parent), ``base_url`` and ``desired``;
    ``client_for(base_url)`` gives the calling thread's client for that host. A failing account does not stop
    the others: its outcome holds ``failed`` and ``msg``.
    """
    def one(account: dict) -> dict:
        client = client_for(account["base_url"])
        try:
            return dict(reconcile(client.account(account["on_behalf_of"]), account["desired"], check_mode), failed=False)
        except SendGridError as exc:
            return dict(changed=False, failed=True, msg=str(exc), status=exc.status)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # Anything unforeseen is this account's failure: the others' results, maybe written already, must be reported.
            return dict(changed=False, failed=True, status=None,
                        msg="Unexpected %s while handling this account: %s" % (type(exc).__name__, client.redact(str(exc))))

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(accounts)))) as executor:
        return list(executor.map(one, accounts))
