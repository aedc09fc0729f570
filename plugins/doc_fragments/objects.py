# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Pairs with _spec.CONNECTION_LIBVIRT.
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - libvirt connection URI of the hypervisor.
    type: str
    default: qemu:///system
requirements:
  - libvirt-python on the managed host (the Python that runs the module)
attributes:
  check_mode:
    support: full
    description: Reports exactly what a real run would change, and changes nothing.
  diff_mode:
    support: full
    description: Before/after of the declared fields of each changed object, as data, never XML.
"""

    # Pairs with _spec.NETWORK.
    NETWORK = r"""
options:
  name:
    description: Network name.
    type: str
    required: true
  state:
    description:
      - V(active) defines and starts the network, V(inactive) defines it stopped.
      - V(absent) stops and undefines it; guests attached to it lose that connection.
    type: str
    choices: [active, inactive, absent]
    default: active
  autostart:
    description: Start the network with the hypervisor.
    type: bool
    default: true
  forward:
    description:
      - V(nat) and V(route) give guests a way out through the host, V(isolated) none.
      - V(bridge) attaches to an existing host bridge (O(bridge)), with no addresses of its own.
    type: str
    choices: [nat, route, bridge, isolated]
    default: nat
  bridge:
    description:
      - The Linux bridge. For V(nat), V(route) and V(isolated) libvirt creates it (a generated
        C(virbrN) name when omitted, then kept); for V(bridge) it must exist on the host.
    type: str
  ip:
    description: IPv4 address of the host on this network.
    type: str
  netmask:
    description: Netmask (V(255.255.255.0)) or prefix length (V(24)); V(255.255.255.0) when omitted.
    type: str
  dhcp:
    description:
      - DHCP range and static hosts. Changes to them are applied live (C(virNetworkUpdate)),
        so attached guests stay connected.
    type: dict
    suboptions:
      start:
        description: First address of the range.
        type: str
        required: true
      end:
        description: Last address of the range.
        type: str
        required: true
      hosts:
        description: Static leases.
        type: list
        elements: dict
        default: []
        suboptions:
          mac:
            description: MAC address of the guest NIC.
            type: str
            required: true
          ip:
            description: Address to give it.
            type: str
            required: true
          name:
            description: Host name to give it.
            type: str
  mtu:
    description: MTU of the bridge.
    type: int
  recreate:
    description:
      - Allow a change that needs the network rebuilt (forward mode, bridge, address, netmask, MTU)
        while running guests use it. Without it such a change fails naming those guests.
    type: bool
    default: false
"""

    # Pairs with _spec.VOLUME.
    VOLUME = r"""
options:
  name:
    description: Volume name in O(pool).
    type: str
    required: true
  pool:
    description: Storage pool of the volume.
    type: str
    default: default
  state:
    description:
      - V(absent) deletes the volume and its data. A volume a running guest uses is never deleted.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Capacity. An integer is bytes; a string may carry a unit, V(K M G T) and V(KiB MiB GiB TiB)
        binary (as qemu-img reads them), V(KB MB GB TB) decimal.
      - Grows only. A larger size grows the volume; a smaller one is an error, never a shrink.
      - Required for a new empty volume; for an overlay the backing image's size is the default.
    type: raw
  format:
    description: Image format.
    type: str
    choices: [qcow2, raw]
    default: qcow2
  backing:
    description:
      - Make a copy-on-write qcow2 overlay of this base image, a volume name in the same pool or
        an absolute path. Rebasing an existing volume is refused.
    type: str
  source:
    description:
      - Copy (and convert to O(format)) this image file into the pool when the volume is created.
        Ignored once the volume exists.
    type: path
"""
