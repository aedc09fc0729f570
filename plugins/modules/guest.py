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
    C(virsh undefine vm1 --nvram --managed-save --snapshots-metadata) -> O(state=absent).
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
