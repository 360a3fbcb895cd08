# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The sender identity families (collections, modules only): domain authentication (/v3/whitelabel/domains) and link
branding (/v3/whitelabel/links), one engine for both.

An item (a domain or a link) is known by its domain and subdomain, compared ignoring case. The engine reads the
account's items (every page), plans what differs (create, one PATCH of what PATCH may change, the domain's IPs and
subusers through their own endpoints, delete, or delete and create again when asked), writes it outside check mode,
and validates when asked: one POST .../validate, again every poll_interval until the item is valid or wait_timeout
is over. A valid item is not validated again: validation is idempotent that way, and the result's ``changed`` counts
it only when it made an invalid item valid (SendGrid stores the validity).

Each item's DNS records come back as ``dns_records``: [{name, type, host, data, valid}], type in capitals, names
absolute (a trailing dot) and an MX record's data with its priority, as DNS modules take them.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import ipaddress
import re
import time
from urllib.parse import quote

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, as_text, check_account_name, connection_argument_spec, option_name,
    sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import Family, Option, unexpected

SCOPE_READ, SCOPE_CREATE = "whitelabel.read", "whitelabel.create"
SCOPE_UPDATE, SCOPE_DELETE = "whitelabel.update", "whitelabel.delete"
# A domain name: two labels or more, the last one letters (what SendGrid authenticates and brands).
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)
# One or more DNS labels (em, news.mail).
LABELS = re.compile(r"^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
                    re.IGNORECASE)
# The spec: "Accepts three letters or numbers"; SendGrid takes 1 to 3.
SELECTOR = re.compile(r"^[A-Za-z0-9]{1,3}$")
DEFAULT_SELECTOR = "s1"     # the DKIM selector of a domain without a custom one
MX_PRIORITY = 10
# What changes need which scope: SendGrid's whitelabel permissions (create, delete; update for every other change,
# validation included, as it stores the validity).
CHANGE_SCOPES = {"created": [SCOPE_CREATE], "deleted": [SCOPE_DELETE], "recreated": [SCOPE_DELETE, SCOPE_CREATE]}


def _key(text) -> str:
    return (text or "").strip().rstrip(".").lower()


def _absolute(name: str) -> str:
    return name.rstrip(".") + "."


def dns_records(dns) -> list:
    """SendGrid's dns object ({key: {valid, type, host, data}}) as [{name, type, host, data, valid}], in its order."""
    records = []
    for name, record in (dns or {}).items():
        if not isinstance(record, dict):
            continue
        kind = str(record.get("type") or "").upper()
        data = str(record.get("data") or "")
        if kind in ("CNAME", "MX"):
            data = _absolute(data)
        if kind == "MX" and not re.match(r"^\d+\s", data):
            data = "%d %s" % (MX_PRIORITY, data)   # SendGrid gives the mail server only; DNS wants its priority
        records.append(dict(name=name, type=kind, host=_absolute(str(record.get("host") or "")), data=data,
                            valid=bool(record.get("valid"))))
    return records


