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
        description:
          - A volume in O(disks[].pool). Exactly one of O(disks[].volume) and O(disks[].path); a cdrom may have
            neither (an empty drive, C(virt-install --disk device=cdrom)).
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
          - With O(disks[].path) (O(backend=libvirt)), the file is created (C(qemu-img create), format
            O(disks[].format)) when it is missing, and grown when it is smaller (C(qemu-img resize), or
            C(virDomainBlockResize) while the guest runs); never shrunk (C(virt-install --disk path=...,size=20)).
          - With O(disks[].path) and O(backend=xl), a missing file is created (sparse raw, or C(qemu-img create)
            for V(qcow2)); an existing file is never grown nor shrunk.
          - Refused on a cdrom or a read-only disk, and on O(backend=lxc).
        type: raw
      backing:
        description:
          - With O(disks[].volume), a missing volume is created as a qcow2 copy-on-write overlay of this base
            image (a volume name in the same pool or an absolute path).
        type: str
      format:
        description:
          - Format of a file created for O(disks[].path) with O(disks[].size); V(qcow2) when omitted (V(raw) on
            O(backend=xl)). An existing file keeps its own format (read from its header).
        type: str
        choices: [qcow2, raw]
      target:
        description:
          - The guest device name (C(<target dev>)), e.g. V(vdb); it must match the bus (V(vd*) virtio, V(sd*) sata
            and scsi, V(hd*) ide). When omitted, libvirt's name is kept and new disks are lettered in order.
        type: str
      cache:
        description: Host cache mode (C(<driver cache>)). A change is applied at the next boot.
        type: str
        choices: [default, none, writethrough, writeback, directsync, unsafe]
      io:
        description: I/O mode (C(<driver io>)); V(native) needs O(disks[].cache=none) or V(directsync).
        type: str
        choices: [native, threads, io_uring]
      discard:
        description: Pass the guest's TRIM/UNMAP to the image (V(unmap)) or drop it (V(ignore)). Not on a cdrom.
        type: str
        choices: [unmap, ignore]
      serial:
        description: Serial number the guest sees (up to 20 of V(A-Za-z0-9_.+-)).
        type: str
      iotune:
        description:
          - I/O limits (C(<iotune>), C(virsh blkdeviotune)); a running guest takes a change live
            (C(virDomainSetBlockIoTune)). A V(total_*) limit cannot go with its V(read_*)/V(write_*) pair;
            V(0) or omitted is no limit. Not on a cdrom.
        type: dict
        suboptions:
          total_bytes_sec:
            description: Bytes per second, reads and writes together.
            type: int
          read_bytes_sec:
            description: Bytes per second read.
            type: int
          write_bytes_sec:
            description: Bytes per second written.
            type: int
          total_iops_sec:
            description: Operations per second, reads and writes together.
            type: int
          read_iops_sec:
            description: Read operations per second.
            type: int
          write_iops_sec:
            description: Write operations per second.
            type: int
      shareable:
        description: The image may be attached to several guests at once (C(<shareable/>)).
        type: bool
  interfaces:
    description: Network interfaces, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      network:
        description:
          - A libvirt network. Exactly one of O(interfaces[].network), O(interfaces[].bridge) and
            O(interfaces[].direct).
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
      direct:
        description:
          - O(backend=libvirt) only. A host interface the guest reaches the network through directly (macvtap,
            C(virt-install --network type=direct,source=eth0)).
        type: str
      mode:
        description: The macvtap mode of O(interfaces[].direct); V(vepa) when omitted (libvirt's default).
        type: str
        choices: [vepa, bridge, private, passthrough]
      vlan:
        description:
          - VLAN tag (1-4094). Only where something carries it - an Open vSwitch bridge (rendered with
            C(<virtualport type='openvswitch'/>)), a network with an Open vSwitch virtualport, or a V(passthrough)
            macvtap (an SR-IOV VF); anything else is refused naming the field. A change is applied at the next boot.
        type: int
      bandwidth:
        description:
          - Traffic shaping (C(<bandwidth>), C(virsh domiftune)); a running guest takes a change live
            (C(virDomainSetInterfaceParameters)). Rates in KiB/s, burst in KiB. Needs the host kernel's C(sfq)
            qdisc and C(police) action.
        type: dict
        suboptions:
          inbound:
            description: Traffic to the guest.
            type: dict
            suboptions:
              average:
                description: Average rate (KiB/s); required.
                type: int
              peak:
                description: Peak rate (KiB/s).
                type: int
              burst:
                description: Burst size (KiB).
                type: int
          outbound:
            description: Traffic from the guest.
            type: dict
            suboptions:
              average:
                description: Average rate (KiB/s); required.
                type: int
              peak:
                description: Peak rate (KiB/s).
                type: int
              burst:
                description: Burst size (KiB).
                type: int
      mtu:
        description: MTU of the guest's NIC (C(<mtu size>)). A change is applied at the next boot.
        type: int
      link:
        description: Link state; V(down) unplugs the virtual cable. A running guest takes a change live.
        type: str
        choices: [up, down]
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
        V({lxc.tty.max: 2, lxc.cap.drop: [sys_module, sys_time]})."
      - A value is a string, an integer, a boolean (written V(1)/V(0)) or a list of them (the key repeated,
        in order). Each key declared replaces all its lines in the file; V([]) removes the key.
      - Keys are checked by liblxc's own parser before anything changes. Keys virtfleet manages
        through other options (C(lxc.start.auto), the memory and CPU cgroup limits, C(lxc.net.N.type/link/flags/hwaddr),
        C(lxc.rootfs.*), C(cpuset.cpus), the C(nesting.conf) include, C(lxc.apparmor.profile),
        C(lxc.apparmor.allow_nesting), C(lxc.idmap)) are refused naming the option to use; other C(lxc.net.N.*) keys of a declared interface are allowed.
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
  boot:
    description:
      - O(backend=libvirt), and O(backend=xl) for O(xen_type=hvm) (C(boot="dc")). Boot order, from V(hd), V(cdrom),
        V(network) (C(virt-install --boot cdrom,hd)).
        A new guest without it boots from V(hd). A change is applied at the next boot.
      - "The install flow: declare the installer ISO as a cdrom and O(boot=[cdrom, hd]); once installed,
        declare the cdrom empty (O(disks[].device=cdrom) without a path, ejected live) and O(boot=[hd])."
    type: list
    elements: str
  firmware:
    description:
      - O(backend=xl) with O(xen_type=hvm) writes C(bios="ovmf") (V(uefi), refused when Xen's OVMF,
        C(/usr/share/ovmf/OVMF.fd), is not installed on the dom0) or C(bios="seabios") (V(bios)).
      - O(backend=libvirt). V(uefi) boots OVMF (libvirt picks the firmware image and gives the guest
        its own NVRAM file, removed with the guest); needs the Debian package C(ovmf) (role
        R(kvm_host,ansible_collections.virtfleet.hypervisor.kvm_host_role) installs it). Restart-only.
    type: str
    choices: [bios, uefi]
  secure_boot:
    description:
      - O(backend=libvirt) only. Secure Boot with the Microsoft keys enrolled; needs O(firmware=uefi) and
        O(machine=q35) (SMM is turned on). Restart-only.
    type: bool
  tpm:
    description:
      - O(backend=libvirt) only. An emulated TPM 2.0 (C(tpm-crb), swtpm); its state is removed with the guest.
        Needs the Debian packages C(swtpm), C(swtpm-tools). Restart-only.
    type: bool
  graphics:
    description:
      - O(backend=libvirt), and O(backend=xl) for O(xen_type=hvm) (V(vnc) or V(none), written as C(vnc), C(vnclisten),
        C(vncpasswd), C(vncdisplay)). A graphical console (C(virt-install --graphics vnc,listen=127.0.0.1,password=...)).
        Restart-only. The guests module also takes a string (V(vnc), V(spice), V(none)).
    type: dict
    suboptions:
      type:
        description: V(none) removes the console.
        type: str
        choices: [vnc, spice, none]
      listen:
        description: Address to listen on; V(127.0.0.1) when omitted.
        type: str
      port:
        description: TCP port (5900-65535), or V(auto) (the default) for the first free one.
        type: raw
      password:
        description: Console password (VNC uses 8 characters at most). A secret - never logged nor shown.
        type: str
  serial:
    description:
      - A serial port and console on a pty (C(virsh console)); V(false) removes them. O(backend=libvirt), and
        O(backend=xl) for O(xen_type=hvm) (C(serial="pty"), C(xl console -t serial)).
    type: bool
  video:
    description: O(backend=libvirt) only. Video card model (C(virt-install --video)). Restart-only.
    type: str
    choices: [virtio, vga, qxl, cirrus, bochs, ramfb, none]
  guest_agent:
    description: O(backend=libvirt) only. The QEMU guest agent channel (C(org.qemu.guest_agent.0)).
    type: bool
  rng:
    description: O(backend=libvirt) only. A virtio-rng device fed from the host's C(/dev/urandom).
    type: bool
  watchdog:
    description:
      - O(backend=libvirt) only. A watchdog, as a mapping with C(model) (V(i6300esb) (default), V(ib700),
        V(itco)) and C(action) (V(reset) (default), V(shutdown), V(poweroff), V(pause), V(none), V(dump), V(inject-nmi)),
        or just the action. V(false) removes it.
    type: raw
  cpu_model:
    description:
      - O(backend=libvirt) only. A named CPU model (C(virt-install --cpu Skylake-Server)); not with
        O(cpu_mode=host-model) or V(host-passthrough). Restart-only.
    type: str
  cpu_features:
    description:
      - O(backend=libvirt) only. CPU features, a mapping of feature name to policy (V(force), V(require),
        V(optional), V(disable), V(forbid)), or virt-install's list V(+feature) / V(-feature) (V(force) / V(disable)).
        Needs O(cpu_model) or O(cpu_mode=host-model)/V(host-passthrough). Restart-only.
    type: raw
  cpu_topology:
    description:
      - O(backend=libvirt) only. Sockets, cores and threads; their product must be O(max_vcpus)
        (or O(vcpus)). Restart-only.
    type: dict
    suboptions:
      sockets:
        description: Sockets (default 1).
        type: int
      cores:
        description: Cores per socket (default 1).
        type: int
      threads:
        description: Threads per core (default 1).
        type: int
  vcpu_pins:
    description:
      - A mapping of vCPU number to host CPU list (V(2), V(3-4)), C(virsh vcpupin). O(backend=libvirt) and
        O(backend=xl) (C(cpus=["2", "3-4"]); a vCPU left out runs on any CPU). A host CPU that does not exist is
        refused. Restart-only.
    type: dict
  emulator_pin:
    description: O(backend=libvirt) only. Host CPUs of the QEMU emulator threads (V(0-1)). Restart-only.
    type: str
  numatune:
    description: O(backend=libvirt) only. Memory placement on host NUMA nodes (C(virt-install --numatune)). Restart-only.
    type: dict
    suboptions:
      mode:
        description: Policy; V(strict) when omitted.
        type: str
        choices: [strict, preferred, interleave, restrictive]
      nodeset:
        description: Host NUMA nodes (V(0), V(0-1)); a node the host lacks is refused.
        type: str
        required: true
  hugepage_size:
    description:
      - O(backend=libvirt) only. The hugepage size backing the guest (V(2M), V(1G)); needs O(hugepages=true)
        and pages of that size on the host. Restart-only.
    type: raw
  locked_memory:
    description: O(backend=libvirt) only. Lock guest memory in host RAM (C(<memoryBacking><locked/>)). Restart-only.
    type: bool
  iothreads:
    description: O(backend=libvirt) only. Number of I/O threads (V(0) removes them). Restart-only.
    type: int
  hostdevs:
    description:
      - O(backend=libvirt) only. Host PCI devices passed through (V(0000:03:00.0), or a mapping with C(pci));
        C(virt-install --hostdev)), managed by libvirt (detached from the host driver at start).
        A malformed or absent address is refused. Restart-only.
    type: list
    elements: raw
  title:
    description:
      - One-line title of the guest (C(virsh desc --title)). O(backend=xl) keeps it in the cfg
        (C(virtfleet_title)), O(backend=lxc) in C(virtfleet.json).
    type: str
  description:
    description:
      - Description of the guest (C(virsh desc)). O(backend=xl) keeps it in the cfg (C(virtfleet_description)),
        O(backend=lxc) in C(virtfleet.json).
    type: str
  tags:
    description:
      - Free tags kept in virtfleet's metadata (sorted, without duplicates), e.g. for grouping in an
        inventory. O(backend=xl) keeps them in the cfg (C(virtfleet_tags)), O(backend=lxc) in C(virtfleet.json).
    type: list
    elements: str
  cpuset:
    description:
      - O(backend=lxc) only. The host CPUs the container runs on (V(0), V(0-2,4)), the cgroup
        C(lxc.cgroup.cpuset.cpus) (C(lxc.cgroup2.cpuset.cpus) on cgroup v2). Applied live to a running
        container (C(lxc-cgroup)). A CPU the host lacks is refused. Left out, the config is left as it is.
    type: str
  nesting:
    description:
      - O(backend=lxc) only. Allow containers inside the container (C(lxc.include = /usr/share/lxc/config/nesting.conf), giving
        the AppArmor profile C(lxc-container-default-with-nesting), C(/proc) and C(/sys) mounted again for a
        nested container); V(false) removes it. Restart-only.
    type: bool
  apparmor_profile:
    description:
      - O(backend=lxc) only. The container's AppArmor profile, C(lxc.apparmor.profile) (written after the
        O(nesting) include, so it wins over C(nesting.conf)'s profile). V(generated) (liblxc generates one per
        container), V(unconfined), or the name of a profile loaded on the host. A named profile on a host without
        AppArmor is refused (liblxc would ignore it and start the container unconfined), as is one the host has
        not loaded. V(generated) and V(unconfined) are accepted on any host; without AppArmor both mean no
        confinement. With O(nesting=true), V(generated) also sets O(apparmor_allow_nesting). Restart-only.
        Left out, the config is left as it is. Raw O(config) cannot set it.
    type: str
  apparmor_allow_nesting:
    description:
      - O(backend=lxc) only. C(lxc.apparmor.allow_nesting) - a V(generated) profile that allows nested
        containers, with C(/proc) and C(/sys) mounted again under C(/dev/.lxc). Restart-only.
    type: bool
  idmap:
    description:
      - O(backend=lxc) only. An unprivileged container, C(lxc.idmap) - container ids O(idmap[].container) to
        O(idmap[].count) map to host ids from O(idmap[].host). Set when the container is made - a template runs in
        the container's user namespace, a O(rootfs) copy has its owners shifted. A different map for an existing
        container (or one for a privileged container) is refused, as the rootfs is owned by the ids of the map it
        was made with. V([]) is a privileged container. Ranges may not overlap, container root (uid and gid 0)
        must be mapped, host id 0 never is.
    type: list
    elements: dict
    suboptions:
      kind:
        description: V(both) (the default) maps uids and gids alike; V(uid) or V(gid) one of them.
        type: str
        choices: [both, uid, gid]
      container:
        description: The first id inside the container.
        type: int
      host:
        description: The host id it maps to (a subordinate range, e.g. V(100000)).
        type: int
      count:
        description: How many ids the range maps (at least 1).
        type: int
"""
