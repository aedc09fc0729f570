#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot
short_description: Named snapshots of a guest - take, delete, revert, with retention
version_added: 0.2.0
description:
  - Converges one named snapshot of a guest. V(present) takes it when it is missing (and sets its
    description when that differs); V(absent) deletes it; V(current) reverts the guest to it.
  - 'O(backend=libvirt): internal snapshots (in the qcow2 images). A running or paused guest is snapshotted
    with its memory (C(virsh snapshot-create)); a stopped one disk-only. libvirt 9.0 (Debian 12) cannot revert
    external snapshots (9.9 can) nor take internal ones of UEFI guests (10.9 can): a UEFI guest, a guest with a
    writable disk that is not qcow2, and a disk-only snapshot of a running guest (external) are refused before
    anything changes, with the reason.'
  - 'O(backend=lxc): C(lxc-snapshot) of a stopped container (its rootfs is copied, with C(rsync) for a
    directory-backed one; a running container is refused: the copy would not be consistent). The name is kept
    in the snapshot''s comment (LXC numbers them C(snap0), C(snap1)...). LXC keeps no memory: O(memory=true) is
    refused.'
  - O(backend=xl) is refused by name - the xl toolstack keeps no snapshots.
  - 'Snapshots made here are marked (the last line of their description, C([virtfleet.hypervisor snapshot])).
    O(keep) deletes only marked snapshots of the guest, oldest first - never a snapshot made by hand or by another
    tool.'
  - 'O(state=current) reverts every time it runs and reports C(changed): what the guest did since the snapshot is
    not something any toolstack can compare, so there is no way to tell a reverted guest from one that moved on.
    Use it as the step that resets a guest, like a restart.'
extends_documentation_fragment:
  - virtfleet.hypervisor.connection
attributes:
  check_mode:
    support: full
    description: Reports exactly what a real run would do (the same plan, the same refusals), and changes nothing.
  diff_mode:
    support: full
    description: The guest's snapshot names before and after (retention deletions included), and the snapshot.
options:
  guest:
    description: The guest whose snapshot this is.
    type: str
    required: true
  name:
    description:
      - The snapshot's name, V([A-Za-z0-9][A-Za-z0-9_.-]{0,62}).
      - With O(state=absent) or O(state=current), any snapshot of the guest, including one this collection did not
        make (an LXC snapshot made by hand is known by its C(snapN) name).
    type: str
    required: true
  state:
    description:
      - V(present) - the snapshot exists (taken now when missing).
      - V(absent) - the snapshot does not exist (deleted when it does; its children stay).
      - V(current) - revert the guest to the snapshot. A snapshot with memory brings the guest back running (or paused)
        where it was; a disk-only one leaves the guest stopped. An LXC container must be stopped.
    type: str
    choices: [present, absent, current]
    default: present
  description:
    description: The snapshot's description (O(state=present)). Changed on an existing snapshot when it differs.
    type: str
  memory:
    description:
      - Keep the guest's memory in the snapshot too (O(state=present), only when it is taken).
      - When omitted, with memory for a running or paused guest, disk-only for a stopped one.
      - V(true) for a stopped guest is an error; V(false) for a running libvirt guest is refused on libvirt before 9.9
        (see the description).
    type: bool
  keep:
    description:
      - Retention (O(state=present)) - after taking this snapshot, keep at most this many of the snapshots this
        collection made of the guest, deleting the oldest. Others are never counted nor deleted.
    type: int
seealso:
  - module: virtfleet.hypervisor.guest_info
  - module: virtfleet.hypervisor.guest
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Before the upgrade, keeping the last three of these
  virtfleet.hypervisor.snapshot:
    guest: web01
    name: "pre-upgrade-{{ ansible_date_time.date }}"
    description: before the PostgreSQL 16 upgrade
    keep: 3

- name: The upgrade went wrong - back to the snapshot (memory included, the guest runs again)
  virtfleet.hypervisor.snapshot:
    guest: web01
    name: pre-upgrade-2026-12-02
    state: current

- name: A stopped container's rootfs (lxc-snapshot)
  virtfleet.hypervisor.snapshot:
    backend: lxc
    guest: ct01
    name: baseline

- name: Drop a snapshot
  virtfleet.hypervisor.snapshot:
    guest: web01
    name: pre-upgrade-2026-12-02
    state: absent
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["create pre-upgrade (disks and memory)", "delete pre-upgrade-old (keep 3)"]
fields:
  description: The snapshot's fields set, with how (V(config) for a new snapshot, V(live) for a new description).
  returned: always
  type: list
  elements: dict
guest:
  description: The guest.
  returned: always
  type: str
deleted:
  description: The snapshots O(keep) deleted (or would delete, in check mode).
  returned: always
  type: list
  elements: str
state:
  description: The snapshot's state after the run (the planned one in check mode) - V(present), V(absent) or V(current).
  returned: always
  type: str
state_after:
  description: With O(state=current), the guest's state the snapshot brings back (V(running), V(paused), V(stopped)).
  returned: when O(state=current)
  type: str
restart_required:
  description: Always false (the shape every kind of this collection returns).
  returned: always
  type: bool
restart_fields:
  description: Always empty (the shape every kind of this collection returns).
  returned: always
  type: list
  elements: str
results:
  description: The one snapshot's result, in the shape every kind of this collection returns.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("snapshot", argument_spec=_spec.argspec("snapshot"), supports_check_mode=True)
    spec = {k: module.params[k] for k in _spec.SNAPSHOT}
    _core.run(module, "snapshot", [spec], single=True)


if __name__ == "__main__":
    main()
