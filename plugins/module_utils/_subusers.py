# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The subusers of a parent account: listing every page of them (the baseline's discovery), and the subusers family
(a module only: one subuser created, enabled or disabled, deleted when confirmed).

A subuser's password is write-only: sent when the subuser is created, never read back, compared or shown.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from urllib.parse import quote

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    ACCOUNT_NAME, Operation, SendGridError, as_text, client_from_module, connection_argument_spec, option_name,
    sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import Family, Option
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import EMAIL

PATH = "/v3/subusers"
LIST = Operation("Listing the subusers", "subusers.read")
FIND = Operation("Looking the subuser up", "subusers.read")
CREATE = Operation("Creating a subuser", "subusers.create", creates=True)
ENABLE = Operation("Enabling or disabling a subuser", "subusers.update")
DELETE = Operation("Deleting a subuser", "subusers.delete")


def list_subusers(client, page_size: int, region: str = "all") -> list:
    """Every subuser of the parent, following limit/offset paging until a page comes back empty.

    A short page does not prove the end: SendGrid documents no maximum page size, so a server may answer fewer
    than ``limit`` asked for. Only an empty page does, at the price of one more request.
    """
    subusers, seen = [], set()
    while True:
        page = client.request("GET", PATH, LIST, params=dict(
            limit=page_size, offset=len(subusers), region=region, include_region="true"))
        if not isinstance(page, list):
            raise SendGridError("SendGrid answered the subuser list with %s where a list was expected." % type(page).__name__)
        if not page:
            return subusers
        for subuser in page:
            if not isinstance(subuser, dict) or not isinstance(subuser.get("username"), str):
                raise SendGridError("SendGrid answered the subuser list with an entry that has no username: %r." % (subuser,))
            if subuser["username"] in seen:
                raise SendGridError("SendGrid listed the subuser %r twice while paging (the list changed during the "
                                    "run?): run again to cover every subuser exactly once." % subuser["username"])
            seen.add(subuser["username"])
            subusers.append(dict(username=subuser["username"], id=subuser.get("id"), disabled=subuser.get("disabled"),
                                 region=subuser.get("region", "global")))


def select(subusers: list, names: list, exclude: list, disabled: bool | None) -> list:
    """The subusers whose username matches a pattern of ``names`` and none of ``exclude`` (shell-style globs)."""
    return [
        subuser for subuser in subusers
        if any(fnmatch.fnmatchcase(subuser["username"], pattern) for pattern in names)
        and not any(fnmatch.fnmatchcase(subuser["username"], pattern) for pattern in exclude)
        and (disabled is None or subuser["disabled"] is disabled)
    ]


# ----------------------------------------------------------------------------- one subuser

def find(client, username: str):
    """The subuser of that username ({username, id, email, disabled, region}), None when there is none: one GET with
    the spec's username filter, the answer matched exactly (the filter's own matching is not documented)."""
    answer = client.request("GET", PATH, FIND, params=dict(username=username, include_region="true"))
    if not isinstance(answer, list):
        raise SendGridError("SendGrid answered the subuser lookup with %s where a list was expected." % type(answer).__name__)
    for subuser in answer:
        if isinstance(subuser, dict) and subuser.get("username") == username:
            return dict(username=username, id=subuser.get("id"), email=subuser.get("email"),
                        disabled=bool(subuser.get("disabled")), region=subuser.get("region", "global"))
    return None


def check_ips(ips, option: str) -> list:
    """The IPv4 addresses to assign, refused before any request unless each is one (the spec's format: ipv4)."""
    checked = []
    for item in ips or []:
        try:
            checked.append(str(ipaddress.IPv4Address(item.strip() if isinstance(item, str) else item)))
        except (ipaddress.AddressValueError, ValueError, TypeError):
            raise SendGridError("value of %s must hold IPv4 addresses (such as 192.0.2.10: a SendGrid sending IP of "
                                "the parent), got: %s." % (option_name(option), as_text(item))) from None
    return checked


MODULE_OPTIONS = [
    Option("username", "str", "The subuser's username, which identifies it.", required=True),
    Option("state", "str", [
        "V(present) creates the subuser when there is none of that username, and enables or disables it as "
        "O(@disabled) says.",
        "V(absent) deletes the subuser, with everything it holds (its settings, keys, teammates, statistics): only "
        "when O(@confirm_delete) repeats its username. Nothing can bring it back."],
        choices=["present", "absent"], default="present"),
    Option("email", "str", [
        "The subuser's e-mail address, needed to create it. SendGrid has no API to change it: when the subuser's "
        "differs, the task warns and leaves it."]),
    Option("password", "str", [
        "The password the subuser signs in with, needed to create it; give it from a vaulted variable.",
        "Write-only: sent when the subuser is created, and never read back, compared or shown (SendGrid gives no "
        "password back). Changing it here changes nothing for an existing subuser."], no_log=True),
    Option("ips", "list", [
        "The parent's sending IP addresses (IPv4) to assign to the subuser, needed to create it (V([]) assigns "
        "none). Used when creating only: the subuser list does not give them back to compare."], elements="str"),
    Option("subuser_region", "str", [
        "The region that holds the subuser's data, used when creating it (SendGrid's default, V(global), when left "
        "out). A subuser's region cannot change: an existing subuser in another region fails the task.",
        "Not O(region), which chooses the API host the parent's requests go to."], choices=["global", "eu"]),
    Option("disabled", "bool", [
        "Whether the subuser is disabled (cannot send or sign in). Changed with one "
        "C(PATCH /v3/subusers/{username}). Left out: V(false) when creating, unchanged otherwise."]),
    Option("confirm_delete", "str", [
        "The subuser's username again, to confirm O(@state=absent): deleting a subuser loses its data. Without it, "
        "or with another value, the task fails before any request."], no_log=False),
]


