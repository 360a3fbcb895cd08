# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The settings engine: the families of the "settings" kind (Enforced TLS, tracking, mail settings).

A Setting describes an object SendGrid keeps per account (its path, scopes and fields); a Field says how one value
is documented, checked, sent, read back and compared. From those descriptions come the options and their documentation,
the checks made before any request, and the one GET -> compare -> PATCH what differs -> verify cycle in reconcile().
A SettingsFamily is the family contract (_family) over one or more Settings; every settings family shares one batch, so
that the baseline reads all of an account's settings before it writes any.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import re

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, as_text, connection_argument_spec, option_name, result_list,
    sendgrid_module,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import (
    Family, Option, failure, status, unexpected,
)

# An address as mail systems accept it: an RFC 5322 dot-atom local part (letters, digits, !#$%&'*+/=?^_`{|}~- and dots
# between them) and a host name. Quoted local parts and address literals are left out: no SendGrid setting needs them,
# and their brackets and quotes are what a list written as text (['a@example.com']) is made of.
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
EMAIL = re.compile(r"^[a-z0-9!#$%%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%%&'*+/=?^_`{|}~-]+)*@(?=.{1,253}$)(?:%s\.)+[a-z]{2,63}$"
                   % LABEL, re.IGNORECASE)
DOMAIN = re.compile(r"^(?=.{1,253}$)(?:%s\.)+[a-z]{2,63}$" % LABEL, re.IGNORECASE)


def _same(value):
    return value


class Field(Option):
    """One field of a setting: its option (documented once), its API name, how a value is checked, sent, read back
    and compared.

    The option never has a default: an option left out is not managed. ``check`` returns a problem (text) for a bad
    value. ``normal`` gives the one form a value is kept in from then on (in ``changes``, diffs and results alike:
    addresses without the spaces a comma-separated text leaves). ``to_api`` and ``from_api`` translate between the
    option's value and the API's; ``key`` gives the form two values are compared in. A ``read_only`` field is returned,
    never sent, and is no option.
    """

    def __init__(self, option: str, type: str = "str", description=(), elements: str | None = None,  # noqa: A002
                 api: str | None = None, check=None, to_api=_same, from_api=_same, key=_same, read_only: bool = False,
                 normal=_same):
        super().__init__(option, type, description, elements=elements)
        self.option = option
        self.api = api or option
        self.check = check
        self.normal = normal
        self.to_api = to_api
        self.from_api = from_api
        self.key = key
        self.read_only = read_only


class Summary:
    """A family's summary endpoint, which gives every setting's ``enabled`` in one answer."""

    def __init__(self, path: str, scope: str, title: str):
        self.path = path
        self.title = title
        self.read = Operation("Reading %s" % title, scope)


