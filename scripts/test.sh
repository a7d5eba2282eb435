#!/usr/bin/env bash
# Set everything up, then run the linters and the whole test suite (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# The PostgreSQL half of the suite and the browser tests must run here, not skip quietly.
export SOHOA_REQUIRE_POSTGRES=1
export SOHOA_REQUIRE_BROWSER=1
# The archive packages must be checked by the E-ARK validator (.venv-eark, ../shared/eark).
export SOHOA_REQUIRE_EARK=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Layers point down, no mutual imports, no huge files: counts may only fall (issue 17).
.venv/bin/python scripts/structure.py --check
.venv/bin/python -m pytest -n 2 --durations=10 "$@"
