# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Pairs with _spec.GUEST (keep defaults in step with _model.GUEST_DEFAULTS).
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Guest name, V([A-Za-z0-9][A-Za-z0-9_.-]{0,62}); anything else is an error.
    type: str
    required: true
  state:
    description:
      - V(running) starts the guest on every run where it is not running (a guest stopped by hand is started again).
      - V(stopped) sends an ACPI shutdown and waits O(shutdown_timeout) seconds.
      - V(paused) suspends it (starting it paused when stopped).
      - V(absent) destroys and undefines it, with its managed-save image, snapshot and checkpoint
        metadata and UEFI NVRAM; its disks stay unless O(remove_storage=true).
    type: str
    choices: [running, stopped, paused, absent]
    default: running
  autostart:
    description: Start the guest when the hypervisor starts (C(virsh autostart)).
    type: bool
    default: false
  vcpus:
    description:
      - Number of virtual CPUs. A rise up to O(max_vcpus) is applied live; anything else at the next boot.
    type: int
    default: 1
  max_vcpus:
    description:
      - Upper bound for vCPU hotplug; defaults to O(vcpus). A change takes effect at the next boot.
    type: int
  memory:
    description:
      - Memory of the guest. An integer is MiB; a string may carry a unit (V(2GiB), V(512MiB), V(2G), V(4GB)).
      - A change up to O(max_memory) is applied live through the balloon; above it at the next boot.
    type: raw
    default: 512
  max_memory:
    description: Memory ceiling for live changes, same units as O(memory); defaults to O(memory).
    type: raw
  cpu_mode:
    description: CPU model given to the guest. V(default) leaves the hypervisor's default.
    type: str
    choices: [host-passthrough, host-model, default]
    default: default
  hugepages:
    description: Back guest memory with hugepages (C(<memoryBacking><hugepages/>)). Needs pages reserved on the host.
    type: bool
    default: false
  cpu_shares:
    description:
      - Scheduler weight (C(virsh schedinfo --set cpu_shares=N)), applied live and persistently.
      - When omitted it is left as it is.
    type: int
  virt_type:
    description: V(kvm) for hardware virtualization, V(qemu) for TCG emulation.
    type: str
    choices: [kvm, qemu]
    default: kvm
  machine:
    description: Machine type (V(q35), V(pc), V(pc-q35-7.2)); aliases are resolved to the canonical type. Omitted, the hypervisor's default is used and kept.
    type: str
  disks:
    description: Disks and CD-ROMs, in order (the first virtio disk is C(vda)).
    type: list
    elements: dict
    default: []
    suboptions:
      volume:
        description: A volume in O(disks[].pool). Exactly one of O(disks[].volume) and O(disks[].path).
        type: str
      pool:
        description: Storage pool of O(disks[].volume); V(default) when omitted.
        type: str
      path:
        description: An image file or block device on the host.
        type: path
      device:
        description: Device kind.
        type: str
        choices: [disk, cdrom]
        default: disk
      readonly:
        description: Attach read-only; always true for a cdrom.
        type: bool
      bus:
        description: Disk bus; V(virtio) for disks and V(sata) for cdroms when omitted.
        type: str
        choices: [virtio, sata, scsi, ide]
  interfaces:
    description: Network interfaces, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      network:
        description: A libvirt network. Exactly one of O(interfaces[].network) and O(interfaces[].bridge).
        type: str
      bridge:
        description: A Linux bridge on the host.
        type: str
      model:
        description: NIC model.
        type: str
        choices: [virtio, e1000, e1000e, rtl8139]
        default: virtio
      mac:
        description:
          - MAC address. When omitted libvirt generates one, which is then kept on every later run.
        type: str
  remove_storage:
    description:
      - With O(state=absent), also delete the guest's writable disks (volumes and image files).
        CD-ROMs and read-only disks are never deleted.
    type: bool
    default: false
  shutdown_timeout:
    description: Seconds to wait for an ACPI shutdown to finish.
    type: int
    default: 120
  force_stop:
    description:
      - When a guest has not shut down after O(shutdown_timeout), power it off. Without it the module
        fails naming the guest.
    type: bool
    default: false
  template:
    description:
      - O(backend=lxc) only. The C(lxc-create) template that makes the container's rootfs
        (V(busybox), V(download), V(local), ...). Exactly one of O(template) and O(rootfs) when creating.
    type: str
  template_options:
    description: O(backend=lxc) only. Arguments passed to the template after C(--).
    type: list
    elements: str
  rootfs:
    description:
      - O(backend=lxc) only. A directory or tarball copied in as the container's rootfs when it is created.
    type: path
  config:
    description:
      - O(backend=lxc) only. Extra raw C(lxc.*) keys of the container config, validated; order
        and comments do not matter.
    type: dict
  xen_type:
    description: O(backend=xl) only. The Xen guest type; V(pvh) when omitted.
    type: str
    choices: [pvh, pv, hvm]
  kernel:
    description: O(backend=xl) only. Kernel image on the dom0 for PV and PVH guests.
    type: path
  ramdisk:
    description: O(backend=xl) only. Initial ramdisk on the dom0 for PV and PVH guests.
    type: path
  extra:
    description: O(backend=xl) only. Kernel command line for PV and PVH guests.
    type: str
  on_crash:
    description: O(backend=xl) only. What Xen does when the guest crashes.
    type: str
    choices: [destroy, restart, preserve, coredump-destroy, coredump-restart, soft-reset, rename-restart]
"""
