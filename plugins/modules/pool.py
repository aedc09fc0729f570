#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pool
short_description: Converge a libvirt storage pool
version_added: 0.1.0
description:
  - Defines, builds (creating the target directory with O(mode)), starts, updates and removes a
    directory storage pool.
  - O(state=absent) stops and undefines the pool; its directory and the volumes in it are kept.
  - Moving a pool to another O(path) is refused, since it would orphan its volumes.
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects_results
options:
  name:
    description: Pool name.
    type: str
    required: true
  state:
    description: V(active) defines, builds and starts it; V(inactive) defines it stopped; V(absent) undefines it.
    type: str
    choices: [active, inactive, absent]
    default: active
  autostart:
    description: Start the pool with the hypervisor.
    type: bool
    default: true
  type:
    description: Pool type. Only directory pools are supported.
    type: str
    choices: [dir]
    default: dir
  path:
    description: Target directory; required to create the pool.
    type: path
  mode:
    description: Octal mode of the target directory, set when it is built and whenever it differs.
    type: str
    default: "0711"
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: A pool for guest disks
  virtfleet.hypervisor.pool:
    name: images
    path: /var/lib/virtfleet/images
    mode: "0711"
"""

RETURN = r"""
results:
  description: One item, the converged pool; see the notes for its keys, also returned at the top level.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("pool", argument_spec=_spec.argspec("pool"), supports_check_mode=True)
    _core.run(module, "pool", [{k: module.params[k] for k in _spec.POOL}], single=True)


if __name__ == "__main__":
    main()
