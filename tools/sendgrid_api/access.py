"""IP access enforcement and access activity of the local SendGrid-compatible API server (IP Access Management).

The allow lists themselves, their endpoints and GET /v3/access_settings/activity are the ip_access family
(ip_access.py); this file is how the server applies them to every API request (never to a control request).

CLIENT ADDRESS: the TCP peer address of the request (an IPv4-mapped IPv6 one as IPv4) or, with
--trust-forwarded-for (runtime: trust_forwarded_for), the first address of its X-Forwarded-For header when that
starts with one (a port after it dropped), so tests can play proxies, NAT and other clients from 127.0.0.1.  The
request log shows it as "client_ip".

ENFORCEMENT: when the parent's allow list is non-empty and none of its rules covers the address, or the request
targets another account (on-behalf-of) whose list is non-empty and none of its rules covers it, the request is
refused with 403 {"errors": [{"field": null, "message": "access forbidden: IP address 1.2.3.4 is not allowed to
access this account (IP Access Management)"}]} ("subuser 'NAME'", "customer account ID" when the targeted
account's list refuses it), after the 401 of an unknown key and before the scope check.  An empty list permits
every address.  A client can lock itself out (the allow list's own routes are refused too); the control endpoint
is never restricted.

ACTIVITY: every API request, whatever answers it (refusals, faults and 429s included), is recorded on arrival in
the access activity of the parent and of the account it targets when on-behalf-of names a known one: one entry
{"allowed", "auth_method", "first_at", "ip", "last_at", "location"} per (ip, allowed, auth_method), first_at and
last_at in epoch seconds; allowed is false for an unknown key or a refused address, auth_method is "API Key",
location "".  activity(account) and GET /__control__/activity?account= give every entry, most recent last_at
first (the latest request first within one second); clear_activity() and DELETE /__control__/activity forget
them, as reset() does.
"""

import itertools
import threading
import time

from .common import PARENT
from .ip_access import AUTH_METHOD_API_KEY, LOCATION, client_address, forwarded_address, permitted


def request_address(peer, forwarded_for, trust_forwarded_for):
    """The client address of a request: its TCP peer, or when trusted the first address of X-Forwarded-For."""
    if trust_forwarded_for:
        forwarded = forwarded_address(forwarded_for)
        if forwarded:
            return forwarded
    return client_address(peer)


class Access:  # pylint: disable=too-few-public-methods
    """How an API request was judged on arrival (IPAccess.judge).

    account is the targeted account (None when on-behalf-of names none: problem is then (status, message));
    address the client address; refused_by the account whose allow list does not permit it, or None.
    """

    def __init__(self, account, problem, address, refused_by):
        self.account = account
        self.problem = problem
        self.address = address
        self.refused_by = refused_by

    def refusal(self):
        """The 403 message of a refused address."""
        if self.refused_by == PARENT:
            whose = "this account"
        elif self.refused_by.startswith("account-id "):
            whose = f"customer account {self.refused_by.split(' ', 1)[1]}"
        else:
            whose = f"subuser '{self.refused_by}'"
        return (f"access forbidden: IP address {self.address} is not allowed to access {whose} "
                f"(IP Access Management)")


class IPAccess:
    """The judge of every API request by the allow lists, and the activity it records, behind its own lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def judge(self, allow_list, authenticated, account, problem, address):  # pylint: disable=too-many-arguments,too-many-positional-arguments
        """Judge a request and record it as activity; return an Access.

        allow_list(account) gives an account's rules; authenticated says whether the key is known; account and
        problem are the on-behalf-of resolution (account None when it names no account).  The request is allowed
        when the key is known and the address is permitted by the parent's list and by that of the account it
        targets; it is recorded, allowed or not, in the activity of the parent and of the targeted account.
        """
        accounts = [PARENT] if account in (None, PARENT) else [PARENT, account]
        refused_by = next((name for name in accounts if not permitted(allow_list(name), address)), None)
        self._record(accounts, address, authenticated and refused_by is None, AUTH_METHOD_API_KEY)
        return Access(account, problem, address, refused_by)

    def _record(self, accounts, address, allowed, auth_method):
        now = int(time.time())
        with self._lock:
            seq = next(self._seq)
            for account in accounts:
                book = self._books.setdefault(account, {})
                item = book.get((address, allowed, auth_method))
                if item is None:
                    item = book[(address, allowed, auth_method)] = [seq, {
                        "allowed": allowed, "auth_method": auth_method, "first_at": now, "ip": address, "last_at": now,
                        "location": LOCATION}]
                item[0] = seq
                item[1]["last_at"] = now

    def activity(self, account):
        """One account's activity, most recent last_at first (latest request first within one second)."""
        with self._lock:
            items = sorted(self._books.get(account, {}).values(), key=lambda item: (item[1]["last_at"], item[0]),
                           reverse=True)
            return [dict(entry) for dummy, entry in items]

    def clear(self):
        """Forget every account's activity."""
        with self._lock:
            self._books = {}
            self._seq = itertools.count(1)
