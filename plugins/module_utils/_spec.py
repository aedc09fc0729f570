# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules. Each dict pairs with one doc fragment in
plugins/doc_fragments/ (sanity's validate-modules catches drift between them)."""

from __future__ import annotations

import copy

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import (
    BACKENDS, CPU_MODES, DISK_BUSES, DISK_DEVICES, GUEST_DEFAULTS, NIC_MODELS, SECRETS, STATES, VIRT_TYPES)

# doc fragment: virtfleet.hypervisor.connection
CONNECTION = {
    "backend": {"type": "str", "choices": list(BACKENDS), "default": "libvirt"},
    "uri": {"type": "str", "default": "qemu:///system"},
    "fleet": {"type": "str", "default": GUEST_DEFAULTS["fleet"]},
    "xl_config_dir": {"type": "path", "default": "/etc/xen"},
    "lxc_path": {"type": "path"},
}

_DISK = {
    "volume": {"type": "str"},
    "pool": {"type": "str"},
    "path": {"type": "path"},
    "device": {"type": "str", "choices": list(DISK_DEVICES), "default": "disk"},
    "readonly": {"type": "bool"},
    "bus": {"type": "str", "choices": list(DISK_BUSES)},
    "size": {"type": "raw"},
    "backing": {"type": "str"},
}
_NIC = {
    "network": {"type": "str"},
    "bridge": {"type": "str"},
    "model": {"type": "str", "choices": list(NIC_MODELS), "default": "virtio"},
    "mac": {"type": "str"},
}

# doc fragment: virtfleet.hypervisor.guest_spec
GUEST = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": list(STATES), "default": GUEST_DEFAULTS["state"]},
    "autostart": {"type": "bool", "default": GUEST_DEFAULTS["autostart"]},
    "vcpus": {"type": "int"},
    "max_vcpus": {"type": "int"},
    "memory": {"type": "raw"},
    "max_memory": {"type": "raw"},
    "cpu_mode": {"type": "str", "choices": list(CPU_MODES)},
    "hugepages": {"type": "bool"},
    "cpu_shares": {"type": "int"},
    "virt_type": {"type": "str", "choices": list(VIRT_TYPES)},
    "machine": {"type": "str"},
    "disks": {"type": "list", "elements": "dict", "default": [], "options": _DISK},
    "interfaces": {"type": "list", "elements": "dict", "default": [], "options": _NIC},
    "remove_storage": {"type": "bool", "default": GUEST_DEFAULTS["remove_storage"]},
    "shutdown_timeout": {"type": "int", "default": GUEST_DEFAULTS["shutdown_timeout"]},
    "force_stop": {"type": "bool", "default": GUEST_DEFAULTS["force_stop"]},
    # backends libvirt and xl
    "kernel": {"type": "path"},
    "ramdisk": {"type": "path"},
    "extra": {"type": "str"},
    # backend: libvirt
    "cloud_init": {"type": "dict", "options": {
        "user_data": {"type": "raw"},
        "meta_data": {"type": "raw"},
        "network_config": {"type": "raw"},
        "pool": {"type": "str", "default": "default"},
    }},
    # backend: lxc
    "template": {"type": "str"},
    "template_options": {"type": "list", "elements": "str"},
    "rootfs": {"type": "path"},
    "config": {"type": "dict"},
    # backend: xl
    "xen_type": {"type": "str", "choices": ["pvh", "pv", "hvm"]},
    "on_crash": {"type": "str", "choices": ["destroy", "restart", "preserve", "coredump-destroy",
                                            "coredump-restart", "soft-reset", "rename-restart"]},
}

# doc fragment: virtfleet.hypervisor.restart
RESTART = {
    "restart": {"type": "str", "choices": ["never", "if_needed"], "default": "never"},
}

_KINDS = {
    "guest": (CONNECTION, RESTART, GUEST),
    "guests": (CONNECTION, RESTART, {
        "guests": {"type": "list", "elements": "dict", "required": True},
        "prune": {"type": "bool", "default": False},
        "prune_storage": {"type": "bool", "default": False},
    }),
}


def argspec(kind):
    spec = {}
    for part in _KINDS[kind]:
        spec.update(copy.deepcopy(part))
    return spec


# doc fragment: virtfleet.hypervisor.network_spec
NETWORK = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["active", "inactive", "absent"], "default": "active"},
    "autostart": {"type": "bool", "default": True},
    "forward": {"type": "str", "choices": ["nat", "route", "bridge", "isolated"], "default": "nat"},
    "bridge": {"type": "str"},
    "ip": {"type": "str"},
    "netmask": {"type": "str"},
    "dhcp": {"type": "dict", "options": {
        "start": {"type": "str", "required": True},
        "end": {"type": "str", "required": True},
        "hosts": {"type": "list", "elements": "dict", "default": [], "options": {
            "mac": {"type": "str", "required": True},
            "ip": {"type": "str", "required": True},
            "name": {"type": "str"},
        }},
    }},
    "mtu": {"type": "int"},
    "recreate": {"type": "bool", "default": False},
}

# documented in plugins/modules/pool.py
POOL = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["active", "inactive", "absent"], "default": "active"},
    "autostart": {"type": "bool", "default": True},
    "type": {"type": "str", "choices": ["dir"], "default": "dir"},
    "path": {"type": "path"},
    "mode": {"type": "str", "default": "0711"},
}

# doc fragment: virtfleet.hypervisor.volume_spec
VOLUME = {
    "name": {"type": "str", "required": True},
    "pool": {"type": "str", "default": "default"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "size": {"type": "raw"},
    "format": {"type": "str", "choices": ["qcow2", "raw"], "default": "qcow2"},
    "backing": {"type": "str"},
    "source": {"type": "path"},
}

# documented in plugins/modules/cloud_init.py
CLOUD_INIT = {
    "name": {"type": "str", "required": True},
    "pool": {"type": "str", "default": "default"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "user_data": {"type": "raw"},
    "meta_data": {"type": "raw"},
    "network_config": {"type": "raw"},
}


def carries_secrets(kind):
    """Modules whose options can hold a value of _model.SECRETS. They run with
    ``AnsibleModule(no_log=True)`` (no syslog line of their arguments: it is written before
    any value could be masked); _core.run masks the secrets in everything they return."""
    spec = argspec(kind)
    return "guests" in spec or any(path.split(".", maxsplit=1)[0] in spec for path in SECRETS)


# networks, pools and volumes are libvirt objects: only the uri of the connection options
CONNECTION_LIBVIRT = {"uri": CONNECTION["uri"]}
_OBJECT_KINDS = {
    "network": (CONNECTION_LIBVIRT, NETWORK),
    "networks": (CONNECTION_LIBVIRT, {"networks": {"type": "list", "elements": "dict", "required": True}}),
    "pool": (CONNECTION_LIBVIRT, POOL),
    "volume": (CONNECTION_LIBVIRT, VOLUME),
    "volumes": (CONNECTION_LIBVIRT, {"volumes": {"type": "list", "elements": "dict", "required": True}}),
    "cloud_init": (CONNECTION_LIBVIRT, CLOUD_INIT),
}
_KINDS.update(_OBJECT_KINDS)