class Setting:
    """One settings object SendGrid keeps per account: read with GET, changed with a partial PATCH.

    ``idle`` says, for the managed fields, why the setting as asked would do nothing ({field: reason}, "" for the
    setting as a whole), such as forwarding switched on with no address to forward to: a warning, not a refusal.
    """

    def __init__(self, name: str, title: str, path: str, scope: str, fields: list, summary: Summary | None = None,
                 idle=None, description=()):
        self.name = name
        self.title = title
        self.description = [description] if isinstance(description, str) else list(description)
        self.path = path
        self.fields = fields
        self.summary = summary
        self.idle = idle
        self.read = Operation("Reading %s" % title, scope + ".read")
        self.update = Operation("Updating %s" % title, scope + ".update")

    @property
    def option(self) -> str:
        """The option that holds this setting in its family: 'click' for tracking_settings.click."""
        return self.name.rsplit(".", 1)[-1]

    def writable(self) -> list:
        return [field for field in self.fields if not field.read_only]

    def as_option(self) -> Option:
        """The setting as a dict option of its family, its writable fields the suboptions."""
        return Option(self.option, "dict", self.description, suboptions=self.writable())

    def argument_spec(self) -> dict:
        """The desired fields as options, none with a default."""
        return {field.option: field.argument_spec() for field in self.writable()}

    def desired(self, values: dict | None) -> dict:
        """The managed fields of a section or policy: the options given and not null, each in its normal form."""
        values = values or {}
        return {field.option: field.normal(values[field.option]) for field in self.writable()
                if values.get(field.option) is not None}

    def check(self, desired: dict, where: str = "") -> list:
        """Refuse a value SendGrid would refuse, before any request; the message names the option and what is allowed.
        Returns the warnings on what would do nothing (see ``idle``), each naming its option."""
        for field in self.writable():
            value = desired.get(field.option)
            problem = None if value is None or field.check is None else field.check(value)
            if problem:
                raise SendGridError("value of %s %s, got: %s (leave it out, or null, to leave the setting alone)."
                                    % (option_name(where + field.option), problem, as_text(value)))
        idle = self.idle(desired) if self.idle and desired else {}
        return ["%s: %s" % (option_name(where + field if field else where.rstrip(".")) or self.name, reason)
                for field, reason in idle.items()]

    def from_api(self, body, only: list | None = None) -> dict:
        """The API's object in option names; fields SendGrid added that we do not know are dropped, never sent back."""
        if not isinstance(body, dict):
            raise SendGridError("SendGrid answered with %r where %s object was expected." % (body, self.title))
        return {field.option: field.from_api(body.get(field.api)) for field in self.fields
                if only is None or field.option in only}

    def api_body(self, changes: dict) -> dict:
        """The PATCH body: the changed fields only, in the API's names and forms."""
        return {field.api: field.to_api(changes[field.option]) for field in self.writable() if field.option in changes}

    def as_read(self, values: dict) -> dict:
        """Values as reading them back after writing them shows them (addresses stripped, 0 days...): what check mode
        reports as the settings the task would leave."""
        fields = {field.option: field for field in self.fields}
        return {name: fields[name].from_api(fields[name].to_api(value)) for name, value in values.items()}

    def differences(self, current: dict, desired: dict) -> dict:
        """The desired fields whose value differs from the current one, compared in each field's own way."""
        return {field.option: desired[field.option] for field in self.writable()
                if field.option in desired and field.key(current.get(field.option)) != field.key(desired[field.option])}


def choices(allowed: list):
    """A check: one of these values (no argument-spec choices, which would refuse null, our 'not managed')."""
    return lambda value: None if value in allowed else "must be one of: %s" % ", ".join(allowed)


def at_least(minimum: int, meaning: str = ""):
    return lambda value: None if value >= minimum else "must be %d or more%s" % (minimum, meaning)


def within(minimum: int, maximum: int, meaning: str = ""):
    return lambda value: None if minimum <= value <= maximum else "must be from %d to %d%s" % (minimum, maximum, meaning)


def email_key(address):
    """An e-mail address in the form SendGrid compares: no surrounding spaces, case-insensitive."""
    return (address or "").strip().lower() or None


def email_set_key(addresses):
    return frozenset(filter(None, (email_key(address) for address in addresses or [])))


def check_emails(addresses) -> str | None:
    bad = [address for address in addresses if not EMAIL.match(address)]
    return "must hold e-mail addresses only (%s is not one)" % ", ".join(repr(address) for address in bad) if bad else None


def check_email(address) -> str | None:
    return None if address == "" or EMAIL.match(address) else "must be an e-mail address, or \"\" for none"


def check_addresses_or_domains(entries) -> str | None:
    bad = [entry for entry in entries if not (EMAIL.match(entry) or DOMAIN.match(entry))]
    return "must hold e-mail addresses or domains only (%s is neither)" % ", ".join(repr(entry) for entry in bad) if bad else None


def stripped(text: str) -> str:
    return text.strip()


def stripped_items(items: list) -> list:
    """Each item without surrounding spaces, empty ones dropped: "a@example.com, b@example.com" split at the comma
    is two addresses, not "a@example.com" and " b@example.com"."""
    return [item.strip() for item in items if item.strip()]