def check_labels(value, option: str, pattern, what: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not pattern.match(text):
        raise SendGridError("value of %s must be %s, got: %s." % (option_name(option), what, as_text(value)))
    return text.lower()


def check_ips(ips, option: str = "ips") -> list:
    """IPv4 addresses (the spec's SPF IPs), refused before any request unless each is one; duplicates dropped."""
    checked = []
    for item in ips or []:
        try:
            address = str(ipaddress.IPv4Address(item.strip() if isinstance(item, str) else item))
        except (ipaddress.AddressValueError, ValueError, TypeError):
            raise SendGridError("value of %s must hold IPv4 addresses (such as 192.0.2.10), got: %s."
                                % (option_name(option), as_text(item))) from None
        if address not in checked:
            checked.append(address)
    return checked


def check_subusers(names, option: str = "subusers") -> list:
    """Subusers' usernames (an association is with a subuser, never with a customer account)."""
    checked = []
    for index, name in enumerate(names or []):
        text = as_text(name).strip()
        check_account_name("%s[%d]" % (option, index), text)
        if text.startswith("account-id"):
            raise SendGridError("value of %s must hold subusers' usernames; %s is a customer account, which SendGrid "
                                "does not associate." % (option_name(option), text))
        if text not in checked:
            checked.append(text)
    return checked


def _failed_records(results: dict) -> list:
    return ["%s (%s)" % (name, result.get("reason") or "invalid, no reason given")
            for name, result in results.items() if isinstance(result, dict) and not result.get("valid")]


# ----------------------------------------------------------------------------- the engine

def common_options(noun: str) -> dict:
    """The options both families have, in the words of one (\"the authenticated domain\")."""
    return {
        "state": Option("state", "str", [
            "V(present) makes %s exist as the options say; V(absent) deletes it." % noun],
            choices=["present", "absent"], default="present"),
        "default": Option("default", "bool", [
            "Whether it is the account's default (SendGrid takes the default from the account's other one). Changed "
            "with the C(PATCH); left out, SendGrid's default when creating, unchanged otherwise."]),
        "validate": Option("validate", "bool", [
            "Make sure SendGrid holds %s valid: when it is not, C(POST .../validate) asks SendGrid to look its DNS "
            "records up, again every O(@poll_interval) seconds until it is valid or O(@wait_timeout) is over. A valid "
            "one is not validated again." % noun,
            "When it is still invalid, the task fails naming each invalid record with SendGrid's reason.",
            "In check mode nothing is validated: the task says it would change when it is not valid.",
            "Validation writes no configuration; the task counts it as a change only when it made an invalid one "
            "valid."], default=False),
        "wait_timeout": Option("wait_timeout", "int", [
            "With O(@validate=true), how many seconds to keep validating while the records are not yet visible (DNS "
            "takes time to propagate); V(0), one attempt. Zero or more."], default=0),
        "poll_interval": Option("poll_interval", "int", [
            "Seconds between two validations while O(@wait_timeout) lasts. One or more."], default=10),
    }


class WhitelabelFamily(Family):
    """The engine of both families: a subclass declares its path, its words and its differences."""

    kind = "collection"
    in_policy = False
    path = None
    noun = None                 # "authenticated domain"
    result = None               # the result key of the item ("domain", "link")
    patchable = ("default",)    # what PATCH can change
    # the connection's region as the item's API names it in a creation
    create_region = {"global": "global", "eu": "eu"}
    sleep = staticmethod(time.sleep)
    clock = staticmethod(time.monotonic)

    def __init__(self, name: str, title: str, summary: str, module_options: list):
        super().__init__(name, title, summary, [], module_options)
        self.ops = dict(
            list=Operation("Listing the %ss" % self.noun, SCOPE_READ),
            create=Operation("Creating the %s" % self.noun, SCOPE_CREATE, creates=True),
            update=Operation("Updating the %s" % self.noun, SCOPE_UPDATE),
            delete=Operation("Deleting the %s" % self.noun, SCOPE_DELETE),
            validate=Operation("Validating the %s" % self.noun, SCOPE_UPDATE),
            subuser=Operation("Associating the %s with a subuser" % self.noun, SCOPE_UPDATE),
            read_subuser=Operation("Reading a subuser's %s" % self.noun, SCOPE_READ),
        )

    # --------------------------------------------------------------- checks

    def check(self, values: dict, where: str = "") -> list:
        self.checked(values, where)
        return []

    def checked(self, values: dict, where: str = "") -> dict:
        """Refuse, before any request, every value of the wrong shape; return the values checked (normalised)."""
        checked = dict(values)
        checked["domain"] = check_labels(values["domain"], where + "domain", DOMAIN,
                                         "a domain name such as example.com")
        checked["subdomain"] = check_labels(values["subdomain"], where + "subdomain", LABELS,
                                            "DNS labels such as %s (letters, digits and hyphens)" % self.example_subdomain)
        if values.get("wait_timeout") is not None and values["wait_timeout"] < 0:
            raise SendGridError("value of %s must be zero or more seconds, got: %s."
                                % (option_name(where + "wait_timeout"), values["wait_timeout"]))
        if values.get("poll_interval") is not None and values["poll_interval"] < 1:
            raise SendGridError("value of %s must be one second or more, got: %s."
                                % (option_name(where + "poll_interval"), values["poll_interval"]))
        if values.get("subusers") is not None:
            checked["subusers"] = check_subusers(values["subusers"], where + "subusers")
            if values.get("on_behalf_of"):
                raise SendGridError("%s associates the parent's %s with its subusers: leave %s out when %s is set (an "
                                    "association is made from the parent only)."
                                    % (option_name(where + "subusers"), self.noun, option_name(where + "subusers"),
                                       option_name("on_behalf_of")))
        return checked

    # --------------------------------------------------------------- reading

    def read_all(self, account, domain: str | None = None) -> list:
        """The account's items (``domain`` may narrow the search; the answer is matched exactly anyway)."""
        raise NotImplementedError

    def find(self, account, domain: str, subdomain: str):
        """The account's item of that domain and subdomain, None when there is none."""
        found = [item for item in self.read_all(account, domain)
                 if _key(item.get("domain")) == domain and _key(item.get("subdomain")) == subdomain]
        if len(found) > 1:
            raise SendGridError("SendGrid lists %d %ss of %s.%s (ids %s): delete the extra ones, then run again."
                                % (len(found), self.noun, subdomain, domain, ", ".join(str(i["id"]) for i in found)))
        return found[0] if found else None

    def _item(self, answer, what: str) -> dict:
        """An answer holding one item (a PATCH of a domain answers it in a list)."""
        if isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
            raise SendGridError("SendGrid answered %s with %r where the %s was expected." % (what, answer, self.noun))
        return answer

    # --------------------------------------------------------------- hooks of the subclasses

    def shown(self, item: dict | None):
        """The item as the result and the diff show it (no records)."""
        raise NotImplementedError

    def create_body(self, params: dict, current: dict | None) -> dict:
        raise NotImplementedError

    def fixed_differences(self, params: dict, current: dict) -> list:
        """[(option, current, wanted)] that PATCH cannot make."""
        return []

    def more_steps(self, params: dict, current: dict | None) -> list:
        """Steps beyond the PATCH (a domain's IPs): [(action, value)]."""
        return []

    def subuser_steps(self, account, params: dict, current: dict | None) -> list:
        return []

    def recreate_steps(self, params: dict, current: dict) -> list:
        """The steps after the item is made again (its associations, unless given)."""
        return []

    def new_item(self, params: dict, current: dict | None) -> dict:
        """The item check mode shows for one it would create (no id, no records yet)."""
        return dict(self.create_body(params, current), id=None, valid=False, dns={}, default=bool(params.get("default")))

    def write_step(self, account, item_id: int, action: str, value) -> None:
        raise NotImplementedError

    def predicted(self, current: dict | None, params: dict, patch: dict, steps: list) -> dict:
        raise NotImplementedError

    # --------------------------------------------------------------- planning and writing

    def plan(self, account, params: dict, current: dict | None) -> dict:
        """What the task does: {create, recreate, delete, patch, steps}; refuses what cannot be done."""
        plan = dict(create=False, recreate=False, delete=False, patch={}, steps=[])
        if params["state"] == "absent":
            plan["delete"] = current is not None
            return plan
        if current is None:
            self.refuse_create(params)
            plan["create"] = True
            plan["steps"] = self.subuser_steps(account, params, None)
            return plan
        fixed = self.fixed_differences(params, current)
        if fixed and not params.get("recreate"):
            raise SendGridError("The %s %s.%s (id %s) has %s: SendGrid cannot change %s of an existing %s. Set %s: true "
                                "to delete it and create it again (its DNS records may change and it must be validated "
                                "again), or give the value it has. Nothing was changed."
                                % (self.noun, current["subdomain"], current["domain"], current["id"],
                                   "; ".join("%s %s, not %s" % (option_name(option), as_text(have), as_text(want))
                                             for option, have, want in fixed),
                                   " or ".join(option_name(option) for option, dummy, dummy2 in fixed), self.noun,
                                   option_name("recreate")))
        if fixed:
            plan["recreate"] = True
            plan["steps"] = self.recreate_steps(params, current)
            return plan
        self.refuse_patch(params, current)
        plan["patch"] = {name: params[name] for name in self.patchable
                         if params.get(name) is not None and params[name] != current.get(name)}
        plan["steps"] = self.more_steps(params, current) + self.subuser_steps(account, params, current)
        return plan

    def refuse_patch(self, params: dict, current: dict) -> None:
        """Refuse, before any write, a PATCH SendGrid would refuse."""

    def refuse_create(self, params: dict) -> None:
        """Refuse, before any write, a creation SendGrid would refuse."""

    def write(self, account, params: dict, current: dict | None, plan: dict, done: list):
        """Carry the plan out; the item after it (None when deleted). ``done`` collects what was written."""
        item_path = None if current is None else "%s/%d" % (self.path, current["id"])
        if plan["delete"] or plan["recreate"]:
            account.request("DELETE", item_path, self.ops["delete"])
            done.append(("deleted", current["id"]))
            if plan["delete"]:
                return None
        if plan["create"] or plan["recreate"]:
            try:
                answer = account.request("POST", self.path, self.ops["create"],
                                         body=self.create_body(params, current if plan["recreate"] else None))
            except SendGridError as exc:
                if plan["recreate"]:
                    raise SendGridError("%s. The %s %s.%s (id %s) was deleted before: run the task again to create it."
                                        % (str(exc).rstrip("."), self.noun, current["subdomain"], current["domain"],
                                           current["id"]), exc.status) from None
                raise
            done.append(("recreated" if plan["recreate"] else "created", self._item(answer, "the creation")["id"]))
            current = self._item(answer, "the creation")
        if plan["patch"]:
            answer = account.request("PATCH", "%s/%d" % (self.path, current["id"]), self.ops["update"],
                                     body=dict(plan["patch"]))
            current = dict(current, **self._item(answer, "the update"))
            done.append(("updated", dict(plan["patch"])))
        for action, value in plan["steps"]:
            self.write_step(account, current["id"], action, value)
            done.append((action, value))
        return current

    def validate(self, account, item: dict, params: dict) -> dict:
        """Validate until valid or wait_timeout is over: {valid, attempts, results}."""
        deadline = self.clock() + params["wait_timeout"]
        attempts = 0
        while True:
            attempts += 1
            answer = account.request("POST", "%s/%d/validate" % (self.path, item["id"]), self.ops["validate"])
            results = answer.get("validation_results") if isinstance(answer, dict) else None
            if not isinstance(results, dict):
                raise SendGridError("SendGrid answered the validation with %r where validation_results were expected."
                                    % (answer,))
            valid = bool(answer.get("valid")) and not _failed_records(results)
            if valid or self.clock() + params["poll_interval"] > deadline:
                return dict(valid=valid, attempts=attempts, results={
                    name: dict(valid=bool(result.get("valid")), reason=result.get("reason"))
                    for name, result in results.items() if isinstance(result, dict)})
            self.sleep(params["poll_interval"])

    # --------------------------------------------------------------- the module

    def run_module(self) -> None:
        """The whole of the family's module."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.module_argument_spec()),
                                 supports_check_mode=True)
        try:
            params = self.checked(module.params)
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        account = account_from_module(module)
        done, records, validation, made_valid, current, after = [], [], None, False, None, None
        plan = dict(create=False, recreate=False, delete=False, patch={}, steps=[])
        try:
            current = self.find(account, params["domain"], params["subdomain"])
            plan = self.plan(account, params, current)
            if module.check_mode:
                if plan["create"] or plan["recreate"]:
                    after = self.new_item(params, current)
                elif current is None or plan["delete"]:
                    after = None
                else:
                    after = self.predicted(current, params, plan["patch"], plan["steps"])
            else:
                after = self.write(account, params, current, plan, done)
                if after is not None and (plan["steps"] or plan["recreate"] or plan["create"]):
                    # what the writes left, associations included (the create's answer has none)
                    after = self.find(account, params["domain"], params["subdomain"]) or after
            records = [] if after is None else dns_records(after.get("dns"))
            if params["state"] == "present" and params["validate"] and not after.get("valid"):
                if module.check_mode:
                    made_valid = True
                else:
                    validation = self.validate(account, after, params)
                    made_valid = validation["valid"]
                    states = {name: result["valid"] for name, result in validation["results"].items()}
                    records = [dict(record, valid=states.get(record["name"], record["valid"])) for record in records]
                    after = dict(after, valid=validation["valid"])
                    if not validation["valid"]:
                        raise SendGridError(self.invalid_message(params, validation))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            exc = unexpected(account, exc)   # a message, never a traceback (with the key masked)
            msg, extra = str(exc), {}
            if done:
                # the play recap does not count a failed task's changes: the message and the result say them
                extra = dict(changed=True, changes=changes_of(done), dns_records=records)
                msg = "%s Written before: %s." % (msg, ", ".join(
                    "%s %s" % (change, as_text(value)) for change, value in changes_of(done).items()))
            if validation is not None:
                extra["validation"] = validation
            module.fail_json(msg=msg, status=exc.status, **extra)
        changes = planned_changes(current, plan) if module.check_mode else changes_of(done)
        if made_valid:
            changes["validated"] = True
        result = {"changed": bool(changes), "changes": changes, self.result: self.shown(after),
                  "dns_records": records, "recreated": plan["recreate"], "validation": validation}
        if module._diff:
            result["diff"] = dict(before={self.result: self.shown(current)}, after={self.result: self.shown(after)})
            if plan["recreate"]:
                # the same domain and subdomain, another id: the diff says why
                result["diff"]["before"]["recreated"], result["diff"]["after"]["recreated"] = False, True
        module.exit_json(**result)

    def invalid_message(self, params: dict, validation: dict) -> str:
        attempts = validation["attempts"]
        return ("The %s %s.%s is not valid after %d validation%s%s: %s. Publish each record of dns_records as it is, "
                "then run again (DNS may take time to propagate: raise %s to keep validating)."
                % (self.noun, params["subdomain"], params["domain"], attempts, "" if attempts == 1 else "s",
                   " over %s seconds" % params["wait_timeout"] if params["wait_timeout"] else "",
                   "; ".join(_failed_records(validation["results"])), option_name("wait_timeout")))

    def run_info_module(self) -> None:
        """The whole of the family's info module: every item of the account, with its records."""
        module = sendgrid_module(argument_spec=connection_argument_spec(), supports_check_mode=True)
        account = account_from_module(module)
        try:
            items = self.read_all(account)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)
        module.exit_json(changed=False, **{self.result + "s": [
            dict(self.shown(item), dns_records=dns_records(item.get("dns"))) for item in items]})

    # --------------------------------------------------------------- the family contract

    def write_scopes(self, key: str, outcome: dict) -> list:
        scopes = set()
        for change in outcome.get("changes") or {}:
            scopes.update(CHANGE_SCOPES.get(change, [SCOPE_UPDATE]))
        return sorted(scopes)

    def describe(self, key: str, outcome: dict, cell) -> str:
        return "; ".join("%s %s" % (change, cell(as_text(value))) for change, value in (outcome.get("changes") or {}).items())


