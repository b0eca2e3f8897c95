#!/usr/bin/env bash
# Idempotent setup of everything Vigie needs on one machine, for the demo and the tests.
#
# On Debian/Ubuntu it installs what is missing (Mosquitto, InfluxDB 1.x from the distribution, Python venv
# support) and builds the Python environment in .venv from uv.lock. Elsewhere it prints the exact manual
# steps and stops. Running it twice changes nothing the second time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"
TOOLS="$ROOT/.venv-tools"
DEBIAN_PACKAGES=(mosquitto influxdb python3-venv python3-dev chromium)

log() { printf '[setup] %s\n' "$*" >&2; }

missing_debian_packages() {
    local pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root to run: $*"; exit 1; fi
}

install_system_packages() {
    if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
        print_manual_steps
        return
    fi
    local missing
    missing="$(missing_debian_packages | tr '\n' ' ')"
    if [ -z "${missing// }" ]; then log "system packages present"; return; fi
    log "installing: $missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

print_manual_steps() {
    for tool in mosquitto influxd python3; do
        command -v "$tool" >/dev/null || MISSING_TOOL=1
    done
    if [ -z "${MISSING_TOOL:-}" ]; then log "not Debian/Ubuntu; mosquitto, influxd and python3 found"; return; fi
    cat >&2 <<'STEPS'
[setup] This is not a Debian/Ubuntu machine. Install by hand, then run this script again:
  1. Mosquitto >= 2.0      (mosquitto binary on PATH or in /usr/sbin)
  2. InfluxDB 1.6 - 1.8    (influxd binary on PATH; the tests start their own instance)
  3. Chromium              (/usr/bin/chromium, for the dashboard browser tests)
  4. Python >= 3.11 with venv support
STEPS
    exit 1
}

python_for_venv() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
            "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    log "Python >= 3.11 not found"; exit 1
}

install_uv() {
    if [ -x "$TOOLS/bin/uv" ] && [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then return; fi
    log "installing uv $UV_VERSION into $TOOLS"
    "$(python_for_venv)" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
}

sync_python_env() {
    log "syncing .venv from uv.lock"
    UV_PYTHON="$(python_for_venv)" UV_PYTHON_DOWNLOADS=never \
        "$TOOLS/bin/uv" sync --project "$ROOT" --frozen --all-extras --quiet
}

install_system_packages
install_uv
sync_python_env
log "ready: $ROOT/.venv/bin/vigie"
