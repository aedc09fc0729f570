#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_backup
short_description: Back up a libvirt guest (definition and disks) and restore it
version_added: 0.1.0
description:
  - 'O(state=present): a backup of the guest O(name) in C(O(dest)/<name>/O(label)/): C(domain.xml) (the persistent
    definition, secrets included, so the file is 0600), with O(disks=true) C(disks/<target>.qcow2), a consistent
    qcow2 copy of each writable disk (C(qemu-img convert); a running guest is paused for the copy and resumed after,
    a stopped one is read as it is), and C(manifest.json) with the sha256 of every file, the guest''s UUID and where
    each disk came from. Files are 0600, directories 0700.'
  - The backup is written in a hidden C(.<label>.partial-*) directory, the manifest last, and renamed into place
    when complete, so an interrupted backup never leaves a manifest that claims completeness; the next run removes
    what it left.
  - Idempotent - a backup of that label whose files match the manifest, of the same guest (UUID) with the same
    definition and the same O(disks) choice, is kept (C(changed=false)); O(refresh=true) takes a new one in its
    place. Use a label per backup to keep several (for example the date).
  - 'O(state=restored): defines the guest again from the backup (after checking every file against the manifest),
    copying each disk back to where it was when it is missing there (a disk that exists is never overwritten). An
    existing guest of this name is refused when its UUID or its definition differs from the backup''s; the same
    guest is V(ok), or only gets its missing disks back. The restored guest is defined, not started.'
  - O(state=absent) removes that backup directory.
  - Backends xl and lxc are refused naming O(backend).
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects_results
options:
  name:
    description: The guest (libvirt domain name).
    type: str
    required: true
  state:
    description: V(present) takes the backup, V(restored) restores from it, V(absent) removes it.
    type: str
    choices: [present, restored, absent]
    default: present
  dest:
    description: The directory that holds the backups (created 0700 when missing), on the host the module runs on.
    type: path
    required: true
  label:
    description: The backup's name under C(O(dest)/<name>/).
    type: str
    default: default
  disks:
    description: Copy the guest's writable disks too (read-only disks and CD-ROMs are never copied).
    type: bool
    default: true
  refresh:
    description: With O(state=present), replace a backup of this label that already matches by a new one.
    type: bool
    default: false
  backend:
    description: The guest's toolstack; only V(libvirt) is supported.
    type: str
    choices: [libvirt, xl, lxc]
    default: libvirt
requirements:
  - qemu-img on the managed host
notes:
  - Each result item has also C(backup_dir) (the backup directory), C(files) (its files, the manifest aside), C(uuid) (the
    guest's) and C(restored_disks) (targets copied back). C(state) is V(present), V(restored) or V(absent).
  - The copy is consistent at the block level (the guest is paused, QEMU has flushed its caches); an application
    inside the guest that needs quiescing should be quiesced by the play first.
seealso:
  - module: virtfleet.hypervisor.migrate
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Back up web01 with its disks, one backup per day
  virtfleet.hypervisor.guest_backup:
    name: web01
    dest: /srv/backups
    label: "{{ ansible_date_time.date }}"

- name: Restore it after it was undefined
  virtfleet.hypervisor.guest_backup:
    name: web01
    dest: /srv/backups
    label: "2026-12-01"
    state: restored
"""

RETURN = r"""
results:
  description: One item, the backup; see the notes for its keys, also returned at the top level.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt_backup import BackupHandler


def main():
    module = AnsibleModule(argument_spec=_spec.argspec("guest_backup"), supports_check_mode=True)
    _core.register_operation("guest_backup", BackupHandler)
    _core.run(module, "guest_backup", [{k: module.params[k] for k in ("uri",) + tuple(_spec.GUEST_BACKUP)}],
              single=True)


if __name__ == "__main__":
    main()
