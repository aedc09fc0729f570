#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: place
short_description: Decide which hypervisor host of a fleet runs each guest
version_added: 0.1.0
description:
  - Computes, without changing anything, a host for every guest of O(guests) from what each host of
    O(hosts) offers (the C(virtfleet_host) fact of M(virtfleet.hypervisor.host_facts)) and what the
    guests need. Run it once for the fleet on the controller (C(run_once=true),
    C(delegate_to=localhost)); it needs no library beyond Python.
  - 'Capacity per host: CPUs x O(cpu_ratio) vCPUs, (memory - O(reserved_memory_mib) - hugepage pools) x
    O(memory_ratio) MiB, the pages of each hugepage size, each active pool''s capacity x O(disk_ratio).
    The guests already on the host (any fleet, any state) and the pools'' allocation are its base use.
    The ratios default to those of OpenStack Nova since Antelope.'
  - A guest needs its C(vcpus), its C(memory) (from hugepages when C(hugepages)),
    the sizes of the volumes it declares per pool, the networks and bridges of its interfaces, a host of
    its C(backend), and keeps its C(affinity) group on one host and its C(anti_affinity) group
    on different hosts.
  - Stable and deterministic. A guest that exists on a host (found in that host's facts) stays there, and
    a guest pinned with C(host) or declared in O(hosts[].guests) goes there; only the others are
    placed, so adding a guest never moves another. O(rebalance=true) places every unpinned guest anew.
  - When a guest fits nowhere the module fails before anything changes, naming the guest, the resource
    that fits nowhere and the best host's shortfall. Bad input (a capacity or ratio not above zero, an
    anti-affinity group larger than the fleet, a pin to a host not in O(hosts)) fails naming it.
  - The algorithms and their measured quality are in C(docs/capacity.md) and C(docs/benchmarks.md).
attributes:
  check_mode:
    support: full
    description: The module never changes anything.
  diff_mode:
    support: none
    description: Nothing changes.
