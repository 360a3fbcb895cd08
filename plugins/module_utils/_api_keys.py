# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The API keys family (an audit, which may enforce): every key of an account with its scopes, an audit of those
scopes against a policy, the cut of the scopes beyond it, and one key managed by name.

Guard: the key a run authenticates with is never deleted, nor does it lose an api_keys.* scope, unless asked for on
purpose. SendGrid does not say which key is calling; a key of the form SG.<api_key_id>.<secret> names its own id, and
for another form the calling key's scopes (GET /v3/scopes) are compared with the key's. Acting for a subuser
(on-behalf-of), the keys are the subuser's and the calling key the parent's: none can be it.

For internal use by this collection's modules only: names here may change without notice.
The API gives a key's secret once, in the answer of its creation: only the module that created it returns it (a result
its action plugin hides from output); nothing else here returns or shows one, not even when an answer carries one by
mistake.
"""

from __future__ import annotations

from collections import Counter
from fnmatch import fnmatchcase
from urllib.parse import quote

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, as_text, connection_argument_spec, option_name, result_list,
    sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import (
    ANY, COMPLIANT, FLAGGED, Family, Option, failure, status, unexpected,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._scopes import KeyScopes, check_scope_names

PATH = "/v3/api_keys"
SCOPE = "api_keys.read"
LIST = Operation("Listing the API keys", SCOPE)
READ = Operation("Reading an API key's scopes", SCOPE)
CREATE = Operation("Creating an API key", "api_keys.create", creates=True)
UPDATE = Operation("Updating an API key's scopes", "api_keys.update")
RENAME = Operation("Renaming an API key", "api_keys.update")
DELETE = Operation("Deleting an API key", "api_keys.delete")
# SendGrid allows at most 100 keys per account and GET /v3/api_keys has no offset: one page of 100 holds them all.
MAX_KEYS = 100

# Scopes that control the account itself (who may use it, with which keys, from where): fnmatch patterns.
CONTROL_SCOPES = ("api_keys.*", "teammates.*", "access_settings.*")

# The scopes whose loss would end a run's management of keys: the guard keeps them on the calling key.
KEY_CONTROL = ("api_keys.*",)
# Markers SendGrid lists among a key's scopes, which are no permission a task gives: never compared, cut or sent.
MARKERS = frozenset(("2fa_required", "sender_verification_eligible"))

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


def read_keys(account, chosen=None) -> list:
    """Every API key of the account (or those ``chosen(name, api_key_id)`` keeps), [{"name", "api_key_id", "scopes"
    (sorted)}] sorted by name then id.

    One GET of the list, then one GET per key for its scopes (the list holds names and ids only). A key deleted
    between the two (its GET answers 404) is left out: it no longer exists.
    """
    listed = _listed(account.request("GET", PATH, LIST, params=dict(limit=MAX_KEYS)))
    keys = []
    for name, key_id in listed:
        if chosen is not None and not chosen(name, key_id):
            continue
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


# ----------------------------------------------------------------------------- one key, and the guard

def the_key(account, name: str, key_id: str | None):
    """The key named so (or with that api_key_id), None when there is none. Two keys with the name, and no
    api_key_id to choose, is an error naming both: key names are not unique in SendGrid."""
    found = read_keys(account, lambda listed_name, listed_id: listed_id == key_id if key_id else listed_name == name)
    if len(found) > 1:
        raise SendGridError("%d API keys are named %r (ids %s): key names are not unique in SendGrid. Give api_key_id "
                            "to choose one, or delete the others." % (len(found), name, ", ".join(
                                key["api_key_id"] for key in found)))
    return found[0] if found else None


def permissions(scopes) -> set:
    """A key's scopes as a task compares them: the markers SendGrid adds left out."""
    return set(scopes) - MARKERS


def guard_calling_key(account, key: dict, scopes, option: str, key_scopes: KeyScopes | None = None) -> None:
    """Refuse to delete (``scopes`` None) the key this run authenticates with, or to take an api_keys.* scope from it;
    ``option`` names the setting that allows it on purpose. See the module's docstring for how the key is known."""
    lost = None if scopes is None else _matching(set(key["scopes"]) - set(scopes), KEY_CONTROL)
    if account.on_behalf_of or (scopes is not None and not lost):
        return
    what = "deleting it" if scopes is None else "taking %s from it" % ", ".join(lost)
    calling = account.client.calling_key_id
    if calling is not None:
        if key["api_key_id"] == calling:
            raise SendGridError("The API key %r (id %s) is the key this task authenticates with: %s would end this "
                                "automation's management of keys. Nothing was changed. Set %s to do it on purpose (rotate "
                                "to another key first)." % (key["name"], key["api_key_id"], what, option))
        return
    own = (key_scopes or KeyScopes()).scopes_of(account)
    if own is None or permissions(own) == permissions(key["scopes"]):
        raise SendGridError("The API key %r (id %s) may be the key this task authenticates with (%s), and %s would then "
                            "end this automation's management of keys. Nothing was changed. SendGrid does not say which "
                            "key is calling, and this key is not of the form SG.<api_key_id>.<secret>, which names it. "
                            "Set %s if it is another key." % (
                                key["name"], key["api_key_id"], "its scopes could not be read to tell" if own is None else
                                "it holds exactly the calling key's scopes", what, option))


