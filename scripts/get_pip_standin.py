"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test (sanity) creates an empty virtual environment per sanity test and bootstraps pip in
it by running ``~/.ansible/test/cache/get_pip_<version>.py`` with pip options and packages as
arguments.  When that file is missing it downloads it from ci-files.testing.ansible.com, a host
that is not reachable from this project's machines.  scripts/setup.sh copies this file to that
cache path.

The first bootstrap for an interpreter version installs pip from the interpreter's own bundled
wheel (``python -m ensurepip``), then runs ``python -m pip install`` with the arguments it was
given (the pinned pip version and ansible-test's options), dropping ``--no-setuptools`` and
``--no-wheel``, which are get-pip.py options that pip itself does not know.  What that put into
the empty environment's site-packages is kept as a tar file next to this script; later bootstraps
with the same interpreter version and arguments unpack it instead.  A fresh machine builds about
fifteen of these environments (one per sanity test and ansible-core), and ensurepip plus the pip
upgrade cost about 5 CPU-seconds each, unpacking a tenth of a second.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import tarfile
import tempfile

GET_PIP_ONLY_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def snapshot_path(args: list) -> str:
    """Where the site-packages of a bootstrap with these arguments, on this interpreter version, is kept."""
    key = hashlib.sha256(repr(args).encode()).hexdigest()[:16]
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pip-bootstrap-%s-%s.tar' % (sys.implementation.cache_tag, key))


def main() -> int:
    """Bootstrap pip into the running interpreter, then install the requested packages."""
    python = sys.executable
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    site_packages = sysconfig.get_paths()['purelib']
    snapshot = snapshot_path(args)
    # Only an empty virtual environment (what ansible-test bootstraps) is filled from a snapshot or snapshotted.
    empty = sys.prefix != sys.base_prefix and not os.listdir(site_packages)

    if empty and os.path.isfile(snapshot):
        with tarfile.open(snapshot) as archive:
            # the 'data' filter where this Python has it (3.11.4 and later): nothing lands outside site-packages
            archive.extractall(site_packages, **({'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
        return 0

    subprocess.run([python, '-m', 'ensurepip', '--default-pip'], check=True, stdout=subprocess.DEVNULL)

    if args:
        subprocess.run([python, '-m', 'pip', 'install'] + args, check=True)

    if empty:
        # written under a temporary name and renamed: a concurrent bootstrap never reads half a file
        handle, partial = tempfile.mkstemp(dir=os.path.dirname(snapshot), suffix='.partial')
        os.close(handle)
        with tarfile.open(partial, 'w') as archive:
            for name in sorted(os.listdir(site_packages)):
                archive.add(os.path.join(site_packages, name), arcname=name,
                            filter=lambda info: None if '__pycache__' in info.name.split('/') else info)
        os.replace(partial, snapshot)

    return 0


if __name__ == '__main__':
    sys.exit(main())
