#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud_init
short_description: Build a cloud-init NoCloud seed ISO into a libvirt pool volume
version_added: 0.1.0
description:
  - Builds a NoCloud seed (ISO 9660 with volume label C(cidata); files C(user-data), C(meta-data) and
    optionally C(network-config)) with pycdlib and keeps it in a raw volume of O(pool), so a guest can
    attach it as a cdrom. On a q35 guest put the cdrom on the V(sata) bus (q35 has no IDE).
  - Idempotent by content. The same inputs change nothing; changed inputs rebuild the seed in place and
    report RV(restart_required=true), since a guest reads its seed at boot.
  - A volume of that name that is not a cidata seed is never overwritten.
  - O(user_data) is never logged or shown in diffs (it usually carries passwords or keys); diffs show
    a digest of each file.
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects_results
options:
  name:
    description: Name of the seed volume.
    type: str
    required: true
  pool:
    description: Storage pool of the seed volume.
    type: str
    default: default
  state:
    description: V(absent) deletes the seed volume (only if it is a cidata seed).
    type: str
    choices: [present, absent]
    default: present
  user_data:
    description:
      - The C(user-data) file. A mapping is written as C(#cloud-config); a string is written as given
        (a C(#cloud-config) document, a shell script, a MIME multipart).
    type: raw
  meta_data:
    description:
      - The C(meta-data) file, a mapping or a string. When a mapping has no C(instance-id), one derived from
        the seed's content is added, so a changed seed is seen as a new instance by cloud-init.
    type: raw
  network_config:
    description: The C(network-config) file (network config version 1 or 2), a mapping or a string.
    type: raw
requirements:
  - pycdlib on the managed host
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: A seed for web01
  virtfleet.hypervisor.cloud_init:
    name: web01-cidata
    pool: default
    meta_data:
      local-hostname: web01
    user_data:
      users:
        - name: ops
          ssh_authorized_keys: ["{{ lookup('file', 'ops.pub') }}"]
"""

RETURN = r"""
restart_required:
  description: The seed of an existing volume was rebuilt; guests using it read it at their next fresh boot.
  returned: always
  type: bool
results:
  description: One item; see the notes for its keys.
  returned: always
  type: list
  elements: dict
actions:
  description: What was done (in check mode, would be done).
  returned: always
  type: list
  elements: str
fields:
  description: The seed files that changed.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("cloud_init", argument_spec=_spec.argspec("cloud_init"), supports_check_mode=True,
                          no_log=_spec.carries_secrets("cloud_init"))
    _core.run(module, "cloud_init", [{k: module.params[k] for k in _spec.CLOUD_INIT}], single=True)


if __name__ == "__main__":
    main()
