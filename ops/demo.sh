#!/usr/bin/env bash
# The README's main command: setup, then a local hub with simulated gateways (Paris, Lyon, Toulouse).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ops/setup.sh
exec .venv/bin/vigie demo "$@"