def key_state(key):
    """A key as a result and a diff show it: never a secret."""
    return None if key is None else dict(name=key["name"], api_key_id=key["api_key_id"], scopes=key["scopes"])


def _created(answer, name: str) -> tuple:
    """(key, secret) of a creation's answer, checked; the secret is never put in a message."""
    if not isinstance(answer, dict) or not isinstance(answer.get("api_key_id"), str) or not isinstance(
            answer.get(SECRET_FIELD), str):
        raise SendGridError("SendGrid answered the creation of the API key %r with %r, without an api_key_id and a "
                            "secret: the key may exist now, its secret lost; delete it and run again."
                            % (name, _shown(answer)))
    scopes = answer.get("scopes") if isinstance(answer.get("scopes"), list) else []
    return dict(name=answer.get("name", name), api_key_id=answer["api_key_id"], scopes=sorted(set(scopes))), \
        answer[SECRET_FIELD]


def _key_path(key: dict) -> str:
    return "%s/%s" % (PATH, quote(key["api_key_id"], safe=""))


# ----------------------------------------------------------------------------- enforcing the audit

def cuts(keys: list, flagged: list, allowed_control_keys, account, key_scopes: KeyScopes | None = None) -> tuple:
    """What enforcing the audit cuts: ([{name, api_key_id, removed, scopes (kept)}], {api_key_id: why it is not cut}).

    A flagged key loses its scopes beyond the policy (excess and control scopes); never a key that
    allowed_control_keys names (by id or name), the key this run authenticates with (the guard), nor a key the cut
    would leave without a scope (SendGrid wants at least one: delete such a key by hand).
    """
    named = set(allowed_control_keys or ())
    by_id = {key["api_key_id"]: key for key in keys}
    names = Counter(key["name"] for key in keys)
    planned, kept = [], {}
    for item in flagged:
        key = by_id[item["api_key_id"]]
        removed = sorted(set(item["excess_scopes"] + item["control_scopes"]) - MARKERS)
        # the markers stay: they are SendGrid's, not permissions the cut takes away
        remaining = sorted(set(key["scopes"]) - set(removed))
        if key["api_key_id"] in named or (key["name"] in named and names[key["name"]] == 1):
            kept[key["api_key_id"]] = "allowed_control_keys names it"
        elif not removed:
            kept[key["api_key_id"]] = "only markers SendGrid sets are beyond the policy: allow them"
        elif not permissions(remaining):
            kept[key["api_key_id"]] = "the cut would leave it no scope: delete it by hand, or allow one of its scopes"
        else:
            try:
                guard_calling_key(account, key, remaining, "allowed_control_keys", key_scopes)
            except SendGridError:
                kept[key["api_key_id"]] = ("it may be the key this run authenticates with: name it in "
                                           "allowed_control_keys")
                continue
            planned.append(dict(name=key["name"], api_key_id=key["api_key_id"], removed=removed, scopes=remaining))
    return planned, kept


def cut(account, planned: list) -> None:
    """Carry the cuts out, one PUT (name and kept scopes) each; a failure names the keys cut before it."""
    done = []
    for item in planned:
        try:
            account.request("PUT", _key_path(item), UPDATE, body=dict(name=item["name"], scopes=item["scopes"]))
        except SendGridError as exc:
            if not done:
                raise
            raise SendGridError("%s. Cut before the failure: %s." % (str(exc).rstrip("."), ", ".join(done)), exc.status,
                                written=dict(cut=done))
        done.append("%s (%s)" % (item["name"], item["api_key_id"]))


# ----------------------------------------------------------------------------- the family contract

