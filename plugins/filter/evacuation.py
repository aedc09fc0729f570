# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: evacuation_plan
short_description: Place the guests of a host being drained on the hosts with room
version_added: 0.1.0
description:
  - Places the guests with the engine of M(virtfleet.hypervisor.place) (C(plugins/module_utils/_placement.py)),
    policy O(policy); capacity per target is CPUs x O(cpu_ratio) vCPUs and (memory - O(reserved_memory_mib) -
    hugepage pools) x O(memory_ratio) MiB, the target's own guests (any state) are its committed use, and every
    guest that moves takes its vCPUs and memory there, a stopped one too.
  - Used by C(playbooks/evacuate.yml).
options:
  _input:
    description: The source host's guests, C(virtfleet_host.guests) of M(virtfleet.hypervisor.host_facts).
    type: list
    elements: dict
    required: true
  targets:
    description: The targets' C(virtfleet_host) facts (cpu, memory, hugepages, guests), by host name.
    type: dict
    required: true
  cpu_ratio:
    description: vCPUs per target CPU (M(virtfleet.hypervisor.place)'s default when unset).
    type: float
  memory_ratio:
    description: Guest memory per MiB of target memory (M(virtfleet.hypervisor.place)'s default when unset).
    type: float
  reserved_memory_mib:
    description: Memory (MiB) each target keeps for itself (M(virtfleet.hypervisor.place)'s default when unset).
    type: float
  policy:
    description: V(spread) (lowest peak load) or V(pack) (fewest hosts), as M(virtfleet.hypervisor.place) has them.
    type: str
    default: spread
  move_stopped:
    description: Place stopped guests (their definitions) too.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Plan a drain
  ansible.builtin.set_fact:
    plan: "{{ source_facts.guests | virtfleet.hypervisor.evacuation_plan(targets_facts) }}"
"""

RETURN = r"""
_value:
  description: C(moves) (guest, to, mode live or offline, state, memory_mib, vcpus), C(unplaced) (the guest that
    fits nowhere, with the engine's C(reason), C(resource), C(best_host), C(shortfall); then there are no moves),
    C(skipped) (guest, reason) and C(targets) (per target the moved guests, C(free), C(load), C(peak_load) after the
    moves).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _evacuate
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError


def evacuation_plan(guests, targets, cpu_ratio=None, memory_ratio=None, reserved_memory_mib=None,
                    policy=_evacuate.POLICY, move_stopped=True):
    if not isinstance(guests, list) or not isinstance(targets, dict):
        raise AnsibleFilterError("evacuation_plan: expects a list of guests and a dict of target facts")
    ratios = {"cpu_ratio": cpu_ratio, "memory_ratio": memory_ratio, "reserved_memory_mib": reserved_memory_mib}
    try:
        return _evacuate.plan(guests, targets, ratios, policy, bool(move_stopped))
    except SpecError as e:
        raise AnsibleFilterError("evacuation_plan: %s" % e)


class FilterModule(object):
    def filters(self):
        return {"evacuation_plan": evacuation_plan}
