# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The teammates family (a collection, with an audit): the people who may use an account, its owner, admins and
teammates, and the invites not yet accepted.

A teammate is known by e-mail (compared ignoring case): an invite becomes a teammate with a username once accepted.
Guards, checked before any write: the owner is never changed or removed; the last admin (of user type admin) is never
removed or demoted; an admin's scopes are never sent (SendGrid wants them empty with is_admin).

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import quote

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, account_from_module, as_text, connection_argument_spec, option_name, result_list,
    sendgrid_module, with_iso_times,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._family import (
    ANY, COMPLIANT, FLAGGED, Family, Option, failure, status, unexpected,
)
from ansible_collections.mailops.sendgrid.plugins.module_utils._scopes import check_scope_names
from ansible_collections.mailops.sendgrid.plugins.module_utils._settings import EMAIL

PATH = "/v3/teammates"
PENDING_PATH = "/v3/teammates/pending"
LIST = Operation("Listing the teammates", "teammates.read")
READ = Operation("Reading a teammate's scopes", "teammates.read")
LIST_PENDING = Operation("Listing the pending invites", "teammates.read")
INVITE = Operation("Inviting a teammate", "teammates.create", creates=True)
UPDATE = Operation("Updating a teammate", "teammates.update")
REMOVE = Operation("Removing a teammate", "teammates.delete")
CANCEL = Operation("Deleting a pending invite", "teammates.delete")
PAGE_SIZE = 500   # the spec's maximum page size
OWNER, ADMIN, TEAMMATE = "owner", "admin", "teammate"
ADMIN_ACCESS = "admin"   # a member's access: "admin", or a list of scopes


def _email_key(email) -> str:
    return (email or "").strip().lower()


# ----------------------------------------------------------------------------- reading

def read_team(account) -> dict:
    """The account's people: {"teammates": [{username, email, user_type, is_admin, scopes}], "pending": [{email,
    scopes, is_admin, token}]}, each sorted by e-mail.

    Every page of the list (until a page comes back short or empty), then each teammate's scopes (the list holds none;
    not for the owner and the admins, who hold every scope), then the pending invites.
    """
    teammates, offset = [], 0
    while True:
        page = result_list(account.request("GET", PATH, LIST, params=dict(limit=PAGE_SIZE, offset=offset)),
                           "the teammates")
        for item in page:
            if not isinstance(item, dict) or not isinstance(item.get("username"), str) or not isinstance(
                    item.get("email"), str):
                raise SendGridError("SendGrid listed a teammate without a username or an e-mail: %r." % (item,))
            teammates.append(dict(username=item["username"], email=item["email"],
                                  user_type=item.get("user_type") or (ADMIN if item.get("is_admin") else TEAMMATE),
                                  is_admin=bool(item.get("is_admin")) or item.get("user_type") in (OWNER, ADMIN)))
        if len(page) < PAGE_SIZE:
            break
        offset += len(page)
    for teammate in teammates:
        teammate["scopes"] = [] if teammate["is_admin"] else _scopes_of(account, teammate["username"])
    pending = []
    for item in result_list(account.request("GET", PENDING_PATH, LIST_PENDING), "the pending invites"):
        if not isinstance(item, dict) or not isinstance(item.get("email"), str) or not isinstance(item.get("token"), str):
            raise SendGridError("SendGrid listed a pending invite without an e-mail or a token: %r." % (item,))
        pending.append(dict(email=item["email"], token=item["token"], is_admin=bool(item.get("is_admin")),
                            scopes=sorted(set(item.get("scopes") or [])) if not item.get("is_admin") else [],
                            expiration_date=item.get("expiration_date")))
    return dict(teammates=sorted(teammates, key=lambda person: _email_key(person["email"])),
                pending=sorted(pending, key=lambda invite: _email_key(invite["email"])))


def _scopes_of(account, username: str) -> list:
    answer = account.request("GET", "%s/%s" % (PATH, quote(username, safe="")), READ)
    scopes = answer.get("scopes") if isinstance(answer, dict) else None
    if not isinstance(scopes, list):
        raise SendGridError("SendGrid answered the teammate %r without a list of scopes: %r." % (username, answer))
    return sorted({scope for scope in scopes if isinstance(scope, str)})


