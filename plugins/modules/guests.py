#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guests
short_description: Converge many virtual machines on a libvirt hypervisor in one call
version_added: 0.1.0
description:
  - The batch form of M(virtfleet.hypervisor.guest) over the same core, with one connection and one
    read of the hypervisor for all guests, so hundreds of guests converge in seconds.
  - Every spec is validated and every reference (pool, volume, network, bridge, file) checked before
    anything changes. A guest whose spec is wrong, or whose change the hypervisor refuses, fails on
    its own; the others are still converged, and the module fails at the end naming each failed guest.
  - Names declared twice in one call fail the whole call before anything changes.
extends_documentation_fragment:
  - virtfleet.hypervisor.connection
  - virtfleet.hypervisor.connection.restart
  - virtfleet.hypervisor.connection.capacity
  - virtfleet.hypervisor.connection.attributes
options:
  guests:
    description:
      - The guest specs. Each item takes the guest options of M(virtfleet.hypervisor.guest)
        (O(virtfleet.hypervisor.guest#module:name), O(virtfleet.hypervisor.guest#module:state),
        O(virtfleet.hypervisor.guest#module:memory), O(virtfleet.hypervisor.guest#module:disks), ...),
        with the same defaults.
    type: list
    elements: dict
    required: true
  prune:
    description:
      - Also remove guests that carry virtfleet's managed marker but are not in O(guests).
        They are destroyed and undefined; their disks stay unless O(prune_storage=true).
      - Guests not created by virtfleet (no marker) are never touched.
    type: bool
    default: false
  prune_storage:
    description:
      - With O(prune=true), also delete the writable disks of pruned guests.
      - Refused without O(prune=true).
    type: bool
    default: false
author:
  - virtfleet maintainers (@virtfleet)
"""

EXAMPLES = r"""
- name: Converge the guests declared in inventory
  virtfleet.hypervisor.guests:
    guests: "{{ virtfleet_guests }}"
    restart: never

- name: Converge and remove managed guests that are no longer declared (disks kept)
  virtfleet.hypervisor.guests:
    guests: "{{ virtfleet_guests }}"
    prune: true
"""

RETURN = r"""
results:
  description: One item per declared (or pruned) guest.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Always V(guest).
      type: str
    name:
      description: Guest name.
      type: str
    action:
      description: V(create), V(update), V(delete), V(prune) or V(none).
      type: str
    changed:
      description: Whether this guest changed (would change, in check mode).
      type: bool
    actions:
      description: What was done, in order.
      type: list
      elements: str
    fields:
      description: Changed fields, each with V(live), V(restart) or V(config).
      type: list
      elements: dict
    restart_required:
      description: A field waits for the next boot of the running guest (C(pending_restart) in 0.1.0).
      type: bool
    restart_fields:
      description: The fields that wait for the next boot.
      type: list
      elements: str
    managed:
      description: Whether the guest carries the virtfleet marker (null for a new guest).
      type: bool
    state:
      description: State after the run (planned state in check mode).
      type: str
    failed:
      description: Whether this guest failed.
      type: bool
    msg:
      description: Why this guest failed, naming the guest and the field.
      type: str
      returned: when failed
pending_restart:
  description: Names of the guests that wait for a reboot to apply a change.
  returned: always
  type: list
  elements: str
failed_guests:
  description: Names of the guests that failed.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _spec


def main():
    module = AnsibleModule(argument_spec=_spec.argspec("guests"), supports_check_mode=True,
                           no_log=_spec.carries_secrets("guests"))
    _core.run(module, "guest", module.params["guests"], prune=module.params["prune"],
              prune_storage=module.params["prune_storage"])


if __name__ == "__main__":
    main()
