#!/usr/bin/env bash
# The whole test suite: install what is missing, then lint, type-check, check the layering and run
# every test (unit, contract, integration with real QEMU/netns/tgt/slapd, e2e).
# Extra arguments go to pytest, e.g.  scripts/test.sh -k compute -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff";          ruff check src tests bench
echo "== mypy (strict on core, services, drivers)"; mypy
echo "== import-linter"; lint-imports --no-cache
echo "== pytest"
pytest -q -ra --durations=15 "$@"