def changes_of(done: list) -> dict:
    """{change: value} of the writes made: created, recreated, deleted (the id), updated (the fields), and the lists
    of the other steps (ips_added, subusers_removed...)."""
    changes = {}
    for action, value in done:
        if action in ("created", "recreated", "deleted", "updated"):
            changes[action] = value
        else:
            changes.setdefault(action, []).append(value)
    if "recreated" in changes:
        changes.pop("deleted", None)   # the deletion is part of making it again
    return changes


def planned_changes(current: dict | None, plan: dict) -> dict:
    """What check mode would write, in the words of changes_of()."""
    changes = {}
    if plan["delete"]:
        changes["deleted"] = current["id"]
    if plan["create"]:
        changes["created"] = None
    if plan["recreate"]:
        changes["recreated"] = None
    if plan["patch"]:
        changes["updated"] = dict(plan["patch"])
    for action, value in plan["steps"]:
        changes.setdefault(action, []).append(value)
    return changes


# ----------------------------------------------------------------------------- domain authentication

DOMAINS_PATH = "/v3/whitelabel/domains"
PAGE_SIZE = 500

DOMAIN_COMMON = common_options("the authenticated domain")
DOMAIN_OPTIONS = [
    Option("domain", "str", "The domain to authenticate, such as V(example.com) (compared ignoring case).",
           required=True),
    Option("subdomain", "str", [
        "The subdomain SendGrid sends from (the return path), such as V(em): with O(@domain), what identifies the "
        "authenticated domain (compared ignoring case). DNS labels: letters, digits and hyphens."], required=True),
    DOMAIN_COMMON["state"],
    Option("automatic_security", "bool", [
        "Whether SendGrid manages the SPF and DKIM records (CNAME records to SendGrid) rather than the account "
        "(MX and TXT records). Left out, SendGrid's default (V(true)) when creating.",
        "PATCH cannot change it: a domain that has the other value fails the task, naming the option, unless "
        "O(@recreate=true)."]),
    Option("custom_spf", "bool", [
        "Whether SendGrid makes a custom SPF record of the domain's O(@ips); only for O(@automatic_security=false) "
        "(manual security). Changed with the C(PATCH)."]),
    Option("custom_dkim_selector", "str", [
        "A DKIM selector of 1 to 3 letters or digits (V(s1) is SendGrid's own), used in the DKIM records' names.",
        "PATCH cannot change it: a domain with another selector fails the task, naming the option, unless "
        "O(@recreate=true)."]),
    Option("ips", "list", [
        "The IPv4 addresses of the domain's custom SPF record, compared as a set: each missing one added with "
        "C(POST .../ips), each other one removed with C(DELETE .../ips/{ip}). Left out, left alone."],
        elements="str"),
    DOMAIN_COMMON["default"],
    Option("subusers", "list", [
        "The subusers the parent's domain is associated with, compared as a set: each missing one added with "
        "C(POST .../subuser:add), each other one taken back with C(DELETE .../subuser?username=). A subuser may "
        "hold five associated domains. V([]) takes every association back; left out, left alone.",
        "Only for the parent's own domains: fails before any request with O(on_behalf_of)."], elements="str"),
    Option("recreate", "bool", [
        "When the domain differs in what PATCH cannot change (O(@automatic_security), O(@custom_dkim_selector)), "
        "delete it and create it again as the options say (O(@ips), O(@default), O(@custom_spf) and the "
        "associations kept unless given). The result says so in C(recreated) and the diff. Its records may change: "
        "publish them and validate again."], default=False),
    DOMAIN_COMMON["validate"],
    DOMAIN_COMMON["wait_timeout"],
    DOMAIN_COMMON["poll_interval"],
]


