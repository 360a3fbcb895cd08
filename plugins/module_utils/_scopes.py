# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The scopes of the calling API key (GET /v3/scopes), read once per API host and shared by every account.

A plan (check mode) reads every setting and writes nothing, so a key without the update scopes plans "would change"
and the apply then fails with 403, after writing the settings it could. Comparing what the apply would write with the
key's scopes makes the plan fail instead, naming what is missing.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import re
import threading

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import (
    Operation, SendGridError, as_text, option_name,
)

PATH = "/v3/scopes"
# A scope as SendGrid names them: lower-case words of letters, digits and underscores, joined by dots
# (mail.send, user.settings.enforced_tls.read, 2fa_required).
SCOPE_NAME = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
READ = Operation("Reading the API key's scopes", "(none: any valid key may read its own)")


class KeyScopes:
    """The calling key's scopes per API host, read on first need (one GET per host, never per account).

    A host whose scopes cannot be read is not checked: ``unreadable`` holds why, for one warning.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._scopes: dict = {}
        self.unreadable: dict = {}

    def missing(self, account, needed: dict) -> dict:
        """{setting key: the scopes it needs that the key lacks, sorted}, for settings lacking any."""
        scopes = self.scopes_of(account)
        if scopes is None:
            return {}
        missing = {key: sorted(set(wanted) - scopes) for key, wanted in needed.items()}
        return {key: lacking for key, lacking in missing.items() if lacking}

    def scopes_of(self, account):
        """The calling key's scopes on the account's host (a frozenset), None when they cannot be read."""
        host = account.client.base_url
        with self._lock:  # one GET per host, even when every worker asks at once
            if host not in self._scopes:
                try:
                    answer = account.client.request("GET", PATH, READ)
                    listed = answer.get("scopes") if isinstance(answer, dict) else None
                    if not isinstance(listed, list):
                        raise SendGridError("SendGrid answered GET %s with %r where {\"scopes\": [...]} was expected."
                                            % (PATH, answer))
                    self._scopes[host] = frozenset(scope for scope in listed if isinstance(scope, str))
                except SendGridError as exc:
                    self._scopes[host] = None
                    self.unreadable[host] = str(exc)
            return self._scopes[host]


def check_scope_names(scopes, option: str) -> list:
    """The scopes given to a key or a teammate, sorted, each once; refused before any request unless each is a scope
    as SendGrid names them (a pattern such as mail.* or a capital letter is refused: SendGrid would refuse it after the
    task had already written what came before)."""
    if not isinstance(scopes, (list, tuple)) or not scopes:
        raise SendGridError("value of %s must be a non-empty list of scopes (such as mail.send), got: %s."
                            % (option_name(option), as_text(scopes)))
    bad = [scope for scope in scopes if not isinstance(scope, str) or not SCOPE_NAME.fullmatch(scope.strip())]
    if bad:
        raise SendGridError("value of %s must hold scopes such as mail.send: lower-case letters, digits and _ in words "
                            "joined by dots, no pattern (*, ?, [), got: %s."
                            % (option_name(option), ", ".join(as_text(item) for item in bad)))
    return sorted({scope.strip() for scope in scopes})
