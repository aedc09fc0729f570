#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest
short_description: Converge one virtual machine on a libvirt hypervisor
version_added: 0.1.0
description:
  - Compares the declared guest with the live one by meaning (libvirt-added defaults, addresses,
    generated MACs are never changes) and applies only the difference, live where libvirt allows it
    and always to the persistent definition.
  - Every changed field is reported as V(live) (applied to the running guest), V(restart) (written to
    the persistent definition, effective at the next boot) or V(config) (the guest is not running).
  - Guests created here carry a virtfleet metadata marker, so M(virtfleet.hypervisor.guests) can tell
    managed guests from foreign ones when pruning.
  - Use M(virtfleet.hypervisor.guests) to converge many guests in one call.
  - |
    What operators type today, and the key it maps to:
    C(virt-install --name vm1 --ram 2048 --vcpus 2) -> O(name), O(memory=2048), O(vcpus=2);
    C(--disk path=/var/lib/libvirt/images/vm1.qcow2) -> O(disks=[{path: ...}]) (or O(disks[].volume) + O(disks[].pool));
    C(--disk bus=virtio) -> O(disks[].bus=virtio);
    C(--cdrom x.iso) -> O(disks=[{path: x.iso, device: cdrom}]);
    C(--cpu host-passthrough) -> O(cpu_mode=host-passthrough);
    C(--memorybacking hugepages=on) -> O(hugepages=true);
    C(virsh setvcpus vm1 4 --config) -> O(vcpus=4);
    C(virsh setmem vm1 4G --config) -> O(memory=4GiB);
    C(virsh autostart vm1) -> O(autostart=true);
    C(virsh schedinfo vm1 --set cpu_shares=1024) -> O(cpu_shares=1024);
    C(virsh attach-interface vm1 --type bridge --source virbr0 --model virtio --mac 52:54:00:00:00:01)
    -> O(interfaces=[{bridge: virbr0, model: virtio, mac: 52:54:00:00:00:01}]);
    C(virsh attach-disk vm1 /path/disk.img vda --mode readonly) -> O(disks=[{path: /path/disk.img, readonly: true}]);
    C(virsh undefine vm1 --nvram --managed-save --snapshots-metadata) -> O(state=absent);
    C(--disk path=/var/lib/libvirt/images/vm1.qcow2,size=20) -> O(disks=[{path: ..., size: 20GiB}]) (created when missing, never shrunk);
    C(--disk ...,format=raw) -> O(disks[].format=raw);
    C(--cdrom x.iso --boot cdrom,hd) -> O(disks=[..., {path: x.iso, device: cdrom}]), O(boot=[cdrom, hd]);
    C(virsh change-media vm1 sda --eject) -> O(disks=[..., {device: cdrom}]) (live);
    C(--boot uefi) -> O(firmware=uefi);
    C(--boot uefi,firmware.feature0.name=secure-boot,firmware.feature0.enabled=yes) -> O(secure_boot=true) (with O(machine=q35));
    C(--tpm emulator,model=tpm-crb,version=2.0) -> O(tpm=true);
    C(--graphics vnc,listen=127.0.0.1,password=...) -> O(graphics={type: vnc, password: ...});
    C(--graphics spice) / C(--graphics none) -> O(graphics.type=spice) / O(graphics.type=none);
    C(--serial pty --console pty) -> O(serial=true);
    C(--video virtio) -> O(video=virtio);
    C(--channel unix,target.type=virtio,name=org.qemu.guest_agent.0) -> O(guest_agent=true);
    C(--rng /dev/urandom) -> O(rng=true);
    C(--watchdog i6300esb,action=poweroff) -> O(watchdog={model: i6300esb, action: poweroff});
    C(--cpu Skylake-Server,+vmx,-svm) -> O(cpu_model=Skylake-Server), O(cpu_features=[+vmx, -svm]);
    C(--vcpus 4,sockets=1,cores=2,threads=2) -> O(vcpus=4), O(cpu_topology={sockets: 1, cores: 2, threads: 2});
    C(--cputune vcpupin0.vcpu=0,vcpupin0.cpuset=2,emulatorpin.cpuset=0-1) -> O(vcpu_pins={0: "2"}), O(emulator_pin=0-1);
    C(--numatune 0,mode=preferred) -> O(numatune={nodeset: "0", mode: preferred});
    C(--memorybacking hugepages=on,hugepages.page0.size=1,hugepages.page0.unit=G,locked=on)
    -> O(hugepages=true), O(hugepage_size=1G), O(locked_memory=true);
    C(--iothreads 2) -> O(iothreads=2);
    C(--disk ...,cache=none,io=native,discard=unmap,serial=X,target.dev=vdb,shareable=on) -> O(disks[].cache) ... O(disks[].shareable);
    C(virsh blkdeviotune vm1 vda --total-iops-sec 500 --live) -> O(disks[].iotune={total_iops_sec: 500}) (live);
    C(--network type=direct,source=eth0,source.mode=bridge) -> O(interfaces=[{direct: eth0, mode: bridge}]);
    C(--network bridge=ovsbr0,virtualport.type=openvswitch,vlan.tag0.id=10) -> O(interfaces=[{bridge: ovsbr0, vlan: 10}]);
    C(virsh domiftune vm1 vnet0 --inbound 1000) -> O(interfaces[].bandwidth={inbound: {average: 1000}}) (live);
    C(--network ...,mtu.size=9000) -> O(interfaces[].mtu=9000);
    C(virsh domif-setlink vm1 vnet0 down) -> O(interfaces[].link=down) (live);
    C(--hostdev 0000:03:00.0) -> O(hostdevs=[0000:03:00.0]);
    C(--metadata title=T,description=D) -> O(title=T), O(description=D); free O(tags) go into virtfleet's metadata.
  - |
    Not covered (use the raw domain XML): C(--sound), C(--input), C(--filesystem), C(--controller), C(--redirdev),
    C(--smartcard), C(--panic), C(--memdev), C(--launchSecurity), C(--clock), C(--pm), C(--events), C(--resource),
    C(--sysinfo), C(--qemu-commandline), C(--xml), C(--location) and C(--pxe) installs (use O(kernel) or O(boot=[network])),
    C(--osinfo) (no OS-specific defaults are applied), per-device C(boot.order).
