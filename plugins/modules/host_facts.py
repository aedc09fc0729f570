#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_facts
short_description: Read what a hypervisor host offers and what its guests commit
version_added: 0.1.0
description:
  - Reads, without changing anything, a KVM, LXC or Xen hypervisor host and returns it as the fact
    C(virtfleet_host) (see RV(ansible_facts.virtfleet_host)).
  - 'Toolstacks: libvirt (library and hypervisor versions through libvirt-python), LXC
    (C(lxc-ls --version), C(lxc-start --version)) and Xen (C(xl info)). A toolstack that is not
    installed is reported with C(present: false); one installed but not answering carries an
    C(error) and a warning. Neither fails the module.'
  - 'CPU virtualization: C(hardware) when C(/dev/kvm) answers the KVM API (a VM can be created),
    else C(emulation-only) (QEMU TCG); the CPU flag (C(vmx)/C(svm)) is reported on its own.'
  - CPUs, memory (MiB), hugepages per page size, kernel bridges, SELinux and AppArmor modes.
  - libvirt storage pools (capacity and free space in bytes and human units) and virtual networks.
  - The guests on the host, with backend, state and what they commit (vCPUs, memory, disk bytes), and
    totals over all guests and over the running ones. libvirt domains (any fleet, managed or not),
    LXC containers of O(lxc_path) and Xen guests (running domains and the cfg files of O(xl_config_dir)).
  - When libvirt is installed but the Python running the module lacks libvirt-python, the module
    re-executes under the system Python that has it (C(/usr/bin/python3) with C(python3-libvirt), which
    the C(kvm_host), C(lxc_host) and C(xen_host) roles install).
