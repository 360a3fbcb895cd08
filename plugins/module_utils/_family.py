# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The family contract: what each family of an account's configuration declares once, and what the single-account
modules, the baseline, the roles, the report and the generated documentation take from it.

A family is one part of an account's configuration, of one of three kinds:

- settings: objects SendGrid keeps per account, read with GET and changed with a partial PATCH (Enforced TLS, the
  tracking and the mail settings; _settings.SettingsFamily);
- collection: items the account holds, added and removed (the IP allow list's entries, the teammates, the
  subusers);
- audit: flagging what goes beyond a policy, and cutting it when asked (the API keys).

Each is registered once, in _families.REGISTRY, whose order is the order of the policy's sections, of the results and
of the report. Neither the baseline nor the report nor the drift gate names a family: they loop over the registry.
CONTRIBUTING.md shows how one task flows through a family and what adding one takes.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import SendGridError

# A family's outcome for one of its result keys (a setting, the allow list, the key audit) has a status: compliant,
# changed, would_change (check mode), failed (with msg) or flagged (an audit found items beyond the policy).
COMPLIANT, CHANGED, WOULD_CHANGE, FAILED, FLAGGED = "compliant", "changed", "would_change", "failed", "flagged"
DRIFT = (CHANGED, WOULD_CHANGE, FLAGGED)
NO_DEFAULT = object()


class _Any:
    """An exported field that any value fits (an audit of an account with nothing to audit): it asks for no value."""

    def __repr__(self):
        return "ANY"


ANY = _Any()


def status(changed: bool, check_mode: bool) -> str:
    return (WOULD_CHANGE if check_mode else CHANGED) if changed else COMPLIANT


def failure(msg: str, **fields) -> dict:
    """The outcome of a result key that failed: nothing known changed, the reason."""
    return dict(dict(fields), status=FAILED, msg=msg)


