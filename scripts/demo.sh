#!/usr/bin/env bash
# The main job: converge inventories/local twice (the second run must change nothing) and
# print the summary table of what runs now.
#   scripts/demo.sh         converge, converge again, summary (make demo)
#   scripts/demo.sh clean   remove exactly the demo's named objects (make demo-clean)
. "$(dirname "$0")/lib.sh"
cd "$VF_ROOT" || exit 1
export ANSIBLE_CONFIG="$VF_ROOT/ansible.cfg"
# the summary is a multi-line string: show it as text, not as a JSON-escaped line
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml
pb() { "$VF_VENV/bin/ansible-playbook" -i inventories/local "$@"; }
now() { date +%s; }

case "${1:-}" in
  "") ;;
  clean)
    log "removing the demo's objects (playbooks/demo-clean.yml)"
    pb playbooks/demo-clean.yml
    exit 0 ;;
  *) die "unknown argument: $1 (usage: $0 [clean])" ;;
esac

t0=$(now)
log "first converge (creates what is missing, boots demo-web01 under TCG and waits for its ssh)"
pb playbooks/demo.yml --diff
t1=$(now)
log "second converge: must report changed=0"
out=$(pb playbooks/demo.yml) || { printf '%s\n' "$out"; die "second converge failed"; }
t2=$(now)
printf '%s\n' "$out" | sed -n '/^TASK \[Summary\]/,$p'
printf '%s\n' "$out" | grep -Eq 'changed=0 .*failed=0' || die "second converge was not a no-op"
log "first converge $((t1 - t0)) s, second (no-op) $((t2 - t1)) s"