def access(person: dict):
    """A person's access as a policy writes it: "owner", "admin", or the sorted scopes."""
    if person.get("user_type") == OWNER:
        return OWNER
    return ADMIN_ACCESS if person["is_admin"] else sorted(person["scopes"])


def team_state(team: dict) -> dict:
    """{e-mail: access} of the teammates, and of the invites as "invited: " + access: what before and after show."""
    state = {person["email"]: access(person) for person in team["teammates"]}
    state.update({invite["email"]: dict(invited=access(invite)) for invite in team["pending"]})
    return state


# ----------------------------------------------------------------------------- checks

def check_members(members, option: str) -> dict:
    """The members as {e-mail: "admin" or sorted scopes}, refusing before any request anything else."""
    if members is None:
        return {}
    if not isinstance(members, dict):
        raise SendGridError("value of %s must be a dictionary of e-mail addresses to \"admin\" or a list of scopes, got: "
                            "%s." % (option_name(option), as_text(members)))
    checked = {}
    for email, wanted in members.items():
        where = '%s["%s"]' % (option_name(option), as_text(email))
        if not isinstance(email, str) or not EMAIL.match(email.strip()):
            raise SendGridError("value of %s must be keyed by e-mail addresses, got: %s." % (option_name(option),
                                                                                             as_text(email)))
        if _email_key(email) in {_email_key(known) for known in checked}:
            raise SendGridError("value of %s names %s twice (e-mail addresses are compared ignoring case)."
                                % (option_name(option), email.strip()))
        checked[email.strip()] = check_access(wanted, where)
    return checked


def check_access(wanted, where: str):
    """A member's access, checked before any request: "admin", or scopes as SendGrid names them."""
    if wanted == ADMIN_ACCESS:
        return ADMIN_ACCESS
    if not isinstance(wanted, (list, tuple)) or not wanted:
        raise SendGridError("value of %s must be \"admin\" or a non-empty list of scopes (such as mail.send), got: %s."
                            % (where, as_text(wanted)))
    return check_scope_names(wanted, where)


def check_patterns(patterns, option: str) -> None:
    if patterns is None:
        return
    bad = [pattern for pattern in patterns if not isinstance(pattern, str) or not pattern.strip()
           or any(char.isspace() for char in pattern.strip())]
    if bad:
        raise SendGridError("value of %s must hold non-empty patterns without spaces, got: %s."
                            % (option_name(option), ", ".join(repr(item) for item in bad)))


# ----------------------------------------------------------------------------- planning (pure)

def find(team: dict, email: str) -> tuple:
    """(the teammate, the pending invite) with this e-mail, each None when there is none."""
    key = _email_key(email)
    teammate = next((person for person in team["teammates"] if _email_key(person["email"]) == key), None)
    invite = next((item for item in team["pending"] if _email_key(item["email"]) == key), None)
    return teammate, invite


def plan(team: dict, members: dict, purge: bool, absent: tuple = ()) -> list:
    """The steps that make the team hold the members (and, with purge, nobody else; the ``absent`` e-mails removed):
    [(action, person, wanted)], action one of invite, update, replace (an invite whose access differs), remove,
    cancel (a pending invite). Refuses, naming why, a step the guards forbid: changing or removing the owner, removing
    or demoting the last admin."""
    steps = []
    listed = {_email_key(email) for email in members}
    for email, wanted in members.items():
        teammate, invite = find(team, email)
        if teammate is not None:
            if teammate["user_type"] == OWNER:
                if wanted not in (ADMIN_ACCESS, OWNER):
                    raise SendGridError("%s is the account's owner, whose access is never changed: leave it out, or give "
                                        "it as admin." % teammate["email"])
            elif access(teammate) != wanted:
                steps.append(("update", teammate, wanted))
        elif invite is not None:
            if access(invite) != wanted:
                steps.append(("replace", invite, wanted))
        else:
            steps.append(("invite", dict(email=email), wanted))
    for email in absent:
        teammate, invite = find(team, email)
        if teammate is not None and teammate["user_type"] == OWNER:
            raise SendGridError("%s is the account's owner, which is never removed." % teammate["email"])
        if teammate is not None:
            steps.append(("remove", teammate, None))
        if invite is not None:
            steps.append(("cancel", invite, None))
    if purge:
        steps += [("remove", person, None) for person in team["teammates"]
                  if person["user_type"] != OWNER and _email_key(person["email"]) not in listed]
        steps += [("cancel", invite, None) for invite in team["pending"] if _email_key(invite["email"]) not in listed]
    _guard_last_admin(team, steps)
    return steps


