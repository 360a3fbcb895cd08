"""The accounts one local SendGrid-compatible API server plays, and the state each keeps.

Accounts: the parent ("parent"), every subuser (by username) and every customer account ("account-id <id>"),
from the server's Config (config.py), in that order.  Each keeps its own object of every setting the families
declare (tools/sendgrid_api/__init__.py SETTINGS), starting from the family's default; a subuser added at runtime
gets fresh defaults.  Handlers reach the state through request.backend (common.Request); tests through state(),
set_state(), subusers() and add_subusers() of the server object or the control endpoint.

set_state() changes an account's object behind the API's back, unvalidated, so tests can create any drift: its
fields are merged into the stored object (or replace it with replace=True); a setting kept as a list takes the
form its family's load() reads (ip_access.load_rules, api_keys.load_keys, teammates.load_teammates and
load_invites).  A family may also keep private state no state() shows (common.Family.private, e.g. the digests of
the API key secrets), made afresh on every reset.

Subusers are added (add_subusers(), POST /v3/subusers), changed (update_subuser()) and removed (remove_subuser(),
DELETE /v3/subusers/{name}: its state goes with it) at runtime; reset() brings back those of the Config.
"""

import copy
import threading

from . import ALL_SCOPES, ROUTE_TABLE, SETTINGS
from .common import PARENT
from .config import account_key, assign_subuser_ids, normalise_subuser
from .enforced_tls import TLS_SETTING


class Accounts:
    """Every account's state and the subusers, behind one lock (shared with the server's Backend, a subclass)."""

    # every scope some route needs: what "Full Access" means here (a family cannot import it: the package makes it)
    all_scopes = ALL_SCOPES

    def __init__(self, config):
        self.config = config
        self._lock = threading.RLock()
        # {counter name: last id given}: ids a server hands out (allow-list rules) are never reused, even after reset()
        self._last_ids = {}
        self.subusers = []
        # {setting key: {account: object}}, every account in the same (creation) order
        self.store = {}
        # {family name: object}: state of the whole server that state() does not show (common.Family.private)
        self.private = {}

    @property
    def lock(self):
        """The RLock behind every account's state: hold it for a read-modify-write spanning several calls."""
        return self._lock

    def reset(self):
        """Back to the accounts and state of the Config."""
        with self._lock:
            cfg = self.config
            self.subusers = [dict(s) for s in cfg.subusers]
            self.store = {key: {} for key in SETTINGS}
            self.private = {family.name: family.private(self) for family in ROUTE_TABLE if family.private is not None}
            for account in [PARENT] + [s["username"] for s in self.subusers] + [f"account-id {a}" for a in cfg.account_ids]:
                self._add_account(account)
            for account, settings in cfg.state.items():
                if account not in self.store[TLS_SETTING]:
                    raise ValueError(f"initial state for unknown account {account!r}")
                for key, values in settings.items():
                    self._put_state(account, key, values, replace=False)

    def _add_account(self, account):
        """Give a new account every setting's default object (under the lock)."""
        for key, setting in SETTINGS.items():
            self.store[key][account] = setting.fresh(self, account)

    def known(self, account):
        """Whether an account key ("parent", "<subuser>", "account-id <id>") names an account."""
        with self._lock:
            return account in self.store[TLS_SETTING]

    def subuser(self, name):
        """The subuser of that username, None when there is none."""
        with self._lock:
            return next((dict(s) for s in self.subusers if s["username"] == name), None)

    # -- settings

    @staticmethod
    def setting_key(setting):
        """The key of a setting, TLS_SETTING for None; ValueError for an unknown one."""
        key = TLS_SETTING if setting is None else setting
        if key not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r} (expected one of {', '.join(SETTINGS)})")
        return key

    def get_setting(self, account, key):
        """One account's object of one setting."""
        with self._lock:
            return copy.deepcopy(self.store[key][account])

    def patch_setting(self, account, key, changes, apply=True):
        """Apply changes to one account's setting (unless told not to) and return the stored object."""
        with self._lock:
            if apply:
                self.store[key][account] = dict(self.store[key][account], **copy.deepcopy(changes))
            return copy.deepcopy(self.store[key][account])

    def modify_setting(self, account, key, change):
        """Read-modify-write of one account's object under the lock: change(copy) -> (new object, result); return result."""
        with self._lock:
            new, result = change(copy.deepcopy(self.store[key][account]))
            self.store[key][account] = copy.deepcopy(new)
            return copy.deepcopy(result)

    def next_id(self, name):
        """The next id of a counter (1, 2, ...): never reused, reset() included."""
        with self._lock:
            self._last_ids[name] = self._last_ids.get(name, 0) + 1
            return self._last_ids[name]

    def note_id(self, name, value):
        """An id given explicitly (state put in place by a test): the counter goes on after it."""
        with self._lock:
            self._last_ids[name] = max(self._last_ids.get(name, 0), value)

    def state(self, setting=None):
        """{account: object} of one setting for every account (Enforced TLS when setting is None)."""
        key = self.setting_key(setting)
        with self._lock:
            return copy.deepcopy(self.store[key])

    def _put_state(self, account, key, value, replace):
        """Put a value into one account's object of one setting, by the setting's load() or as fields (under the lock)."""
        load = SETTINGS[key].load
        if load is not None:
            self.store[key][account] = copy.deepcopy(load(self, account, copy.deepcopy(value), replace))
            return
        if not isinstance(value, dict):
            raise ValueError("settings must be an object")
        if replace:
            self.store[key][account] = {}
        self.store[key][account].update(copy.deepcopy(value))

    def set_state(self, account, settings, replace=False, setting=None):
        """Overwrite (part of) one account's object of one setting (Enforced TLS by default), unvalidated; return it.

        For access_settings/whitelist, settings is a list of IP strings and/or rules (see ip_access.load_rules)
        added to the list, or replacing it with replace.
        """
        account = account_key(account)
        key = self.setting_key(setting)
        if SETTINGS[key].load is None and not isinstance(settings, dict):
            raise ValueError("settings must be an object")
        with self._lock:
            if account not in self.store[key]:
                raise KeyError(account)
            self._put_state(account, key, settings, replace)
            return copy.deepcopy(self.store[key][account])

    # -- subusers

    def list_subusers(self):
        """Return every subuser in the stable (id) order."""
        with self._lock:
            return sorted((dict(s) for s in self.subusers), key=lambda s: s["id"])

    def add_subusers(self, specs):
        """Add subusers at runtime (fresh default settings each); return them."""
        if isinstance(specs, (dict, str)):
            specs = [specs]
        if not isinstance(specs, list):
            raise ValueError("expected a list of subusers")
        normalised = [normalise_subuser(s) for s in specs]
        with self._lock:
            added = assign_subuser_ids(self.subusers, normalised)
            self.subusers.extend(added)
            for sub in added:
                self._add_account(sub["username"])
            return [dict(s) for s in added]

    def update_subuser(self, name, changes):
        """Change fields of a subuser (e.g. {"disabled": True}); return it, None when there is none of that name."""
        with self._lock:
            sub = next((s for s in self.subusers if s["username"] == name), None)
            if sub is None:
                return None
            sub.update(copy.deepcopy(changes))
            return dict(sub)

    def remove_subuser(self, name):
        """Remove a subuser and its state of every family; return whether there was one of that name."""
        with self._lock:
            if not any(s["username"] == name for s in self.subusers):
                return False
            self.subusers = [s for s in self.subusers if s["username"] != name]
            for objects in self.store.values():
                objects.pop(name, None)
            return True