def read(account, settings: list, enabled_only: frozenset = frozenset(), failures: dict | None = None) -> dict:
    """Read these settings of one account: {setting name: values in option names}.

    A setting named in ``enabled_only`` is read from its family's summary, one GET for the whole family, and only its
    ``enabled`` is known; one the summary does not list is read whole. Given ``failures`` (a dict), a setting that
    cannot be read is recorded there ({name: SendGridError}) and left out of the values, instead of stopping the rest.
    """
    values = {}
    summaries = {}
    for setting in settings:
        if setting.name in enabled_only and setting.summary is not None:
            summaries.setdefault(setting.summary.path, (setting.summary, []))[1].append(setting)
    for summary, members in summaries.values():
        try:
            listed = result_list(account.request("GET", summary.path, summary.read), summary.title)
        except SendGridError as exc:
            if failures is None:
                raise
            # the settings the summary was to give fail with it: another GET each would cost more than the run saves
            failures.update((setting.name, exc) for setting in members)
            continue
        enabled = {item.get("name"): item.get("enabled") for item in listed if isinstance(item, dict)}
        for setting in members:
            if isinstance(enabled.get(setting.option), bool):
                values[setting.name] = {"enabled": enabled[setting.option]}
    for setting in settings:
        if setting.name in values or setting.name in (failures or {}):
            continue
        try:
            values[setting.name] = setting.from_api(account.request("GET", setting.path, setting.read))
        except SendGridError as exc:
            if failures is None:
                raise
            failures[setting.name] = exc
    return values


def reconcile(account, desired: dict, check_mode: bool, isolated: bool = False) -> dict:
    """Make one account's settings what ``desired`` says, writing only what differs; {setting name: outcome}.

    ``desired`` maps each Setting to manage to its managed fields (Setting.desired()). A setting managed by its
    ``enabled`` alone is read from its family's summary. Each outcome holds ``changed``, ``changes`` (the fields
    written, or that would be in check mode), ``before`` and ``after`` (the fields read).

    The first failure stops the account, unless ``isolated``: then a setting that cannot be read or written is that
    setting's failure (``failed``, ``msg``, ``status``; ``before`` and ``after`` null) and the others go on. A failure
    that stops the account after some settings were written is a PartlyWritten naming them.
    """
    settings = list(desired)
    enabled_only = frozenset(setting.name for setting in settings if set(desired[setting]) == {"enabled"})
    failures = {} if isolated else None
    before = read(account, settings, enabled_only, failures)
    outcomes = {}
    for setting in settings:
        if setting.name in (failures or {}):
            outcomes[setting.name] = failed(failures[setting.name])
            continue
        try:
            changes = setting.differences(before[setting.name], desired[setting])
            after = dict(before[setting.name], **setting.as_read(changes))
            if changes and not check_mode:
                after = _write(account, setting, before[setting.name], changes)
        except SendGridError as exc:
            if not isolated:
                written = {name: outcome for name, outcome in outcomes.items() if outcome["changed"] and not check_mode}
                raise PartlyWritten(exc, written) if written else exc
            outcomes[setting.name] = failed(exc)
            continue
        outcomes[setting.name] = dict(changed=bool(changes), changes=changes, before=before[setting.name], after=after)
    return outcomes


class PartlyWritten(SendGridError):
    """A failure after some settings were written: the play recap does not count a failed task's changes, so the
    message names them, and ``written`` ({setting name: outcome}) gives them to the module's result."""

    def __init__(self, cause: SendGridError, written: dict):
        super().__init__("%s. Written before the failure: %s." % (str(cause).rstrip("."), "; ".join(
            "%s (%s)" % (name, ", ".join(outcome["changes"])) for name, outcome in written.items())), cause.status,
            written)


def failed(exc: SendGridError) -> dict:
    """The outcome of a setting that failed: nothing known changed, the reason."""
    return dict(changed=False, changes={}, before=None, after=None, failed=True, msg=str(exc), status=exc.status)