AUDIT_OPTIONS = [
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

OPTIONS = AUDIT_OPTIONS + [
    Option("enforce", "bool", [
        "Cut what the audit flags: each flagged key loses its scopes beyond the policy (its excess and its "
        "account-control scopes) with one C(PUT /v3/api_keys/{api_key_id}), keeping its allowed scopes. In check mode, "
        "the cuts that would be made.",
        "Never on a key O(@allowed_control_keys) names, on the key the run authenticates with (as "
        "M(mailops.sendgrid.sendgrid_api_key) knows it), or on a key the cut would leave with no scope (SendGrid wants "
        "one): those stay flagged, saying why. Markers such as C(2fa_required) are never cut.",
        "Needs the scope C(api_keys.update). V(false) only audits."], default=False),
]

MODULE_OPTIONS = [
    Option("name", "str", [
        "The key's name, which identifies it. Key names are not unique in SendGrid: when two keys have this name, the "
        "task fails naming their ids, unless O(@api_key_id) chooses one."], required=True, no_log=False),
    Option("state", "str", [
        "V(present) creates the key with O(@scopes) when there is none of that name, and updates the scopes (and, "
        "given O(@api_key_id), the name) of the one there is when they differ.",
        "V(absent) deletes the key."], choices=["present", "absent"], default="present"),
    Option("scopes", "list", [
        "The scopes the key holds, compared as a set, such as V(mail.send). Required with O(@state=present): a key "
        "created without scopes would have full access.",
        "Each is a scope, not a pattern. Markers SendGrid sets on keys (C(2fa_required), "
        "C(sender_verification_eligible)) are left out of the comparison."], elements="str"),
    Option("api_key_id", "str", [
        "The id of the key, to choose it among keys that share its name, or to rename it to O(@name). A key with this "
        "id must exist: no key is created with an id asked for."], no_log=False),
    Option("protect_calling_key", "bool", [
        "Refuse to delete the key this task authenticates with (O(api_key)), or to take an C(api_keys.*) scope from "
        "it. SendGrid does not say which key is calling: a key of the form C(SG.<api_key_id>.<secret>) (every key "
        "SendGrid creates) names its own id, and for another form a key holding exactly the calling key's scopes "
        "(C(GET /v3/scopes)) is taken for it.",
        "It cannot see another automation's or person's key: that one is deleted when asked. With O(on_behalf_of), "
        "the keys are the subuser's and the calling key the parent's, so none is guarded.",
        "V(false) to rotate or cut the calling key on purpose, once another key does the work."], default=True),
]


class ApiKeysFamily(Family):
    """The API keys as a family: its section (an audit, with an opt-in cut of what it flags), its module (one key)."""

    kind = "audit"
    flags = "API key"
    module = "sendgrid_api_key"
    export_note = ("api_keys: the audit today's keys pass (their scopes, the keys holding control scopes); the keys "
                   "themselves are sendgrid_api_key's, and their secrets are shown once, when created, never again")
    section_no_log = False   # "api_keys" holds no key: the name alone would make the sanity test ask for no_log

    def __init__(self):
        super().__init__(
            "api_keys", "the API keys",
            "An audit of the API keys, as M(mailops.sendgrid.sendgrid_api_key_info) does it, and with enforce the cut "
            "of what it flags. A key holding an account-control scope (C(api_keys.*), C(teammates.*), "
            "C(access_settings.*)) that allowed_control_keys does not allow, or a scope that no pattern of "
            "allowed_scopes matches, is flagged: drift that a person fixes, or the cut.", OPTIONS, MODULE_OPTIONS)
        self.audit_options = AUDIT_OPTIONS   # sendgrid_api_key_info's

    def check(self, values: dict, where: str = "") -> list:
        check_patterns(values["allowed_scopes"], option_name(where + "allowed_scopes"))
        check_names(values["allowed_control_keys"], option_name(where + "allowed_control_keys"))
        return []

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        planned, kept = [], {}
        try:
            keys = read_keys(account)
            flagged = audit(keys, values["allowed_scopes"], values["allowed_control_keys"])
            if values.get("enforce") and flagged:
                planned, kept = cuts(keys, flagged, values["allowed_control_keys"], account)
                if not check_mode:
                    cut(account, planned)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            return {self.name: failure(str(unexpected(account, exc)), keys=None, flagged=[], cut=[],
                                       changes=getattr(exc, "written", None) or {})}
        left = [dict(item, not_cut=kept[item["api_key_id"]]) if item["api_key_id"] in kept else item
                for item in flagged if not any(done["api_key_id"] == item["api_key_id"] for done in planned)]
        outcome = dict(status=status(True, check_mode) if planned else FLAGGED if left else COMPLIANT, keys=len(keys),
                       flagged=left, cut=planned)
        if planned:
            # what diff mode shows: each key cut, its scopes before and after
            by_id = {key["api_key_id"]: key for key in keys}
            outcome["before"] = {self.label(item): by_id[item["api_key_id"]]["scopes"] for item in planned}
            outcome["after"] = {self.label(item): item["scopes"] for item in planned}
        return {self.name: outcome}

    def export(self, account) -> dict:
        """The audit today's keys pass: the scopes they hold beyond the control scopes, and the keys that hold control
        scopes (by name, by id where several keys share the name). An account without keys fits any audit."""
        keys = read_keys(account)
        if not keys:
            return dict(allowed_scopes=ANY, allowed_control_keys=ANY, enforce=ANY)
        names = Counter(key["name"] for key in keys)
        control = sorted({key["name"] if names[key["name"]] == 1 else key["api_key_id"] for key in keys
                          if _matching(key["scopes"], CONTROL_SCOPES)})
        scopes = sorted({scope for key in keys for scope in key["scopes"]} - {
            scope for key in keys for scope in _matching(key["scopes"], CONTROL_SCOPES)})
        return dict(allowed_scopes=scopes, allowed_control_keys=control, enforce=ANY)

    def write_scopes(self, key: str, outcome: dict) -> list:
        return [UPDATE.scope] if outcome.get("cut") else []

    def describe(self, key: str, outcome: dict, cell) -> str:
        text = ("1 key" if outcome["keys"] == 1 else "%d keys" % outcome["keys"]) if outcome.get("keys") is not None else ""
        for item in outcome.get("cut") or []:
            text += "; cut %s (%s): %s" % (cell(item["name"]), cell(item["api_key_id"]), cell(", ".join(item["removed"])))
        for flagged in outcome.get("flagged") or []:
            text += "; %s (%s)" % (cell(flagged["name"]), cell(flagged["api_key_id"]))
            if flagged.get("excess_scopes"):
                text += ", beyond the allowed scopes: " + cell(", ".join(flagged["excess_scopes"]))
            if flagged.get("control_scopes"):
                text += ", control scopes: " + cell(", ".join(flagged["control_scopes"]))
            if flagged.get("name_shared"):
                text += ", its name shared with another key (an allowed name allows neither)"
            if flagged.get("not_cut"):
                text += ", not cut: " + cell(flagged["not_cut"])
        return text

    def explain(self, item: dict) -> str:
        return why(item) + (" (not cut: %s)" % item["not_cut"] if item.get("not_cut") else "")

    def label(self, item: dict) -> str:
        return "%s (id %s)" % (item["name"], item["api_key_id"])   # names are not unique in SendGrid

    def run_module(self) -> None:
        """The whole of sendgrid_api_key."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.module_argument_spec()),
                                 required_if=[("state", "present", ("scopes",))], supports_check_mode=True)
        params = module.params
        try:
            name = _check_name(params["name"])
            scopes = check_scope_names(params["scopes"], "scopes") if params["state"] == "present" else None
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        account = account_from_module(module)
        guard = "protect_calling_key: false"
        secret = None
        try:
            key = the_key(account, name, params["api_key_id"])
            if key is None and params["api_key_id"]:
                raise SendGridError("No API key has the id %r: give the id of an existing key, or leave api_key_id out "
                                    "to create one named %r." % (params["api_key_id"], name))
            after = _after(key, name, scopes, params)
            changed = after != key_state(key)
            if changed and key is not None and params["protect_calling_key"]:
                guard_calling_key(account, key, None if after is None else after["scopes"], guard)
            if changed and not module.check_mode:
                after, secret = _write(account, key, after)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)
        result = dict(changed=changed, key=after)
        if secret is not None:
            result["secret"] = secret   # the action plugin hides the task's output from display when this is here
        if module._diff:
            result["diff"] = dict(before=dict(key=key_state(key)), after=dict(key=after))
        module.exit_json(**result)

    def run_info_module(self) -> None:
        """The whole of sendgrid_api_key_info."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(),
                                                    **{option.name: option.argument_spec() for option in AUDIT_OPTIONS}),
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


