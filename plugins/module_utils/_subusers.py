# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Listing a parent account's subusers, every page of them.

For internal use by this collection's modules only: names here may change without notice.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.mailops.sendgrid.plugins.module_utils._client import Operation, SendGridError

PATH = "/v3/subusers"
LIST = Operation("Listing the subusers", "subusers.read")


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