def _guard_last_admin(team: dict, steps: list) -> None:
    """Refuse steps that leave no admin (of user type admin) where there was one; a teammate the same steps make admin
    counts (an invite does not: it is no teammate until accepted)."""
    admins = [person for person in team["teammates"] if person["user_type"] == ADMIN]
    leaving = {person["username"] for action, person, wanted in steps if person.get("username") and (
        action == "remove" or (action == "update" and wanted != ADMIN_ACCESS)) and person["user_type"] == ADMIN}
    promoted = [person for action, person, wanted in steps if action == "update" and wanted == ADMIN_ACCESS]
    if admins and not promoted and leaving >= {person["username"] for person in admins}:
        raise SendGridError("This would remove or demote %s, the last admin%s of the account (besides its owner): "
                            "nothing was changed. Keep one admin, or make another teammate admin first."
                            % (", ".join(sorted(person["email"] for person in admins)),
                               "" if len(admins) == 1 else "s"))


def audit(team: dict, allowed_scopes, allowed_admins) -> list:
    """The people beyond the policy: [{name, excess_scopes, admin}] (name the e-mail), in e-mail order. An admin (or
    an admin invite) whose e-mail matches no pattern of allowed_admins (when given) is flagged; so is a scope no
    pattern of allowed_scopes matches (when given). The owner is never flagged."""
    flagged = []
    people = [person for person in team["teammates"] if person["user_type"] != OWNER] + team["pending"]
    for person in sorted(people, key=lambda item: _email_key(item["email"])):
        admin = person["is_admin"] and allowed_admins is not None and not any(
            fnmatchcase(_email_key(person["email"]), pattern.lower()) for pattern in allowed_admins)
        excess = [] if allowed_scopes is None or person["is_admin"] else sorted(
            scope for scope in person["scopes"] if not any(fnmatchcase(scope, pattern) for pattern in allowed_scopes))
        if admin or excess:
            flagged.append(dict(name=person["email"], excess_scopes=excess, admin=admin,
                                pending="token" in person))
    return flagged


def why(item: dict) -> str:
    """A flagged person, and why: "dev@example.com holds scopes beyond allowed_scopes: stats.read"."""
    reasons = (["is admin (allowed_admins does not match)"] if item["admin"] else []) + (
        ["holds scopes beyond allowed_scopes: %s" % ", ".join(item["excess_scopes"])] if item["excess_scopes"] else [])
    return "%s%s %s" % (item["name"], " (invited)" if item.get("pending") else "", "; and ".join(reasons))


# ----------------------------------------------------------------------------- writing

def body(email: str | None, wanted) -> dict:
    """An invite's or an update's body: an admin's scopes are never sent, SendGrid wants them empty."""
    payload = dict(is_admin=wanted == ADMIN_ACCESS, scopes=[] if wanted == ADMIN_ACCESS else list(wanted))
    if email is not None:
        payload = dict(email=email, **payload)
    return payload


