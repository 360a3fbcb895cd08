#!/usr/bin/env bash
# Prepare a machine (fresh or not) to develop and test mailops.sendgrid. Safe to re-run.
#
#   scripts/setup.sh                      # .venv + dev requirements + get-pip stand-in + shellcheck + .venv-312
#   scripts/setup.sh --get-pip-only PY    # only install the get-pip stand-in for PY's ansible-test
#
# Environment:
#   PYTHON=python3   interpreter used to create .venv when it is missing (Python 3.11 expected)
#   SETUP_FORCE=1    re-run pip install even if the requirement files did not change
#   VERBOSE=1        show pip's full output
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STANDIN_SRC="$ROOT/scripts/get_pip_standin.py"
STAMP="$VENV/.requirements-dev.sha256"

say() { printf 'setup: %s\n' "$*"; }

# Run pip with the noise filtered out; keep pip's exit status.
quiet_pip() {
    local py="$1"
    shift
    if [[ "${VERBOSE:-0}" == 1 ]]; then
        "$py" -m pip "$@"
        return
    fi
    local status=0
    "$py" -m pip --disable-pip-version-check -q "$@" 2>&1 \
        | { grep -v -E "Location '.*' is ignored|^\s*$" || true; } || status=$?
    return "$status"  # pipefail: pip's status (the grep group always succeeds)
}

# Copy the get-pip stand-in to ~/.ansible/test/cache/get_pip_<version>.py for every pip version
# named in the ansible-test that belongs to the given interpreter.
install_get_pip_standin() {
    local py="$1" versions version dest
    versions="$("$py" - <<'EOF'
import os
import re
import sys

try:
    import ansible_test
except ImportError:
    sys.exit("ansible-test (ansible-core) is not installed for %s" % sys.executable)

path = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
with open(path, encoding='utf-8') as source:
    text = source.read()
start = text.index('def get_venv_packages')
body = text[start:text.index('\ndef ', start + 1)]
found = re.findall(r"""\bpip\s*=\s*['"]([0-9][^'"]*)['"]|['"]pip['"]\s*:\s*['"]([0-9][^'"]*)['"]""", body)
versions = sorted({a or b for a, b in found})
if not versions:
    sys.exit("could not find the pip version in %s" % path)
print(' '.join(versions))
EOF
)"
    mkdir -p "$HOME/.ansible/test/cache"
    for version in $versions; do
        dest="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
        if ! cmp -s "$STANDIN_SRC" "$dest"; then
            cp "$STANDIN_SRC" "$dest"
            say "installed get-pip stand-in for pip $version: $dest"
        else
            say "get-pip stand-in for pip $version is up to date"
        fi
    done
}

install_shellcheck() {
    if command -v shellcheck >/dev/null 2>&1; then
        say "shellcheck present ($(shellcheck --version | sed -n 's/^version: //p'))"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "WARNING: shellcheck missing and apt-get unavailable; the shellcheck sanity test will be skipped"
        return 0
    fi
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            say "WARNING: shellcheck missing and no root/sudo to install it; the shellcheck sanity test will be skipped"
            return 0
        fi
    fi
    say "installing shellcheck with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -qq shellcheck >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update -qq >/dev/null 2>&1 || true
        if ! "${sudo[@]}" apt-get install -y -qq shellcheck >/dev/null 2>&1; then
            say "WARNING: apt-get could not install shellcheck; the shellcheck sanity test will be skipped"
            return 0
        fi
    fi
    say "shellcheck installed ($(shellcheck --version | sed -n 's/^version: //p'))"
}

if [[ "${1:-}" == "--get-pip-only" ]]; then
    install_get_pip_standin "${2:?usage: setup.sh --get-pip-only PYTHON}"
    exit 0
fi

# 5. a second ansible-core, where Python 3.12 exists: .venv-312 with ansible-core 2.21, for ansible-test
#    (scripts/ansible-test.sh) and for the integration tests that run playbooks on both cores. It is made here,
#    before any test stage, so that a fresh machine has it for every stage; in the background, beside
#    steps 1 to 4 (two pip installs on two cores: a fresh setup takes the longer of the two, not their sum).
make_venv312() {
    PY312="$(pyenv prefix 3.12.1 2>/dev/null || true)/bin/python3.12"
    VENV312="$ROOT/.venv-312"
    if [[ -x "$PY312" ]]; then
        # What units and playbooks need: the runtime requirements, unit-test requirements, ansible-test's pytest plugins.
        REQS312=(-r requirements.txt pytest pytest-xdist pytest-mock)
        if [[ -f tests/unit/requirements.txt ]]; then REQS312+=(-r tests/unit/requirements.txt); fi
        want312="$(cat requirements.txt tests/unit/requirements.txt 2>/dev/null | sha256sum | cut -d' ' -f1)"
        if [[ ! -x "$VENV312/bin/python" ]]; then
            say "creating .venv-312 ($("$PY312" --version))"
            "$PY312" -m venv "$VENV312"
        fi
        if [[ ! -x "$VENV312/bin/ansible-test" || "$(cat "$VENV312/.requirements.sha256" 2>/dev/null)" != "$want312" ]]; then
            say "installing ansible-core 2.21 and the unit-test requirements into .venv-312"
            quiet_pip "$VENV312/bin/python" install 'ansible-core>=2.21,<2.22' "${REQS312[@]}"
            echo "$want312" >"$VENV312/.requirements.sha256"
        else
            say ".venv-312 up to date ($("$VENV312/bin/python" -c 'import ansible; print("ansible-core", ansible.__version__)'))"
        fi
        install_get_pip_standin "$VENV312/bin/python"
    else
        say "no Python 3.12 (pyenv 3.12.1): only ansible-core from .venv is tested"
    fi
}

