# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""API keys, read only: every key of an account with its scopes, and an audit of those scopes against a policy.

For internal use by this collection's modules only: names here may change without notice.
The API never gives a key's secret after its creation; nothing here returns or shows one, not even when an answer
carries one by mistake.
"""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from urllib.parse import quote

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import Operation, SendGridError, result_list

PATH = "/v3/api_keys"
SCOPE = "api_keys.read"
LIST = Operation("Listing the API keys", SCOPE)
READ = Operation("Reading an API key's scopes", SCOPE)
# SendGrid allows at most 100 keys per account and GET /v3/api_keys has no offset: one page of 100 holds them all.
MAX_KEYS = 100

# Scopes that control the account itself (who may use it, with which keys, from where): fnmatch patterns.
CONTROL_SCOPES = ("api_keys.*", "teammates.*", "access_settings.*")

# The field of a key's secret (in the answer of its creation only); hidden should any other answer carry it.
SECRET_FIELD = "api_key"


def _shown(answer):
    """An answer as an error message may show it: any secret field masked, at any depth."""
    if isinstance(answer, dict):
        return {name: "********" if name == SECRET_FIELD else _shown(value) for name, value in answer.items()}
    if isinstance(answer, list):
        return [_shown(item) for item in answer]
    return answer


def _listed(answer) -> list:
    """[(name, api_key_id)] of the list answer, checked."""
    listed = []
    for item in result_list(answer, "the API keys"):
        name = item.get("name") if isinstance(item, dict) else None
        key_id = item.get("api_key_id") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(key_id, str) or not key_id.strip():
            raise SendGridError("SendGrid listed an API key without a name or an api_key_id: %r." % (_shown(item),))
        if any(key_id == other for dummy, other in listed):
            raise SendGridError("SendGrid listed the API key id %r twice." % key_id)
        listed.append((name, key_id))
    return listed


def _one_key(answer, key_id: str) -> dict:
    """The key of a GET /v3/api_keys/{id} answer: the object itself, or wrapped as {"result": [object]} (the spec)."""
    key = answer
    if isinstance(answer, dict) and "result" in answer:
        wrapped = answer["result"]
        key = wrapped[0] if isinstance(wrapped, list) and len(wrapped) == 1 else None
    if not isinstance(key, dict):
        raise SendGridError("SendGrid answered with %r where the API key %r (an object with its scopes, or a result "
                            "list holding it) was expected." % (_shown(answer), key_id))
    scopes = key.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise SendGridError("SendGrid answered the API key %r without a list of scopes: %r." % (key_id, _shown(answer)))
    if key.get("api_key_id", key_id) != key_id or not isinstance(key.get("name", ""), str):
        raise SendGridError("SendGrid answered the request for the API key %r with another key or a name that is not "
                            "text: %r." % (key_id, _shown(answer)))
    return key


def read_keys(account) -> list:
    """Every API key of the account, [{"name", "api_key_id", "scopes" (sorted)}] sorted by name then id.

    One GET of the list, then one GET per key for its scopes (the list holds names and ids only). A key deleted
    between the two (its GET answers 404) is left out: it no longer exists.
    """
    listed = _listed(account.request("GET", PATH, LIST, params=dict(limit=MAX_KEYS)))
    keys = []
    for name, key_id in listed:
        try:
            answer = account.request("GET", "%s/%s" % (PATH, quote(key_id, safe="")), READ)
        except SendGridError as exc:
            if exc.status == 404:
                continue
            raise
        key = _one_key(answer, key_id)
        keys.append(dict(name=key.get("name", name), api_key_id=key_id, scopes=sorted(set(key["scopes"]))))
    return sorted(keys, key=lambda key: (key["name"], key["api_key_id"]))


def check_patterns(patterns, option: str) -> None:
    """Refuse, before any request, a pattern that matches no scope: not text, empty, or holding spaces."""
    if patterns is None:
        return
    if not isinstance(patterns, (list, tuple)):
        raise SendGridError("value of %s must be a list of scopes or patterns (such as mail.send or user.settings.*), "
                            "got: %r." % (option, patterns))
    bad = [pattern for pattern in patterns
           if not isinstance(pattern, str) or not pattern or any(char.isspace() for char in pattern)]
    if bad:
        raise SendGridError("value of %s must hold scopes or fnmatch patterns such as mail.send or user.settings.*, "
                            "each non-empty text without spaces, got: %s." % (option, ", ".join(repr(item) for item in bad)))


def check_names(names, option: str) -> None:
    """Refuse, before any request, a key name that names no key: not text, empty or only spaces (names may hold
    spaces: "My API Key")."""
    if names is None:
        return
    if not isinstance(names, (list, tuple)):
        raise SendGridError("value of %s must be a list of API key names, got: %r." % (option, names))
    bad = [name for name in names if not isinstance(name, str) or not name.strip()]
    if bad:
        raise SendGridError("value of %s must hold API key names, each non-empty text, got: %s."
                            % (option, ", ".join(repr(item) for item in bad)))


def why(flagged_key: dict) -> str:
    """One flagged key, and why, as a person reads it: ci-deploy (id qfTQ...): control scopes api_keys.create..."""
    reasons = []
    if flagged_key["control_scopes"] and flagged_key.get("name_shared"):
        reasons.append("account-control scopes %s (allowed_control_keys names %r, which several keys share: give the "
                       "api_key_id of the one to allow)" % (", ".join(flagged_key["control_scopes"]), flagged_key["name"]))
    elif flagged_key["control_scopes"]:
        reasons.append("account-control scopes %s (allowed_control_keys does not name it)"
                       % ", ".join(flagged_key["control_scopes"]))
    if flagged_key["excess_scopes"]:
        reasons.append("scopes beyond allowed_scopes: %s" % ", ".join(flagged_key["excess_scopes"]))
    return "%s (id %s) holds %s" % (flagged_key["name"], flagged_key["api_key_id"], "; and ".join(reasons))


def audit_message(keys: list, flagged: list) -> str:
    """The audit's verdict in words, naming each flagged key and why: what a failed_when on it shows."""
    if not flagged:
        return "%s, none beyond the policy." % _count(len(keys))
    return "%d of %s beyond the policy: %s." % (len(flagged), _count(len(keys)), " | ".join(why(key) for key in flagged))