attributes:
  check_mode:
    support: full
    description: The module never changes anything; check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  uri:
    description:
      - libvirt connection URI to read pools, networks and guests from, opened read-only.
      - C(qemu:///system) on a KVM host, C(lxc:///system) for libvirt's LXC driver, C(xen:///system) on a
        Xen dom0 with libvirt.
    type: str
    default: qemu:///system
  toolstacks:
    description:
      - The toolstacks to read. When omitted, every toolstack installed on the host.
      - A toolstack named here that is missing is still reported absent, not an error; V(libvirt) named
        here makes libvirt-python required (the module fails naming the package to install).
    type: list
    elements: str
    choices: [libvirt, lxc, xen]
  gather:
    description:
      - What to read. V(all) is everything; a subset skips the rest (for example V(guests) alone, or
        V(cpu), V(memory) and V(hugepages) without touching any toolstack).
    type: list
    elements: str
    choices: [all, toolstacks, cpu, memory, hugepages, security, bridges, pools, networks, guests]
    default: [all]
  lxc_path:
    description:
      - The LXC path whose containers are listed. When omitted, LXC's default (C(lxc-config lxc.lxcpath)).
    type: path
  xl_config_dir:
    description:
      - The directory of the xl domain configurations on a Xen dom0.
    type: path
    default: /etc/xen
  cpu_ratio:
    description: vCPUs per host CPU for RV(ansible_facts.virtfleet_host.capacity) (OpenStack Nova's default since Antelope).
    type: float
    default: 4.0
    version_added: 0.1.0
  memory_ratio:
    description: Guest memory per MiB of host memory for RV(ansible_facts.virtfleet_host.capacity).
    type: float
    default: 1.0
    version_added: 0.1.0
  disk_ratio:
    description: Volume size per byte of pool capacity for RV(ansible_facts.virtfleet_host.capacity).
    type: float
    default: 1.0
    version_added: 0.1.0
  reserved_memory_mib:
    description: Memory (MiB) kept for the host itself in RV(ansible_facts.virtfleet_host.capacity).
    type: int
    default: 512
    version_added: 0.1.0
requirements:
  - libvirt-python on the managed host to read libvirt (installed by the host roles as C(python3-libvirt))
  - the LXC tools (C(lxc-ls)) to read containers, C(xl) on a Xen dom0 to read Xen guests
seealso:
  - module: virtfleet.hypervisor.guests
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Read the hypervisor
  virtfleet.hypervisor.host_facts:

- name: Show what the guests commit against what the host has
  ansible.builtin.debug:
    msg: >-
      {{ virtfleet_host.committed.running.vcpus }} vCPUs and
      {{ virtfleet_host.committed.running.memory_mib }} MiB committed by running guests,
      {{ virtfleet_host.cpu.count }} CPUs and {{ virtfleet_host.memory.total_mib }} MiB on the host

- name: Only the hardware, no toolstack contacted
  virtfleet.hypervisor.host_facts:
    gather: [cpu, memory, hugepages]

- name: Xen dom0 with libvirt's libxl driver
  virtfleet.hypervisor.host_facts:
    uri: xen:///system

- name: Refuse to place guests on a host without free 2 MiB hugepages
  ansible.builtin.assert:
    that: virtfleet_host.hugepages['2M'].free | default(0) >= 512
    fail_msg: "{{ inventory_hostname }} has {{ virtfleet_host.hugepages['2M'].free | default(0) }} free 2 MiB pages"
"""

RETURN = r"""
ansible_facts:
  description: The facts, under one key.
  returned: always
  type: dict
  contains:
    virtfleet_host:
      description: What the host offers and what its guests commit. Keys of subsets not in O(gather) are absent.
      returned: always
      type: dict
      contains:
        gathered:
          description: The subsets read.
          type: list
          elements: str
          returned: always
          sample: [bridges, cpu, guests, hugepages, memory, networks, pools, security, toolstacks]
        python:
          description:
            - C(executable) and C(version) of the Python that gathered the facts. After a respawn (the
              interpreter Ansible used lacked libvirt-python) this is the system Python that has it.
          type: dict
          returned: always
          sample: {executable: /usr/bin/python3, version: 3.11.2}
        virtualization:
          description: V(hardware) (KVM usable) or V(emulation-only) (QEMU TCG).
          type: str
          returned: when cpu is gathered
          sample: hardware
        toolstacks:
          description:
            - C(libvirt), C(lxc), C(xen) (those asked for, all by default), each with C(present) and, when
              present, C(version). libvirt adds C(uri), C(driver) and C(hypervisor_version) (QEMU's version
              under C(qemu:///system)); xen adds C(dom0), C(scheduler), C(total_memory_mib), C(free_memory_mib);
              lxc adds C(start_version). C(error) says why an installed toolstack did not answer.
          type: dict
          returned: when toolstacks is gathered
          sample:
            libvirt: {present: true, version: 9.0.0, driver: QEMU, hypervisor_version: 7.2.0, uri: "qemu:///system"}
            lxc: {present: true, version: 5.0.2, start_version: 5.0.2}
            xen: {present: false, dom0: false}
        cpu:
          description: C(count), C(model), C(vt_flag) (V(vmx), V(svm) or null), C(running_nested),
            C(kvm_device), C(kvm_usable), C(kvm_error), C(virtualization).
          type: dict
          returned: when cpu is gathered
        memory:
          description: C(total_mib), C(free_mib), C(available_mib) from C(/proc/meminfo).
          type: dict
          returned: when memory is gathered
          sample: {total_mib: 24032, free_mib: 10311, available_mib: 20410}
        hugepages:
          description: Per page size (V(2M), V(1G)) C(size_kib), C(total), C(free), C(reserved), C(surplus).
          type: dict
          returned: when hugepages is gathered
          sample: {"2M": {size_kib: 2048, total: 512, free: 512, reserved: 0, surplus: 0}}
        security:
          description: C(selinux) (V(enforcing), V(permissive), V(disabled)) and C(apparmor) (V(enabled), V(disabled)).
          type: dict
          returned: when security is gathered
        bridges:
          description: Kernel bridges with C(name), C(interfaces) (their ports) and C(stp).
          type: list
          elements: dict
          returned: when bridges is gathered
        pools:
          description: libvirt storage pools with C(name), C(type), C(path), C(active), C(autostart), C(volumes),
            C(capacity_bytes), C(allocation_bytes), C(available_bytes) and human C(capacity), C(available)
            (sizes null for an inactive pool). Empty without libvirt.
          type: list
          elements: dict
          returned: when pools is gathered
          sample: [{name: default, type: dir, path: /var/lib/libvirt/images, active: true, capacity_bytes: 105088212992,
                    capacity: 97.9 GiB, available_bytes: 52544106496, available: 48.9 GiB}]
        networks:
          description: libvirt networks with C(name), C(active), C(autostart), C(bridge), C(forward).
          type: list
          elements: dict
          returned: when networks is gathered
        guests:
          description:
            - Every guest found, with C(name), C(backend) (V(libvirt), V(lxc), V(xen)), C(state), C(vcpus),
              C(memory_mib), C(disk_bytes) and human C(disk) (capacity of its disks; null for containers,
              which share the host's file systems), C(disks), C(managed), C(fleet), C(autostart).
            - vCPUs and memory are those of the persistent definition (libvirt, xl cfg) or the cgroup
              limits (LXC; null when unlimited).
          type: list
          elements: dict
          returned: when guests is gathered
          sample: [{name: web1, backend: libvirt, state: running, vcpus: 2, memory_mib: 2048,
                    disk_bytes: 10737418240, disk: 10.0 GiB, disks: 1, managed: true, fleet: default}]
        committed:
          description: Totals (C(guests), C(vcpus), C(memory_mib), C(disk_bytes), C(disk)) over C(all) guests and the
            C(running) (or paused) ones.
          type: dict
          returned: when guests is gathered
        capacity:
          description:
            - Committed against capacity at the ratios of O(cpu_ratio), O(memory_ratio), O(disk_ratio) and
              O(reserved_memory_mib) (C(ratios)), per resource under C(resources) (C(vcpus), C(memory_mib),
              C(hugepages_2M)/C(hugepages_1G) pages, C(disk_<pool>) bytes), each with C(capacity) (after the
              ratios), C(committed) (by all guests; hugepages in use, pool allocation), C(committed_running),
              C(free) and C(load) (committed / capacity). The numbers M(virtfleet.hypervisor.place) plans with.
            - C(error) instead when the host's numbers leave nothing (memory below the reserve).
          type: dict
          returned: when cpu, memory and guests are gathered
          version_added: 0.1.0
          sample: {ratios: {cpu_ratio: 4.0, memory_ratio: 1.0, disk_ratio: 1.0, reserved_memory_mib: 512},
                   resources: {vcpus: {capacity: 8.0, committed: 3, committed_running: 1.0, free: 5.0, load: 0.375}}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _deps, _facts
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import LxcBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.xl import XlBackend


def main():
    module = AnsibleModule(argument_spec=_facts.ARGSPEC, supports_check_mode=True)
    p = module.params
    asked = p["toolstacks"] or []
    gather_all = "all" in p["gather"]
    touches = gather_all or set(p["gather"]) & {"toolstacks", "pools", "networks", "guests"}
    libvirt_mod, libvirt_error = None, None
    if touches and (not asked or "libvirt" in asked) and ("libvirt" in asked or _facts.libvirt_installed()):
        # respawns under the system Python when only it has libvirt-python; required when asked for
        libvirt_mod = _deps.require(module, "libvirt", fail="libvirt" in asked)
        if libvirt_mod is None:
            libvirt_error = _deps.missing_message("libvirt")

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    backend_params = {"lxc_path": p["lxc_path"], "xl_config_dir": p["xl_config_dir"]}
    facts, warnings = _facts.gather(
        p, run, libvirt_mod=libvirt_mod, libvirt_error=libvirt_error,
        lxc_backend=lambda: LxcBackend(backend_params, module.run_command),
        xl_backend=lambda: XlBackend(backend_params, module.run_command))
    for w in warnings:
        module.warn(w)
    module.exit_json(changed=False, ansible_facts={_facts.FACT: facts})


if __name__ == "__main__":
    main()
