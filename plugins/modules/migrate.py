#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migrate
short_description: Move a libvirt guest to another host, live when it runs
version_added: 0.1.0
description:
  - Moves the guest O(name) from the libvirt host O(uri) to the libvirt host O(dest_uri). A running (or
    paused) guest is migrated live with libvirt (C(LIVE), C(PERSIST_DEST), C(UNDEFINE_SOURCE)) - it keeps
    running on the destination, its definition is persistent there and gone from the source; autostart
    is carried over.
  - A stopped guest moves only with O(offline=true) - its definition is defined on the destination and
    undefined on the source (its disks must already be reachable there).
  - Idempotent - a guest that is already on the destination and not on the source is V(ok), C(changed=false).
    A stale definition left on the source after the guest moved is undefined (C(action=update)).
  - 'Refused before anything moves, naming the field: with O(capacity_check), a running guest the destination
    cannot run within its capacity - the vCPUs and memory of the guests running there plus this guest''s
    beyond CPUs x O(cpu_ratio) or (memory - O(reserved_memory_mib) - hugepage pools) x O(memory_ratio), the
    same rule and message as the guest modules'' C(capacity_check) and M(virtfleet.hypervisor.place)''s capacity
    (field V(vcpus), V(memory_mib) or V(hugepages_2M), the message says what is left, what the guest needs
    and the shortfall); the destination lacks or has inactive a network it uses (C(interfaces[N].network)),
    lacks a bridge (C(interfaces[N].bridge), checked through the destination''s interface driver, or on this machine for a local O(dest_uri)),
    lacks or has inactive a pool of its disks (C(disks[N].pool)), or - without O(copy_storage) - lacks the
    disk itself (C(disks[N])); a different guest of the same name (another UUID) on the destination;
    snapshots (their metadata would not move); a managed save of a stopped guest; O(dest_uri) naming the
    source host itself (same libvirt host UUID).'
  - A migration that fails (the destination's libvirtd dies, a refusal, the O(timeout)) leaves the guest where
    libvirt left it - running on the source unless post-copy had begun - and the module fails with libvirt's
    reason and where the guest is.
  - Other backends are refused by the argument spec (libvirt only).
extends_documentation_fragment:
  - virtfleet.hypervisor.connection.capacity
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects_results
options:
  name:
    description: The guest (libvirt domain name).
    type: str
    required: true
  dest_uri:
    description:
      - libvirt URI of the destination host, for example C(qemu+ssh://hv2.example.com/system) or
        C(qemu+tls://hv2.example.com/system).
      - The module opens it from the machine it runs on (the source hypervisor) for the checks and,
        with O(p2p=true) (the default), the source libvirtd opens it too, so it must reach the
        destination by that URI (for C(qemu+ssh), root's SSH key on the source).
    type: str
    required: true
  live:
    description: Migrate a running guest without pausing it; V(false) pauses it for the copy (faster, with downtime).
    type: bool
    default: true
  offline:
    description:
      - Move a stopped guest's definition (define on the destination, undefine on the source). Without it a
        stopped guest is an error naming this field.
    type: bool
    default: false
  copy_storage:
    description:
      - Copy the guest's writable disks to the destination during a live migration (libvirt
        C(VIR_MIGRATE_NON_SHARED_DISK)), for hosts without shared storage. libvirt creates each volume in
        the pool of the same name on the destination, which must exist and be active.
      - Not with an offline move, and not with O(tunnelled) (libvirt cannot tunnel the disk copy, and fails only
        after creating the destination volumes; the module refuses it first). A failed copy can leave the volumes
        libvirt created on the destination.
    type: bool
    default: false
  bandwidth:
    description: Maximum migration bandwidth in MiB/s (libvirt's C(bandwidth) parameter); unset is libvirt's default (unlimited).
    type: int
  timeout:
    description:
      - Seconds the live migration may take. When it expires the migration job is aborted (C(abortJob)) and the
        guest keeps running on the source, the module fails naming this field; with O(postcopy=true) the
        migration switches to post-copy instead.
    type: int
  postcopy:
    description:
      - When O(timeout) expires, switch the migration to post-copy (C(VIR_MIGRATE_POSTCOPY) and
        C(migrateStartPostCopy)) instead of aborting; the guest then runs on the destination at once and pulls
        its remaining memory from the source.
      - Risky - once post-copy has begun the guest's memory is split between both hosts, so a failure of
        either host or of the network between them loses the guest (it cannot be resumed on either side).
        Needs O(timeout); not with O(tunnelled) (libvirt cannot switch a tunnelled migration).
      - The destination's QEMU needs userfaultfd; QEMU before 8.1 running as an unprivileged user (Debian 12's
        C(libvirt-qemu)) gets it only with the sysctl C(vm.unprivileged_userfaultfd=1); QEMU running as root
        (C(user = "+0") in the destination's C(qemu.conf)) always has it. Without it the
        migration is refused at its start, nothing moves, and the module fails naming this field.
    type: bool
    default: false
  p2p:
    description:
      - Peer-to-peer migration - the source libvirtd controls it and connects to O(dest_uri) itself.
        V(false) is a client-managed migration through the module's own connection to O(dest_uri).
    type: bool
    default: true
  tunnelled:
    description:
      - Carry the migration data over the libvirtd connection (C(VIR_MIGRATE_TUNNELLED), needs O(p2p)) instead of a
        direct QEMU-to-QEMU TCP stream; use it when the hosts cannot open migration ports to each other.
    type: bool
    default: false
  migration_host:
    description:
      - The address the source QEMU connects to for the memory (and, with O(copy_storage), the disk) streams of a
        non-tunnelled migration (libvirt's C(migrate_uri) and C(disks_uri), C(tcp://<migration_host>)). By default
        libvirt uses the destination's hostname, which must then resolve on the source.
    type: str
  capacity_check:
    description:
      - Refuse a live migration the destination has no capacity for (see above), at O(cpu_ratio),
        O(memory_ratio) and O(reserved_memory_mib) of the destination. Only the guests running there count,
        as for the guest modules' C(capacity_check); a stopped guest moved with O(offline) takes nothing until
        it starts (its start is then checked by the guest module).
      - With O(copy_storage), the disks libvirt creates on the destination (their capacity on the source)
        count against the destination pools they land in, at O(disk_ratio) of each pool's capacity with what
        the pool already allocates as its use (field V(disk_<pool>)). A disk that no pool on the source holds
        has no known size and is not counted.
    type: bool
    default: true
notes:
  - 'Each result item has also C(source_uri), C(dest_uri), C(mode) (V(live), V(offline), V(cleanup) or V(none)),
    C(location) (the guest''s host afterwards) and C(duration) (seconds the move took, V(0) when nothing moved).
    C(state) is the guest''s state on the destination.'
  - See C(playbooks/evacuate.yml) to drain a host with this module.
seealso:
  - module: virtfleet.hypervisor.guest_backup
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Move web01 to hv2 while it runs
  virtfleet.hypervisor.migrate:
    name: web01
    dest_uri: qemu+ssh://hv2.example.com/system
    bandwidth: 200
    timeout: 300

- name: Move a guest between hosts without shared storage
  virtfleet.hypervisor.migrate:
    name: db01
    dest_uri: qemu+ssh://hv2.example.com/system
    copy_storage: true

- name: Move a stopped guest's definition
  virtfleet.hypervisor.migrate:
    name: spare01
    dest_uri: qemu+ssh://hv2.example.com/system
    offline: true
"""

RETURN = r"""
results:
  description: One item, the guest moved; see the notes for its keys, also returned at the top level.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt_migrate import MigrateHandler


def main():
    module = AnsibleModule(argument_spec=_spec.argspec("migrate"), supports_check_mode=True)
    _core.register_operation("migrate", MigrateHandler)
    _core.run(module, "migrate", [{k: module.params[k] for k in ("uri",) + tuple(_spec.MIGRATE)}], single=True)


if __name__ == "__main__":
    main()
