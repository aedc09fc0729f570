# Shared helpers for the scripts in this folder. Source it; do not run it.
# shellcheck shell=bash
set -euo pipefail

VF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VF_ROOT
VF_CACHE="${VIRTFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virtfleet}"
VF_VENV="$VF_ROOT/.venv"
export VF_CACHE VF_VENV

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
have_systemd() { [ -d /run/systemd/system ]; }