def _count(count: int) -> str:
    return "1 API key" if count == 1 else "%d API keys" % count


def _matching(scopes, patterns) -> list:
    return sorted({scope for scope in scopes if any(fnmatchcase(scope, pattern) for pattern in patterns)})


def audit(keys: list, allowed_scopes, allowed_control_keys) -> list:
    """The keys that go beyond the policy: [{"name", "api_key_id", "excess_scopes", "control_scopes", "name_shared"}],
    in the order of keys.

    A key's control scopes (CONTROL_SCOPES) are flagged unless allowed_control_keys names it, by its api_key_id, or by
    its name when no other key of the account has that name: key names are not unique in SendGrid, and a name shared
    with another key would let that key's control scopes through too (name_shared says so). Its other scopes are
    excess when no pattern of allowed_scopes matches them (case-sensitive); allowed_scopes None checks the control
    scopes only.
    """
    flagged = []
    exempt = set(allowed_control_keys or ())
    names = Counter(key["name"] for key in keys)
    for key in keys:
        control = _matching(key["scopes"], CONTROL_SCOPES)
        others = [scope for scope in key["scopes"] if scope not in control]
        excess = [] if allowed_scopes is None else sorted(set(others) - set(_matching(others, allowed_scopes)))
        shared = key["name"] in exempt and names[key["name"]] > 1 and key["api_key_id"] not in exempt
        if key["api_key_id"] in exempt or (key["name"] in exempt and not shared):
            control = []
        if excess or control:
            flagged.append(dict(name=key["name"], api_key_id=key["api_key_id"], excess_scopes=excess,
                                control_scopes=control, name_shared=bool(shared and control)))
    return flagged
