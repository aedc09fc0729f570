#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: networks
short_description: Converge many libvirt virtual networks in one call
version_added: 0.1.0
description:
  - The batch form of M(virtfleet.hypervisor.network) over the same core and one connection.
  - Each network that fails (bad spec, refused change) fails alone; the others are converged and the
    module fails at the end naming each failed network.
extends_documentation_fragment:
  - virtfleet.hypervisor.objects
  - virtfleet.hypervisor.objects_results
options:
  networks:
    description:
      - The network specs; each item takes the options of M(virtfleet.hypervisor.network)
        (O(virtfleet.hypervisor.network#module:name), O(virtfleet.hypervisor.network#module:forward),
        O(virtfleet.hypervisor.network#module:dhcp), ...) with the same defaults.
    type: list
    elements: dict
    required: true
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Converge the networks declared in inventory
  virtfleet.hypervisor.networks:
    networks: "{{ virtfleet_networks }}"
"""

RETURN = r"""
results:
  description: One item per network; see the notes for its keys.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec


def main():
    module = AnsibleModule(argument_spec=_spec.argspec("networks"), supports_check_mode=True)
    _core.run(module, "network", module.params["networks"])


if __name__ == "__main__":
    main()
