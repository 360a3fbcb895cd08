"""The option matrix: test cases generated from the argument specs, an independent model of what must be sent, and
the local servers each case runs against (test_option_matrix.py runs the cases and judges them).

Sources, read when the tests are collected (so a new option gets cases without editing a test):
  - each role's ``meta/argument_specs.yml`` (entry point ``main``), with ``defaults/main.yml`` for the defaults;
  - each module's documented options, doc fragments included, from one ``ansible-doc --json`` call.

Cases per source: the documented defaults alone (only the API key, from the environment, and what REQUIRED gives a
module that cannot run without it, such as sendgrid_teammate's email), every option alone with
a value generated from its spec (or, where the type cannot give a valid value, from SAMPLES), null for every option
documented as nullable whose documented default is not already null (that null is the defaults case), and invalid
generated values (bool, choices, numbers) that must be refused naming the option before anything is sent. A
``type: dict`` option with suboptions (a settings section: click, bounce_purge...) is given with each suboption alone
instead (section.suboption in ids and in SAMPLES): a bool the value that differs
from a fresh account, a str a generated text, an int a value, a list of str generated items or a sample, and every
literal value the suboption's description documents (V([]), V(""), V(0): "none", the API's null). Such a module reads
and sends nothing when every section is left out, so its other options (connection, account) and its sections null
ride on those suboption cases (riding()): alone, they would show nothing. The role also gets one run with every
variable as an ``-e key=value`` string and one with the same values typed in JSON.

The model (MODELS, one function per module) knows nothing of the collection's code: it is the documentation's rules
written again (which accounts, which host, which fields differ from a fresh account's settings; for the tracking and
mail settings which GETs the request floor allows, each PATCH body in the API's forms, what the module returns; for
the IP allow list the entries as networks, the lockout guard's read of the activity, the POST and DELETE bodies; for
teammates, API keys and subusers the reads, each write's body, the guards, and what is returned or hidden). Where the
documentation says the task fails (a guard, a value it needs), the model raises Refused with the requests sent first:
the case must fail naming why, having written nothing.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

COLLECTION = "mailops.sendgrid"
ROLE_ENTRY_POINT = "main"
MISSING = object()           # "no documented default", unlike a documented default of null
# The options of the connection doc fragments (on_behalf_of included), which modules document alike (riders, see
# riding()).
CONNECTION_OPTIONS = frozenset(name for block in re.findall(r'r"""(.*?)"""', (
    Path(__file__).resolve().parents[2] / "plugins" / "doc_fragments" / "connection.py").read_text(encoding="utf-8"),
    re.S) for name in yaml.safe_load(block)["options"])

# What a fresh account of the local server holds (tools/sendgrid_api_server.py DEFAULT_SETTINGS), in API names.
FRESH_SETTINGS = {"require_tls": False, "require_valid_cert": False, "version": 1.1}
# The tracking and mail settings of a fresh account (tools/sendgrid_api/tracking_settings.py, mail_settings.py), in
# API names and forms, per family and setting: the sections of sendgrid_tracking_settings and sendgrid_mail_settings.
FRESH_SECTIONS = {
    "tracking_settings": {
        "click": {"enabled": True, "enable_text": False},
        "open": {"enabled": True},
        "subscription": {"enabled": False, "html_content": "", "plain_content": "", "landing": "", "replace": "",
                         "url": ""},
        "google_analytics": {"enabled": False, "utm_source": "", "utm_medium": "", "utm_term": "", "utm_content": "",
                             "utm_campaign": ""},
    },
    "mail_settings": {
        "bounce_purge": {"enabled": False, "soft_bounces": None, "hard_bounces": None},
        "forward_spam": {"enabled": False, "email": ""},
        "forward_bounce": {"enabled": False, "email": None},
        "footer": {"enabled": False, "html_content": "", "plain_content": ""},
        "template": {"enabled": False, "html_content": ""},
        "address_whitelist": {"enabled": False, "list": []},
    },
}
# The modules whose sections are one family's settings (documented: GET /v3/<family> for sections with only
# enabled, GET /v3/<family>/<section> for the others, one PATCH /v3/<family>/<section> per section that differs).
SECTION_FAMILIES = {"sendgrid_tracking_settings": "tracking_settings", "sendgrid_mail_settings": "mail_settings"}
# sendgrid_settings_info's names: each setting, by its documented name, and the path its GET reads.
INFO_SETTINGS = dict([("enforced_tls", "/v3/user/settings/enforced_tls")] + [
    ("%s.%s" % (family, section), "/v3/%s/%s" % (family, section))
    for family, sections in FRESH_SECTIONS.items() for section in sections])
# Option name -> API field, and how the API spells the value (the version is a JSON number).
POLICY_FIELDS = {"require_tls": "require_tls", "require_valid_cert": "require_valid_cert", "min_tls_version": "version"}
SENDGRID_HOSTS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}
TLS_PATH = "/v3/user/settings/enforced_tls"
SUBUSERS_PATH = "/v3/subusers"
WRITES = ("PATCH", "POST", "PUT", "DELETE")
DISCOVERY_PAGE_SIZE = 500    # documented: discovery reads every page; the module asks for 500 at a time
# IP Access Management (sendgrid_ip_access, sendgrid_ip_access_info): the allow list and the access activity.
ALLOW_LIST_PATH = "/v3/access_settings/whitelist"
ACTIVITY_PATH = "/v3/access_settings/activity"
GUARD_ACTIVITY_LIMIT = 20    # the lockout guard reads SendGrid's recent activity: SendGrid's default page, 20
FRESH_ALLOW_LIST = []        # a fresh account's rules ({"id", "ip"}): none, so IP Access Management is off
CLIENT_ADDRESS = "127.0.0.1"  # where every case reaches its servers from, as their access activity records it
# API keys (sendgrid_api_key_info, sendgrid_api_key): the list, read with limit 100 (documented: the most keys an
# account may hold), then each key. A fresh server's parent holds one key, the one the case's servers were started
# with (the calling key), by the name the server gives it (tools/sendgrid_api/api_keys.py) and the id it names: a key
# of the form SG.<api_key_id>.<secret> names its own id (documented in sendgrid_api_key's protect_calling_key, and
# what the server does); every other account holds none.
API_KEYS_PATH = "/v3/api_keys"
API_KEYS_LIMIT = 100
START_KEY_NAME = "start key 1"
API_KEY_SCOPES = ("api_keys.read", "api_keys.create", "api_keys.update", "api_keys.delete")   # sendgrid_api_key's
# Teammates (sendgrid_teammate, sendgrid_teammate_info, the baseline's teammates): the list, a page of 500 at a time
# (documented), each teammate who is no admin, and the pending invites.
TEAMMATES_PATH = "/v3/teammates"
TEAMMATES_PENDING_PATH = "/v3/teammates/pending"
TEAMMATES_PAGE_SIZE = 500
# What the server's request log shows of a write-only field (a subuser's password: tools/sendgrid_api/common.py MASK):
# the model says the password is sent, the log can only say that a value was.
LOGGED_SECRET = "********"
# Scopes that key surely holds (the case's servers give it every scope they serve): api_keys.read, which the module
# documents as needed, and Enforced TLS's read, a scope of every server; the account-control families the module
# documents.
FRESH_KEY_SCOPES = ("api_keys.read", "user.settings.enforced_tls.read")
ACCOUNT_CONTROL_SCOPES = ("api_keys.*", "teammates.*", "access_settings.*")

# The subusers of every case's servers: one EU regional, one disabled, one that the exclude sample matches.
SUBUSERS = ["marketing", "billing", "support", "eu-newsletter:eu", "dormant:disabled"]
ACCOUNT_IDS = ["777"]


class Dynamic(str):
    """A value known only when the case runs (a server's URL, a file): its text is what the test id shows."""


# Sample values, only for options whose valid value cannot come from the type (by module option name; a role
# variable uses the samples of the module option it is handed to): alternatives, each one a case of its own.
# Every other option gets values generated from its spec.
SAMPLES = {
    "api_key": [Dynamic("<key-only-the-case-servers-know>")],   # the environment's key is unknown there
    "api_url": [Dynamic("<option-server-url>")],                    # a third server, not SENDGRID_API_URL's
    "eu_api_url": [Dynamic("<option-eu-server-url>")],              # a fourth, not SENDGRID_EU_API_URL's
    "ca_path": [Dynamic("<ca-file>")],                              # the CA of the case's HTTPS servers
    "on_behalf_of": ["marketing"],                                  # an existing subuser
    # a plain name, the name alias with a region and an override, on_behalf_of with an override
    "accounts": [["marketing", "billing", {"name": "eu-newsletter", "region": "eu", "min_tls_version": "1.2"},
                  {"on_behalf_of": "support", "require_valid_cert": True}]],
    # patterns are strings by type, but only patterns matching some subusers show that they are applied
    "names": [["m*", "b?lling"]],
    "exclude": [["sup*", "nobody-*"]],
    # a str whose valid values only the description names (choices would refuse null, which means "not managed")
    "min_tls_version": ["1.1", "1.2", "1.3"],
    # a family name, a single tracking setting and Enforced TLS (generated names would be refused)
    "settings": [["enforced_tls", "tracking_settings.open", "mail_settings"]],
    # suboptions (section.suboption) whose values must be e-mail addresses (or domains, for the whitelist)
    "forward_spam.email": [["abuse@example.com", "postmaster@example.com"]],
    "forward_bounce.email": ["bounces@example.com"],
    "address_whitelist.list": [["example.com", "vip@example.org"]],
    # allow list entries: this machine first (the lockout guard lets a fresh account's first list through), a
    # network, a SendGrid wildcard, the network again as a wildcard (the same network: not sent twice) and an
    # IPv6 address in capitals (its canonical network is lower case, /128); none refused, none wide
    "entries": [["127.0.0.1", "203.0.113.0/24", "198.51.100.*", "203.0.113.*", "2001:DB8::1"]],
    # the address this machine reaches the case's servers from
    "client_addresses": [[CLIENT_ADDRESS]],
    # how messages name the options: no request depends on it
    "option_names": [{"timeout": "my_timeout", "accounts": "my_subusers"}],
    # a URL, as the documentation asks of the unsubscribe page
    "subscription.url": ["https://example.com/unsubscribe"],
}
# Samples of one module's option (and of the role variables handed to it) where the shared sample does not fit that
# module: {(module, option): [values]}, filled beside each module's model.
MODULE_SAMPLES = {}
# Invalid values the type cannot generate, for options the documentation says are checked ("Another value fails
# before any request"); each module runs its own check, so these run on every module that has the option.
INVALID_SAMPLES = {
    "min_tls_version": ["1.0"],
    "settings": [["tracking_settings.open", "tracking_settings.nope"]],    # "Another name fails before any request"
    # a number of days cannot be negative (V(0) is "none"); the addresses are checked before any request
    "bounce_purge.soft_bounces": [-1, 5000],
    "bounce_purge.hard_bounces": [-1],
    "subscription.url": ["example.com/unsubscribe"],
    "forward_spam.email": [["abuse@example.com", "not-an-address"]],
    "forward_bounce.email": ["bounces.example.com"],
    "address_whitelist.list": [["example.com", "not an address"]],
    # "An invalid entry fails before any request": a wildcard SendGrid does not have, a prefix longer than 32; "one
    # with host bits set fails"; "a network of every address fails ... unless allow_any_address"
    "entries": [["127.0.0.1", "203.*.113.*", "203.0.113.0/33"], ["127.0.0.1", "203.0.113.9/24"], ["127.0.0.1", "0.0.0.0/0"]],
    # an address, not a network
    "client_addresses": [[CLIENT_ADDRESS, "127.0.0.0/8"]],
    # "Each pattern must be non-empty text without spaces; another value fails before any request"
    "allowed_scopes": [["mail.send", "mail send"]],
}
# A value the model expects a module not to return at all (None: returned as null).
NOT_RETURNED = Dynamic("<not returned>")
NEW_DIRECTORY = Dynamic("<new-directory>")   # the generated value of a path option without a sample

# Access as code (sendgrid_teammate, sendgrid_api_key, sendgrid_subuser): names and addresses new to a fresh account,
# so that a case invites or creates, and ones it holds, so that a case finds them (and meets the guards).
NEW_TEAMMATE = "new.teammate@example.com"
PARENT_OWNER_EMAIL = "PARENT@example.com"       # the parent's owner, parent@example.com, in capitals
TEAMMATE_SCOPES = ("mail.send", "stats.read")
NEW_KEY_NAME = "matrix key"
NEW_SUBUSER = "matrix-subuser"
SUBUSER_PASSWORD = "Matrix-subuser-pw-3c9e1f"   # write-only: no output of any case may show it (SECRET_SAMPLES)
SECRET_SAMPLES = (SUBUSER_PASSWORD,)
CALLING_KEY_ID = Dynamic("<calling-key-id>")    # the id of the key the case authenticates with
SAMPLES["scopes"] = [list(TEAMMATE_SCOPES)]     # scope names (generated items are not)
MODULE_SAMPLES.update({
    ("sendgrid_teammate", "email"): [NEW_TEAMMATE, PARENT_OWNER_EMAIL],
    # a new key (created: the result is censored), and the calling key, by name and by id (the guard)
    ("sendgrid_api_key", "name"): [START_KEY_NAME, NEW_KEY_NAME],
    ("sendgrid_api_key", "api_key_id"): [CALLING_KEY_ID],
    # a new subuser, and one the servers hold, disabled, whose e-mail is not the one given
    ("sendgrid_subuser", "username"): [NEW_SUBUSER, "dormant"],
    ("sendgrid_subuser", "email"): ["%s@example.com" % NEW_SUBUSER],
    ("sendgrid_subuser", "password"): [SUBUSER_PASSWORD],
    ("sendgrid_subuser", "ips"): [["192.0.2.10", "198.51.100.7"]],
    ("sendgrid_subuser", "confirm_delete"): [NEW_SUBUSER],
})
# What a module cannot run without, given to each of its cases that does not give it: {module: ((option, value, the
# state it is needed in, None for every state), ...)}. Documented as required (the connection options come from the
# environment), or as needed with a state: sendgrid_api_key's scopes with state=present (required_if), a new
# subuser's email, password and ips. The value is the option's first sample (but ips: V([]) assigns none, its sample
# some), and the case that would give that sample alone is the defaults case again: it does not run twice.
REQUIRED = {
    "sendgrid_teammate": (("email", NEW_TEAMMATE, None),),
    # the calling key's name: the defaults meet the guard, protect_calling_key=false shows it off, state=absent the
    # guard of deletion
    "sendgrid_api_key": (("name", START_KEY_NAME, None), ("scopes", list(TEAMMATE_SCOPES), "present")),
    "sendgrid_subuser": (("username", NEW_SUBUSER, None), ("email", "%s@example.com" % NEW_SUBUSER, "present"),
                         ("password", SUBUSER_PASSWORD, "present"), ("ips", [], "present")),
}

# Event webhooks (sendgrid_event_webhook, its info module, the baseline's event_webhooks): a fresh account has none.
WEBHOOKS_PATH = "/v3/user/webhooks/event/settings"
WEBHOOKS_ALL_PATH = WEBHOOKS_PATH + "/all"
WEBHOOK_ID = "{id}"            # the id the server gives a new webhook (a UUID): logged_calls() writes it so
WEBHOOK_PATH_ID = re.compile(r"^(%s/(?:signed/)?)(?!all$)[^/]+$" % re.escape(WEBHOOKS_PATH))
WEBHOOK_EVENTS = ("group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce", "deferred",
                  "unsubscribe", "processed", "open", "click", "dropped")
MATRIX_HOOK_URL = "https://hooks.example.com/matrix"
OAUTH_TOKEN_URL = "https://auth.example.com/oauth2/token"
OAUTH_SECRET = "Matrix-oauth-SECRET-8e2d"      # write-only: no output of any case may show it (SECRET_SAMPLES)
SECRET_SAMPLES += (OAUTH_SECRET,)
MODULE_SAMPLES.update({
    # the URL every case gives (REQUIRED), and one over plain http, refused unless allow_http
    ("sendgrid_event_webhook", "url"): [MATRIX_HOOK_URL, "http://hooks.example.com/matrix"],
    ("sendgrid_event_webhook", "friendly_name"): ["matrix hook"],
    ("sendgrid_event_webhook", "oauth_client_id"): ["matrix-client"],
    ("sendgrid_event_webhook", "oauth_token_url"): [OAUTH_TOKEN_URL],
    ("sendgrid_event_webhook", "oauth_client_secret"): [OAUTH_SECRET],
})
REQUIRED["sendgrid_event_webhook"] = (("url", MATRIX_HOOK_URL, None),)
INVALID_SAMPLES.update({
    # "url must be an absolute URL", "friendly_name non-empty text", host patterns without scheme, port or path
    "url": ["hooks.example.com/matrix"],
    "friendly_name": ["  "],
    "allowed_hosts": [["hooks.example.com", "https://hooks.example.com"]],
})

# Role variables that are not handed to the module, and what the test checks for them instead.
ROLE_ONLY = {"enforced_tls_report_dir": "report"}
# Role variables never given as -e strings, and why.
NOT_AS_EXTRA_VAR = {"enforced_tls_api_key": "a key on the command line shows in ps and shell history"}

DOCUMENTED_RANGE = re.compile(r"\bfrom (-?\d+) to (-?\d+)\b")
DOCUMENTED_VALUE = re.compile(r"\bV\(([^()]*)\)")
PYTHON_TYPES = {"str": str, "int": int, "list": list, "bool": bool, "float": (int, float)}


# ----------------------------------------------------------------------------- sources

@dataclass(frozen=True)
class Option:
    name: str
    type: str
    default: object          # MISSING when none is documented
    choices: tuple | None
    elements: str | None
    required: bool
    description: str
    suboptions: tuple = ()   # of Option, named section.suboption, for a type: dict option with suboptions

    @property
    def section(self) -> str | None:
        """The dict option holding this suboption (None for a top-level option)."""
        return self.name.rsplit(".", 1)[0] if "." in self.name else None

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def documented_values(self) -> list:
        """The literal values of the option's type that its description names, V(null) aside: V([]), V(""), V(0)."""
        values = []
        for text in DOCUMENTED_VALUE.findall(self.description):
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            wanted = PYTHON_TYPES.get(self.type)
            if value is not None and wanted and isinstance(value, wanted) and not (
                    self.type != "bool" and isinstance(value, bool)) and value not in values:
                values.append(value)
        return values

    @property
    def nullable(self) -> bool:
        """Documented as "not managed" when null: no default (or null), or V(null) in its description."""
        return not self.required and (self.default is MISSING or self.default is None or "V(null)" in self.description)

    @property
    def null_differs(self) -> bool:
        """Nullable, and null is not already what the documented defaults give: only then is a null case news (null
        where the default is null, or there is none, is the defaults case again, which runs anyway)."""
        return self.nullable and self.default is not MISSING and self.default is not None

    @property
    def documented_range(self):
        match = DOCUMENTED_RANGE.search(self.description)
        return (int(match.group(1)), int(match.group(2))) if match else None


def make_option(name: str, doc: dict, default=MISSING) -> Option:
    description = doc.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    if default is MISSING and "default" in doc:
        default = doc["default"]
    choices = doc.get("choices")
    kind = doc.get("type", "str")
    # the suboptions of a dict option (a section; a role's argument spec calls them options); a list of dicts
    # (accounts) keeps its samples
    suboptions = tuple(make_option("%s.%s" % (name, sub), sub_doc)
                       for sub, sub_doc in (doc.get("suboptions") or doc.get("options") or {}).items()) if kind == "dict" else ()
    return Option(name=name, type=kind, default=default,
                  choices=tuple(choices) if choices is not None else None, elements=doc.get("elements"),
                  required=bool(doc.get("required", False)), description=description, suboptions=suboptions)


@dataclass
class Source:
    kind: str                # "role" or "module"
    name: str                # role or module name
    label: str               # test id prefix
    options: dict            # name -> Option
    module: str              # the module that does the work (for a role: the one its tasks call)
    task: str                # the name of the task whose result tells (for a module: the case's own task)
    to_module: dict = field(default_factory=dict)   # role variable -> module option
    fqcn: str = ""


# Modules the matrix does not run: {module: (the test file that gives each option alone and each invalid value
# instead, generated from the module's argument spec, why)}. The matrix checks what reaches SendGrid.
NOT_IN_MATRIX = {
    "sendgrid_report": ("tests/unit/plugins/action/test_sendgrid_report.py",
                        "an action plugin that writes files on the controller and sends no request"),
    "sendgrid_drift_gate": ("tests/unit/plugins/action/test_sendgrid_drift_gate.py",
                            "an action plugin that reads a registered result and sends no request"),
    "sendgrid_role_variables": ("tests/unit/plugins/action/test_sendgrid_role_variables.py",
                                "an action plugin that reads the task's variables and sends no request"),
}


def all_module_names(repo_root: Path) -> list:
    return sorted(p.stem for p in (repo_root / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def module_names(repo_root: Path) -> list:
    """The modules the matrix runs."""
    return [name for name in all_module_names(repo_root) if name not in NOT_IN_MATRIX]


def module_docs(repo_root: Path, env: dict) -> dict:
    """Every module's documentation, fragments merged, from one ansible-doc run."""
    names = ["%s.%s" % (COLLECTION, name) for name in module_names(repo_root)]
    ansible_doc = str(Path(sys.executable).with_name("ansible-doc"))
    done = subprocess.run([ansible_doc, "--json", "-t", "module"] + names, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    docs = json.loads(done.stdout or "{}")
    missing = [name for name in names if name not in docs]
    if done.returncode or missing:
        raise RuntimeError("ansible-doc did not document %s (rc %s): %s" % (missing, done.returncode, done.stderr[-2000:]))
    return {name.rsplit(".", 1)[1]: docs[name]["doc"] for name in names}


def role_tasks(role_dir: Path) -> list:
    tasks = []
    for path in sorted((role_dir / "tasks").glob("*.yml")):
        tasks += _flatten(yaml.safe_load(path.read_text(encoding="utf-8")) or [])
    return tasks


def _flatten(tasks: list) -> list:
    flat = []
    for task in tasks:
        flat.append(task)
        for key in ("block", "rescue", "always"):
            flat += _flatten(task.get(key) or [])
    return flat


def role_module_task(role_dir: Path, variables) -> tuple:
    """(module, task name, {role variable: module option}) of the role's task that calls a collection module that
    talks to SendGrid (not one of the controller-side action plugins of NOT_IN_MATRIX)."""
    for task in role_tasks(role_dir):
        for key, args in task.items():
            if key.startswith(COLLECTION + ".") and isinstance(args, dict) and key.rsplit(".", 1)[1] not in NOT_IN_MATRIX:
                mapping = {}
                for option, value in args.items():
                    for variable in re.findall(r"\b\w+\b", str(value)):
                        if variable in variables:
                            mapping[variable] = option
                return key.rsplit(".", 1)[1], task["name"], mapping
    raise RuntimeError("%s calls no %s module" % (role_dir, COLLECTION))


def role_defaults(role_dir: Path) -> dict:
    path = role_dir / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def load_sources(repo_root: Path, env: dict) -> list:
    docs = module_docs(repo_root, env)
    sources = []
    role_dirs = sorted(p.parents[1] for p in repo_root.glob("roles/*/meta/argument_specs.yml"))
    for role_dir in role_dirs:
        spec = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
        options_doc = spec["argument_specs"][ROLE_ENTRY_POINT].get("options") or {}
        defaults = role_defaults(role_dir)
        # The documented default of a role variable is what defaults/main.yml sets (the spec may leave it out:
        # a spec default refuses null); test_role_documented_defaults_agree checks that the two agree.
        options = {name: make_option(name, doc, defaults.get(name, MISSING)) for name, doc in options_doc.items()}
        module, task, mapping = role_module_task(role_dir, options)
        label = "role" if len(role_dirs) == 1 else "role-" + role_dir.name
        sources.append(Source("role", role_dir.name, label, options, module, task, mapping,
                              "%s.%s" % (COLLECTION, role_dir.name)))
    for name, doc in docs.items():
        options = {option: make_option(option, spec) for option, spec in (doc.get("options") or {}).items()}
        sources.append(Source("module", name, name, options, name, "", {}, "%s.%s" % (COLLECTION, name)))
    return sources


def module_option(source: Source, option: str) -> str | None:
    """The module option a role variable is handed to (the option itself for a module), None for role-only ones; a
    role variable's suboption is the module option's suboption (baseline_tracking.click: tracking.click)."""
    if source.kind == "module":
        return option
    variable, dot, suboption = option.partition(".")
    target = source.to_module.get(variable)
    return target + dot + suboption if target and dot else target


def valued_options(source: Source) -> list:
    """The options that get values of their own: top-level ones, and instead of a section its suboptions."""
    return [item for option in source.options.values() for item in (option.suboptions or (option,))]


def fresh_value(source: Source, option: Option):
    """A suboption's value in a fresh account (API form), MISSING when the model knows none."""
    family = SECTION_FAMILIES.get(source.module)
    if family is None or option.section is None:
        return MISSING
    return FRESH_SECTIONS[family].get(option.section, {}).get(option.short_name, MISSING)


# ----------------------------------------------------------------------------- values

def generated_values(source: Source, option: Option) -> list | None:
    """Valid non-default values for an option given alone: a sample, else from its type; None when neither exists.

    A suboption also gets the literal values its description documents (V([]), V(""), V(0)).
    """
    values = _generated_values(source, option)
    if option.section is None or values is None:
        return values
    return values + [value for value in option.documented_values if value not in values]


def given_value(option: Option, value):
    """What a case gives for an option holding this value: a suboption goes inside its section."""
    return (option.section, {option.short_name: value}) if option.section else (option.name, value)


def _generated_values(source: Source, option: Option) -> list | None:
    if option.type == "bool" and option.section and isinstance(fresh_value(source, option), bool):
        return [not fresh_value(source, option)]     # the value that differs from a fresh account
    if option.type == "bool":
        # the other bool; both when there is no default (null is a third state, tested by the null case)
        return [not option.default] if isinstance(option.default, bool) else [False, True]
    if option.choices:
        return [choice for choice in option.choices if choice is not None and choice != option.default]
    target = module_option(source, option.name)
    if (source.module, target) in MODULE_SAMPLES:
        return list(MODULE_SAMPLES[(source.module, target)])
    if target in SAMPLES:
        return list(SAMPLES[target])
    if option.type == "int":
        low_high = option.documented_range
        default = option.default if isinstance(option.default, int) else None
        if low_high:
            return [low_high[0] if low_high[0] != default else low_high[0] + 1]
        return [default + 1 if default is not None else 1]
    if option.type == "float":
        return [option.default / 2 + 0.5 if isinstance(option.default, (int, float)) else 1.5]
    if option.type == "path":
        return [NEW_DIRECTORY]
    if option.type == "list" and option.elements == "str":
        return [["generated-1", "generated-2"]]
    if option.type == "str" and option.section:
        return ["generated-text"]
    return None


def invalid_values(source: Source, option: Option) -> list:
    """(value, shared) pairs the option must refuse. shared: refused by AnsibleModule's own type or choices check,
    the same in every module documenting the option alike; not shared: the collection's own checks."""
    values = []
    if option.type == "bool":
        values.append(("maybe", True))
    elif option.choices:
        values.append(("not-a-choice", True))
    elif option.type in ("int", "float"):
        values.append(("many", True))
    elif option.type == "dict" and option.suboptions:
        values.append(("not-a-section", True))
    if option.type == "int" and option.documented_range:
        values.append((option.documented_range[1] + 1, False))
    target = module_option(source, option.name)
    if not option.choices and target in INVALID_SAMPLES:
        values += [(value, False) for value in INVALID_SAMPLES[target]]
    return values


def value_text(value) -> str:
    """A value as a test id shows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value_text(item) for item in value) if value else "[]"
    if value == "":
        return '""'
    if value in SECRET_SAMPLES:
        return "<secret>"      # a test id is printed: a write-only value must not be
    if isinstance(value, dict):
        return "{%s}" % (value.get("name") or value.get("on_behalf_of") or "...")
    return str(value)


def extra_var_text(value) -> str:
    """The -e key=value spelling of a value: a list is comma-separated, a bool true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(extra_var_text(item) for item in value)
    return str(value)


def string_expressible(value):
    """The part of a value that -e key=value can express: a dictionary item of a list cannot be written there."""
    if isinstance(value, list):
        return [item for item in value if not isinstance(item, dict)]
    return value


# ----------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    id: str
    source: str              # Source.label
    kind: str                # defaults | alone | null | rejected
    option: str | None
    values: tuple            # ((option, value), ...) given to the role/module; the rest stays at its default

    @property
    def given(self) -> dict:
        return dict(self.values)


def required_values(source: Source, given: dict) -> tuple:
    """The (option, value) pairs REQUIRED gives a case of a module that does not give them itself."""
    if source.kind != "module":
        return ()
    state = given.get("state", source.options["state"].default if "state" in source.options else None)
    return tuple((option, value) for option, value, needed_in in REQUIRED.get(source.name, ())
                 if option not in given and needed_in in (None, state))


def with_required(source: Source, case: Case) -> Case:
    return Case(case.id, case.source, case.kind, case.option, case.values + required_values(source, case.given))


def fails_before_any_request(source: Source, case: Case, module_options: dict) -> bool:
    """Whether the model says the case fails before any request (state=absent without its confirmation, say): an
    option riding on it would show nothing, so it runs alone."""
    given = dict(case.values + required_values(source, case.given))
    params = effective_module_params(source, given, module_options[source.module])
    try:
        MODELS[source.module](params, {}, subusers())
    except Refused as refusal:
        return not refusal.calls
    return False


def generate_cases(sources: list) -> list:
    cases = []
    refused = set()
    module_options = {source.name: source.options for source in sources if source.kind == "module"}
    for source in sources:
        prefix = source.label
        first = len(cases)
        cases.append(Case("%s:defaults" % prefix, prefix, "defaults", None, ()))
        # a required option's value that REQUIRED gives every case: given alone, the defaults case again
        defaults_given = dict(required_values(source, {}))
        in_sections, others = [], []
        for section in source.options.values():
            if section.suboptions and section.null_differs:
                # a section null is not managed: nothing of it is read or sent
                others.append(Case("%s:%s=null:not-managed" % (prefix, section.name), prefix, "null", section.name,
                                   ((section.name, None),)))
            # a section that is not a dict: AnsibleModule's check, the same for every section of a module (once each)
            for value, _by_ansible in invalid_values(source, section) if section.suboptions else []:
                if ("section", source.name) not in refused:
                    cases.append(Case("%s:%s=%s:rejected" % (prefix, section.name, value_text(value)), prefix,
                                      "rejected", section.name, ((section.name, value),)))
                refused.add(("section", source.name))
        for option in valued_options(source):
            accepted = in_sections if option.section else others
            # no value at all fails test_every_option_has_a_generated_or_sample_value; null and invalid cases still run
            for value in generated_values(source, option) or []:
                if option.name in defaults_given and defaults_given[option.name] == value:
                    continue
                accepted.append(Case("%s:%s=%s:alone" % (prefix, option.name, value_text(value)), prefix, "alone",
                                     option.name, (given_value(option, value),)))
            if option.null_differs and option.section is None:
                accepted.append(Case("%s:%s=null:not-managed" % (prefix, option.name), prefix, "null", option.name,
                                     ((option.name, None),)))
            # A value AnsibleModule refuses for its type (a bool, an int...) or its choices is refused by the same
            # check, naming the option, whatever the option and the module, before the module's own code runs (so
            # nothing can be sent): such a value runs once per type and choices, on the first module that has one.
            # A role's checks are its own, and so are a module's own checks (by_ansible false): those run everywhere.
            shared = (option.type, option.choices)
            for value, by_ansible in invalid_values(source, option):
                if source.kind == "module" and by_ansible and shared in refused:
                    continue
                cases.append(Case("%s:%s=%s:rejected" % (prefix, option.name, value_text(value)), prefix, "rejected",
                                  option.name, (given_value(option, value),)))
            refused.add(shared)
        others = patience_together(source, others)
        if in_sections:
            cases += riding(in_sections, others)
        else:
            # A module's (a role's) own options given alone are the bases; its connection options, role-only
            # variables and nulls ride on them (see riding()): each is still given once at least, beside one other
            # option it does not touch. The documented defaults always run alone, and so does a base the model says
            # fails before any request.
            bases = [case for case in others if case.kind == "alone"
                     and module_option(source, case.option) not in CONNECTION_OPTIONS | {None}]
            silent = [case for case in bases if fails_before_any_request(source, case, module_options)]
            bases = [case for case in bases if case not in silent]
            riders = [case for case in others if case not in bases + silent]
            cases += (riding(bases, riders) if bases else riders) + silent
        cases[first:] = [with_required(source, case) for case in cases[first:]]
    return cases


# Connection options that change no request unless a request fails: how long to wait and how often to retry.
PATIENCE = ("timeout", "retries", "retry_max_wait")


def patience_together(source: Source, cases: list) -> list:
    """The cases that give a PATIENCE option alone, made one case giving them all (the cases run no fault, so none of
    the three can show in the requests or stand in another's way: each is still given, and must still be taken)."""
    patience = [case for case in cases if case.kind == "alone" and module_option(source, case.option) in PATIENCE]
    if len(patience) < 2:
        return cases
    joined = Case("%s:%s:alone" % (source.label, "+".join(case.id.split(":")[1] for case in patience)), source.label,
                  "alone", patience[0].option, tuple(value for case in patience for value in case.values))
    return [case for case in cases if case not in patience] + [joined]


def riding(bases: list, riders: list) -> list:
    """Cases where each rider rides on a base: one case gives both, and the model judges the two together.

    A module of sections reads and sends nothing when every section is left out (documented): there, an option that
    is not a section, given alone, would show nothing, and a section null only what the defaults show, so each such
    case (a rider) rides on a case of another section's suboption (a base), whose requests it must then steer (host,
    key, account, certificate checks) or leave alone (the null section: nothing read or sent for it while another
    section is), as the model says. Every other module's (and role's) connection options and nulls ride likewise on
    its own options given alone: the request model still sees each value's effect, and the matrix, the suite's
    largest cost (each case is a module run), is about a third smaller. Every base runs once at least, alone when riders run
    short; riders beyond the bases take one again.
    """
    def fits(base, rider):
        return not set(base.given) & set(rider.given)

    pairs, waiting = [], list(riders)
    for base in bases:
        rider = next((rider for rider in waiting if fits(base, rider)), None)
        if rider is not None:
            waiting.remove(rider)
        pairs.append((base, rider))
    for index, rider in enumerate(waiting):
        base = next((base for base in bases[index:] + bases[:index] if fits(base, rider)), None)
        pairs.append((base, rider) if base is not None else (rider, None))   # no base fits: alone
    return [base if rider is None else Case(
        "%s+%s" % (base.id.rsplit(":", 1)[0], rider.id.split(":", 1)[1]), base.source, rider.kind, rider.option,
        base.values + rider.values) for base, rider in pairs]


def extra_var_values(source: Source) -> dict:
    """Every role variable (but NOT_AS_EXTRA_VAR) at its last generated value, as -e can express it.

    The last one: for a bool without default that is true, for choices the last listed (1.3 differs from a fresh
    account's 1.1), so that most variables change what is sent.
    """
    values = {}
    for option in source.options.values():
        if option.name in NOT_AS_EXTRA_VAR:
            continue
        generated = generated_values(source, option)
        if generated:
            values[option.name] = string_expressible(generated[-1])
    return values


# ----------------------------------------------------------------------------- the model

def effective_module_params(source: Source, given: dict, module_doc_options: dict) -> dict:
    """What the module works with: the documented defaults, then the given values; null means "not set".

    For a role: its variables' documented defaults, the given ones on top, handed to the module's options.
    """
    if source.kind == "role":
        role_values = {name: (option.default if option.default is not MISSING else None)
                       for name, option in source.options.items()}
        role_values.update(given)
        given = {source.to_module[name]: value for name, value in role_values.items()
                 if name in source.to_module and value is not None}
    params = {name: (option.default if option.default is not MISSING else None)
              for name, option in module_doc_options.items()}
    params.update(given)
    return params


def host_for(region: str, params: dict, env: dict) -> str:
    """The documented rule: for eu, eu_api_url (or SENDGRID_EU_API_URL), else api_url (or SENDGRID_API_URL), else
    the EU host; for global, api_url (or SENDGRID_API_URL), else the global host. Null is "not set"."""
    api_url = params.get("api_url") or env.get("SENDGRID_API_URL")
    eu_api_url = params.get("eu_api_url") or env.get("SENDGRID_EU_API_URL")
    if region == "eu" and eu_api_url:
        return eu_api_url.rstrip("/")
    if api_url:
        return api_url.rstrip("/")
    return SENDGRID_HOSTS[region]


@dataclass(frozen=True)
class Subuser:
    name: str
    region: str
    disabled: bool


def subusers(definition: tuple = tuple(SUBUSERS)) -> list:
    """The servers' subusers as the model sees them."""
    result = []
    for spec in definition:
        name, *flags = spec.split(":")
        result.append(Subuser(name, "eu" if "eu" in flags else "global", "disabled" in flags))
    return result


def call(host, method, path, on_behalf_of=None, body=None, query=None) -> tuple:
    return (host, method, path, on_behalf_of, json.dumps(body, sort_keys=True) if body is not None else None,
            json.dumps(query, sort_keys=True) if query is not None else None)


def listing_calls(host: str, page_size: int, region: str, count: int) -> list:
    """Pages until an empty one (documented: a short page does not prove the end)."""
    calls, offset = [], 0
    while True:
        query = {"limit": str(page_size), "offset": str(offset), "region": region, "include_region": "true"}
        calls.append(call(host, "GET", SUBUSERS_PATH, query=query))
        size = max(0, min(page_size, count - offset))
        if not size:
            return calls
        offset += size


def settings_calls(host: str, on_behalf_of, desired: dict) -> list:
    """One GET; one PATCH with the fields that differ from a fresh account, when any do (null: not compared)."""
    body = {}
    for option, api_field in POLICY_FIELDS.items():
        value = desired.get(option)
        if value is None:
            continue
        api_value = float(value) if api_field == "version" else value
        if FRESH_SETTINGS[api_field] != api_value:
            body[api_field] = api_value
    calls = [call(host, "GET", TLS_PATH, on_behalf_of)]
    if body:
        calls.append(call(host, "PATCH", TLS_PATH, on_behalf_of, body))
    return calls


@dataclass
class Expectation:
    calls: list              # call() tuples, as a multiset; GET before PATCH per account, pages in order
    accounts: list = field(default_factory=list)     # names, in the order the module reports them
    listed: list | None = None                       # sendgrid_subuser_info: the usernames it returns, and the total
    total: int | None = None
    returned: dict | None = None                     # settings modules: result keys -> values (comparable_result())
    # result keys whose value is a list of records compared on these fields only, each distinct record once
    # (what else a record holds, and how a server groups them, the documentation leaves to SendGrid)
    projected: dict = field(default_factory=dict)
    # the result is hidden as no_log hides it (sendgrid_api_key when it returns a new key's secret): only changed shows
    censored: bool = False
    warned: tuple = ()                               # words that some warning of the task must hold
    writes_file: bool = False                        # a file on the controller changes (the export's dest)

    @property
    def changed(self) -> bool:
        return self.writes_file or any(c[1] in WRITES for c in self.calls)


class Refused(Exception):
    """The documentation says the task fails (a guard, a value it needs): ``calls`` are the requests it sends first
    (reads, never a write, unless ``after_writes``: a validation that fails once the domain is made), ``words`` what its
    message must name (an option, the guard's reason)."""

    def __init__(self, reason: str, calls=(), words=(), after_writes=False):
        super().__init__(reason)
        self.calls = list(calls)
        self.words = tuple(words)
        self.after_writes = after_writes


def model_enforced_tls(params, env, known) -> Expectation:
    host = host_for(params["region"], params, env)
    return Expectation(settings_calls(host, params.get("on_behalf_of"), params))


def model_enforced_tls_info(params, env, known) -> Expectation:
    host = host_for(params["region"], params, env)
    return Expectation([call(host, "GET", TLS_PATH, params.get("on_behalf_of"))])


def model_subuser_info(params, env, known) -> Expectation:
    host = host_for(params["region"], params, env)
    region = params["subuser_region"]
    in_region = [s for s in known if region == "all" or s.region == region]
    listed = [s.name for s in in_region
              if any(fnmatch.fnmatchcase(s.name, p) for p in params["names"])
              and not any(fnmatch.fnmatchcase(s.name, p) for p in params["exclude"])
              and (params["disabled"] is None or s.disabled is params["disabled"])]
    return Expectation(listing_calls(host, params["page_size"], region, len(in_region)), listed=listed,
                       total=len(in_region))


def model_entries(params, env, known, parent: dict | None = None) -> tuple:
    """(the discovery's calls, the accounts as the many-account modules take them): the parent (with its overrides
    ``parent``), the listed accounts in order, then the discovered ones not listed, not excluded, enabled unless
    disabled ones are included; a listed account takes its discovered region unless it gives one."""
    listed = []
    for item in params["accounts"] or []:
        item = {"on_behalf_of": item} if isinstance(item, str) else dict(item)
        if "name" in item:
            item["on_behalf_of"] = item.pop("name")
        listed.append(item)
    calls, discovered = [], []
    if params["discover_subusers"]:
        calls += listing_calls(host_for(params["region"], params, env), DISCOVERY_PAGE_SIZE, "all", len(known))
        regions = {s.name: s.region for s in known}
        names = {item["on_behalf_of"] for item in listed}
        for item in listed:
            item.setdefault("region", regions.get(item["on_behalf_of"]))
        discovered = [{"on_behalf_of": s.name, "region": s.region} for s in known
                      if s.name not in names
                      and not any(fnmatch.fnmatchcase(s.name, p) for p in params["exclude"] or [])
                      and (params["include_disabled"] or not s.disabled)]
    entries = ([dict(parent or {}, on_behalf_of=None)] if params["include_parent"] else []) + listed + discovered
    return calls, entries


def model_enforced_tls_accounts(params, env, known) -> Expectation:
    """The accounts of model_entries(); each on its region's host with the policy and its own overrides."""
    calls, entries = model_entries(params, env, known)
    accounts = []
    for entry in entries:
        region = entry.get("region") or params["region"]
        desired = {name: params.get(name) if entry.get(name) is None else entry[name] for name in POLICY_FIELDS}
        calls += settings_calls(host_for(region, params, env), entry["on_behalf_of"], desired)
        accounts.append(entry["on_behalf_of"] or "parent")
    return Expectation(calls, accounts=accounts)


# ----------------------------------------------------------------------------- the model: tracking and mail settings

def summary_path(family: str) -> str:
    return "/v3/%s" % family


def section_path(family: str, section: str) -> str:
    return "/v3/%s/%s" % (family, section)


def _addresses(text) -> list:
    return [address.strip() for address in (text or "").split(",") if address.strip()]


def api_form(section: str, name: str, value):
    """The documented API form of a field's option value."""
    if (section, name) == ("forward_spam", "email"):
        return ", ".join(address.strip() for address in value)      # one comma-separated string
    if (section, name) == ("forward_bounce", "email"):
        return value.strip() or None                                # "" is the API's null
    if section == "bounce_purge" and name in ("soft_bounces", "hard_bounces"):
        return value or None                                        # 0 days is the API's null
    return value


def option_form(section: str, name: str, value):
    """The documented option form of a field's API value (what the modules return)."""
    if (section, name) == ("forward_spam", "email"):
        return _addresses(value)
    if (section, name) == ("forward_bounce", "email"):
        return value or ""
    if section == "bounce_purge" and name in ("soft_bounces", "hard_bounces"):
        return value or 0
    return value


def same(section: str, name: str, api_value) -> object:
    """The form in which two API values of a field are compared: addresses as sets, ignoring case and spaces."""
    if (section, name) == ("forward_spam", "email"):
        return frozenset(address.lower() for address in _addresses(api_value))
    if (section, name) == ("address_whitelist", "list"):
        return frozenset(entry.strip().lower() for entry in api_value or [])
    if (section, name) == ("forward_bounce", "email"):
        return (api_value or "").strip().lower() or None
    return api_value


def comparable_body(path: str, body):
    """A write's body in the form compared with the model's: the comma-separated string of forward_spam, the
    address whitelist, the ids an allow list DELETE removes and the scopes of an API key or a teammate as sorted items
    (the order is free); anything else (the POST of allow list entries: in the order given) as sent."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if path == ALLOW_LIST_PATH and isinstance(body.get("ids"), list):
        body["ids"] = sorted(body["ids"], key=str)
    if path == section_path("mail_settings", "forward_spam") and isinstance(body.get("email"), str):
        body["email"] = ", ".join(sorted(_addresses(body["email"])))
    if path == section_path("mail_settings", "address_whitelist") and isinstance(body.get("list"), list):
        body["list"] = sorted(body["list"], key=str)
    if path.split("/")[:3] in (API_KEYS_PATH.split("/"), TEAMMATES_PATH.split("/")) and isinstance(
            body.get("scopes"), list):
        body["scopes"] = sorted(body["scopes"], key=str)      # scopes are compared as a set (documented)
    return body


def comparable_result(value):
    """A returned value with its lists sorted (address lists are sets), for comparison."""
    if isinstance(value, dict):
        return {key: comparable_result(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((comparable_result(item) for item in value), key=json.dumps)
    return value


def fresh_options(family: str, section: str) -> dict:
    return {name: option_form(section, name, value) for name, value in FRESH_SECTIONS[family][section].items()}


def model_section_settings(family: str, result_key: str, params, env) -> Expectation:
    """The documented request floor: one GET of the family's summary for every section given with only enabled;
    a GET of its own for a section with other fields; one PATCH per section with the fields that differ from a fresh
    account, in API form. A section null (or left out), and a field null, is neither read nor sent."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    calls, summary, after, changes = [], False, {}, {}
    for section, fresh in FRESH_SECTIONS[family].items():
        given = params.get(section)
        if given is None:
            continue
        desired = {name: value for name, value in given.items() if value is not None}
        if set(desired) == {"enabled"}:
            summary = True
        else:
            calls.append(call(host, "GET", section_path(family, section), obo))
        body = {name: api_form(section, name, value) for name, value in desired.items()
                if same(section, name, api_form(section, name, value)) != same(section, name, fresh.get(name))}
        if body:
            calls.append(call(host, "PATCH", section_path(family, section), obo, comparable_body(
                section_path(family, section), body)))
            changes[section] = {name: desired[name] for name in body}
        state = dict(fresh, **body)
        after[section] = ({"enabled": state["enabled"]} if set(desired) == {"enabled"} else
                          {name: option_form(section, name, value) for name, value in state.items()})
    if summary:
        calls.insert(0, call(host, "GET", summary_path(family), obo))
    return Expectation(calls, returned=comparable_result({result_key: after, "changes": changes}))


def model_tracking_settings(params, env, known) -> Expectation:
    return model_section_settings("tracking_settings", "tracking_settings", params, env)


def model_mail_settings(params, env, known) -> Expectation:
    return model_section_settings("mail_settings", "mail_settings", params, env)


def model_settings_info(params, env, known) -> Expectation:
    """One GET per setting named (a family name names all of its settings), every one when null; each returned whole,
    as the managing module names it: Enforced TLS under enforced_tls, the others under their family and section."""
    names = params["settings"]
    chosen = [name for name in INFO_SETTINGS
              if names is None or name in names or name.split(".")[0] in names]
    host = host_for(params["region"], params, env)
    returned = {}
    for name in chosen:
        family, _dot, section = name.partition(".")
        if section:
            returned.setdefault(family, {})[section] = fresh_options(family, section)
        else:
            returned[family] = {"require_tls": FRESH_SETTINGS["require_tls"],
                                "require_valid_cert": FRESH_SETTINGS["require_valid_cert"],
                                "min_tls_version": str(FRESH_SETTINGS["version"])}
    for family in ("enforced_tls",) + tuple(FRESH_SECTIONS):
        returned.setdefault(family, NOT_RETURNED)     # not read: not returned
    return Expectation([call(host, "GET", INFO_SETTINGS[name], params.get("on_behalf_of")) for name in chosen],
                       returned=comparable_result(returned))


# ----------------------------------------------------------------------------- the model: the IP allow list

def allow_list_network(entry: str):
    """The network an entry names, as the documentation says SendGrid stores it: an address is its /32 (/128), a
    wildcard a.*.*.*, a.b.*.*, a.b.c.* the /8, /16, /24, a CIDR network loses its host bits (as SendGrid may list a
    rule; an entry given so is refused, see entry_refused); None when it names none."""
    if not isinstance(entry, str):
        return None
    if "*" in entry:
        parts = entry.split(".")
        fixed = [part for part in parts if part != "*"]
        if len(parts) != 4 or not 1 <= len(fixed) <= 3 or parts[:len(fixed)] != fixed or "/" in entry:
            return None
        entry = "%s/%d" % (".".join(fixed + ["0"] * (4 - len(fixed))), 8 * len(fixed))
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def entry_refused(entry: str, params) -> str | None:
    """Why the documentation says a valid entry fails before any request, None when it does not: a network written
    other than as its first address ("host bits set", in every state), or a network of every address added (state
    present) without allow_any_address."""
    text = entry.strip()
    if "/" in text and "*" not in text:
        address = text.split("/", 1)[0]
        if ipaddress.ip_network(text, strict=False).network_address != ipaddress.ip_address(address):
            return "host bits set: %s" % text
    if params["state"] == "present" and not params.get("allow_any_address") and allow_list_network(text).prefixlen == 0:
        return "every address, without allow_any_address: %s" % text
    return None


def canonical_networks(networks) -> list:
    """Networks as the modules return them: canonical texts (compared as sets: comparable_result sorts lists)."""
    return [str(net) for net in dict.fromkeys(networks)]


def model_ip_access(params, env, known) -> Expectation:
    """One GET of the list; when something differs, the lockout guard (client_addresses, else one GET of the recent
    activity, SendGrid's default page: it shows this machine's own request), then one POST with every missing entry
    (in the order given, each network once, canonical) and one DELETE with the id of every rule to remove, the POST
    first. state present adds, with purge also removes every other rule; absent removes the rules equal to an entry
    as networks; disabled removes every rule. Emptying the list otherwise, and leaving this machine's address
    uncovered without allow_lockout, fail with nothing written (Refused); so do, before any request, an entry with
    host bits set and a network of every address to add without allow_any_address."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    rules = [(rule["id"], rule["ip"], allow_list_network(rule["ip"])) for rule in FRESH_ALLOW_LIST]
    wanted = list(dict.fromkeys(allow_list_network(entry) for entry in params["entries"] or []))
    if None in wanted:
        raise Refused("an invalid entry fails before any request: %s" % params["entries"])
    refusals = [entry_refused(entry, params) for entry in params["entries"] or []]
    if any(refusals):
        raise Refused("an entry fails before any request: %s" % "; ".join(filter(None, refusals)))
    calls = [call(host, "GET", ALLOW_LIST_PATH, obo)]
    if params["state"] == "disabled":
        add, remove = [], list(rules)
    elif params["state"] == "absent":
        add, remove = [], [rule for rule in rules if rule[2] in wanted]
    else:
        have = {rule[2] for rule in rules}
        add = [net for net in wanted if net not in have]
        remove = [rule for rule in rules if rule[2] not in wanted] if params["purge"] else []
    after = [rule[2] for rule in rules if rule not in remove] + add
    addresses = None
    if add or remove:
        if not after and params["state"] != "disabled":
            raise Refused("only state: disabled empties the list", calls)
        if after and not params["allow_lockout"]:
            addresses = params.get("client_addresses")
            if not addresses:
                calls.append(call(host, "GET", ACTIVITY_PATH, obo, query={"limit": str(GUARD_ACTIVITY_LIMIT)}))
                addresses = [CLIENT_ADDRESS]
            uncovered = [a for a in addresses if not any(ipaddress.ip_address(a) in net for net in after)]
            if uncovered:
                raise Refused("the lockout guard refuses a list that does not cover %s" % uncovered, calls)
        if add:
            calls.append(call(host, "POST", ALLOW_LIST_PATH, obo, {"ips": [{"ip": str(net)} for net in add]}))
        if remove:
            calls.append(call(host, "DELETE", ALLOW_LIST_PATH, obo, comparable_body(
                ALLOW_LIST_PATH, {"ids": [rule[0] for rule in remove]})))
    returned = {"entries": canonical_networks(after), "added": canonical_networks(add),
                "removed": [rule[1] for rule in remove],
                "client_addresses": list(addresses) if addresses is not None else None}
    return Expectation(calls, returned=comparable_result(returned))


def model_ip_access_info(params, env, known) -> Expectation:
    """GET of the list, and (unless activity is false) GET of the activity with activity_limit; never a write. A
    fresh account's list is empty (enabled false); the activity shows this task's own requests: allowed, from this
    machine (a limit of 1 still holds one record), none refused."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    calls = [call(host, "GET", ALLOW_LIST_PATH, obo)]
    activity = []
    if params["activity"]:
        calls.append(call(host, "GET", ACTIVITY_PATH, obo, query={"limit": str(params["activity_limit"])}))
        activity = [{"allowed": True, "ip": CLIENT_ADDRESS}]
    networks = [allow_list_network(rule["ip"]) for rule in FRESH_ALLOW_LIST]
    returned = {"enabled": bool(FRESH_ALLOW_LIST), "entries": canonical_networks(networks),
                "rules": [dict(rule) for rule in FRESH_ALLOW_LIST], "activity": activity,
                "refused": [item for item in activity if item["allowed"] is False]}
    return Expectation(calls, returned=comparable_result(returned),
                       projected={"activity": ("allowed", "ip"), "refused": ("allowed", "ip")})


# ----------------------------------------------------------------------------- the model: API keys

def key_id_of(secret) -> str | None:
    """The id a key of the form SG.<api_key_id>.<secret> names (documented: every key SendGrid creates), else None."""
    parts = secret.split(".") if isinstance(secret, str) else []
    return parts[1] if len(parts) == 3 and parts[0] == "SG" and parts[1] and parts[2] else None


def calling_key(params, env) -> str | None:
    """The key the task authenticates with: api_key, else SENDGRID_API_KEY (documented)."""
    return params.get("api_key") or env.get("SENDGRID_API_KEY")


def fresh_keys(params, env, obo) -> list:
    """A fresh account's keys ({"name", "api_key_id"}): the parent's is the calling key, the server's first start key,
    whose id the key names; a subuser or customer account holds none."""
    if obo is not None:
        return []
    return [{"name": START_KEY_NAME, "api_key_id": key_id_of(calling_key(params, env)) or "start-key-1"}]


def key_reads(host, obo, keys) -> list:
    """The list (limit 100) and one GET per key read."""
    return [call(host, "GET", API_KEYS_PATH, obo, query={"limit": str(API_KEYS_LIMIT)})] + [
        call(host, "GET", "%s/%s" % (API_KEYS_PATH, key["api_key_id"]), obo) for key in keys]


def model_api_key_info(params, env, known) -> Expectation:
    """The documented floor, 1 + the number of keys: one GET of the list with limit 100, then one GET per key; never a
    write. A key is flagged when it holds account-control scopes and allowed_control_keys does not name it (the key
    running the module holds api_keys.read, one of them), or when allowed_scopes is a list and a scope of its others
    matches none of its patterns. Keys are compared by name and id (the server's key holds every scope it serves)."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    keys = fresh_keys(params, env, obo)
    calls = key_reads(host, obo, keys)

    def matches(scope, patterns):
        return any(fnmatch.fnmatchcase(scope, pattern) for pattern in patterns)

    control = [scope for scope in FRESH_KEY_SCOPES if matches(scope, ACCOUNT_CONTROL_SCOPES)]
    others = [scope for scope in FRESH_KEY_SCOPES if scope not in control]
    excess = params["allowed_scopes"] is not None and any(not matches(s, params["allowed_scopes"]) for s in others)
    flagged = [key for key in keys if excess or (control and key["name"] not in (params["allowed_control_keys"] or []))]
    return Expectation(calls, returned=comparable_result({"api_keys": keys, "flagged": flagged}),
                       projected={"api_keys": ("name", "api_key_id"), "flagged": ("name", "api_key_id")})


def model_api_key(params, env, known) -> Expectation:
    """One GET of the list (limit 100, as the audit reads it: the most keys an account holds), one GET per key of that
    name (the key api_key_id names, when given: it must exist); then at most one write. state present: none of that
    name, POST {name, scopes}, and the result holds the secret, so it is hidden (censored) and changed; one whose scopes
    differ (as a set), PUT {name, scopes} (a name alone that differs, chosen by api_key_id, would be a PATCH {name}:
    no case reaches it, the calling key's scopes always differ), returned as {name, api_key_id, scopes}. state absent:
    DELETE of the key of that name, none when there is none. Two keys of that name, or no key of api_key_id, fail. The
    guard (protect_calling_key, on by default; with on_behalf_of no key is the calling one): the calling key, whose id
    its form SG.<id>.<secret> names (so no GET /v3/scopes), is never deleted and never loses an api_keys.* scope; such a
    write fails with nothing written. The calling key holds every scope the servers serve, api_keys.* among them."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    keys = fresh_keys(params, env, obo)
    calling_id = key_id_of(calling_key(params, env)) if obo is None else None
    name, key_id = params["name"], params.get("api_key_id")
    chosen = [key for key in keys if key["api_key_id"] == key_id] if key_id else [
        key for key in keys if key["name"] == name]
    calls = key_reads(host, obo, [])
    if key_id and not chosen:
        raise Refused("no key has the id api_key_id: %s" % key_id, calls, words=("api_key_id",))
    calls = key_reads(host, obo, chosen)
    if len(chosen) > 1:
        raise Refused("two keys named %s" % name, calls, words=[key["api_key_id"] for key in chosen])
    key = chosen[0] if chosen else None
    guarded = key is not None and params["protect_calling_key"] and key["api_key_id"] == calling_id
    if params["state"] == "absent":
        if key is None:
            return Expectation(calls, returned=comparable_result({"key": None}))
        if guarded:
            raise Refused("the calling key is never deleted", calls, words=("protect_calling_key",))
        calls.append(call(host, "DELETE", "%s/%s" % (API_KEYS_PATH, key["api_key_id"]), obo))
        return Expectation(calls, returned=comparable_result({"key": None}))
    scopes = sorted(set(params["scopes"]))
    if key is None:
        calls.append(call(host, "POST", API_KEYS_PATH, obo, comparable_body(API_KEYS_PATH, {"name": name,
                                                                                            "scopes": scopes})))
        return Expectation(calls, censored=True)
    # the key found (the calling key) holds every scope the servers serve: more than the scopes asked for, and every
    # api_keys.* scope the module documents
    if guarded and not set(API_KEY_SCOPES) <= set(scopes):
        raise Refused("the calling key would lose its api_keys.* scopes", calls, words=("protect_calling_key",))
    calls.append(call(host, "PUT", "%s/%s" % (API_KEYS_PATH, key["api_key_id"]), obo, comparable_body(
        API_KEYS_PATH, {"name": name, "scopes": scopes})))
    return Expectation(calls, returned=comparable_result({"key": {"name": name, "api_key_id": key["api_key_id"],
                                                                  "scopes": scopes}}))


# ----------------------------------------------------------------------------- the model: teammates

def account_owner(obo) -> dict:
    """A fresh account's one teammate, its owner (tools/sendgrid_api/teammates.py): username the account's name
    (parent, the subuser's username, account-<id> for a customer account), e-mail <username>@example.com (the
    subuser's own e-mail on the case's servers), an admin with no scopes of its own."""
    username = "parent" if obo is None else obo.replace("account-id ", "account-", 1)
    return {"username": username, "email": "%s@example.com" % username, "user_type": "owner", "is_admin": True,
            "scopes": []}


def team_reads(host, obo, teammates) -> list:
    """The documented reads: each page of 500 of the list (a short page is the last), one GET per teammate who is no
    admin (the list holds no scopes), the pending invites."""
    calls = [call(host, "GET", TEAMMATES_PATH, obo, query={"limit": str(TEAMMATES_PAGE_SIZE), "offset": str(offset)})
             for offset in range(0, len(teammates) + 1, TEAMMATES_PAGE_SIZE)]
    calls += [call(host, "GET", "%s/%s" % (TEAMMATES_PATH, t["username"]), obo) for t in teammates if not t["is_admin"]]
    return calls + [call(host, "GET", TEAMMATES_PENDING_PATH, obo)]


def find_email(records, email):
    return next((record for record in records if record["email"].lower() == email.lower()), None)


def invite_call(host, obo, email, access) -> tuple:
    """POST /v3/teammates {email, is_admin, scopes}: an admin's scopes are never sent (SendGrid wants them empty)."""
    admin = access == "admin"
    return call(host, "POST", TEAMMATES_PATH, obo, comparable_body(TEAMMATES_PATH, {
        "email": email, "is_admin": admin, "scopes": [] if admin else list(access)}))


def model_teammate(params, env, known) -> Expectation:
    """The reads (a fresh account's team is its owner, an admin: no GET of one teammate; no invite); then at most one
    write. state present: one neither a teammate nor invited is invited, POST {email, is_admin (false when left out),
    scopes ([] for an admin)}, and needs scopes when no admin (else the task fails, nothing written); the owner (e-mail
    compared ignoring case) is never changed: is_admin false or scopes given fail with nothing written, is_admin true
    or nothing asked changes nothing. state absent: the owner is never removed (fails); one who is neither a teammate
    nor invited is left so. Returns the teammate ({access, invited}: access owner, admin or the sorted scopes) or null,
    and the changes by action with the e-mail addresses."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    teammates = [account_owner(obo)]
    calls = team_reads(host, obo, teammates)
    email = params["email"]
    member = find_email(teammates, email)

    def outcome(teammate, changes):
        return Expectation(calls, returned=comparable_result({"teammate": teammate, "changes": changes}),
                           projected={"teammate": ("access", "invited")})

    if params["state"] == "absent":
        if member is not None:
            raise Refused("the owner is never removed", calls, words=("owner",))
        return outcome(None, {})
    if member is not None:
        if params["is_admin"] is False or params["scopes"] is not None:
            raise Refused("the owner is never changed", calls, words=("owner",))
        return outcome({"access": "owner", "invited": False}, {})
    if not params["is_admin"] and params["scopes"] is None:
        raise Refused("scopes are needed to invite a teammate who is no admin", calls, words=("scopes",))
    access = "admin" if params["is_admin"] else sorted(set(params["scopes"]))
    calls.append(invite_call(host, obo, email, access))
    return outcome({"access": access, "invited": True}, {"invited": [email]})


def model_teammate_info(params, env, known) -> Expectation:
    """The reads, never a write; returns every teammate sorted by e-mail (compared on the documented fields: a fresh
    account's owner, an admin whose scopes are []) and every pending invite (none)."""
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    teammates = [account_owner(obo)]
    fields = ("email", "is_admin", "scopes", "user_type", "username")
    returned = {"teammates": [{name: t[name] for name in fields} for t in teammates], "pending": []}
    return Expectation(team_reads(host, obo, teammates), returned=comparable_result(returned),
                       projected={"teammates": fields})


# ----------------------------------------------------------------------------- the model: one subuser

def model_subuser(params, env, known) -> Expectation:
    """state absent without confirm_delete repeating username fails before any request. Else one GET /v3/subusers
    ?username=USERNAME&include_region=true (the region tells a subuser pinned elsewhere); then, state present, a subuser
    that is not there is created, POST /v3/subusers with SendGrid's fields {username, email, password, ips, region:
    subuser_region when given, include_region: true, so that the answer names the region as the lookup does} (email,
    password and ips are needed: the task fails without them, nothing written), then PATCH {disabled: true} when
    disabled is true (a subuser is created enabled); one that is there has disabled changed with one PATCH when it
    differs, an e-mail that differs is warned about (naming both addresses) and left, a subuser_region that differs
    fails. state absent deletes it (DELETE), or leaves none so. The password is sent (the server's log shows it
    masked) and never returned. Returns the subuser (username, email, disabled, region; its id is the server's) or
    null, and the changes with the username."""
    name = params["username"]
    if params["state"] == "absent" and params.get("confirm_delete") != name:
        raise Refused("state absent needs confirm_delete: %s" % name, words=("confirm_delete",))
    host = host_for(params["region"], params, env)
    calls = [call(host, "GET", SUBUSERS_PATH, query={"username": name, "include_region": "true"})]
    found = next((s for s in known if s.name == name), None)
    fields = ("username", "email", "disabled", "region")
    path = "%s/%s" % (SUBUSERS_PATH, name)
    if params["state"] == "absent":
        if found is None:
            return Expectation(calls, returned=comparable_result({"subuser": None, "changes": {}}))
        calls.append(call(host, "DELETE", path))
        return Expectation(calls, returned=comparable_result({"subuser": None, "changes": {"deleted": name}}))
    if found is None:
        missing = [option for option in ("email", "password", "ips") if params.get(option) is None]
        if missing:
            raise Refused("creating needs %s" % missing, calls, words=missing)
        body = {"username": name, "email": params["email"], "password": LOGGED_SECRET, "ips": params["ips"],
                "include_region": True}
        if params.get("subuser_region"):
            body["region"] = params["subuser_region"]
        calls.append(call(host, "POST", SUBUSERS_PATH, body=body, query={}))
        changes = {"created": name}
        if params["disabled"]:
            calls.append(call(host, "PATCH", path, body={"disabled": True}))
            changes["disabled"] = name
        subuser = {"username": name, "email": params["email"], "disabled": bool(params["disabled"]),
                   "region": params.get("subuser_region") or "global"}
        return Expectation(calls, returned=comparable_result({"subuser": subuser, "changes": changes}),
                           projected={"subuser": fields})
    if params.get("subuser_region") not in (None, found.region):
        raise Refused("a subuser's region cannot change", calls, words=("subuser_region",))
    email = "%s@example.com" % name          # the case's servers' subusers have <name>@example.com
    changes, disabled = {}, found.disabled
    if params["disabled"] is not None and params["disabled"] != found.disabled:
        calls.append(call(host, "PATCH", path, body={"disabled": params["disabled"]}))
        changes["disabled" if params["disabled"] else "enabled"] = name
        disabled = params["disabled"]
    warned = (email, params["email"]) if params.get("email") not in (None, email) else ()
    subuser = {"username": name, "email": email, "disabled": disabled, "region": found.region}
    return Expectation(calls, returned=comparable_result({"subuser": subuser, "changes": changes}),
                       projected={"subuser": fields}, warned=warned)


# ----------------------------------------------------------------------------- the model: sender identity

WHITELABEL_DOMAINS_PATH = "/v3/whitelabel/domains"
WHITELABEL_LINKS_PATH = "/v3/whitelabel/links"
WHITELABEL_PAGE_SIZE = 500        # documented: the domains are read a page of 500 at a time, until an empty page
WHITELABEL_LINKS_LIMIT = "3000"   # documented: one GET of the links with limit 3000
# The records SendGrid asks for, by name and type (documented: type in capitals), per kind of security.
AUTOMATIC_RECORDS = [("mail_cname", "CNAME"), ("dkim1", "CNAME"), ("dkim2", "CNAME")]
MANUAL_RECORDS = [("mail_server", "MX"), ("subdomain_spf", "TXT"), ("domain_spf", "TXT"), ("dkim", "TXT")]
LINK_RECORDS = [("domain_cname", "CNAME"), ("owner_cname", "CNAME")]
# The first item a fresh server makes has the id 1.
FIRST_ID = 1
MODULE_SAMPLES.update({
    ("sendgrid_domain_authentication", "domain"): ["example.com", "Mail.Example.ORG"],
    ("sendgrid_domain_authentication", "subdomain"): ["em", "news.em"],
    ("sendgrid_domain_authentication", "custom_dkim_selector"): ["mx1"],
    ("sendgrid_domain_authentication", "ips"): [["192.0.2.10", "198.51.100.7"]],
    ("sendgrid_domain_authentication", "subusers"): [["marketing", "billing"]],
    ("sendgrid_link_branding", "domain"): ["example.com", "Links.Example.ORG"],
    ("sendgrid_link_branding", "subdomain"): ["links", "click.links"],
    ("sendgrid_link_branding", "subusers"): [["marketing", "billing"]],
})
REQUIRED.update({
    "sendgrid_domain_authentication": (("domain", "example.com", None), ("subdomain", "em", None)),
    "sendgrid_link_branding": (("domain", "example.com", None), ("subdomain", "links", None)),
})
# "1 to 3 letters or digits", "zero or more", "one or more", DNS labels, a domain name: each checked before any request
INVALID_SAMPLES.update({
    "custom_dkim_selector": ["abcd"],
    "wait_timeout": [-1],
    "poll_interval": [0],
    "subdomain": ["e m"],
    "domain": ["example"],
})


def whitelabel_subusers_refused(params):
    """subusers with on_behalf_of fails before any request (documented: only for the parent's own)."""
    if params.get("subusers") is not None and params.get("on_behalf_of"):
        raise Refused("subusers only for the parent's own", words=("subusers", "on_behalf_of"))


def records_of(kind: list) -> list:
    return [{"name": name, "type": rtype} for name, rtype in kind]


def whitelabel_validation(calls, path: str, params) -> None:
    """validate: true on a fresh server, which looks nothing up (no resolver): POST .../validate, again every
    poll_interval while wait_timeout lasts (not when it is less than the interval), then the task fails naming each
    invalid record and wait_timeout."""
    if params["validate"]:
        calls.append(call(calls[0][0], "POST", path + "/validate", params.get("on_behalf_of")))
        raise Refused("nothing published: every record invalid", calls, words=("not valid", "wait_timeout"),
                      after_writes=True)


def model_domain_authentication(params, env, known) -> Expectation:
    """A fresh account has no authenticated domain: one GET of the list (limit 500, offset 0, exclude_subusers=true,
    domain=DOMAIN), empty. state absent: nothing more. state present: custom_spf true without automatic_security false
    fails (nothing written); else POST with domain and subdomain (compared ignoring case: sent in lower case), each of
    automatic_security, custom_spf, custom_dkim_selector, ips, default given, and the connection's region; then, for
    subusers, one POST .../subuser:add each; then the list again (two pages: the domain, then an empty one) to return
    what the writes left. validate: see whitelabel_validation(). Returns the domain (its fields as given, SendGrid's
    defaults otherwise: automatic_security true, custom_spf false, selector s1) and its records."""
    whitelabel_subusers_refused(params)
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    domain, subdomain = params["domain"].lower(), params["subdomain"].lower()
    query = {"limit": str(WHITELABEL_PAGE_SIZE), "offset": "0", "exclude_subusers": "true", "domain": domain}
    calls = [call(host, "GET", WHITELABEL_DOMAINS_PATH, obo, query=query)]
    if params["state"] == "absent":
        return Expectation(calls, returned=comparable_result({"domain": None, "changes": {}, "dns_records": []}))
    if params["custom_spf"] and params["automatic_security"] is not False:
        raise Refused("custom_spf needs manual security", calls, words=("custom_spf", "automatic_security"))
    body = {"domain": domain, "subdomain": subdomain, "region": params["region"]}
    for name in ("automatic_security", "custom_spf", "custom_dkim_selector", "ips", "default"):
        if params.get(name) is not None:
            body[name] = params[name]
    calls.append(call(host, "POST", WHITELABEL_DOMAINS_PATH, obo, body=body))
    path = "%s/%d" % (WHITELABEL_DOMAINS_PATH, FIRST_ID)
    for name in params.get("subusers") or []:
        calls.append(call(host, "POST", path + "/subuser:add", obo, body={"username": name}))
    calls += [call(host, "GET", WHITELABEL_DOMAINS_PATH, obo, query=dict(query, offset=str(offset))) for offset in (0, 1)]
    whitelabel_validation(calls, path, params)
    automatic = params["automatic_security"] is not False
    after = {"domain": domain, "subdomain": subdomain, "automatic_security": automatic,
             "custom_spf": bool(params["custom_spf"]), "default": bool(params["default"]),
             "custom_dkim_selector": (params["custom_dkim_selector"] or "s1").lower(), "ips": params["ips"] or [],
             "subusers": params["subusers"] or [], "valid": False}
    changes = {"created": FIRST_ID}
    if params.get("subusers"):
        changes["subusers_added"] = params["subusers"]
    return Expectation(calls, returned=comparable_result({
        "domain": after, "changes": changes, "recreated": False, "validation": None,
        "dns_records": records_of(AUTOMATIC_RECORDS if automatic else MANUAL_RECORDS)}),
        projected={"domain": tuple(after), "dns_records": ("name", "type")})


def model_link_branding(params, env, known) -> Expectation:
    """A fresh account has no branded link: one GET /v3/whitelabel/links?limit=3000. state absent: nothing more.
    state present: POST {domain, subdomain (lower case), default when given, region: us for global, eu}; then, for
    subusers, one POST .../{id}/subuser each (a new link: no lookup of the subusers' links); then the list again.
    validate: see whitelabel_validation(). Returns the link and its two CNAME records."""
    whitelabel_subusers_refused(params)
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    domain, subdomain = params["domain"].lower(), params["subdomain"].lower()
    calls = [call(host, "GET", WHITELABEL_LINKS_PATH, obo, query={"limit": WHITELABEL_LINKS_LIMIT})]
    if params["state"] == "absent":
        return Expectation(calls, returned=comparable_result({"link": None, "changes": {}, "dns_records": []}))
    body = {"domain": domain, "subdomain": subdomain, "region": "eu" if params["region"] == "eu" else "us"}
    if params.get("default") is not None:
        body["default"] = params["default"]
    calls.append(call(host, "POST", WHITELABEL_LINKS_PATH, obo, body=body))
    path = "%s/%d" % (WHITELABEL_LINKS_PATH, FIRST_ID)
    for name in params.get("subusers") or []:
        calls.append(call(host, "POST", path + "/subuser", obo, body={"username": name}))
    calls.append(call(host, "GET", WHITELABEL_LINKS_PATH, obo, query={"limit": WHITELABEL_LINKS_LIMIT}))
    whitelabel_validation(calls, path, params)
    after = {"domain": domain, "subdomain": subdomain, "default": bool(params["default"]), "valid": False}
    changes = {"created": FIRST_ID}
    if params.get("subusers"):
        changes["subusers_added"] = params["subusers"]
    return Expectation(calls, returned=comparable_result({
        "link": after, "changes": changes, "recreated": False, "validation": None,
        "dns_records": records_of(LINK_RECORDS)}), projected={"link": tuple(after), "dns_records": ("name", "type")})


def model_domain_authentication_info(params, env, known) -> Expectation:
    """Every page of the account's own domains until an empty one: a fresh account's first page is empty."""
    host = host_for(params["region"], params, env)
    query = {"limit": str(WHITELABEL_PAGE_SIZE), "offset": "0", "exclude_subusers": "true"}
    return Expectation([call(host, "GET", WHITELABEL_DOMAINS_PATH, params.get("on_behalf_of"), query=query)],
                       returned={"domains": []})


def model_link_branding_info(params, env, known) -> Expectation:
    """One GET of the links with limit 3000: a fresh account has none."""
    host = host_for(params["region"], params, env)
    return Expectation([call(host, "GET", WHITELABEL_LINKS_PATH, params.get("on_behalf_of"),
                             query={"limit": WHITELABEL_LINKS_LIMIT})], returned={"links": []})


# ----------------------------------------------------------------------------- the model: event webhooks

def webhook_refusal(params) -> Refused | None:
    """What the documentation refuses before any request: a URL that is not absolute (http without allow_http, but
    to delete), a friendly name of spaces, nothing to identify the webhook, the OAuth client id and token URL apart,
    a secret without them, update_secret always without a secret."""
    url = params.get("url")
    if url is not None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url.strip():
            return Refused("url must be an absolute URL", words=("url",))
        if parts.scheme == "http" and not params["allow_http"] and params["state"] != "absent":
            return Refused("http needs allow_http", words=("url", "allow_http"))
    if params.get("friendly_name") is not None and not params["friendly_name"].strip():
        return Refused("friendly_name must be text", words=("friendly_name",))
    if params.get("friendly_name") is None and url is None:
        return Refused("friendly_name or url identifies the webhook", words=("friendly_name", "url"))
    client_id, token_url, secret = (params.get(name) for name in ("oauth_client_id", "oauth_token_url",
                                                                  "oauth_client_secret"))
    if (client_id is None) != (token_url is None):
        return Refused("oauth_client_id and oauth_token_url go together", words=("oauth_client_id", "oauth_token_url"))
    if secret is not None and client_id is None:
        return Refused("a secret needs the client id and token URL", words=("oauth_client_secret",))
    if params["update_secret"] == "always" and secret is None:
        return Refused("update_secret always needs the secret", words=("update_secret", "oauth_client_secret"))
    return None


def model_event_webhook(params, env, known) -> Expectation:
    """Refusals before any request (webhook_refusal); then one GET of every webhook (a fresh account has none).
    state absent: nothing to delete, null returned. state present: the webhook is created, POST {url, enabled (true
    when left out), every event true or false, friendly_name when given, OAuth with its secret (the log masks it)};
    OAuth without the secret is refused having read only; signed true then turns signing on at the signed endpoint.
    Returns the webhook's settings (its id and public key are the server's)."""
    refusal = webhook_refusal(params)
    if refusal is not None:
        raise refusal
    host = host_for(params["region"], params, env)
    obo = params.get("on_behalf_of")
    calls = [call(host, "GET", WEBHOOKS_ALL_PATH, obo)]
    if params["state"] == "absent":
        return Expectation(calls, returned={"webhook": None})
    if params.get("oauth_client_id") and params.get("oauth_client_secret") is None:
        raise Refused("OAuth on creation needs the secret", calls, words=("oauth_client_secret",))
    events = params.get("events") or []
    events = sorted(set(events.split(",") if isinstance(events, str) else events))   # one event given as text
    enabled = True if params["enabled"] is None else params["enabled"]
    body = dict({event: event in events for event in WEBHOOK_EVENTS}, url=params["url"].strip(), enabled=enabled)
    if params.get("friendly_name") is not None:
        body["friendly_name"] = params["friendly_name"].strip()
    if params.get("oauth_client_id"):
        body.update(oauth_client_id=params["oauth_client_id"], oauth_token_url=params["oauth_token_url"],
                    oauth_client_secret=LOGGED_SECRET)
    calls.append(call(host, "POST", WEBHOOKS_PATH, obo, body))
    if params["signed"]:
        calls.append(call(host, "PATCH", "%s/signed/%s" % (WEBHOOKS_PATH, WEBHOOK_ID), obo, {"enabled": True}))
    fields = ("friendly_name", "url", "enabled", "events", "signed", "oauth_client_id", "oauth_token_url")
    webhook = {"friendly_name": body.get("friendly_name"), "url": body["url"], "enabled": enabled, "events": events,
               "signed": bool(params["signed"]), "oauth_client_id": body.get("oauth_client_id"),
               "oauth_token_url": body.get("oauth_token_url")}
    return Expectation(calls, returned=comparable_result({"webhook": webhook}), projected={"webhook": fields})


def model_event_webhook_info(params, env, known) -> Expectation:
    """One GET of every webhook, never a write; a fresh account has none, so none is flagged."""
    host = host_for(params["region"], params, env)
    return Expectation([call(host, "GET", WEBHOOKS_ALL_PATH, params.get("on_behalf_of"))],
                       returned={"webhooks": [], "flagged": []})


MODELS = {
    "sendgrid_domain_authentication": model_domain_authentication,
    "sendgrid_domain_authentication_info": model_domain_authentication_info,
    "sendgrid_link_branding": model_link_branding,
    "sendgrid_link_branding_info": model_link_branding_info,
    "sendgrid_enforced_tls": model_enforced_tls,
    "sendgrid_enforced_tls_info": model_enforced_tls_info,
    "sendgrid_enforced_tls_accounts": model_enforced_tls_accounts,
    "sendgrid_subuser_info": model_subuser_info,
    "sendgrid_tracking_settings": model_tracking_settings,
    "sendgrid_mail_settings": model_mail_settings,
    "sendgrid_settings_info": model_settings_info,
    "sendgrid_ip_access": model_ip_access,
    "sendgrid_ip_access_info": model_ip_access_info,
    "sendgrid_api_key_info": model_api_key_info,
    "sendgrid_api_key": model_api_key,
    "sendgrid_teammate": model_teammate,
    "sendgrid_teammate_info": model_teammate_info,
    "sendgrid_subuser": model_subuser,
    "sendgrid_event_webhook": model_event_webhook,
    "sendgrid_event_webhook_info": model_event_webhook_info,
}


# ----------------------------------------------------------------------------- running cases

@dataclass
class Core:
    """One ansible-core to run the cases with: its label (the version), its bin directory and Python."""
    label: str
    bin_dir: Path | None
    python: str | None
    missing: str | None = None       # why it cannot run (the parametrisation is skipped)
    broken: str | None = None        # why it should run but cannot (the tests fail)

    def env(self) -> dict:
        if self.bin_dir is None:
            return {}
        return {"PATH": "%s%s%s" % (self.bin_dir, os.pathsep, os.environ.get("PATH", "")),
                "ANSIBLE_PYTHON_INTERPRETER": self.python, "VIRTUAL_ENV": str(self.bin_dir.parent)}


def installed_version(site_packages_glob) -> str | None:
    for release in site_packages_glob:
        match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", release.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    return None


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def available_cores(repo_root: Path) -> list:
    import ansible  # pylint: disable=import-outside-toplevel
    cores = [Core(minor(ansible.__version__), None, None)]
    venv = repo_root / ".venv-312"
    how = ("bash scripts/ansible-test.sh creates it (Python 3.12, ansible-core 2.21) when "
           "$(pyenv prefix 3.12.1)/bin/python3.12 exists")
    if not (venv / "bin" / "ansible-playbook").exists():
        cores.append(Core("2.21", None, None, missing="%s/bin/ansible-playbook is absent: %s" % (venv, how)))
        return cores
    version = installed_version(venv.glob("lib/python*/site-packages/ansible/release.py")) or "unknown"
    broken = None
    if not list(venv.glob("lib/python*/site-packages/requests/__init__.py")):
        broken = ("%s has no requests, which the modules need: the setup must install requirements.txt into it "
                  "(scripts/ansible-test.sh does: pip install 'ansible-core>=2.21,<2.22' -r requirements.txt)" % venv)
    cores.append(Core(minor(version), venv / "bin", str(venv / "bin" / "python"), broken=broken))
    return cores


class Servers:
    """A case's servers by role: G and E answer SENDGRID_API_URL and SENDGRID_EU_API_URL, O and OE the api_url and
    eu_api_url options. All of them fresh, with SUBUSERS; HTTPS with an untrusted CA when the case needs it."""

    def __init__(self, sg, keys, https_files=None, option=False, option_eu=False):
        self.sg = sg
        tls = dict(tls_cert=https_files["cert"], tls_key=https_files["key"]) if https_files else {}
        common = dict(keys=keys, subusers=SUBUSERS, account_ids=ACCOUNT_IDS, **tls)
        self.started = {}
        wanted = [("G", "global"), ("E", "eu")] + ([("O", "global")] if option else []) + \
            ([("OE", "eu")] if option_eu else [])
        for label, region in wanted:
            self.started[label] = sg.start_server(host="127.0.0.1", port=0, region=region, **common)

    def url(self, label: str) -> str:
        return self.started[label][0].url

    def record(self) -> dict:
        return {label: {"url": server.url, "requests": server.requests(), "connections": server.connections()}
                for label, (server, _thread) in self.started.items()}

    def stop(self):
        for server, thread in self.started.values():
            self.sg.stop_server(server, thread)


def logged_calls(record: dict) -> list:
    """A server record's requests as call() tuples (host is the server's URL; the query whenever there is one: the
    subuser list's pages, the activity's limit; the bodies of writes in comparable_body() form)."""
    result = []
    for entry in record["requests"]:
        parts = urlsplit(entry["path"])
        obo = next((v for k, v in entry["headers"].items() if k.lower() == "on-behalf-of"), None)
        query = ({k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                 if parts.query or parts.path == SUBUSERS_PATH else None)
        # parsed JSON (a text that is not JSON stays text, and differs from the model)
        body = comparable_body(parts.path, entry["body"]) if entry["method"] in WRITES else entry["body"]
        path = WEBHOOK_PATH_ID.sub(lambda match: match.group(1) + WEBHOOK_ID, parts.path)
        result.append(call(record["url"], entry["method"], path, obo, body, query))
    return result


def read_before(path: str) -> tuple:
    """The GETs that may read what a write of this path writes: its own, its family's summary, or the list it is an
    item of (a subuser, a teammate, an invite, an API key, a domain, a branded link: each found in its list)."""
    parent = path.rsplit("/", 1)[0]
    if parent in [summary_path(family) for family in FRESH_SECTIONS]:
        return (path, parent)
    lists = (SUBUSERS_PATH, TEAMMATES_PATH, TEAMMATES_PENDING_PATH, API_KEYS_PATH, WHITELABEL_DOMAINS_PATH,
             WHITELABEL_LINKS_PATH)
    if path == WEBHOOKS_PATH or path.startswith(WEBHOOKS_PATH + "/"):
        return (path, WEBHOOKS_ALL_PATH)     # a webhook is found in the list of every webhook
    return (path,) + tuple(item for item in lists if path.startswith(item + "/"))


def in_order(calls: list, expected: list) -> list:
    """Order problems: an account's write of a setting before its GET (of the setting, or of its family's summary);
    an allow list write before the lockout guard's read of the activity (when it reads it), a DELETE before the POST
    of the same run (documented: the POST first); list pages out of order (accounts may interleave)."""
    problems = []
    seen_get, seen_post = set(), set()
    guard_reads = {(c[0], c[3]) for c in calls if c[1] == "GET" and c[2] == ACTIVITY_PATH}
    for host, method, path, obo, _body, _query in calls:
        who = "%s on %s" % (obo or "parent", host)
        if method == "GET":
            seen_get.add((host, obo, path))
        if method in WRITES and not any((host, obo, read) in seen_get for read in read_before(path)):
            problems.append("%s of %s for %s before its GET" % (method, path, who))
        if method in WRITES and path == ALLOW_LIST_PATH:
            if (host, obo) in guard_reads and (host, obo, ACTIVITY_PATH) not in seen_get:
                problems.append("%s of %s for %s before the lockout guard read the activity" % (method, path, who))
            if method == "POST":
                seen_post.add((host, obo))
            if method == "DELETE" and (host, obo) not in seen_post and any(
                    c[1] == "POST" and (c[0], c[3]) == (host, obo) and c[2] == path for c in calls):
                problems.append("DELETE of %s for %s before its POST" % (path, who))
    pages = [c for c in calls if c[2] == SUBUSERS_PATH]
    if pages != [c for c in expected if c[2] == SUBUSERS_PATH] and Counter(pages) == Counter(
            c for c in expected if c[2] == SUBUSERS_PATH):
        problems.append("subuser list pages out of order: %s" % [json.loads(c[5])["offset"] for c in pages])
    return problems


# ----------------------------------------------------------------------------- the model: the security baseline

# sendgrid_baseline's sections: Enforced TLS, the two families of sections, the allow list and the key audit.
BASELINE_FAMILIES = {"tracking": "tracking_settings", "mail_settings": "mail_settings"}
BASELINE_SECTIONS = ("enforced_tls", "tracking", "mail_settings", "event_webhooks", "ip_access", "api_keys",
                     "teammates")
# What the documentation says a field left out of ip_access, api_keys and teammates means (the other sections: not
# managed).
BASELINE_DEFAULTS = {"ip_access": {"entries": [], "state": "present", "purge": False, "allow_lockout": False,
                                   "allow_any_address": False, "client_addresses": None},
                     "api_keys": {"allowed_scopes": None, "allowed_control_keys": [], "enforce": False},
                     "teammates": {"members": None, "purge": False, "allowed_scopes": None, "allowed_admins": None},
                     "event_webhooks": {"require_https": True, "require_signed": True, "allowed_hosts": None,
                                        "enforce": False}}
# The parent's key holds every scope the servers serve: surely those the collection's modules document, besides the
# ones FRESH_KEY_SCOPES names (so a list of allowed scopes without these leaves one of them beyond it).
BASELINE_KEY_SCOPES = FRESH_KEY_SCOPES + ("tracking_settings.read", "mail_settings.read", "subusers.read")

SAMPLES.update({
    "enforced_tls.min_tls_version": ["1.2"],
    # one sample per settings section: with enabled alone (the summary), with text (a GET of its own), empty (read
    # whole, nothing written), a value in its API form ("" is none, a list of addresses)
    "tracking.click": [{"enabled": False}],
    "tracking.open": [{"enabled": True}],
    "tracking.subscription": [{"enabled": True, "plain_content": "Unsubscribe: <% %>"}],
    "tracking.google_analytics": [{"utm_source": "sendgrid", "utm_medium": "email"}],
    "mail_settings.bounce_purge": [{"enabled": True, "soft_bounces": 30, "hard_bounces": 0}],
    "mail_settings.forward_spam": [{"email": ["abuse@example.com", "Postmaster@Example.com "]}],
    "mail_settings.forward_bounce": [{"enabled": False, "email": ""}],
    "mail_settings.footer": [{"enabled": True, "plain_content": "Example Ltd"}],
    "mail_settings.template": [{}],
    "mail_settings.address_whitelist": [{"enabled": True}],
    # this machine first, so the lockout guard lets the list through; a network as a SendGrid wildcard
    "ip_access.entries": [[CLIENT_ADDRESS, "203.0.113.*"]],
    "ip_access.client_addresses": [[CLIENT_ADDRESS]],
    "ip_access.state": ["absent", "disabled"],
    "api_keys.allowed_scopes": [["mail.send", "user.settings.*"]],
    "api_keys.allowed_control_keys": [[START_KEY_NAME]],
    # a new address to invite with scopes, and the parent's owner (in capitals: compared ignoring case) listed as
    # admin, as the documentation allows; on another account the owner's address is a new admin to invite
    "teammates.members": [{NEW_TEAMMATE: list(TEAMMATE_SCOPES), PARENT_OWNER_EMAIL: "admin"}],
    # whole sections, for the role variables that take them without typed suboptions
    "enforced_tls": [{"require_tls": True, "min_tls_version": "1.2"}],
    "ip_access": [{"entries": [CLIENT_ADDRESS, "203.0.113.0/24"], "purge": True}],
    # enforce: the calling key, the only key of a fresh account, is never cut (documented), so nothing is written
    "api_keys": [{"allowed_scopes": ["mail.send", "user.settings.*"], "allowed_control_keys": [START_KEY_NAME],
                  "enforce": True}],
    # the members' sample; the audit's patterns allow every invite the members send, so that no case depends on
    # whether the audit sees the team before or after the invites (the documentation does not say)
    "teammates": [{"members": {NEW_TEAMMATE: list(TEAMMATE_SCOPES), PARENT_OWNER_EMAIL: "admin"}, "purge": True,
                   "allowed_scopes": ["mail.*", "stats.read"], "allowed_admins": ["*@example.com"]}],
    "event_webhooks": [{"allowed_hosts": ["*.example.com"], "enforce": True}],
})
INVALID_SAMPLES.update({
    "enforced_tls.min_tls_version": ["1.0"],
    "ip_access.entries": [[CLIENT_ADDRESS, "203.*.113.*"], [CLIENT_ADDRESS, "203.0.113.9/24"], [CLIENT_ADDRESS, "::/0"]],
    "api_keys.allowed_scopes": [["mail send"]],
    "event_webhooks.allowed_hosts": [["hooks.example.com:443"]],
})
# accounts overrides are sections of the policy, not Enforced TLS fields: a plain name, an EU account overriding one
# tracking section, a customer account through on_behalf_of overriding Enforced TLS
MODULE_SAMPLES[("sendgrid_baseline", "accounts")] = [
    ["marketing", {"name": "eu-newsletter", "region": "eu", "tracking": {"open": {"enabled": False}}},
     {"on_behalf_of": "account-id 777", "enforced_tls": {"require_valid_cert": True}}]]
ROLE_ONLY.update({
    "baseline_report_dir": "baseline report (test_integration_baseline.py reads it)",
    "baseline_fail_on_drift": "drift gate, in check mode only (test_integration_baseline.py)",
    "baseline_report_per_host": "where each host's report goes, with baseline_report_dir (test_integration_parents.py)",
    "enforced_tls_fail_on_drift": "drift gate, in check mode only (test_integration_baseline.py)",
})
NOT_AS_EXTRA_VAR.update({"baseline_api_key": NOT_AS_EXTRA_VAR["enforced_tls_api_key"]}, **{
    name: "a dictionary: -e key=value cannot write one (the role's README says to give it as JSON)"
    for name in ("baseline_enforced_tls", "baseline_ip_access", "baseline_api_keys", "baseline_teammates",
                 "baseline_event_webhooks")})


def baseline_merged(section: str, policy, override):
    """An account's section: the override's fields on the policy's, field by field (a list replaces the policy's
    whole), then the documented meaning of a field left out; null when neither gives the section."""
    def merged(policy, override):
        if policy is None and override is None:
            return None
        policy, override = policy or {}, override or {}
        result = {}
        for name in list(policy) + [name for name in override if name not in policy]:
            if isinstance(policy.get(name), dict) or isinstance(override.get(name), dict):
                result[name] = merged(policy.get(name), override.get(name))
            else:
                result[name] = override[name] if override.get(name) is not None else policy.get(name)
        return result

    values = merged(policy, override)
    if values is None or section not in BASELINE_DEFAULTS:
        return values
    return {name: default if values.get(name) is None else values[name]
            for name, default in BASELINE_DEFAULTS[section].items()}


def model_baseline(params, env, known) -> Expectation:
    """The accounts as sendgrid_enforced_tls_accounts takes them (the parent, the listed ones in order, the discovered
    ones not listed, not excluded); each one's sections the policy with its overrides merged field by field; per
    account the documented floor of each section given, as the module managing that section alone sends it (Enforced
    TLS, each family's summary and sections, the allow list with its guard, the key list and each key, the team and
    its invites), on its region's host. Returns the summary and the drift: a setting changed when something is
    written for it, the keys flagged as sendgrid_api_key_info flags them, the teammates beyond the audit's patterns."""
    # the parent's overrides (parent), as a listed account's are given
    calls, entries = model_entries(params, env, known, params.get("parent"))
    summary = dict(accounts=len(entries), compliant=0, changed=0, would_change=0, failed=0, flagged=0)
    drift, accounts = [], []
    for entry in entries:
        one = dict(params, region=entry.get("region") or params["region"], on_behalf_of=entry["on_behalf_of"])
        desired = {section: baseline_merged(section, params.get(section), entry.get(section))
                   for section in BASELINE_SECTIONS}
        account_calls, changed, flagged = baseline_account(one, env, desired)
        calls += account_calls
        accounts.append(entry["on_behalf_of"] or "parent")
        for status, settings in (("changed", changed), ("flagged", flagged)):
            summary[status] += bool(settings)
        summary["compliant"] += not (changed or flagged)
        if changed or flagged:
            drift.append({"account": entry["on_behalf_of"] or "parent",
                          "settings": changed + [setting for setting in flagged if setting not in changed],
                          "flagged": flagged})
    returned = {"summary": summary, "drift": drift, "check_mode": False,
                "discovered": len(known) if params["discover_subusers"] else None}
    return Expectation(calls, accounts=accounts, returned=comparable_result(returned))


def baseline_account(params, env, desired) -> tuple:
    """(calls, settings changed, {setting flagged: the flagged items' names}) of one account, each section as the
    module managing it alone."""
    calls, changed, flagged = [], [], {}
    host = host_for(params["region"], params, env)
    obo = params["on_behalf_of"]
    if desired["enforced_tls"] is not None:
        tls = settings_calls(host, obo, desired["enforced_tls"])
        calls += tls
        changed += ["enforced_tls"] if len(tls) > 1 else []
    for option, family in BASELINE_FAMILIES.items():
        if desired[option] is not None:
            expected = model_section_settings(family, family, dict(params, **desired[option]), env)
            calls += expected.calls
            changed += ["%s.%s" % (option, section) for section in FRESH_SECTIONS[family]
                        if section in expected.returned["changes"]]
    if desired["event_webhooks"] is not None:
        # the audit reads every webhook once; a fresh account has none, so nothing is flagged or signed
        calls.append(call(host, "GET", WEBHOOKS_ALL_PATH, obo))
    if desired["api_keys"] is not None:
        keys = fresh_keys(params, env, obo)
        calls += key_reads(host, obo, keys)
        allowed = desired["api_keys"]["allowed_scopes"]
        control = [s for s in BASELINE_KEY_SCOPES if any(fnmatch.fnmatchcase(s, p) for p in ACCOUNT_CONTROL_SCOPES)]
        excess = allowed is not None and any(not any(fnmatch.fnmatchcase(s, p) for p in allowed)
                                             for s in BASELINE_KEY_SCOPES if s not in control)
        # the drift names a key with its id, since key names are not unique in SendGrid
        flagged_keys = ["%s (id %s)" % (key["name"], key["api_key_id"]) for key in keys if excess or (
            control and key["name"] not in desired["api_keys"]["allowed_control_keys"])]
        # enforce cuts no key here: a fresh account's only key is the calling key, which is never cut (it stays
        # flagged); every other account holds none
        if flagged_keys:
            flagged["api_keys"] = flagged_keys
    if desired["teammates"] is not None:
        team = desired["teammates"]
        teammates = [account_owner(obo)]
        calls += team_reads(host, obo, teammates)
        # each member who is no teammate is invited; the owner, listed as admin (as the documentation allows), is
        # left as it is; purge removes no one (the owner never, and a fresh account holds no one else, no invite)
        invited = {email: access for email, access in (team["members"] or {}).items()
                   if find_email(teammates, email) is None}
        calls += [invite_call(host, obo, email, access) for email, access in invited.items()]
        changed += ["teammates"] if invited else []
        # the audit (of the team after the invites: no sample lets the two differ), the owner never flagged
        admins, scopes = team["allowed_admins"], team["allowed_scopes"]
        flagged_team = [email for email, access in invited.items() if (
            access == "admin" and admins is not None and not any(fnmatch.fnmatchcase(email, p) for p in admins)) or (
            access != "admin" and scopes is not None and not all(
                any(fnmatch.fnmatchcase(scope, p) for p in scopes) for scope in access))]
        if flagged_team:
            flagged["teammates"] = flagged_team
    if desired["ip_access"] is not None:
        expected = model_ip_access(dict(params, **desired["ip_access"]), env, None)
        calls += expected.calls
        changed += ["ip_access"] if expected.changed else []
    return calls, changed, flagged


MODELS["sendgrid_baseline"] = model_baseline
# the parent's overrides, a section each: what each gives the parent alone
MODULE_SAMPLES.update({("sendgrid_baseline", "parent." + section): [value] for section, value in {
    "enforced_tls": {"require_tls": True}, "tracking": {"open": {"enabled": False}},
    "mail_settings": {"forward_spam": {"enabled": True, "email": ["abuse@example.com"]}},
    "event_webhooks": {"require_signed": False}, "ip_access": {"state": "disabled"},
    "api_keys": {"allowed_scopes": ["mail.send"]}, "teammates": {"allowed_admins": ["*@example.com"]}}.items()})
# the role's variable, a dictionary of sections: two of them
MODULE_SAMPLES[("sendgrid_baseline", "parent")] = [{"enforced_tls": {"require_tls": True},
                                                    "tracking": {"open": {"enabled": False}}}]
NOT_AS_EXTRA_VAR["baseline_parent"] = NOT_AS_EXTRA_VAR["baseline_enforced_tls"]


# ----------------------------------------------------------------------------- the model: the export

# What the export reads of a fresh account: every field of every section (the tracking sections of enabled alone
# from their summary), as the baseline reads a section given whole; in these values nothing differs, so nothing is
# written.
EXPORT_READS = {
    "enforced_tls": {"require_tls": False, "require_valid_cert": False, "min_tls_version": "1.1"},
    "tracking": {section: ({"enabled": fresh["enabled"]} if section in ("click", "open")
                           else fresh_options("tracking_settings", section))
                 for section, fresh in FRESH_SECTIONS["tracking_settings"].items()},
    "mail_settings": {section: fresh_options("mail_settings", section) for section in FRESH_SECTIONS["mail_settings"]},
    "event_webhooks": dict(BASELINE_DEFAULTS["event_webhooks"]),
    "ip_access": dict(BASELINE_DEFAULTS["ip_access"], state="disabled"),
    "api_keys": dict(BASELINE_DEFAULTS["api_keys"]),
    "teammates": dict(BASELINE_DEFAULTS["teammates"], members={}),
}
# The paths leave_out may name, per section: the section, each setting, each field.
EXPORT_PATHS = {
    section: [section] + ["%s.%s" % (section, name) for name in values] + [
        "%s.%s.%s" % (section, name, field) for name, value in values.items() if isinstance(value, dict)
        for field in value]
    for section, values in EXPORT_READS.items()}
# documented: the allow list and the teammates are left out whole or not at all (their fields mean something together)
EXPORT_PATHS.update(ip_access=["ip_access"], teammates=["teammates"])


def model_baseline_export(params, env, known) -> Expectation:
    """The accounts as the baseline takes them (the parent, the listed, the discovered); for each, the reads of every
    field of every section exported (families, else all), and no write. A leave_out path that names no section,
    setting or field of the exported sections fails before any request, naming leave_out. With dest, the file is
    written (a change), in check mode too not."""
    def listed_in(value) -> list:
        # a text is a comma-separated list, as AnsibleModule takes it
        return [item.strip() for item in value.split(",")] if isinstance(value, str) else list(value or [])
    families = list(BASELINE_SECTIONS) if params["families"] is None else listed_in(params["families"])
    if not families or any(family not in BASELINE_SECTIONS for family in families):
        raise Refused("families must be sections of the baseline", words=("families",))
    known_paths = {path for family in families for path in EXPORT_PATHS[family]}
    if any(path not in known_paths for path in listed_in(params["leave_out"])):
        raise Refused("leave_out names no section, setting or field", words=("leave_out",))
    calls, entries = model_entries(params, env, known)
    desired = {section: EXPORT_READS[section] if section in families else None for section in BASELINE_SECTIONS}
    for entry in entries:
        one = dict(params, region=entry.get("region") or params["region"], on_behalf_of=entry["on_behalf_of"])
        account_calls, changed, _flagged = baseline_account(one, env, desired)
        assert not changed, "the export's reads of a fresh account would write: %s" % changed
        calls += account_calls
    accounts = [entry["on_behalf_of"] or "parent" for entry in entries]
    return Expectation(calls, accounts=accounts, writes_file=bool(params["dest"]),
                       returned=comparable_result({"accounts": accounts}))


MODELS["sendgrid_baseline_export"] = model_baseline_export
MODULE_SAMPLES.update({
    ("sendgrid_baseline_export", "accounts"): [["marketing", {"name": "eu-newsletter", "region": "eu"}]],
    ("sendgrid_baseline_export", "families"): [["enforced_tls", "tracking"]],
    ("sendgrid_baseline_export", "leave_out"): [["mail_settings.footer.html_content", "tracking.google_analytics"]],
})
INVALID_SAMPLES["leave_out"] = [["mail_settings.footer.html", "tracking"]]
