#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_info
short_description: Read guests as they are - definition, live state and statistics, snapshots
version_added: 0.2.0
description:
  - Reads, without changing anything, one guest (O(name)) or every guest of the host. It is the C(dumpxml) of
    this collection, for every backend.
  - 'The definition as the toolstack holds it: the inactive domain XML (O(backend=libvirt), what
    C(virsh dumpxml --inactive) prints), the xl domain configuration file (O(backend=xl)) or the container''s
    C(config) (O(backend=lxc)); and the same definition as the guest model, the keys
    M(virtfleet.hypervisor.guest) takes.'
  - 'Live state and statistics: state, CPU time, vCPUs, memory, disks (capacity, allocation, bytes read and
    written) and interfaces with their addresses. libvirt guests are read with one bulk call
    (C(virConnectGetAllDomainStats)); addresses come from libvirt''s DHCP leases, else the host''s ARP table
    (an OS-less guest has none). Containers are read with C(lxc-info), Xen guests with C(xl list).'
  - The snapshots of each guest (libvirt, LXC), with the ones this collection made marked C(managed).
  - The result is meant to be written to a file with M(ansible.builtin.copy) (see EXAMPLES).
extends_documentation_fragment:
  - virtfleet.hypervisor.connection
attributes:
  check_mode:
    support: full
    description: The module never changes anything; check mode returns the same result.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  name:
    description:
      - The guest to read. When omitted, every guest of the backend (libvirt domains of O(uri), the containers
        of O(lxc_path), the Xen guests running or with a cfg file in O(xl_config_dir)).
      - A named guest that does not exist fails the module, naming it.
    type: str
  snapshots:
    description: Read each guest's snapshots too.
    type: bool
    default: true
seealso:
  - module: virtfleet.hypervisor.guest
  - module: virtfleet.hypervisor.snapshot
  - module: virtfleet.hypervisor.host_facts
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Read one guest
  virtfleet.hypervisor.guest_info:
    name: web01
  register: web01

- name: Keep its domain XML next to the playbook (virsh dumpxml web01 > web01.xml)
  ansible.builtin.copy:
    content: "{{ web01.guest.definition }}"
    dest: "{{ playbook_dir }}/backup/web01.xml"
    mode: "0600"
  delegate_to: localhost

- name: Every container's config, one file each
  virtfleet.hypervisor.guest_info:
    backend: lxc
  register: containers

- name: Write them out
  ansible.builtin.copy:
    content: "{{ item.definition }}"
    dest: "/srv/configs/{{ item.name }}.conf"
    mode: "0600"
  loop: "{{ containers.guests }}"
  loop_control:
    label: "{{ item.name }}"

- name: The addresses of the running guests
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.stats.interfaces | map(attribute='addresses') | flatten | map(attribute='address') }}"
  loop: "{{ containers.guests | selectattr('state', 'eq', 'running') }}"
  loop_control:
    label: "{{ item.name }}"
"""

RETURN = r"""
guests:
  description: Every guest read (one item when O(name) is given), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The guest's name.
      type: str
    backend:
      description: V(libvirt), V(lxc) or V(xl).
      type: str
    state:
      description: V(running), V(paused), V(stopped) or V(saved) (libvirt managed save, xl save file).
      type: str
    autostart:
      description: Whether the host starts it at boot.
      type: bool
    managed:
      description: Whether it carries virtfleet's marker.
      type: bool
    fleet:
      description: The fleet in virtfleet's marker (null for a foreign guest).
      type: str
    format:
      description: The format of RV(guests[].definition) - V(xml) (libvirt domain XML), V(xl) (xl cfg), V(lxc) (lxc config).
      type: str
    definition:
      description:
        - The persistent definition as the toolstack holds it (libvirt's inactive domain XML, the xl cfg file,
          the container's config file). Null for a Xen guest running without a cfg file.
        - A console password it holds (C(passwd) of a libvirt graphics device, C(vncpasswd) of an xl cfg) reads
          C(********), as in RV(guests[].model).
      type: str
    model:
      description: The definition as the guest model (the options of M(virtfleet.hypervisor.guest)), with state and autostart.
      type: dict
    stats:
      description:
        - C(cpu_time_ns), C(vcpus), C(max_vcpus), C(memory) (C(current_mib), C(max_mib), and for libvirt
          C(rss_mib), C(available_mib), C(unused_mib) when the balloon reports them), C(disks) (C(target),
          C(path), C(capacity_bytes), C(allocation_bytes), C(physical_bytes), C(read_bytes), C(write_bytes)) and
          C(interfaces) (C(mac), C(type), C(network), C(bridge), C(device), C(rx_bytes), C(tx_bytes), C(addresses) -
          a list of C(address), C(prefix), C(type)).
        - For LXC also C(pid) and C(addresses) (every address of the container; per interface only when it has one).
        - Figures a toolstack does not give for a guest in its state are null.
      type: dict
    snapshots:
      description:
        - The guest's snapshots, oldest first, when O(snapshots=true) - C(name), C(description), C(managed) (made
          by M(virtfleet.hypervisor.snapshot)), C(memory), C(created) (seconds since the epoch), C(current), C(state)
          (the guest's state in the snapshot); libvirt adds C(parent) and C(external), LXC C(id) (its C(snapN)).
        - Always empty for O(backend=xl), which keeps no snapshots.
      type: list
      elements: dict
    saved_state_file:
      description: O(backend=xl), a saved guest - the C(xl save) state file.
      type: str
      returned: for saved xl guests
guest:
  description: The one guest (the only item of RV(guests)) when O(name) is given.
  returned: when O(name) is given
  type: dict
  sample: {name: web01, backend: libvirt, state: running, format: xml, definition: "<domain type='kvm'>...",
           model: {name: web01, vcpus: 2, memory: 2048}, stats: {cpu_time_ns: 81234000000}, snapshots: []}
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _guest_info, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("guest", argument_spec=_spec.argspec("guest_info"), supports_check_mode=True)
    name, snapshots = module.params["name"], module.params["snapshots"]

    def reader(backend):
        guests = _guest_info.read(backend, name, snapshots=snapshots)
        out = {"guests": guests}
        if name is not None:
            out["guest"] = guests[0] if guests else None
        return out

    _core.read(module, reader)


if __name__ == "__main__":
    main()
