#!/usr/bin/env bash
# The main job: converge inventories/local twice (the second run must change nothing),
# then show what exists on the hypervisor.
. "$(dirname "$0")/lib.sh"
cd "$VF_ROOT" || exit 1
export ANSIBLE_CONFIG="$VF_ROOT/ansible.cfg"
pb() { "$VF_VENV/bin/ansible-playbook" -i inventories/local playbooks/demo.yml "$@"; }

log "first converge"
pb --diff
log "second converge: must report changed=0"
out=$(pb)
printf '%s\n' "$out" | sed -n '/PLAY RECAP/,$p'
printf '%s\n' "$out" | grep -q 'changed=0 .*failed=0' || die "second converge was not a no-op"

log "what exists now (virsh list --all, net-list --all, vol-list demo-pool):"
virsh -c qemu:///system list --all
virsh -c qemu:///system net-list --all
virsh -c qemu:///system vol-list demo-pool