def write(account, steps: list) -> list:
    """Carry the steps out in order; the e-mails each changed, by action: [(action, e-mail)]. A failure names what was
    written before it (SendGridError.written)."""
    done = []
    for action, person, wanted in steps:
        try:
            if action == "invite":
                account.request("POST", PATH, INVITE, body=body(person["email"], wanted))
            elif action == "update":
                account.request("PATCH", "%s/%s" % (PATH, quote(person["username"], safe="")), UPDATE,
                                body=body(None, wanted))
            elif action == "replace":
                account.request("DELETE", "%s/%s" % (PENDING_PATH, quote(person["token"], safe="")), CANCEL)
                try:
                    account.request("POST", PATH, INVITE, body=body(person["email"], wanted))
                except SendGridError as exc:
                    # the old invite is gone: say so, and count it as written
                    done.append(("cancel", person["email"]))
                    raise SendGridError("%s. The pending invite of %s was deleted before: invite them again."
                                        % (str(exc).rstrip("."), person["email"]), exc.status) from None
            elif action == "remove":
                account.request("DELETE", "%s/%s" % (PATH, quote(person["username"], safe="")), REMOVE)
            else:
                account.request("DELETE", "%s/%s" % (PENDING_PATH, quote(person["token"], safe="")), CANCEL)
        except SendGridError as exc:
            if not done:
                raise
            raise SendGridError("%s. Written before the failure: %s." % (str(exc).rstrip("."), ", ".join(
                "%s %s" % (what, email) for what, email in done)), exc.status, written=changes_of(done)) from None
        done.append((action, person["email"]))
    return done


def changes_of(done: list) -> dict:
    """{action: [e-mails]} of the steps taken (or that would be)."""
    changes = {}
    for action, email in done:
        changes.setdefault({"invite": "invited", "update": "updated", "replace": "replaced", "remove": "removed",
                            "cancel": "cancelled"}[action], []).append(email)
    return changes


def after(team: dict, steps: list) -> dict:
    """The team state once the steps are done (what check mode reports)."""
    state = team_state(team)
    for action, person, wanted in steps:
        if action in ("remove", "cancel"):
            state.pop(person["email"], None)
        elif action == "update":
            state[person["email"]] = wanted
        else:
            state[person["email"]] = dict(invited=wanted)
    return state


# ----------------------------------------------------------------------------- the family contract

OPTIONS = [
    Option("members", "dict", [
        "The account's teammates, as a dictionary of e-mail address to access: V(admin), or the list of scopes the "
        "teammate may use (such as V([mail.send, stats.read])).",
        "One who is neither a teammate nor invited is invited; a teammate whose access differs is updated (an admin's "
        "scopes are never sent: SendGrid wants them empty); a pending invite whose access differs is replaced (deleted "
        "and sent again). E-mail addresses are compared ignoring case.",
        "The account's owner may be listed only as V(admin), and is never changed.",
        "An account's override of it replaces the policy's whole, as every dictionary and list of an override does."]),
    Option("purge", "bool", [
        "Remove every teammate and cancel every pending invite that O(@members) does not list. The owner is never "
        "removed, and need not be listed. Removing the last admin (of user type admin) fails with nothing written: "
        "list an admin."],
        default=False),
    Option("allowed_scopes", "list", [
        "An audit: the scopes a teammate may hold, as shell-style patterns (V(mail.send), V(stats.*)). A teammate or "
        "invite holding a scope no pattern matches is flagged (drift only a person can fix). V(null) checks no scopes."],
        elements="str"),
    Option("allowed_admins", "list", [
        "An audit: the e-mail addresses, or shell-style patterns of them (V(*@ops.example.com)), that may be admins. "
        "Any other admin (or admin invite) is flagged. V(null) checks no admins. The owner is never flagged."],
        elements="str"),
]

MODULE_OPTIONS = [
    Option("email", "str", "The teammate's e-mail address, which identifies them (compared ignoring case).",
           required=True),
    Option("state", "str", [
        "V(present) invites the teammate when they are neither a teammate nor invited, updates their access when it "
        "differs, and replaces a pending invite whose access differs (deleting it and inviting again).",
        "V(absent) removes the teammate, or cancels their pending invite."], choices=["present", "absent"],
        default="present"),
    Option("is_admin", "bool", [
        "Whether the teammate is an admin, who holds every scope. O(@scopes) must then be left out.",
        "Left out: V(false) when inviting; unchanged for a teammate."]),
    Option("scopes", "list", [
        "The scopes the teammate may use, compared as a set (such as V(mail.send)). Needed to invite a teammate who is "
        "no admin."], elements="str"),
]


