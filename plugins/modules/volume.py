#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: volume
short_description: Converge a volume in a libvirt storage pool
version_added: 0.1.0
description:
  - Creates an empty volume, a copy-on-write overlay of a base image (O(backing)) or a copy of an image
    file (O(source)); grows it when O(size) grows; deletes it only with O(state=absent), and never while
    a running guest uses it.
  - Use M(virtfleet.hypervisor.volumes) for many volumes in one call.
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects.volume
  - virtfleet.hypervisor.objects_results
requirements:
  - qemu-img on the managed host, for O(source)
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: A 20 GiB root disk
  virtfleet.hypervisor.volume:
    pool: default
    name: web01-root
    size: 20GiB

- name: An overlay on a base image in the same pool
  virtfleet.hypervisor.volume:
    pool: default
    name: web02-root
    backing: debian12-base.qcow2

- name: Import an image file, converted to qcow2
  virtfleet.hypervisor.volume:
    pool: default
    name: debian12-base.qcow2
    source: /srv/images/debian-12-genericcloud-amd64.raw
"""

RETURN = r"""
results:
  description: One item, the converged volume; see the notes for its keys, also returned at the top level.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("volume", argument_spec=_spec.argspec("volume"), supports_check_mode=True)
    _core.run(module, "volume", [{k: module.params[k] for k in _spec.VOLUME}], single=True)


if __name__ == "__main__":
    main()
