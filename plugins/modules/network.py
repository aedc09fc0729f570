#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: Converge a libvirt virtual network
version_added: 0.1.0
description:
  - Defines, starts, updates and removes a libvirt network. A network that exists is updated to the
    declared state, not only created.
  - DHCP range and static host changes on an active network are applied live (C(virNetworkUpdate)),
    so attached guests stay connected.
  - A change that needs the network rebuilt (forward mode, bridge, address, netmask, MTU) is refused
    while running guests use it, naming them, unless O(recreate=true).
  - Use M(virtfleet.hypervisor.networks) for many networks in one call.
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects.network
  - virtfleet.hypervisor.objects_results
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: An isolated network with DHCP and a static lease
  virtfleet.hypervisor.network:
    name: lab
    forward: isolated
    ip: 198.51.100.1
    netmask: "24"
    dhcp:
      start: 198.51.100.100
      end: 198.51.100.199
      hosts:
        - {mac: "52:54:00:00:00:10", ip: 198.51.100.10, name: web01}

- name: Guests on the host bridge br0 (made by the bridge role)
  virtfleet.hypervisor.network:
    name: host-bridge
    forward: bridge
    bridge: br0
"""

RETURN = r"""
results:
  description: One item, the converged network; see the notes for its keys, also returned at the top level.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._module import ObjectModule


def main():
    module = ObjectModule("network", argument_spec=_spec.argspec("network"), supports_check_mode=True)
    _core.run(module, "network", [{k: module.params[k] for k in _spec.NETWORK}], single=True)


if __name__ == "__main__":
    main()