class TeammatesFamily(Family):
    """The teammates as a family: its section (members, purge, and an audit), its module (one teammate)."""

    kind = "collection"
    flags = "teammate"
    module = "sendgrid_teammate"
    export_in_parts = False   # a purge without the members it keeps would remove everyone
    export_note = ("teammates: the owner is never listed (it cannot be changed); pending invites are listed as members "
                   "with the access they were sent")

    def __init__(self):
        super().__init__(
            "teammates", "the teammates",
            "The account's teammates and pending invites, as M(mailops.sendgrid.sendgrid_teammate) manages them one by "
            "one, with its guards (the owner is never changed or removed, the last admin never removed or demoted), "
            "and an audit of their scopes and admins.", OPTIONS, MODULE_OPTIONS)

    def check(self, values: dict, where: str = "") -> list:
        check_members(values["members"], where + "members")
        check_patterns(values["allowed_scopes"], where + "allowed_scopes")
        check_patterns(values["allowed_admins"], where + "allowed_admins")
        return []

    def apply(self, account, values: dict, check_mode: bool) -> dict:
        try:
            team = read_team(account)
            steps = plan(team, check_members(values["members"], "members"), values["purge"])
            state = after(team, steps)
            if not check_mode and steps:
                write(account, steps)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            return {self.name: failure(str(unexpected(account, exc)), before=None, after=None,
                                       changes=getattr(exc, "written", None) or {}, flagged=[])}
        flagged = audit(_as_team(state), values["allowed_scopes"], values["allowed_admins"])
        # changes and flags at once: the status says what was (or would be) written, flagged what a person must fix
        outcome = dict(status=status(bool(steps), check_mode) if steps else FLAGGED if flagged else COMPLIANT,
                       before=team_state(team),
                       after=state, changes=changes_of([(action, person["email"]) for action, person, dummy in steps]),
                       flagged=flagged)
        return {self.name: outcome}

    def export(self, account) -> dict:
        """Every teammate but the owner, and every pending invite, with their access; exactly those (purge)."""
        team = read_team(account)
        members = {person["email"]: access(person) for person in team["teammates"] if person["user_type"] != OWNER}
        members.update({invite["email"]: access(invite) for invite in team["pending"]})
        return dict(members=members, purge=True, allowed_scopes=ANY, allowed_admins=ANY)

    def write_scopes(self, key: str, outcome: dict) -> list:
        needed = {"invited": INVITE, "replaced": CANCEL, "updated": UPDATE, "removed": REMOVE, "cancelled": CANCEL}
        scopes = [needed[change].scope for change in outcome.get("changes") or {}]
        return sorted(set(scopes + ([INVITE.scope] if "replaced" in (outcome.get("changes") or {}) else [])))

    def describe(self, key: str, outcome: dict, cell) -> str:
        parts = ["%s %s" % (change, cell(", ".join(emails))) for change, emails in (outcome.get("changes") or {}).items()]
        parts += ["flagged %s" % cell(why(item)) for item in outcome.get("flagged") or []]
        return "; ".join(parts)

    def explain(self, item: dict) -> str:
        return why(item)

    def run_module(self) -> None:
        """The whole of sendgrid_teammate."""
        module = sendgrid_module(argument_spec=dict(connection_argument_spec(), **self.module_argument_spec()),
                                 supports_check_mode=True)
        params = module.params
        try:
            wanted = _wanted(params)
        except SendGridError as exc:
            module.fail_json(msg=str(exc))
        account = account_from_module(module)
        email = params["email"].strip()
        try:
            team = read_team(account)
            if params["state"] == "absent":
                steps = plan(team, {}, False, absent=(email,))
            else:
                teammate, invite = find(team, email)
                current = access(teammate) if teammate else access(invite) if invite else None
                wanted = _merged(current, params)
                steps = plan(team, {email: wanted}, False)
            if not module.check_mode:
                write(account, steps)
        except SendGridError as exc:
            module.fail_json(msg=str(exc), status=exc.status,
                             **(dict(changed=True, changes=exc.written) if exc.written else {}))
        before, state = team_state(team), after(team, steps)
        key = next((known for known in list(before) + list(state) if _email_key(known) == _email_key(email)), email)
        result = dict(changed=bool(steps), changes=changes_of([(action, person["email"]) for action, person, d in steps]),
                      teammate=_shown(state.get(key)))
        if any(action == "replace" for action, dummy, dummy2 in steps):
            module.warn("The pending invite of %s had other access: it was %s, and %s invited again."
                        % (email, "to be deleted" if module.check_mode else "deleted",
                           "would be" if module.check_mode else "was"))
        if module._diff:
            result["diff"] = dict(before=dict(teammate=_shown(before.get(key))), after=dict(teammate=_shown(state.get(key))))
        module.exit_json(**result)


