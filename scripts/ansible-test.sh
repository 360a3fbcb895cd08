#!/usr/bin/env bash
# Run ansible-test (sanity and units) against the WORKING TREE of this repository.
#
#   scripts/ansible-test.sh                # sanity + units
#   scripts/ansible-test.sh sanity         # only sanity   (extra ansible-test args: after --)
#   scripts/ansible-test.sh units          # only units
#   scripts/ansible-test.sh sanity -- --test pep8
#   scripts/ansible-test.sh stage DIR      # only copy the work tree to DIR (used by scripts/test.sh)
#
# ansible-test insists on living in .../ansible_collections/<namespace>/<name>, so the work tree
# (tracked and untracked-but-not-ignored files, uncommitted edits included, plus .git) is copied to
# a temporary .../ansible_collections/mailops/sendgrid/ and the tests run there.
#
# Environment:
#   EXTRA_CORE=1|0   also run with ansible-core 2.21 on Python 3.12 in .venv-312 (made by scripts/setup.sh), which then
#                    runs every sanity test and .venv the core's own checks only (see CORE_SPECIFIC_SANITY).
#                    Default 1 when $(pyenv prefix 3.12.1)/bin/python3.12 exists, else 0.
#   KEEP_STAGE=1     keep the staged copy (its path is printed).
#   VERBOSE=1        do not filter pip's progress chatter out of ansible-test's output.
# Results (junit, logs) are copied back to tests/output/ansible-test/<ansible-core version>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

NAMESPACE=mailops
NAME=sendgrid

say() { printf 'ansible-test.sh: %s\n' "$*"; }

# pip chatter printed while ansible-test builds its per-test virtual environments (first run only).
PIP_NOISE_LINES=(
    "WARNING: Location '.*' is ignored"
    "Looking in (indexes|links):"
    "Collecting "
    " +Downloading "
    " +[━╸ ]+ [0-9.]+/"
    "Installing collected packages:"
    "Successfully installed "
    " +Attempting uninstall:"
    " +Found existing installation:"
    " +Uninstalling "
    " +Successfully uninstalled "
)
PIP_NOISE="^($(IFS='|'; echo "${PIP_NOISE_LINES[*]}"))"

filter_pip_noise() {
    if [[ "${VERBOSE:-0}" == 1 ]]; then
        cat
    else
        { grep --line-buffered -v -E "$PIP_NOISE" || true; }
    fi
}