options:
  hosts:
    description: The hosts of the fleet.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The host's name (its inventory name).
        type: str
        required: true
      facts:
        description: The host's C(virtfleet_host) fact (M(virtfleet.hypervisor.host_facts) with cpu, memory,
          hugepages, pools, networks, bridges and guests gathered).
        type: dict
        required: true
      backends:
        description: The guest backends this host runs (V(libvirt), V(lxc), V(xl)); empty means any.
        type: list
        elements: str
        default: []
      networks:
        description: libvirt networks the host declares (it will have them after the converge).
        type: list
        elements: str
        default: []
      bridges:
        description: Bridges the host declares.
        type: list
        elements: str
        default: []
      pools:
        description: Storage pools the host declares; one not created yet is not checked for space.
        type: list
        elements: str
        default: []
      guests:
        description: Guests declared on this host (the guest modules' specs); they are placed on it and
          count against its capacity.
        type: list
        elements: dict
        default: []
      cpu_ratio:
        description: This host's CPU allocation ratio (default O(cpu_ratio)).
        type: float
      memory_ratio:
        description: This host's memory allocation ratio (default O(memory_ratio)).
        type: float
      disk_ratio:
        description: This host's disk allocation ratio (default O(disk_ratio)).
        type: float
      reserved_memory_mib:
        description: Memory kept for this host itself, MiB (default O(reserved_memory_mib)).
        type: float
  guests:
    description:
      - The guests to place, as M(virtfleet.hypervisor.guests) takes them (C(name), C(vcpus), C(memory),
        C(hugepages), C(disks), C(interfaces), C(backend), ...; the other keys are passed through), plus the
        placement keys C(host) (pin to this host), C(affinity) (guests of one affinity group go to one
        host), C(anti_affinity) (guests of one anti-affinity group go to different hosts) and
        C(hugepage_size) (V(2M), the default, or V(1G), for a C(hugepages) guest).
      - 'Defaults when left out: 1 vCPU, 512 MiB.'
    type: list
    elements: dict
    required: true
  fleet:
    description: The fleet whose guests found on the hosts count as already placed.
    type: str
    default: default
  policy:
    description:
      - V(pack) uses the fewest hosts (headroom for big guests, hosts free for maintenance).
      - V(spread) gives the lowest peak load (used / capacity, the highest over hosts and resources).
    type: str
    choices: [pack, spread]
    default: pack
  rebalance:
    description: Place every guest that is not pinned anew, moves included (reported in RV(moved); this
      module moves nothing itself).
    type: bool
    default: false
  cpu_ratio:
    description: vCPUs per host CPU (Nova's C(cpu_allocation_ratio)).
    type: float
    default: 4.0
  memory_ratio:
    description: Guest memory per MiB of host memory (Nova's C(ram_allocation_ratio)).
    type: float
    default: 1.0
  disk_ratio:
    description: Volume size per byte of pool capacity (Nova's C(disk_allocation_ratio)).
    type: float
    default: 1.0
  reserved_memory_mib:
    description: Memory each host keeps for itself, MiB (Nova's C(reserved_host_memory_mb)).
    type: float
    default: 512
seealso:
  - module: virtfleet.hypervisor.host_facts
  - module: virtfleet.hypervisor.guests
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Read what each host offers and runs (the subsets place uses)
  virtfleet.hypervisor.host_facts:
    gather: [toolstacks, cpu, memory, hugepages, bridges, pools, networks, guests]

- name: Place the fleet's guests
  virtfleet.hypervisor.place:
    hosts:
      - {name: kvm01, facts: "{{ hostvars['kvm01'].virtfleet_host }}", backends: [libvirt]}
      - {name: kvm02, facts: "{{ hostvars['kvm02'].virtfleet_host }}", backends: [libvirt], cpu_ratio: 2.0}
    guests:
      - {name: web01, vcpus: 2, memory: 4GiB, anti_affinity: web}
      - {name: web02, vcpus: 2, memory: 4GiB, anti_affinity: web}
      - {name: db01, vcpus: 8, memory: 32GiB, hugepages: true}
    policy: spread
  run_once: true
  delegate_to: localhost
  register: placement

- name: What goes where
  ansible.builtin.debug:
    var: placement.assignment
"""

RETURN = r"""
assignment:
  description: Guest name -> host name, every guest.
  returned: success
  type: dict
  sample: {web01: kvm01, web02: kvm02, db01: kvm01}
guests_by_host:
  description:
  - Host name -> the names of the guests of O(guests) placed there, in the order given. Guests
    of O(hosts[].guests) are not repeated. A guest with C(state=absent) is not placed and is listed for
    every host.
  - Names only, never specs, so that no secret of a spec (cloud-init C(user_data), a console password)
    is ever in the result; join them with the specs you declared (C(playbooks/tasks/fleet_place.yml)
    does). The secrets of O(guests) are masked in C(invocation).
  returned: success
  type: dict
placed:
  description: The guests that were on no host and got one.
  returned: success
  type: list
  elements: str
moved:
  description: With O(rebalance), the guests given another host than the one they are on (C(guest), C(from), C(to)).
  returned: success
  type: list
  elements: dict
hosts:
  description: Per host its projected use after the placement; C(capacity) (after the ratios), C(used), C(free),
    C(load) (used / capacity) per resource (C(vcpus), C(memory_mib), C(hugepages_2M), C(disk_<pool>) bytes),
    C(peak_load), C(guests), C(ratios), C(reserved_memory_mib), C(overcommitted) (the guests already on it
    exceed its capacity).
  returned: success
  type: dict
hosts_used:
  description: How many hosts run at least one guest.
  returned: success
  type: int
peak_load:
  description: The highest C(load) over hosts and resources.
  returned: success
  type: float
resource:
  description: On failure, the resource that fits nowhere.
  returned: failure
  type: str
best_host:
  description: On failure, the host closest to fitting the guest.
  returned: failure
  type: str
shortfall:
  description: On failure, by how much the best host is short (in the resource's unit).
  returned: failure
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement as pl
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import secret_values
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError

_RATIOS = ("cpu_ratio", "memory_ratio", "disk_ratio", "reserved_memory_mib")
ARGSPEC = {
    "hosts": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True},
        "facts": {"type": "dict", "required": True},
        "backends": {"type": "list", "elements": "str", "default": []},
        "networks": {"type": "list", "elements": "str", "default": []},
        "bridges": {"type": "list", "elements": "str", "default": []},
        "pools": {"type": "list", "elements": "str", "default": []},
        "guests": {"type": "list", "elements": "dict", "default": []},
        "cpu_ratio": {"type": "float"},
        "memory_ratio": {"type": "float"},
        "disk_ratio": {"type": "float"},
        "reserved_memory_mib": {"type": "float"},
    }},
    "guests": {"type": "list", "elements": "dict", "required": True},
    "fleet": {"type": "str", "default": "default"},
    "policy": {"type": "str", "choices": list(pl.POLICIES), "default": "pack"},
    "rebalance": {"type": "bool", "default": False},
    "cpu_ratio": {"type": "float", "default": pl.DEFAULTS["cpu_ratio"]},
    "memory_ratio": {"type": "float", "default": pl.DEFAULTS["memory_ratio"]},
    "disk_ratio": {"type": "float", "default": pl.DEFAULTS["disk_ratio"]},
    "reserved_memory_mib": {"type": "float", "default": pl.DEFAULTS["reserved_memory_mib"]},
}


def solve(params, raw_guests):
    """The placement of the module's parameters; ``raw_guests``: the guests as given (every key).
    A guest with ``state: absent`` is not placed: it goes to every host (removed wherever it is)."""
    absent = [g for g in raw_guests if g.get("state") == "absent"]
    raw_guests = [g for g in raw_guests if g.get("state") != "absent"]
    guests = [pl.guest_from_spec(g) for g in raw_guests]
    for h in params["hosts"]:
        guests += [pl.guest_from_spec(g, host=h["name"]) for g in h["guests"] or []]
    known = {g["name"] for g in guests}
    facts = {h["name"]: h["facts"] for h in params["hosts"]}
    current = pl.current_hosts(facts, params["fleet"])
    for g in guests:
        g["current"] = current.get(g["name"])
    hosts = [pl.host_from_facts(h["name"], h["facts"], known, h["backends"], h["networks"], h["bridges"], h["pools"],
                                {k: h.get(k) for k in _RATIOS})
             for h in params["hosts"]]
    result = pl.place(hosts, guests, params["policy"], params["rebalance"],
                      {k: params[k] for k in _RATIOS})
    by_host = {h["name"]: [] for h in params["hosts"]}
    for g in raw_guests:
        by_host[result["assignment"][g["name"]]].append(g["name"])
    for g in absent:
        for names in by_host.values():
            names.append(g["name"])
    result["guests_by_host"] = by_host
    return result


def main():
    module = AnsibleModule(argument_spec=ARGSPEC, supports_check_mode=True)
    for g in module.params["guests"] + [g for h in module.params["hosts"] for g in h["guests"] or []]:
        if isinstance(g, dict):
            module.no_log_values.update(secret_values(g))
    try:
        result = solve(module.params, module.params["guests"])
    except pl.PlacementError as e:
        module.fail_json(msg=str(e), object=e.obj, field=e.field, resource=e.details.get("resource"),
                         best_host=e.details.get("best_host"), shortfall=e.details.get("shortfall"))
    except SpecError as e:
        module.fail_json(msg=str(e), object=e.obj, field=e.field)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