class DomainAuthenticationFamily(WhitelabelFamily):
    """Authenticated domains: a PATCH of default and custom_spf, IPs and subusers through their own endpoints."""

    module = "sendgrid_domain_authentication"
    path = DOMAINS_PATH
    noun = "authenticated domain"
    result = "domain"
    example_subdomain = "em"
    patchable = ("default", "custom_spf")

    def __init__(self):
        super().__init__("domain_authentication", "the authenticated domains",
                         "The account's authenticated domains, one by one.", DOMAIN_OPTIONS)
        self.ops["ips"] = Operation("Changing the authenticated domain's IPs", SCOPE_UPDATE)

    def checked(self, values: dict, where: str = "") -> dict:
        checked = super().checked(values, where)
        if values.get("custom_dkim_selector") is not None:
            selector = values["custom_dkim_selector"]
            if not isinstance(selector, str) or not SELECTOR.match(selector.strip()):
                raise SendGridError("value of %s must be 1 to 3 letters or digits (such as abc), got: %s."
                                    % (option_name(where + "custom_dkim_selector"), as_text(selector)))
            checked["custom_dkim_selector"] = selector.strip()
        if values.get("ips") is not None:
            checked["ips"] = check_ips(values["ips"], where + "ips")
        if values.get("custom_spf") and values.get("automatic_security"):
            raise SendGridError("%s: true needs %s: false: SendGrid makes a custom SPF record only for manual security."
                                % (option_name(where + "custom_spf"), option_name(where + "automatic_security")))
        return checked

    def read_all(self, account, domain: str | None = None) -> list:
        """The account's own domains (not its subusers': exclude_subusers), every page until an empty one (a short
        page proves nothing: the spec documents no page size)."""
        items = []
        while True:
            params = dict(limit=PAGE_SIZE, offset=len(items), exclude_subusers="true")
            if domain:
                params["domain"] = domain   # a search: the answer is matched exactly
            page = account.request("GET", self.path, self.ops["list"], params=params)
            if not isinstance(page, list):
                raise SendGridError("SendGrid answered the list of authenticated domains with %r where a list was "
                                    "expected." % (page,))
            if not page:
                return items
            for item in page:
                if not isinstance(item, dict) or not isinstance(item.get("id"), int) or not item.get("domain"):
                    raise SendGridError("SendGrid listed an authenticated domain without an id or a domain: %r." % (item,))
            items += page

    @staticmethod
    def selector(item: dict) -> str:
        """The domain's DKIM selector, from its DKIM record's name (the answer does not give it)."""
        if item.get("custom_dkim_selector"):
            return item["custom_dkim_selector"].lower()   # a domain check mode would create
        for name in ("dkim1", "dkim"):
            host = ((item.get("dns") or {}).get(name) or {}).get("host") or ""
            if "._domainkey." in host:
                return host.split("._domainkey.", 1)[0].lower()
        return DEFAULT_SELECTOR

    def shown(self, item):
        if item is None:
            return None
        subusers = item.get("subusers")
        return dict(id=item.get("id"), domain=item.get("domain"), subdomain=item.get("subdomain"),
                    username=item.get("username"), automatic_security=item.get("automatic_security"),
                    custom_spf=item.get("custom_spf"), custom_dkim_selector=self.selector(item),
                    default=item.get("default"), ips=sorted(item.get("ips") or []), valid=bool(item.get("valid")),
                    subusers=sorted(_usernames(subusers)) if subusers is not None else [])

    def fixed_differences(self, params, current):
        fixed = []
        if params.get("automatic_security") is not None and params["automatic_security"] != current.get(
                "automatic_security"):
            fixed.append(("automatic_security", current.get("automatic_security"), params["automatic_security"]))
        selector = params.get("custom_dkim_selector")
        if selector is not None and selector.lower() != self.selector(current):
            fixed.append(("custom_dkim_selector", self.selector(current), selector))
        return fixed

    def refuse_patch(self, params, current):
        if params.get("custom_spf") and current.get("automatic_security"):
            raise SendGridError("%s: true needs a domain of manual security, and %s.%s has automatic_security true: "
                                "set %s: false with %s: true, or leave %s out. Nothing was changed."
                                % (option_name("custom_spf"), current["subdomain"], current["domain"],
                                   option_name("automatic_security"), option_name("recreate"),
                                   option_name("custom_spf")))

    def refuse_create(self, params):
        if params.get("custom_spf") and params.get("automatic_security") is not False:
            raise SendGridError("%s: true needs %s: false (manual security), which SendGrid does not take by default: "
                                "set it to create %s.%s. Nothing was changed."
                                % (option_name("custom_spf"), option_name("automatic_security"), params["subdomain"],
                                   params["domain"]))

    def create_body(self, params, current):
        """The POST: the options given (and, when recreating, what the domain had for the others)."""
        body = dict(domain=params["domain"], subdomain=params["subdomain"])
        kept = {} if current is None else dict(
            automatic_security=current.get("automatic_security"), custom_spf=current.get("custom_spf"),
            default=current.get("default"), ips=list(current.get("ips") or []),
            custom_dkim_selector=None if self.selector(current) == DEFAULT_SELECTOR else self.selector(current))
        for name in ("automatic_security", "custom_spf", "custom_dkim_selector", "ips", "default"):
            value = params.get(name) if params.get(name) is not None else kept.get(name)
            # a kept custom SPF goes only with manual security (a given one was checked: refuse_create, checked())
            if value is not None and not (name == "custom_spf" and value and body.get("automatic_security", True)):
                body[name] = value
        body["region"] = self.create_region[params["region"]]
        return body

    def more_steps(self, params, current):
        if params.get("ips") is None:
            return []
        have = list(current.get("ips") or [])
        return [("ips_added", ip) for ip in params["ips"] if ip not in have] + [
            ("ips_removed", ip) for ip in have if ip not in params["ips"]]

    def subuser_steps(self, account, params, current):
        wanted = params.get("subusers")
        if current is not None and wanted is None:
            return []
        have = _usernames(current.get("subusers")) if current is not None else []
        if wanted is None:
            wanted = have   # a recreated domain keeps its associations
        return [("subusers_added", name) for name in wanted if name not in have] + [
            ("subusers_removed", name) for name in have if name not in wanted]

    def recreate_steps(self, params, current):
        wanted = params["subusers"] if params.get("subusers") is not None else _usernames(current.get("subusers"))
        return [("subusers_added", name) for name in wanted]

    def new_item(self, params, current):
        item = super().new_item(params, current)
        item.setdefault("automatic_security", True)
        item.setdefault("custom_spf", False)
        item["default"] = bool(item.get("default"))
        steps = self.recreate_steps(params, current) if current else [
            ("subusers_added", name) for name in params.get("subusers") or []]
        item["subusers"] = [value for dummy, value in steps]
        return item

    def write_step(self, account, item_id, action, value):
        base = "%s/%d" % (self.path, item_id)
        if action == "ips_added":
            account.request("POST", base + "/ips", self.ops["ips"], body=dict(ip=value))
        elif action == "ips_removed":
            account.request("DELETE", "%s/ips/%s" % (base, quote(value, safe="")), self.ops["ips"])
        elif action == "subusers_added":
            account.request("POST", base + "/subuser:add", self.ops["subuser"], body=dict(username=value))
        else:
            account.request("DELETE", base + "/subuser", self.ops["subuser"], params=dict(username=value))

    def predicted(self, current, params, patch, steps):
        after = dict(current, **patch)
        ips = list(current.get("ips") or [])
        subusers = _usernames(current.get("subusers"))
        for action, value in steps:
            if action == "ips_added":
                ips.append(value)
            elif action == "ips_removed":
                ips.remove(value)
            elif action == "subusers_added":
                subusers.append(value)
            else:
                subusers.remove(value)
        after.update(ips=ips, subusers=subusers)
        return after


