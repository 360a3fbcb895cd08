# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The API keys family (an audit), read only: every key of an account with its scopes, and an audit of those scopes
against a policy.

For internal use by this collection's modules only: names here may change without notice.
The API never gives a key's secret after its creation; nothing here returns or shows one, not even when an answer
carries one by mistake.
"""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from urllib.parse import quote

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, connection_argument_spec, option_name, result_list, sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import (
    COMPLIANT, FLAGGED, Family, Option, failure, unexpected,
)

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


# ----------------------------------------------------------------------------- the family contract

OPTIONS = [
    Option("allowed_scopes", "list", [
        "The scopes a key may hold, as shell-style patterns matched case-sensitively against the whole scope, such as "
        "V(mail.send) or V(user.settings.*). A scope that matches none of them is flagged as an excess scope.",
        "SendGrid lists markers such as C(2fa_required) and C(sender_verification_eligible) among a key's scopes; "
        "allow them here too if your keys carry them.",
        "Account-control scopes are judged by O(@allowed_control_keys) alone, whatever this says.",
        "V(null) does not check scopes against a list; account-control scopes are flagged all the same. V([]) allows "
        "no scope at all, so every key that holds one is flagged.",
        "Each pattern must be non-empty text without spaces; another value fails before any request."],
        elements="str"),
    Option("allowed_control_keys", "list", [
        "The keys that may hold account-control scopes (the automation's own key, an administration key), each by "
        "its C(api_key_id) or its name. Such a key is not flagged for them, and they are not judged by "
        "O(@allowed_scopes) either; its other scopes still are.",
        "Compared whole and case-sensitively, not as patterns. Key names need not be unique in SendGrid, so a name "
        "allows a key only when no other key of the account has it; keys sharing an allowed name are all flagged "
        "(C(name_shared)), and their ids tell them apart. An empty entry fails before any request."],
        elements="str", default=[], no_log=False),
]


class ApiKeyAudit(Family):
    """The API keys as a family: read only, flagging the keys that go beyond the policy."""

    kind = "audit"
    flags = "API key"
    module = "sendgrid_api_key_info"
    section_no_log = False   # "api_keys" holds no key: the name alone would make the sanity test ask for no_log

    def __init__(self):
        super().__init__(
            "api_keys", "the API key audit",
            "An audit of the API keys, read only, as M(mailops.sendgrid.sendgrid_api_key_info) does it. A key holding "
            "an account-control scope (C(api_keys.*), C(teammates.*), C(access_settings.*)) that allowed_control_keys "
            "does not allow, or a scope that no pattern of allowed_scopes matches, is flagged: drift that only a person "
            "can fix.", OPTIONS)

    def check(self, values: dict, where: str = "") -> list:
        check_patterns(values["allowed_scopes"], option_name(where + "allowed_scopes"))
        check_names(values["allowed_control_keys"], option_name(where + "allowed_control_keys"))
        return []

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        try:
            keys = read_keys(account)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            return {self.name: failure(str(unexpected(account, exc)), keys=None, flagged=[])}
        flagged = audit(keys, values["allowed_scopes"], values["allowed_control_keys"])
        return {self.name: dict(status=FLAGGED if flagged else COMPLIANT, keys=len(keys), flagged=flagged)}

    def describe(self, key: str, outcome: dict, cell) -> str:
        text = ("1 key" if outcome["keys"] == 1 else "%d keys" % outcome["keys"]) if outcome.get("keys") is not None else ""
        for flagged in outcome.get("flagged") or []:
            text += "; %s (%s)" % (cell(flagged["name"]), cell(flagged["api_key_id"]))
            if flagged.get("excess_scopes"):
                text += ", beyond the allowed scopes: " + cell(", ".join(flagged["excess_scopes"]))
            if flagged.get("control_scopes"):
                text += ", control scopes: " + cell(", ".join(flagged["control_scopes"]))
        return text

    def explain(self, item: dict) -> str:
        return why(item)

    def run_module(self) -> None:
        """The whole of sendgrid_api_key_info."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.argument_spec()),
                                 supports_check_mode=True)
        params = module.params
        try:
            check_patterns(params["allowed_scopes"], "allowed_scopes")
            check_names(params["allowed_control_keys"], "allowed_control_keys")
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        account = account_from_module(module)
        try:
            keys = read_keys(account)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)
        flagged = audit(keys, params["allowed_scopes"], params["allowed_control_keys"])
        # msg names every flagged key and why, so that a failed_when on flagged says more than "Unknown error"
        module.exit_json(changed=False, api_keys=keys, flagged=flagged, msg=audit_message(keys, flagged))


FAMILY = ApiKeyAudit()