VENV312_LOG="$(mktemp "${TMPDIR:-/tmp}/mailops-setup-312.XXXXXX")"
make_venv312 >"$VENV312_LOG" 2>&1 &
VENV312_PID=$!
# 4. shellcheck, so that the shellcheck sanity test really runs: apt-get, also in the background (it needs no venv)
SHELLCHECK_LOG="$(mktemp "${TMPDIR:-/tmp}/mailops-setup-shellcheck.XXXXXX")"
install_shellcheck >"$SHELLCHECK_LOG" 2>&1 &
SHELLCHECK_PID=$!

# 1. virtual environment
if [[ ! -x "$VENV/bin/python" ]]; then
    py="${PYTHON:-python3}"
    say "creating .venv with $("$py" --version 2>&1)"
    "$py" -m venv "$VENV"
    rm -f "$STAMP"
else
    say ".venv exists ($("$VENV/bin/python" --version 2>&1))"
fi
case "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
    3.11) ;;
    *) say "WARNING: .venv is not Python 3.11; the tests pass --python 3.11 to ansible-test" ;;
esac

# 2. development requirements (skipped when the requirement files are unchanged since the last install)
# tests/unit/requirements.txt is what ansible-test units needs; .venv runs the units.
REQ_FILES=(requirements.txt requirements-dev.txt)
if [[ -f tests/unit/requirements.txt ]]; then REQ_FILES+=(tests/unit/requirements.txt); fi
want="$(cat "${REQ_FILES[@]}" | sha256sum | cut -d' ' -f1)"
if [[ "${SETUP_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    say "${REQ_FILES[*]} already installed"
else
    say "installing ${REQ_FILES[*]} into .venv"
    quiet_pip "$VENV/bin/python" install "${REQ_FILES[@]/#/--requirement=}"
    echo "$want" >"$STAMP"
    say "installed: $("$VENV/bin/python" -c 'import ansible; print("ansible-core", ansible.__version__)')"
fi

# 3. ansible-test's get-pip.py, which it cannot download here
install_get_pip_standin "$VENV/bin/python"

# 6. the other collections the tests and the examples use (tests/integration/requirements-collections.txt): there is
#    no Galaxy here, so each is unpacked from the pinned `ansible` package's wheel into .collections/, nothing else of
#    it installed (ansible-core stays the one of .venv)
install_test_collections() {
    local pins="tests/integration/requirements-collections.txt" dest="$ROOT/.collections" want wheels
    want="$(sha256sum "$pins" | cut -d' ' -f1)"
    if [[ "$(cat "$dest/.requirements.sha256" 2>/dev/null)" == "$want" ]]; then
        say "test collections up to date ($(sed -n 's/^# collections: *\([^ ]*\).*/\1/p' "$pins" | tr '\n' ' '))"
        return 0
    fi
    wheels="$(mktemp -d "${TMPDIR:-/tmp}/mailops-setup-wheels.XXXXXX")"
    quiet_pip "$VENV/bin/python" download --no-deps --dest "$wheels" -r "$pins"
    rm -rf "$dest"
    "$VENV/bin/python" - "$pins" "$dest" "$wheels"/*.whl <<'EOF_PY'
import os
import sys
import zipfile

pins, dest, wheels = sys.argv[1], sys.argv[2], sys.argv[3:]
names = []
with open(pins, encoding="utf-8") as handle:
    for line in handle:
        if line.startswith("# collections:"):
            names += line.split(":", 1)[1].split("(")[0].split()
prefixes = tuple("ansible_collections/%s/" % name.replace(".", "/") for name in names)
for wheel in wheels:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(dest, [member for member in archive.namelist() if member.startswith(prefixes)])
missing = [name for name, prefix in zip(names, prefixes) if not os.path.isfile(os.path.join(dest, prefix, "MANIFEST.json"))]
if missing:
    sys.exit("setup: %s not in %s" % (", ".join(missing), " ".join(wheels)))
print("setup: unpacked %s into %s" % (", ".join(names), dest))
EOF_PY
    rm -rf "$wheels"
    echo "$want" >"$dest/.requirements.sha256"
}
install_test_collections

# 4. (started before step 1) wait for shellcheck and show what it said; install_shellcheck never fails the setup
wait "$SHELLCHECK_PID" || true
cat "$SHELLCHECK_LOG"
rm -f "$SHELLCHECK_LOG"

# 5. (started before step 1) wait for .venv-312 and show what it said
venv312_status=0
wait "$VENV312_PID" || venv312_status=$?
cat "$VENV312_LOG"
rm -f "$VENV312_LOG"
if ((venv312_status != 0)); then
    say "making .venv-312 failed (exit $venv312_status)"
    exit "$venv312_status"
fi
