# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Pairs with _spec.GUEST, derived from _model.GUEST_FIELDS (sanity validate-modules checks the two agree).
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
      - V(saved) keeps a running (or paused) guest's memory in a state file and stops it; V(running)
        (or V(paused)) later resumes it where it was, and V(stopped) discards the saved state.
        O(backend=libvirt) uses libvirt's managed save (C(virsh managedsave); the file is libvirt's, in
        C(/var/lib/libvirt/qemu/save/)); O(backend=xl) runs C(xl save) into O(xl_save_dir) and C(xl restore).
        A stopped or missing guest cannot be saved (an error naming O(state)); O(backend=lxc) refuses it.
        A definition change made while a guest is saved is written at once and takes effect at its next
        fresh boot (C(restart_required)); a saved state is never thrown away to apply it.
      - V(absent) destroys and undefines it, with its managed-save image, snapshot and checkpoint
        metadata and UEFI NVRAM; its disks stay unless O(remove_storage=true).
    type: str
    choices: [running, stopped, paused, saved, absent]
    default: running
  autostart:
    description: Start the guest when the hypervisor starts (C(virsh autostart)).
    type: bool
    default: false
  vcpus:
    description:
      - Number of virtual CPUs. A rise up to O(max_vcpus) is applied live; anything else at the next boot.
      - When omitted, V(1) with O(backend=libvirt) and O(backend=xl); with O(backend=lxc) no CPU quota at all.
    type: int
  max_vcpus:
    description:
      - Upper bound for vCPU hotplug; defaults to O(vcpus). A change takes effect at the next boot.
    type: int
  memory:
    description:
      - Memory of the guest. An integer is MiB; a string may carry a unit (V(2GiB), V(512MiB), V(2G), V(4GB)).
      - A change up to O(max_memory) is applied live through the balloon; above it at the next boot.
      - When omitted, V(512) MiB with O(backend=libvirt) and O(backend=xl); with O(backend=lxc) no memory limit at all.
    type: raw
  max_memory:
    description: Memory ceiling for live changes, same units as O(memory); defaults to O(memory).
    type: raw
  cpu_mode:
    description:
      - CPU model given to the guest. V(default) leaves the hypervisor's default.
      - O(backend=libvirt) only; when omitted, V(default).
    type: str
    choices: [host-passthrough, host-model, default]
  hugepages:
    description:
      - Back guest memory with hugepages (C(<memoryBacking><hugepages/>)). Needs pages reserved on the host.
      - O(backend=libvirt) only; when omitted, V(false).
    type: bool
  cpu_shares:
    description:
      - Scheduler weight (C(virsh schedinfo --set cpu_shares=N)), applied live and persistently.
      - When omitted it is left as it is.
    type: int
  virt_type:
    description:
      - V(kvm) for hardware virtualization, V(qemu) for TCG emulation.
      - O(backend=libvirt) only; when omitted, V(kvm).
    type: str
    choices: [kvm, qemu]
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
      size:
        description:
          - With O(disks[].volume), the volume is created with this capacity when it is missing, and grown
            when it is smaller (never shrunk). Bytes, or a string with a unit (V(20GiB)).
        type: raw
      backing:
        description:
          - With O(disks[].volume), a missing volume is created as a qcow2 copy-on-write overlay of this base
            image (a volume name in the same pool or an absolute path).
        type: str
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
      - Refused with any other O(state), so a stray V(true) cannot delete disks later.
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
  cloud_init:
    description:
      - O(backend=libvirt) only. Build a NoCloud seed (see M(virtfleet.hypervisor.cloud_init)) into the volume
        C(<name>-cidata) of O(cloud_init.pool) and attach it as a sata cdrom.
      - A changed seed is rebuilt and reported in C(restart_fields) of a running guest (cloud-init reads it at boot).
    type: dict
    suboptions:
      user_data:
        description: The C(user-data) file (a mapping is written as C(#cloud-config)). Never logged.
        type: raw
      meta_data:
        description: The C(meta-data) file; an C(instance-id) derived from the content is added when missing.
        type: raw
      network_config:
        description: The C(network-config) file. Never logged.
        type: raw
      pool:
        description: Storage pool of the seed volume.
        type: str
        default: default
  template:
    description:
      - O(backend=lxc) only. The C(lxc-create) template that makes the container's rootfs
        (V(busybox), V(download), V(local), ... or an absolute path to a template script).
        A new container needs O(template) or O(rootfs).
      - Used only to create the container. Declaring another template (or options) for an existing
        container made by virtfleet is an error; it is never re-created, its rootfs may hold data.
    type: str
  template_options:
    description:
      - O(backend=lxc) only. Arguments passed to the template after C(--)
        (e.g. V([--dist, debian, --release, bookworm, --arch, amd64]) for V(download)).
    type: list
    elements: str
  rootfs:
    description:
      - O(backend=lxc) only. A directory or a (compressed) tarball on the host,
        copied in (C(cp -a)) or unpacked (C(tar -xp --numeric-owner)) as the rootfs of a new container
        (C(lxc-create -t none)). Never copied again into an existing container.
    type: path
  config:
    description:
      - "O(backend=lxc) only. Extra raw C(lxc.*) keys of the container config, e.g.
        V({lxc.apparmor.profile: unconfined, lxc.cap.drop: [sys_module, sys_time]})."
      - A value is a string, an integer, a boolean (written V(1)/V(0)) or a list of them (the key repeated,
        in order). Each key declared replaces all its lines in the file; V([]) removes the key.
      - Keys are checked by liblxc's own parser before anything changes. Keys virtfleet manages
        through other options (C(lxc.start.auto), the memory and CPU cgroup limits, C(lxc.net.N.type/link/flags/hwaddr),
        C(lxc.rootfs.*)) are refused naming the option to use; other C(lxc.net.N.*) keys of a declared interface are allowed.
      - Keys set here earlier and no longer declared are removed. When O(config) is omitted, raw keys are left as they are.
      - Order, spacing, quoting and comments in the file do not matter. A change is applied at the next start
        (reported in C(restart_fields) of a running container).
    type: dict
  xen_type:
    description:
      - O(backend=xl) only. The Xen guest type (xl C(type)); V(pvh) when omitted. A change takes effect at the next boot.
    type: str
    choices: [pvh, pv, hvm]
  kernel:
    description:
      - Direct kernel boot (O(backend=libvirt)) or the PV/PVH kernel (O(backend=xl), xl C(kernel); required
        for V(pv) and V(pvh) guests), a path on the hypervisor host. A change takes effect at the next boot.
    type: path
  ramdisk:
    description: Initial ramdisk for O(kernel) (xl C(ramdisk)).
    type: path
  extra:
    description: Kernel command line for O(kernel) (xl C(extra)).
    type: str
  on_crash:
    description: O(backend=xl) only. What Xen does when the guest crashes (xl C(on_crash)); left as it is when omitted.
    type: str
    choices: [destroy, restart, preserve, coredump-destroy, coredump-restart, soft-reset, rename-restart]
"""