class SubusersFamily(Family):
    """The subusers as a family: a module of one subuser, no section of the policy (only a parent has subusers; the
    baseline discovers them)."""

    kind = "collection"
    module = "sendgrid_subuser"
    in_policy = False

    def __init__(self):
        super().__init__("subusers", "the subusers", "The parent's subusers, one by one.", [], MODULE_OPTIONS)

    def run_module(self) -> None:
        """The whole of sendgrid_subuser."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(on_behalf_of=False),
                                                    **self.module_argument_spec()), supports_check_mode=True)
        params = module.params
        username = (params["username"] or "").strip()
        try:
            ips = _check(params, username)
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        client = client_from_module(module)
        try:
            subuser = find(client, username)
            changes, after = _plan(module, subuser, params, username, ips)
            if changes and not module.check_mode:
                created_id = _write(client, subuser, changes, params, username, ips)
                if after is not None and subuser is None:
                    after["id"] = created_id
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)
        result = dict(changed=bool(changes), changes=changes, subuser=after)
        if module._diff:
            result["diff"] = dict(before=dict(subuser=_shown(subuser)), after=dict(subuser=after))
        module.exit_json(**result)


def _check(params: dict, username: str) -> list:
    """Refuse, before any request, what cannot be asked: no username, a deletion not confirmed, a bad address."""
    if not ACCOUNT_NAME.fullmatch(username) or username.startswith("account-id"):
        raise SendGridError("value of %s must be a subuser's username: 1 to 64 letters, digits and . _ @ + -, got: %s."
                            % (option_name("username"), as_text(params["username"])))
    if params["state"] == "absent" and (params["confirm_delete"] or "").strip() != username:
        given = "left out" if params["confirm_delete"] is None else as_text(params["confirm_delete"])
        raise SendGridError("Deleting the subuser %s loses everything it holds, and nothing can bring it back: set %s: %s "
                            "to confirm (it was %s)." % (username, option_name("confirm_delete"), username, given))
    if params["email"] is not None and not EMAIL.match(params["email"].strip()):
        raise SendGridError("value of %s must be an e-mail address, got: %s."
                            % (option_name("email"), as_text(params["email"])))
    if params["password"] is not None and not params["password"].strip():
        raise SendGridError("value of %s must not be empty." % option_name("password"))
    return check_ips(params["ips"], "ips")


def _plan(module, subuser, params: dict, username: str, ips: list) -> tuple:
    """(changes, the subuser after them) for the task: {"created"|"deleted"|"disabled"|"enabled": username}."""
    if params["state"] == "absent":
        return ({"deleted": username}, None) if subuser else ({}, None)
    if subuser is None:
        missing = [name for name in ("email", "password") if not params[name]] + (
            ["ips"] if params["ips"] is None else [])
        if missing:
            raise SendGridError("Creating the subuser %s needs %s (nothing was sent but its lookup)."
                                % (username, " and ".join(option_name(name) for name in missing)))
        changes = {"created": username}
        if params["disabled"]:
            changes["disabled"] = username
        return changes, dict(username=username, id=None, email=params["email"].strip(), disabled=bool(params["disabled"]),
                             region=params["subuser_region"] or "global")
    if params["subuser_region"] and params["subuser_region"] != subuser["region"]:
        raise SendGridError("The subuser %s is in the region %s, which cannot change: set %s: %s, or delete it and create "
                            "it again." % (username, subuser["region"], option_name("subuser_region"), subuser["region"]))
    if params["email"] and (subuser["email"] or "").lower() != params["email"].strip().lower():
        module.warn("The subuser %s has the e-mail address %s, not %s; SendGrid has no API to change it, so it was left."
                    % (username, subuser["email"], params["email"].strip()))
    changes = {}
    if params["disabled"] is not None and params["disabled"] != subuser["disabled"]:
        changes["disabled" if params["disabled"] else "enabled"] = username
    return changes, dict(_shown(subuser), disabled=subuser["disabled"] if params["disabled"] is None else params["disabled"])


def _write(client, subuser, changes: dict, params: dict, username: str, ips: list):
    """The writes the changes need; the new subuser's id (the create answer's user_id) when one was created."""
    path = "%s/%s" % (PATH, quote(username, safe=""))
    created_id = None
    if "deleted" in changes:
        client.request("DELETE", path, DELETE)
        return None
    if subuser is None:
        body = dict(username=username, email=params["email"].strip(), password=params["password"], ips=ips,
                    include_region=True)
        if params["subuser_region"]:
            body["region"] = params["subuser_region"]
        answer = client.request("POST", PATH, CREATE, body=body)
        created_id = answer.get("user_id") if isinstance(answer, dict) else None
    if "disabled" in changes or "enabled" in changes:
        try:
            client.request("PATCH", path, ENABLE, body=dict(disabled=bool(params["disabled"])))
        except SendGridError as exc:
            if subuser is None:
                raise SendGridError("%s. The subuser was created, enabled." % str(exc).rstrip("."), exc.status) from None
            raise
    return created_id


def _shown(subuser):
    return None if subuser is None else dict(subuser)


FAMILY = SubusersFamily()
