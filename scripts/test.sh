#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run on a clean clone).
#
#   scripts/test.sh                       # setup, then every stage below
#   scripts/test.sh stage_build ...       # setup, then only the named stages
#
# Every stage runs even when an earlier one failed; the script exits non-zero if any failed.
# When more than one stage is run, every stage but stage_pytest runs in the background beside it.
# Output ends with a per-stage summary (PASS/FAIL/SKIP + seconds) followed by pytest's own
# closing line from stage_pytest, which CI reads.
#
# To add a stage: write a stage_<name> function (return non-zero on failure, 77 to mean "skipped")
# and add it to STAGES at the bottom.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

header() { printf '\n===== %s =====\n' "$*"; }

SKIP=77                     # return code of a stage that had nothing to do
PYTEST_CLOSING_LINE=""      # pytest's last line from stage_pytest, repeated at the very end
TMP="$(mktemp -d "${TMPDIR:-/tmp}/mailops-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- stages

# (a) server and integration tests, plain pytest from the repository root
stage_pytest() {
    local dirs=() dir status=0
    for dir in tests/server tests/integration; do
        if [[ -d "$dir" ]]; then dirs+=("$dir"); else echo "($dir does not exist yet: skipped)"; fi
    done
    ((${#dirs[@]})) || return "$SKIP"
    # loadfile: a file's tests share one worker, so that a file running its cases in one ansible-playbook
    # (conftest.run_cases) runs them once, and the option matrix's runs are made once, without the other worker
    # waiting for them. Three workers on two cores: many tests wait (a rate limit's reset, a slow server, DNS), and a
    # third worker computes meanwhile (measured: 40 s less than two).
    pytest "${dirs[@]}" -q -n 3 --dist loadfile 2>&1 | tee "$TMP/pytest.log" || status=$?
    PYTEST_CLOSING_LINE="$(grep -v '^[[:space:]]*$' "$TMP/pytest.log" | tail -n 1)"
    return "$status"
}

# (b) ansible-test sanity + units on a staged copy of the work tree
stage_sanity_units() {
    bash scripts/ansible-test.sh
}

# (c) the collection artifact builds (from a copy of the work tree, so stray files cannot leak in)
stage_build() {
    local src="$TMP/build-src" out="$ROOT/build" artifact
    bash scripts/ansible-test.sh stage "$src" || return
    rm -rf "$src/.git"
    mkdir -p "$out"
    rm -f "$out"/mailops-sendgrid-*.tar.gz
    ansible-galaxy collection build "$src" --output-path "$out" || return
    artifact="$(ls "$out"/mailops-sendgrid-*.tar.gz)" || return
    echo "artifact: ${artifact#"$ROOT/"} ($(tar -tzf "$artifact" | wc -l) entries, $(du -h "$artifact" | cut -f1))"
    if tar -tzf "$artifact" | grep -E '(^|/)(\.venv[^/]*|\.git|tests/output|__pycache__)(/|$)'; then
        echo "the artifact contains files that build_ignore should exclude (listed above)"
        return 1
    fi
}

# (d) the built artifact, installed into an empty collections path, runs the example playbook against
#     the local API server: packaging mistakes (a file left out, a broken build_ignore) fail here
stage_installed_artifact() {
    local artifacts collections="$TMP/installed" result
    artifacts=("$ROOT"/build/mailops-sendgrid-*.tar.gz)
    [[ -f "${artifacts[0]}" ]] || { stage_build && artifacts=("$ROOT"/build/mailops-sendgrid-*.tar.gz); } || return
    # only the empty path: a copy installed in ~/.ansible/collections must not make galaxy skip the install
    ANSIBLE_COLLECTIONS_PATH="$collections" ansible-galaxy collection install --offline -p "$collections" \
        "${artifacts[0]}" || return
    start_api_server "$TMP" || return
    result=0
    (
        cd "$TMP" || exit 1   # away from the checkout, so nothing can be found there by accident
        export ANSIBLE_COLLECTIONS_PATH="$collections" SENDGRID_API_URL="$API_SERVER_URL"
        export SENDGRID_API_KEY=SG.local-demo-key ANSIBLE_PYTHON_INTERPRETER="$ROOT/.venv/bin/python"
        ansible-doc mailops.sendgrid.sendgrid_enforced_tls >/dev/null || exit 1
        ansible-playbook -i localhost, mailops.sendgrid.enforce_tls | tee "$TMP/first.log" || exit 1
        ansible-playbook -i localhost, mailops.sendgrid.enforce_tls | tee "$TMP/second.log" || exit 1
        grep -Eq 'changed=[1-9]' "$TMP/first.log" || { echo "first run of the installed collection changed nothing"; exit 1; }
        grep -Eq 'changed=0 .*failed=0' "$TMP/second.log" || { echo "second run of the installed collection was not ok"; exit 1; }
    ) || result=$?
    stop_api_server
    return "$result"
}

# (e) documentation and changelog lint
stage_docs_lint() {
    local stage="$TMP/docs/ansible_collections/mailops/sendgrid" status=0
    bash scripts/ansible-test.sh stage "$stage" || return
    (cd "$stage" && antsibull-docs lint-collection-docs --plugin-docs .) || status=1
    antsibull-changelog lint || status=1
    ((status == 0)) && echo "collection docs and changelog fragments lint clean"
    return "$status"
}

# (f) the roles' molecule scenario (enforced_tls and baseline): two local API servers, dry run, converge,
#     idempotence, verify, and the baseline's drift gate
stage_molecule() {
    molecule test
}

# (g) ansible-lint, production profile (.ansible-lint)
stage_lint() {
    ansible-lint
}

# ---------------------------------------------------------------- runner

header "setup"
if ! bash scripts/setup.sh; then
    echo "scripts/setup.sh failed"
    exit 1
fi
# shellcheck source=/dev/null
. "$ROOT/.venv/bin/activate"

STAGES=(
    stage_pytest
    stage_sanity_units
    stage_build
    stage_installed_artifact
    stage_docs_lint
    stage_molecule
    stage_lint
)
if (($#)); then
    STAGES=("$@")
fi

SUMMARY=()
FAILED=0

# record STAGE STATUS SECONDS: one summary line per stage
record() {
    if (($2 == 0)); then
        SUMMARY+=("$(printf 'PASS  %-24s %4ds' "$1" "$3")")
    elif (($2 == SKIP)); then
        SUMMARY+=("$(printf 'SKIP  %-24s %4ds' "$1" "$3")")
    else
        SUMMARY+=("$(printf 'FAIL  %-24s %4ds  (exit %d)' "$1" "$3" "$2")")
        FAILED=$((FAILED + 1))
    fi
}

for stage in "${STAGES[@]}"; do
    if ! declare -F "$stage" >/dev/null; then
        echo "unknown stage: $stage" >&2
        exit 2
    fi
done

# The suite is CPU-bound and pytest (the integration tests, the option matrix) is by far its longest stage: when
# more than one stage is run, stage_pytest runs in the foreground and every other stage, one after another, in the
# background beside it (ansible-test spends much of its time in single-threaded linters, molecule and the linters
# in single playbooks): on 2 cores that saves minutes. Their output is shown stage by stage after pytest's.
BACKGROUND=()
if ((${#STAGES[@]} > 1)) && [[ " ${STAGES[*]} " == *" stage_pytest "* ]]; then
    for stage in "${STAGES[@]}"; do
        [[ "$stage" == stage_pytest ]] || BACKGROUND+=("$stage")
    done
    header "${BACKGROUND[*]} (started in the background, one after another; their output follows pytest's)"
    (
        for stage in "${BACKGROUND[@]}"; do
            start=$SECONDS
            status=0
            "$stage" >"$TMP/$stage.log" 2>&1 || status=$?
            echo "$status $((SECONDS - start))" >"$TMP/$stage.status"
        done
    ) &
    BACKGROUND_PID=$!
fi

for stage in "${STAGES[@]}"; do
    [[ " ${BACKGROUND[*]} " == *" $stage "* ]] && continue
    header "$stage"
    start=$SECONDS
    status=0
    "$stage" || status=$?
    record "$stage" "$status" $((SECONDS - start))
done

if ((${#BACKGROUND[@]})); then
    wait "$BACKGROUND_PID" || true
    for stage in "${BACKGROUND[@]}"; do
        header "$stage (ran in the background)"
        cat "$TMP/$stage.log" 2>/dev/null
        read -r status seconds 2>/dev/null <"$TMP/$stage.status" || { status=1; seconds=0; }
        record "$stage" "$status" "$seconds"
    done
fi

header "summary"
printf '%s\n' "${SUMMARY[@]}"
if ((FAILED)); then
    echo "$FAILED stage(s) failed"
fi
if [[ -n "$PYTEST_CLOSING_LINE" ]]; then
    echo "$PYTEST_CLOSING_LINE"
fi
((FAILED == 0))