def _write(account, setting: Setting, before: dict, changes: dict) -> dict:
    """PATCH the changes and return the fields after it, verified: an answer that does not show them is re-read."""
    echo = account.request("PATCH", setting.path, setting.update, body=setting.api_body(changes))
    # Fields the answer leaves out keep their value; PATCH answers the whole object, but a proxy may not.
    answer = setting.from_api(echo, only=[field.option for field in setting.fields if field.api in (echo or {})])
    after = {name: answer.get(name, value) for name, value in before.items()}
    if setting.differences(after, changes):
        # The PATCH was acknowledged without showing our values: trust a fresh read, not the echo.
        after = setting.from_api(account.request("GET", setting.path, setting.read), only=list(before))
        not_taken = setting.differences(after, changes)
        if not_taken:
            raise SendGridError(
                "SendGrid acknowledged the update of %s but these fields did not take: %s. Run the task again; if it "
                "persists, the account may not allow them." % (setting.title, ", ".join(
                    "%s (wanted %s, is %s)" % (name, as_text(value), as_text(after.get(name)))
                    for name, value in sorted(not_taken.items()))))
    return after


def select(settings: list, names: list | None, option: str) -> list:
    """The settings named, in their own order; a family name (the part before the dot) names all of its settings.

    None names them all. An unknown name fails, listing the known ones.
    """
    if names is None:
        return list(settings)
    known = {setting.name for setting in settings} | {setting.name.split(".")[0] for setting in settings}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SendGridError("%s holds %s, which %s not a setting: use any of %s." % (
            option, ", ".join(unknown), "is" if len(unknown) == 1 else "are", ", ".join(sorted(known))))
    return [setting for setting in settings if setting.name in names or setting.name.split(".")[0] in names]


# ----------------------------------------------------------------------------- the family contract

