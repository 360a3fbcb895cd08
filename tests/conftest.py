# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make the collection importable as ansible_collections.mailops.sendgrid from a plain clone.

ansible-test stages the collection itself; plain pytest (server and integration tests, quick unit
runs) gets a temporary ansible_collections tree whose mailops/sendgrid is a link to this checkout.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_root() -> str:
    try:
        import ansible_collections.mailops.sendgrid.plugins  # noqa: F401  pylint: disable=unused-import
        return os.path.abspath(os.path.join(os.path.dirname(sys.modules["ansible_collections"].__path__[0])))
    except ImportError:
        pass
    root = tempfile.mkdtemp(prefix="mailops-sendgrid-collections-")
    atexit.register(shutil.rmtree, root, True)
    os.makedirs(os.path.join(root, "ansible_collections", "mailops"))
    os.symlink(REPO_ROOT, os.path.join(root, "ansible_collections", "mailops", "sendgrid"))
    sys.path.insert(0, root)
    return root


# Integration tests hand this to ansible-playbook as ANSIBLE_COLLECTIONS_PATH.
COLLECTIONS_ROOT = _collections_root()


def pytest_collection_modifyitems(items):
    """The option matrix first: under pytest-xdist --dist loadfile (scripts/test.sh) it is one work unit, the
    longest, whose runs go on in a thread pool of their own; started last, it would leave a worker idle at the end."""
    items.sort(key=lambda item: os.path.basename(str(item.path)) != "test_option_matrix.py")
