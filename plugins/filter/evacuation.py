# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: evacuation_plan
short_description: Place the guests of a host being drained on the hosts with room
version_added: 0.1.0
description:
  - Running guests first, the largest (maximum memory) first, each on the target with the most memory left
    that can take it (memory, vCPUs, running vCPUs within O(cpu_ratio) x CPUs); stopped guests on the target
    with the most memory left. Used by C(playbooks/evacuate.yml).
options:
  _input:
    description: The source host's guests, C(virtfleet_host.guests) of M(virtfleet.hypervisor.host_facts).
    type: list
    elements: dict
    required: true
  targets:
    description: The targets' C(virtfleet_host) facts, by host name.
    type: dict
    required: true
  reserve_mib:
    description: MiB each target keeps for itself.
    type: int
    default: 256
  cpu_ratio:
    description: Running vCPUs allowed per target CPU.
    type: float
    default: 4.0
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
  description: C(moves) (guest, to, mode live or offline, state, memory_mib, vcpus), C(unplaced) and C(skipped)
    (guest, reason).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _evacuate


def evacuation_plan(guests, targets, reserve_mib=256, cpu_ratio=4.0, move_stopped=True):
    if not isinstance(guests, list) or not isinstance(targets, dict):
        raise AnsibleFilterError("evacuation_plan: expects a list of guests and a dict of target facts")
    return _evacuate.plan(guests, targets, int(reserve_mib), float(cpu_ratio), bool(move_stopped))


class FilterModule(object):
    def filters(self):
        return {"evacuation_plan": evacuation_plan}
