#!/usr/bin/env bash
# Create .venv with the pinned dev requirements and make the collection importable as
# ansible_collections/virtfleet/hypervisor. Reinstalls only when requirements-dev.txt changes.
. "$(dirname "$0")/lib.sh"

req="$VF_ROOT/requirements-dev.txt"
stamp="$VF_VENV/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)

[ -x "$VF_VENV/bin/python" ] || python3 -m venv "$VF_VENV"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned requirements into .venv"
  "$VF_VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip wheel setuptools
  "$VF_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

# Runtime: ansible.cfg points collections_path at .venv/collections.
link="$VF_VENV/collections/ansible_collections/virtfleet/hypervisor"
mkdir -p "$(dirname "$link")"
[ "$(readlink "$link" 2>/dev/null)" = "$VF_ROOT" ] || ln -sfn "$VF_ROOT" "$link"
