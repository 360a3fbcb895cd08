#!/usr/bin/env bash
# The README's first command: set up this machine, start the local SendGrid-compatible API server,
# and enforce TLS on its parent account and two subusers with the example playbook
# mailops.sendgrid.enforce_tls: a dry run (--check --diff), the real run (changed), and a second
# run (ok: nothing left to change). No SendGrid account is needed; the server stops at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

bash scripts/setup.sh
# shellcheck source=/dev/null
. .venv/bin/activate

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mailops-demo.XXXXXX")"
trap 'stop_api_server; rm -rf "$WORK"' EXIT

start_api_server "$WORK"
link_collection "$WORK"
export SENDGRID_API_URL="$API_SERVER_URL" SENDGRID_API_KEY="SG.local-demo-key"
export ANSIBLE_PYTHON_INTERPRETER="$ROOT/.venv/bin/python"

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
playbook() { ansible-playbook -i localhost, mailops.sendgrid.enforce_tls "$@"; }

step "Local SendGrid-compatible API server at $API_SERVER_URL (demo key, subusers marketing and billing)"
step "1/3  Dry run: ansible-playbook mailops.sendgrid.enforce_tls --check --diff  (shows before/after, writes nothing)"
playbook --check --diff
step "2/3  Apply: ansible-playbook mailops.sendgrid.enforce_tls  (changed)"
playbook
step "3/3  Apply again  (ok: everything already in sync, one GET per account, no PATCH)"
playbook

step "What the server received"
python - "$API_SERVER_URL" <<'PY'
import collections
import json
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1] + "/__control__/requests") as answer:
    log = json.load(answer)
counts = collections.Counter((entry["method"], entry["account"]) for entry in log)
for (method, account), count in sorted(counts.items()):
    print("  %-6s %-10s %d" % (method, account, count))
print("  %d requests in all, PATCH bodies: %s" % (len(log), sorted({json.dumps(e["body"], sort_keys=True) for e in log if e["method"] == "PATCH"})))
PY
