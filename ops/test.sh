#!/usr/bin/env bash
# The README's test command: setup, then ruff, mypy and the whole pytest suite (unit and integration).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ops/setup.sh
echo "[test] ruff" >&2
.venv/bin/ruff check .
echo "[test] mypy" >&2
.venv/bin/mypy contracts edge_agent hub model_export vigie
echo "[test] pytest" >&2
exec .venv/bin/pytest -p no:cacheprovider "$@"