def _usernames(subusers) -> list:
    """The usernames of a domain's subusers ([{user_id, username}] as listed, or names)."""
    return [item.get("username") if isinstance(item, dict) else item for item in subusers or []]


# ----------------------------------------------------------------------------- link branding

LINKS_PATH = "/v3/whitelabel/links"
# The list takes a limit and no offset: an account holds at most 3000 branded links (the domain authentication
# spec's introduction), so one page of 3000 is every link.
LINKS_LIMIT = 3000

LINK_COMMON = common_options("the branded link")
LINK_OPTIONS = [
    Option("domain", "str", "The root domain of the branded links, such as V(example.com) (compared ignoring case).",
           required=True),
    Option("subdomain", "str", [
        "The subdomain the links go through, such as V(links): with O(@domain), what identifies the branded link "
        "(compared ignoring case). It must differ from the subdomain of the domain's authentication."], required=True),
    LINK_COMMON["state"],
    LINK_COMMON["default"],
    Option("subusers", "list", [
        "Subusers that must use this branded link of the parent: each whose link (C(GET .../links/subuser)) is another "
        "or none gets this one (C(POST .../{link_id}/subuser), which replaces the one it had). A subuser has one "
        "branded link; SendGrid lists no link's subusers, so a subuser not listed is left as it is.",
        "Only for the parent's own links: fails before any request with O(on_behalf_of)."], elements="str"),
    LINK_COMMON["validate"],
    LINK_COMMON["wait_timeout"],
    LINK_COMMON["poll_interval"],
]


