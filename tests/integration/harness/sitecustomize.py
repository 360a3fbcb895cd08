"""Test harness only: keep the code Python compiles from modules' zip payloads, between module runs.

Ansible runs each module from a zip (AnsiballZ), and Python byte-compiles what it imports from a zip every time, never
caching it: about a third of each module run's CPU, repeated for thousands of module runs in the integration tests.
The integration tests put this directory on PYTHONPATH and name a cache directory in MAILOPS_TEST_MODULE_CODE_CACHE;
Python then imports this file at the start of every process of theirs (ansible-playbook and each module run), and
zipimport's compile step looks the code up by the interpreter's magic number, the file's path inside the zip and its
source, before compiling it. The code is what compile() gives for the same source, its file name set to this run's
path, so tracebacks read as without the cache. The demo, molecule and the installed artifact run without it.
"""

import hashlib
import marshal
import os
import zipimport
from importlib.util import MAGIC_NUMBER

CACHE = os.environ.get("MAILOPS_TEST_MODULE_CODE_CACHE")
CODE = type(compile("", "", "exec"))


def _named(code, filename):
    """The code, and every code object inside it, as compiled from ``filename``."""
    consts = tuple(_named(const, filename) if isinstance(const, CODE) else const for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _caching(compile_source):
    def compile_cached(pathname, source):
        inside = pathname.split(".zip" + os.sep, 1)[-1]   # the payload's own path differs from run to run
        path = os.path.join(CACHE, hashlib.sha256(MAGIC_NUMBER + inside.encode() + b"\0" + source).hexdigest())
        try:
            with open(path, "rb") as handle:
                return _named(marshal.loads(handle.read()), pathname)
        except (OSError, ValueError, EOFError, TypeError):
            pass
        code = compile_source(pathname, source)
        partial = "%s.%d" % (path, os.getpid())
        try:
            with open(partial, "wb") as handle:
                handle.write(marshal.dumps(code))
            os.replace(partial, path)   # whole or not at all: other processes read it concurrently
        except OSError:
            pass
        return code
    return compile_cached


# only a directory of this user's own, that no one else may write to: its contents are run
if CACHE and os.path.isdir(CACHE) and os.stat(CACHE).st_uid == os.getuid() and not os.stat(CACHE).st_mode & 0o022 \
        and hasattr(zipimport, "_compile_source"):
    zipimport._compile_source = _caching(zipimport._compile_source)
