"""Offline stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test (sanity) creates an empty virtual environment per sanity test and bootstraps pip in
it by running ``~/.ansible/test/cache/get_pip_<version>.py`` with pip options and packages as
arguments.  When that file is missing it downloads it from ci-files.testing.ansible.com, a host
that is not reachable from this project's machines.  scripts/setup.sh copies this file to that
cache path.

This stand-in installs pip from the interpreter's own bundled wheel (``python -m ensurepip``) and
then runs ``python -m pip install`` with the arguments it was given (the pinned pip version and
ansible-test's options), dropping ``--no-setuptools`` and ``--no-wheel``, which are get-pip.py
options that pip itself does not know.
"""

from __future__ import annotations

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = frozenset(('--no-setuptools', '--no-wheel'))


def main() -> int:
    """Bootstrap pip into the running interpreter, then install the requested packages."""
    python = sys.executable
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]

    subprocess.run([python, '-m', 'ensurepip', '--default-pip'], check=True, stdout=subprocess.DEVNULL)

    if args:
        subprocess.run([python, '-m', 'pip', 'install'] + args, check=True)

    return 0


if __name__ == '__main__':
    sys.exit(main())