class LinkBrandingFamily(WhitelabelFamily):
    """Branded links: a PATCH of default, each listed subuser's link through the subuser endpoints."""

    module = "sendgrid_link_branding"
    path = LINKS_PATH
    noun = "branded link"
    result = "link"
    example_subdomain = "links"
    # the link spec's regions: us (SendGrid's global region) and eu
    create_region = {"global": "us", "eu": "eu"}

    def __init__(self):
        super().__init__("link_branding", "the branded links", "The account's branded links, one by one.",
                         LINK_OPTIONS)

    def read_all(self, account, domain: str | None = None) -> list:
        items = account.request("GET", self.path, self.ops["list"], params=dict(limit=LINKS_LIMIT))
        if not isinstance(items, list) or not all(isinstance(item, dict) and isinstance(item.get("id"), int)
                                                  for item in items):
            raise SendGridError("SendGrid answered the list of branded links with %r where a list of links was "
                                "expected." % (items,))
        return items

    def shown(self, item):
        if item is None:
            return None
        return dict(id=item.get("id"), domain=item.get("domain"), subdomain=item.get("subdomain"),
                    username=item.get("username"), default=item.get("default"), valid=bool(item.get("valid")),
                    legacy=item.get("legacy"))

    def create_body(self, params, current):
        body = dict(domain=params["domain"], subdomain=params["subdomain"])
        if params.get("default") is not None:
            body["default"] = params["default"]
        body["region"] = self.create_region[params["region"]]
        return body

    def subuser_steps(self, account, params, current):
        steps = []
        for name in params.get("subusers") or []:
            held = None
            if current is None:
                steps.append(("subusers_added", name))   # a new link: no subuser has it yet
                continue
            try:
                held = account.request("GET", self.path + "/subuser", self.ops["read_subuser"],
                                       params=dict(username=name))
            except SendGridError as exc:
                if exc.status != 404:   # 404: the subuser has no branded link
                    raise
            if not isinstance(held, dict) or held.get("id") != current["id"]:
                steps.append(("subusers_added", name))
        return steps

    def write_step(self, account, item_id, action, value):
        account.request("POST", "%s/%d/subuser" % (self.path, item_id), self.ops["subuser"], body=dict(username=value))

    def predicted(self, current, params, patch, steps):
        return dict(current, **patch)


DOMAIN_FAMILY = DomainAuthenticationFamily()
LINK_FAMILY = LinkBrandingFamily()
