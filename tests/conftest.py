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


# The integration test files that take longest, longest first (seconds on one worker, measured with --durations):
# under pytest-xdist --dist loadfile (scripts/test.sh) each file is one work unit, and the workers take them in this
# order, so that no long file starts last and leaves the other workers idle at the end.
LONGEST_FIRST = [
    "test_option_matrix.py",          # ~200: its runs go on in a thread pool of its own
    "test_doc_examples.py",           # ~160
    "test_doc_examples_second_half.py",
    "test_integration_real_use.py",   # ~60
    "test_integration_settings.py", "test_pipeline.py", "test_integration_ip_access.py",   # ~35 each
    "test_integration_access.py", "test_integration_identity.py", "test_integration_trust.py",
    "test_integration_resilience.py", "test_integration_progress.py", "test_integration_role.py",
    "test_integration_export.py", "test_integration_enforced_tls.py", "test_integration_parents.py",
    "test_integration_webhooks.py", "test_integration_baseline.py",
]


def pytest_collection_modifyitems(items):
    """The longest files first (LONGEST_FIRST), the others after them in their own order."""
    def rank(item):
        name = os.path.basename(str(item.path))
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)
