#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run on a clean clone).
#
#   scripts/test.sh                       # setup, then every stage below
#   scripts/test.sh stage_build ...       # setup, then only the named stages
#
# Every stage runs even when an earlier one failed; the script exits non-zero if any failed.
# Output ends with a per-stage summary (PASS/FAIL/SKIP + seconds) followed by pytest's own
# closing line from stage_pytest, which CI reads.
#
# To add a stage: write a stage_<name> function (return non-zero on failure, 77 to mean "skipped")
# and add it to STAGES at the bottom.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

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
    pytest "${dirs[@]}" -q 2>&1 | tee "$TMP/pytest.log" || status=$?
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
)
if (($#)); then
    STAGES=("$@")
fi

SUMMARY=()
FAILED=0
for stage in "${STAGES[@]}"; do
    if ! declare -F "$stage" >/dev/null; then
        echo "unknown stage: $stage" >&2
        exit 2
    fi
    header "$stage"
    start=$SECONDS
    status=0
    "$stage" || status=$?
    elapsed=$((SECONDS - start))
    if ((status == 0)); then
        SUMMARY+=("$(printf 'PASS  %-20s %4ds' "$stage" "$elapsed")")
    elif ((status == SKIP)); then
        SUMMARY+=("$(printf 'SKIP  %-20s %4ds' "$stage" "$elapsed")")
    else
        SUMMARY+=("$(printf 'FAIL  %-20s %4ds  (exit %d)' "$stage" "$elapsed" "$status")")
        FAILED=$((FAILED + 1))
    fi
done

header "summary"
printf '%s\n' "${SUMMARY[@]}"
if ((FAILED)); then
    echo "$FAILED stage(s) failed"
fi
if [[ -n "$PYTEST_CLOSING_LINE" ]]; then
    echo "$PYTEST_CLOSING_LINE"
fi
((FAILED == 0))