class SettingsFamily(Family):
    """A family of settings objects (the family contract in _family).

    A family of one setting (Enforced TLS, ``single``) has that setting's fields as its options; any other has one
    dict option per setting (click, bounce_purge...) whose suboptions are the setting's fields. Its result keys are
    its name, or its name and the setting's option (tracking.click). ``result`` is the key under which its
    single-account module returns the settings after the task (tracking_settings).
    """

    kind = "settings"
    batch = "settings"   # every settings family is applied in one reconcile(): all reads, then the writes

    def __init__(self, name: str, title: str, summary: str, settings: list, result: str, module: str,
                 single: bool = False):
        self.settings = settings
        self.single = single
        self.result = result
        self.module = module
        options = settings[0].writable() if single else [setting.as_option() for setting in settings]
        super().__init__(name, title, summary, options)

    def key(self, setting: Setting) -> str:
        return self.name if self.single else "%s.%s" % (self.name, setting.option)

    def _parts(self, values: dict) -> list:
        """[(setting, its values, its place: "" or "click.")] of the settings the values manage."""
        if self.single:
            return [(self.settings[0], values, "")]
        return [(setting, values.get(setting.option), setting.option + ".") for setting in self.settings
                if values.get(setting.option) is not None]

    def desired(self, values: dict) -> dict:
        """{Setting: managed fields} of a section's values."""
        return {setting: setting.desired(part) for setting, part, _place in self._parts(values)}

    def keys(self, values: dict) -> list:
        return [self.key(setting) for setting, _part, _place in self._parts(values)]

    def check(self, values: dict, where: str = "") -> list:
        warnings = []
        for setting, part, place in self._parts(values):
            warnings += setting.check(setting.desired(part), where + place)
        return warnings

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        return self.apply_together(account, [(self, values)], check_mode)

    @classmethod
    def apply_together(cls, account, batch: list, check_mode: bool) -> dict:
        """Every setting of every family in the batch in one reconcile(), each setting isolated from the others'
        failures: {result key: outcome}."""
        desired, keys = {}, {}
        for family, values in batch:
            for setting, managed in family.desired(values).items():
                desired[setting], keys[setting] = managed, family.key(setting)
        try:
            done = reconcile(account, desired, check_mode, isolated=True)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            done = {setting.name: failed(unexpected(account, exc)) for setting in desired}
        return {keys[setting]: _outcome(done[setting.name], check_mode) for setting in desired}

    def write_scopes(self, key: str, outcome: dict) -> list:
        return [setting.update.scope for setting in self.settings if self.key(setting) == key]

    def export(self, account) -> dict:
        """Every writable field of every setting, as read; a setting of ``enabled`` alone from the family's summary."""
        enabled_only = frozenset(setting.name for setting in self.settings
                                 if [field.option for field in setting.writable()] == ["enabled"])
        values = read(account, self.settings, enabled_only)
        parts = {setting.option: {field.option: values[setting.name].get(field.option) for field in setting.writable()}
                 for setting in self.settings}
        return parts[self.settings[0].option] if self.single else parts

    def describe(self, key: str, outcome: dict, cell) -> str:
        before = outcome.get("before") or {}
        return "; ".join("%s: %s \u2192 %s" % (cell(field), cell(before.get(field)), cell(value))
                         for field, value in (outcome.get("changes") or {}).items())

    # --------------------------------------------------------------- the family's single-account module

    def run_module(self) -> None:
        """The whole of the module that manages this family on one account.

        A setting's section left out is neither read nor changed. The result's ``result`` key holds the settings
        after the task, ``changes`` what was written, and ``diff`` the fields read before and after.
        """
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.argument_spec()),
                                 supports_check_mode=True)
        values = module.params if self.single else {setting.option: module.params[setting.option]
                                                    for setting in self.settings}
        try:
            desired = self.desired(values)
            warnings = self.check(values)
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        for warning in warnings:
            module.warn(warning)
        account = account_from_module(module)
        try:
            outcomes = reconcile(account, desired, module.check_mode) if desired else {}
        except PartlyWritten as exc:
            changes = {setting.option: exc.written[setting.name]["changes"] for setting in self.settings
                       if setting.name in exc.written}
            module.fail_json(msg=str(exc), status=exc.status, changed=True,
                             changes=changes[self.settings[0].option] if self.single and changes else changes)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status)

        def shaped(part: str) -> dict:
            if self.single:
                return outcomes[self.settings[0].name][part]
            return {setting.option: outcomes[setting.name][part] for setting in self.settings
                    if setting.name in outcomes and (part != "changes" or outcomes[setting.name]["changes"])}

        answer = {"changed": any(outcome["changed"] for outcome in outcomes.values()), "changes": shaped("changes"),
                  self.result: shaped("after")}
        if module._diff:
            answer["diff"] = dict(before=shaped("before"), after=shaped("after"))
        module.exit_json(**answer)


def run_info_module(families: list, option: str | None = None) -> None:
    """The whole of an info module over these settings families: every setting read whole, one GET each, returned
    under each family's result key (a family of one setting: the setting itself). ``option`` names the module's option
    that selects settings by name (select()); None reads them all."""
    spec = {option: dict(type="list", elements="str")} if option else {}
    # No choices: AnsibleModule would refuse null, which here means every setting; select() checks the names.
    module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **spec), supports_check_mode=True)
    catalogue = [setting for family in families for setting in family.settings]
    try:
        settings = select(catalogue, module.params[option] if option else None, option or "settings")
    except SendGridError as exc:
        module.fail_json(msg=str(exc))
    account = account_from_module(module)
    try:
        values = read(account, settings)
    except SendGridError as exc:
        module.fail_json(msg=str(exc), status=exc.status)
    result = {}
    for family in families:
        for setting in family.settings:
            if setting in settings and family.single:
                result[family.result] = values[setting.name]
            elif setting in settings:
                result.setdefault(family.result, {})[setting.option] = values[setting.name]
    module.exit_json(changed=False, **result)


def _outcome(outcome: dict, check_mode: bool) -> dict:
    """An engine outcome as a family's outcome: a status, before, after and changes."""
    if outcome.get("failed"):
        return failure(outcome["msg"], before=None, after=None, changes={})
    return dict(status=status(outcome["changed"], check_mode), before=outcome["before"], after=outcome["after"],
                changes=outcome["changes"])
