#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/virtfleet/hypervisor
# (ansible-test needs that path for real, a symlink does not do). No docker: --venv.
. "$(dirname "$0")/lib.sh"

dest="$VF_ROOT/.build/ansible_collections/virtfleet/hypervisor"
rm -rf "$dest"
mkdir -p "$dest"
cd "$VF_ROOT" || exit 1
# tracked and not-ignored files, as they are in the work tree
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && mkdir -p "$dest/$(dirname "$f")" && cp -a "$f" "$dest/$f"
done
cd "$dest" || exit 1
git init -q . && git add -A >/dev/null  # ansible-test lists the files git knows
# ansible-test's pip bootstrap comes from a host outside the package registries:
# seed its cache with our stand-in (scripts/ansible-test-get-pip.py) for every pip version it asks.
pipver=$(sed -n "s/^ *pip='\([0-9.]*\)',.*$/\1/p" \
  "$VF_VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -n1)
[ -n "$pipver" ] || die "cannot read ansible-test's pip version"
install -D -m 0644 "$VF_ROOT/scripts/ansible-test-get-pip.py" "$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
py=$("$VF_VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec "$VF_VENV/bin/ansible-test" sanity --venv --python "$py" --color no "$@"