def run_info_module() -> None:
    """The whole of sendgrid_teammate_info: every teammate (all pages) with scopes and type, and every pending invite
    (its token, which would let anyone accept it, never shown)."""
    module = sendgrid_module(argument_spec=connection_argument_spec(), supports_check_mode=True)
    account = account_from_module(module)
    try:
        team = read_team(account)
    except SendGridError as exc:
        module.fail_json(msg=str(exc), status=exc.status)
    module.exit_json(changed=False, teammates=team["teammates"], pending=[
        with_iso_times({key: value for key, value in invite.items() if key != "token"}, ("expiration_date",))
        for invite in team["pending"]])


def _wanted(params: dict):
    """Refuse, before any request, what cannot be asked: an e-mail that is none, scopes for an admin."""
    if params["email"] is None or not EMAIL.match(params["email"].strip()):
        raise SendGridError("value of %s must be an e-mail address, got: %s."
                            % (option_name("email"), as_text(params["email"])))
    if params["is_admin"] and params["scopes"] is not None:
        raise SendGridError("is_admin: true gives every scope: leave scopes out (SendGrid wants an admin's scopes empty).")
    if params["scopes"] is not None:
        return check_access(params["scopes"], option_name("scopes"))
    return ADMIN_ACCESS if params["is_admin"] else None


def _merged(current, params: dict):
    """The access asked for, what is left out kept as it is (an invite needs one)."""
    if params["is_admin"]:
        return ADMIN_ACCESS
    if params["scopes"] is not None and params["is_admin"] is None and current == ADMIN_ACCESS:
        raise SendGridError("%s is an admin: scopes alone would demote them. Give is_admin: false with the scopes to "
                            "make them a teammate, or leave scopes out." % params["email"])
    if params["scopes"] is not None:
        return check_access(params["scopes"], "scopes")
    if params["is_admin"] is False and current == ADMIN_ACCESS:
        raise SendGridError("is_admin: false for an admin needs the scopes to give instead: set scopes.")
    if current is None:
        raise SendGridError("Inviting %s needs is_admin: true or scopes (what the teammate may use)." % params["email"])
    if isinstance(current, dict):
        return current["invited"]
    return current


def _shown(state):
    """A person's state in the result: {access, invited} (null when absent)."""
    if state is None:
        return None
    if isinstance(state, dict):
        return dict(access=state["invited"], invited=True)
    return dict(access=state, invited=False)


def _as_team(state: dict) -> dict:
    """A state ({e-mail: access}) as a team, for the audit of what the task leaves."""
    team = dict(teammates=[], pending=[])
    for email, wanted in state.items():
        invited = isinstance(wanted, dict)
        wanted = wanted["invited"] if invited else wanted
        person = dict(email=email, user_type=OWNER if wanted == OWNER else ADMIN if wanted == ADMIN_ACCESS else TEAMMATE,
                      is_admin=wanted in (OWNER, ADMIN_ACCESS), scopes=[] if isinstance(wanted, str) else wanted)
        if invited:
            team["pending"].append(dict(person, token=""))
        else:
            team["teammates"].append(person)
    return team


FAMILY = TeammatesFamily()