extends_documentation_fragment:
  - virtfleet.hypervisor.connection
  - virtfleet.hypervisor.connection.restart
  - virtfleet.hypervisor.connection.capacity
  - virtfleet.hypervisor.connection.attributes
  - virtfleet.hypervisor.guest_spec
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: A running guest with a root volume and a NIC on a bridge
  virtfleet.hypervisor.guest:
    name: web01
    vcpus: 2
    memory: 2GiB
    cpu_mode: host-passthrough
    autostart: true
    disks:
      - volume: web01-root
        pool: default
      - path: /var/lib/isos/installer.iso
        device: cdrom
    interfaces:
      - bridge: br0
        mac: "52:54:00:12:34:56"

- name: "Install flow, first run: boot the installer ISO, a new 20 GiB disk, a VNC console on localhost"
  virtfleet.hypervisor.guest:
    name: vm1
    memory: 2GiB
    vcpus: 2
    boot: [cdrom, hd]
    graphics: {type: vnc, password: "{{ vault_vnc_password }}"}
    serial: true
    guest_agent: true
    disks:
      - path: /var/lib/libvirt/images/vm1.qcow2
        size: 20GiB
      - path: /var/lib/isos/debian-12-netinst.iso
        device: cdrom

- name: "Install flow, once installed: the cdrom ejected (live) and the disk first at the next boot"
  virtfleet.hypervisor.guest:
    name: vm1
    memory: 2GiB
    vcpus: 2
    boot: [hd]
    graphics: {type: vnc, password: "{{ vault_vnc_password }}"}
    serial: true
    guest_agent: true
    disks:
      - path: /var/lib/libvirt/images/vm1.qcow2
        size: 20GiB
      - device: cdrom

- name: A UEFI guest with Secure Boot and a TPM, pinned, tuned
  virtfleet.hypervisor.guest:
    name: win01
    machine: q35
    firmware: uefi
    secure_boot: true
    tpm: true
    vcpus: 4
    cpu_topology: {sockets: 1, cores: 2, threads: 2}
    vcpu_pins: {0: "2", 1: "3", 2: "4", 3: "5"}
    emulator_pin: "0-1"
    disks:
      - volume: win01-root
        cache: none
        io: native
        iotune: {total_iops_sec: 2000}
    interfaces:
      - direct: eth1
        mode: bridge
        link: up

- name: More memory; reboot it now if that cannot be done live
  virtfleet.hypervisor.guest:
    name: web01
    memory: 4GiB
    restart: if_needed

- name: Remove a guest, keeping its disks
  virtfleet.hypervisor.guest:
    name: web01
    state: absent
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: [redefine, set_memory 1024, autostart on, start]
fields:
  description: Each changed field with how it takes effect (V(live), V(restart) or V(config)).
  returned: always
  type: list
  elements: dict
  sample: [{field: memory, apply: live}, {field: cpu_mode, apply: restart}]
restart_required:
  description:
    - True when the running guest differs from its definition in a field that only a reboot applies.
    - Called C(pending_restart) in 0.1.0; every kind's result now uses this one name.
  returned: always
  type: bool
restart_fields:
  description: The fields that wait for the next boot.
  returned: always
  type: list
  elements: str
state:
  description: State of the guest after the run (the planned state in check mode).
  returned: always
  type: str
  sample: running
results:
  description: The per-guest result (one item), the same shape as M(virtfleet.hypervisor.guests) returns.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("guest", argument_spec=_spec.argspec("guest"), supports_check_mode=True,
                          no_log=_spec.carries_secrets("guest"))
    spec = {k: module.params[k] for k in _spec.GUEST}
    _core.run(module, "guest", [spec], single=True)


if __name__ == "__main__":
    main()
