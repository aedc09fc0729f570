#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: volumes
short_description: Converge many volumes in libvirt storage pools in one call
version_added: 0.1.0
description:
  - The batch form of M(virtfleet.hypervisor.volume) over the same core and one connection.
  - Each volume that fails (bad spec, refused shrink, in use) fails alone; the others are converged and
    the module fails at the end naming each failed volume.
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects_results
options:
  volumes:
    description:
      - The volume specs; each item takes the options of M(virtfleet.hypervisor.volume)
        (O(virtfleet.hypervisor.volume#module:name), O(virtfleet.hypervisor.volume#module:pool),
        O(virtfleet.hypervisor.volume#module:size), ...) with the same defaults.
    type: list
    elements: dict
    required: true
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Root disks of all guests
  virtfleet.hypervisor.volumes:
    volumes:
      - {pool: default, name: web01-root, size: 20GiB}
      - {pool: default, name: web02-root, backing: debian12-base.qcow2}
"""

RETURN = r"""
results:
  description: One item per volume; see the notes for its keys.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec


def main():
    module = AnsibleModule(argument_spec=_spec.argspec("volumes"), supports_check_mode=True)
    _core.run(module, "volume", module.params["volumes"])


if __name__ == "__main__":
    main()