class Option:
    """One option, documented once: its argument spec and its documentation come from here.

    ``description`` is a list of paragraphs in Ansible's documentation markup. Inside it, ``O(@name)`` names another
    option of the same family: the documentation generator writes it as that option's place in each document
    (O(name) in the family's own module, O(section.name) in the baseline's section, C(name) in a role's variable).
    """

    def __init__(self, name: str, type: str = "str", description=(), elements: str | None = None,  # noqa: A002
                 choices: list | None = None, default=NO_DEFAULT, no_log: bool | None = None, aliases=(),
                 suboptions: list | None = None, required: bool = False, version_added: str | None = None):
        self.name = name
        self.type = type
        self.description = [description] if isinstance(description, str) else list(description)
        self.elements = elements
        self.choices = choices
        self.default = default
        self.no_log = no_log
        self.aliases = list(aliases)
        self.suboptions = suboptions
        self.required = required
        self.version_added = version_added

    def argument_spec(self) -> dict:
        """The option's entry in an AnsibleModule argument spec."""
        spec = dict(type=self.type)
        for key in ("elements", "choices", "no_log"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        if self.default is not NO_DEFAULT:
            spec["default"] = self.default
        if self.aliases:
            spec["aliases"] = list(self.aliases)
        if self.required:
            spec["required"] = True
        if self.suboptions is not None:
            spec["options"] = argument_spec(self.suboptions)
        return spec

    def documentation(self, reference) -> dict:
        """The option's entry in a DOCUMENTATION block (scripts/generate.py); ``reference(name)`` writes
        O(@name) (name may carry a value: O(@state=present))."""
        description = [_references(text, reference) for text in self.description]
        doc = dict(description=description[0] if len(description) == 1 else description)
        for key in ("type", "elements", "choices"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        if self.required:
            doc["required"] = True
        if self.default is not NO_DEFAULT:
            doc["default"] = self.default
        if self.aliases:
            doc["aliases"] = list(self.aliases)
        if self.version_added:
            doc["version_added"] = self.version_added
        if self.suboptions is not None:
            doc["suboptions"] = documentation(self.suboptions, reference)
        return doc


def _references(text: str, reference) -> str:
    while "O(@" in text:
        start = text.index("O(@")
        end = text.index(")", start)
        text = text[:start] + reference(text[start + 3:end]) + text[end + 1:]
    return text


def argument_spec(options: list) -> dict:
    return {option.name: option.argument_spec() for option in options}


def documentation(options: list, reference) -> dict:
    return {option.name: option.documentation(reference) for option in options}


class Family:
    """The contract. A family declares:

    name, title        its section in the policy and the role's variable (baseline_<name>); its words in messages
    kind               settings, collection or audit (see above)
    summary            one paragraph for the baseline's section and the role's variable (documentation)
    options            [Option]: the section's fields, documented once
    module_options     [Option]: its own module's, when they differ from the section's (a module of one item)
    module             the single-account module that manages it (documentation links to it)
    runs_last          its change may end this machine's access: the baseline applies it after every other family
    flags              an audit: what it flags, in words ("API key")
    in_policy          whether it is a section of the baseline's policy (False: a module only, such as the subusers,
                       which only a parent has)

    and implements, for one account:

    check(values, where)                 refuse before any request (SendGridError naming the option's path);
                                         return warnings, each naming its path (where + the option)
    apply(account, values, check_mode)   read with the fewest requests, compare, write what differs (not in check
                                         mode); {result key: outcome}, each outcome with a status (see above) and,
                                         for an audit, its ``flagged`` items (a family may change and flag at once).
                                         A failure of one result key is that key's outcome (status failed, msg),
                                         never an exception
    keys(values)                         its result keys, in order (a settings family has one per setting given)
    write_scopes(key, outcome)           the scopes writing that outcome's changes needs (a plan checks them)
    describe(key, outcome, cell)         what changed, would change or was flagged, in one report cell (cell()
                                         writes a value so that it cannot break the table)
    explain(item)                        an audit's flagged item, and why, in words (messages, the drift gate)
    label(item)                          a flagged item in a list of them (the drift, the gate): its name, unless
                                         names may be shared (an API key: "ci (id k1)")
    named(outcome)                       the items the drift names for an outcome: its flagged items' labels, and
                                         those of what it changes when that is items too (an audit that enforces)
    export(account)                      the section that describes the account as it is (applied, it changes and
                                         flags nothing): every option read back, ANY where any value fits (an audit
                                         of nothing); a policy family must implement it (sendgrid_baseline_export)
    export_warnings(section)             what an exported section allows that a reviewer must know (an allow list
                                         open to every address, which the export must allow to be in sync)
    export_note                          what its export leaves out and why (a secret SendGrid never shows), or
                                         None: a comment at the top of the exported file
    export_in_parts                      whether the export may leave out one of its fields (False: its fields
                                         only mean something together, such as the entries a purge keeps)

    An outcome may carry ``warnings``, whole sentences naming the account, which the baseline gives and takes out of
    the result.

    Families that share a ``batch`` (the settings engine) are applied together, so that an account's settings are all
    read before any is written, in fewer requests.
    """

    kind = "settings"
    runs_last = False
    batch = None
    module = None
    section_no_log = None   # the no_log of the section's dict option, when its name would draw the sanity test
    flags = None            # an audit: what it flags, in words ("API key"), for messages and reports
    in_policy = True        # a section of the baseline's policy
    export_note = None      # what the export leaves out, and why
    export_in_parts = True  # whether leave_out may name one of its fields

    def __init__(self, name: str, title: str, summary: str, options: list, module_options: list | None = None):
        self.name = name
        self.title = title
        self.summary = summary
        self.options = options
        # the options of the family's own module, when they are not the section's (one teammate, not the team)
        self.module_options = options if module_options is None else module_options

    # --------------------------------------------------------------- declared once, used everywhere

    def argument_spec(self) -> dict:
        """The section's suboptions (the baseline), or the family module's own options."""
        return argument_spec(self.options)

    def module_argument_spec(self) -> dict:
        """The options of the family's own module (connection options aside)."""
        return argument_spec(self.module_options)

    def managed(self, values) -> bool:
        return values is not None

    # --------------------------------------------------------------- the contract, for one account

    def check(self, values: dict, where: str = "") -> list:
        raise NotImplementedError

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        raise NotImplementedError

    def keys(self, values: dict) -> list:
        return [self.name]

    def write_scopes(self, key: str, outcome: dict) -> list:
        return []

    def describe(self, key: str, outcome: dict, cell) -> str:
        raise NotImplementedError

    def explain(self, item: dict) -> str:
        raise NotImplementedError

    def label(self, item: dict) -> str:
        return item["name"]

    def named(self, outcome: dict) -> list:
        return [self.label(item) for item in outcome.get("flagged") or []]

    def export(self, account) -> dict:
        raise NotImplementedError

    def export_warnings(self, section: dict) -> list:
        return []

    @classmethod
    def apply_together(cls, account, batch: list, check_mode: bool) -> dict:
        """Apply several families of one batch to an account: [(family, values)] -> {result key: outcome}."""
        outcomes = {}
        for family, values in batch:
            outcomes.update(family.apply(account, values, check_mode))
        return outcomes


def unexpected(account, exc: Exception) -> SendGridError:
    """An exception that is no SendGridError as one: its text may hold anything a request held, so the key is masked
    as every message of the client is."""
    if isinstance(exc, SendGridError):
        return exc
    redact = getattr(getattr(account, "client", None), "redact", lambda text: text)
    return SendGridError("Unexpected %s while handling this account: %s" % (type(exc).__name__, redact(str(exc))))
