# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test harness only: a connection that Ansible (and sendgrid_baseline's action plugin) take for a remote host's.

It runs commands on this machine as the local connection does, but under another transport name, so that a task run
through it takes the path of a managed host that is not the controller: the module runs asynchronously through
async_wrapper and its progress is read through the connection. There is no SSH server on the test machines (loopback
only, no remote host), and the path must be tested all the same.
"""

from __future__ import annotations

from ansible.plugins.connection.local import DOCUMENTATION as LOCAL_DOCUMENTATION
from ansible.plugins.connection.local import Connection as LocalConnection

DOCUMENTATION = LOCAL_DOCUMENTATION.replace("name: local", "name: remote_stand_in", 1).replace(
    "short_description: execute on controller", "short_description: the local connection, named as a remote one", 1)


class Connection(LocalConnection):
    """The local connection under another name."""

    transport = "remote_stand_in"
