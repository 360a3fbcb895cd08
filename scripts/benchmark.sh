#!/usr/bin/env bash
# Benchmark mailops.sendgrid against the two ansible.builtin.uri tasks a user writes without it
# (not part of scripts/test.sh). Sets up .venv, then runs benchmark/benchmark.py, which starts the
# local API server with a latency per request and writes benchmark/results/latest.{json,md}.
#
#   scripts/benchmark.sh                    # latency 50 ms, 1/10/100 accounts, median of 3
#   scripts/benchmark.sh --latency 100      # any option of benchmark/benchmark.py (see --help)
#   scripts/benchmark.sh --quick            # smoke run: 1 and 10 accounts, one run each
#   scripts/benchmark.sh --baseline-only    # the full security baseline on 100 accounts against its uri equivalent
#   scripts/benchmark.sh --skip-baseline    # the Enforced TLS scenarios alone
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
# shellcheck source=/dev/null
. .venv/bin/activate

exec python benchmark/benchmark.py "$@"