# Copy the work tree (what git would see: tracked + untracked-not-ignored, minus deleted) and .git.
stage_work_tree() {
    local dest="$1"
    mkdir -p "$dest"
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' path; do
            case "$path" in .venv*/*) continue ;; esac   # never stage a virtual environment
            if [[ -e "$path" || -L "$path" ]]; then printf '%s\0' "$path"; fi
        done \
        | tar --null --no-recursion -T - -cf - \
        | tar -xf - -C "$dest"
    cp -a "$ROOT/.git" "$dest/.git"
}

if [[ "${1:-}" == "stage" ]]; then
    stage_work_tree "${2:?usage: ansible-test.sh stage DIR}"
    exit 0
fi

# ---- arguments
RUN_SANITY=0
RUN_UNITS=0
EXTRA_ARGS=()
while (($#)); do
    case "$1" in
        sanity) RUN_SANITY=1 ;;
        units) RUN_UNITS=1 ;;
        --) shift; EXTRA_ARGS=("$@"); break ;;
        *) echo "usage: $0 [sanity] [units] [-- extra ansible-test args] | stage DIR" >&2; exit 2 ;;
    esac
    shift
done
if ((RUN_SANITY + RUN_UNITS == 0)); then
    RUN_SANITY=1
    RUN_UNITS=1
fi

PY312="$(pyenv prefix 3.12.1 2>/dev/null || true)/bin/python3.12"
if [[ -x "$PY312" ]]; then
    EXTRA_CORE="${EXTRA_CORE:-1}"
else
    EXTRA_CORE=0
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/mailops-ansible-test.XXXXXX")"
cleanup() {
    if [[ "${KEEP_STAGE:-0}" == 1 ]]; then
        say "stage kept in $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

FAILED=()
SUMMARY=()

# The sanity tests that are the core's own checks of modules, docs, imports and metadata run on every core. The
# linters (pylint, pep8, yamllint, shellcheck...) run on the newest core only: each ansible-test pins its own linter
# versions (2.21: pylint 4, 2.19: pylint 3), and the newest are the strictest and the ones the next cores keep; a
# second linter run would cost about 45 CPU-seconds (a minute of the test command on 2 cores).
CORE_SPECIFIC_SANITY=(--test validate-modules --test ansible-doc --test import --test compile --test runtime-metadata
                      --test action-plugin-docs --test changelog --test ignores --test use-argspec-type-path)

# run_suite VENV PYTHON_VERSION [SANITY_ARGS...]: stage a fresh copy and run the selected tests with VENV's
# ansible-test; SANITY_ARGS narrow the sanity tests (ignored when the caller gave ansible-test arguments).
run_suite() {
    local venv="$1" pyver="$2" core stage status start
    local sanity_args=("${@:3}")
    if ((${#EXTRA_ARGS[@]})); then sanity_args=("${EXTRA_ARGS[@]}"); fi
    core="$("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')"
    stage="$TMP/core-$core/ansible_collections/$NAMESPACE/$NAME"
    stage_work_tree "$stage"
    say "staged work tree in $stage (ansible-core $core, Python $pyver)"

    run_one() {
        local what="$1"
        shift
        start=$SECONDS
        status=0
        # The venv's bin first on PATH: ansible-test then finds python$pyver (with pytest etc.) there.
        (cd "$stage" && PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" "$venv/bin/ansible-test" "$@" 2>&1) \
            | filter_pip_noise || status=$?
        if ((status == 0)); then
            SUMMARY+=("PASS $what (ansible-core $core) $((SECONDS - start))s")
        else
            SUMMARY+=("FAIL $what (ansible-core $core) $((SECONDS - start))s, exit $status")
            FAILED+=("$what/$core")
        fi
    }

    if ((RUN_SANITY)); then
        say "ansible-test sanity --python $pyver (ansible-core $core)"
        run_one sanity sanity --python "$pyver" --color no "${sanity_args[@]}"
    fi
    if ((RUN_UNITS)) && [[ ! -d "$stage/tests/unit" ]]; then
        say "SKIP units: the work tree has no files under tests/unit/ yet"
        SUMMARY+=("SKIP units (ansible-core $core): no tests/unit/ files")
    elif ((RUN_UNITS)); then
        say "ansible-test units --python $pyver (ansible-core $core)"
        run_one units units --python "$pyver" --color no "${EXTRA_ARGS[@]}"
    fi

    if [[ -d "$stage/tests/output" ]]; then
        mkdir -p "$ROOT/tests/output/ansible-test"
        rm -rf "$ROOT/tests/output/ansible-test/$core"
        cp -a "$stage/tests/output" "$ROOT/tests/output/ansible-test/$core"
    fi
}

# ---- .venv (Python 3.11, ansible-core from requirements-dev.txt), and where Python 3.12 exists .venv-312
#      (ansible-core 2.21, made by scripts/setup.sh): every sanity test on the newest core, the core's own on the other
if [[ ! -x "$ROOT/.venv/bin/ansible-test" ]]; then
    say "no .venv/bin/ansible-test: run scripts/setup.sh first" >&2
    exit 1
fi
if [[ "$EXTRA_CORE" == 1 ]]; then
    if [[ ! -x "$ROOT/.venv-312/bin/ansible-test" ]]; then
        say "no .venv-312/bin/ansible-test although Python 3.12 exists: run scripts/setup.sh first" >&2
        exit 1
    fi
    bash "$ROOT/scripts/setup.sh" --get-pip-only "$ROOT/.venv-312/bin/python" >/dev/null
    run_suite "$ROOT/.venv" 3.11 "${CORE_SPECIFIC_SANITY[@]}"
    run_suite "$ROOT/.venv-312" 3.12
else
    run_suite "$ROOT/.venv" 3.11
fi

say "summary:"
printf '  %s\n' "${SUMMARY[@]}"
if ((${#FAILED[@]})); then
    say "FAILED: ${FAILED[*]}"
    exit 1
fi