def _check_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SendGridError("value of %s must be the key's name, non-empty text, got: %s."
                            % (option_name("name"), repr(name) if isinstance(name, str) else as_text(name)))
    return name.strip()


def _after(key, name: str, scopes, params: dict):
    """The key as the task leaves it (None: absent); the markers SendGrid set stay as they are."""
    if params["state"] == "absent":
        return None
    if key is None:
        return dict(name=name, api_key_id=None, scopes=scopes)
    kept = key["scopes"] if permissions(scopes) == permissions(key["scopes"]) else sorted(
        set(permissions(scopes)) | (set(key["scopes"]) & MARKERS))
    return dict(name=name if params["api_key_id"] else key["name"], api_key_id=key["api_key_id"], scopes=kept)


def _write(account, key, after):
    """The one write that makes the key what ``after`` says: (the key after it, its secret when it was created)."""
    if after is None:
        account.request("DELETE", _key_path(key), DELETE)
        return None, None
    if key is None:
        return _created(account.request("POST", PATH, CREATE, body=dict(name=after["name"], scopes=after["scopes"])),
                        after["name"])
    if after["scopes"] == key["scopes"]:
        account.request("PATCH", _key_path(key), RENAME, body=dict(name=after["name"]))
    else:
        # the markers the key holds are sent back with the scopes asked for: never cut, as the documentation says
        account.request("PUT", _key_path(key), UPDATE, body=dict(name=after["name"], scopes=after["scopes"]))
    return after, None


FAMILY = ApiKeysFamily()
