# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the modules, derived from the model's field tables (each key is declared
once, in ``_model`` / ``_model_objects``). Each pairs with one doc fragment in
plugins/doc_fragments/ (sanity's validate-modules catches drift between them)."""

from __future__ import annotations

import copy

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import (
    BACKENDS, GUEST_DEFAULTS, GUEST_FIELDS, SECRETS)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model_objects import (
    CLOUD_INIT_FIELDS, NETWORK_FIELDS, POOL_FIELDS, VOLUME_FIELDS)


def argspec_of(fields):
    """An Ansible argspec from a field table."""
    spec = {}
    for f in fields:
        if not f.option:
            continue
        o = {"type": f.type}
        if f.required:
            o["required"] = True
        if f.choices:
            o["choices"] = list(f.choices)
        if f.default is not None:
            o["default"] = list(f.default) if isinstance(f.default, list) else f.default
        if f.elements:
            o["elements"] = f.elements
        if f.options:
            o["options"] = argspec_of(f.options)
        if f.secret and f.type == "str":
            o["no_log"] = True
        spec[f.name] = o
    return spec


# doc fragment: virtfleet.hypervisor.connection
CONNECTION = {
    "backend": {"type": "str", "choices": list(BACKENDS), "default": "libvirt"},
    "uri": {"type": "str", "default": "qemu:///system"},
    "fleet": {"type": "str", "default": GUEST_DEFAULTS["fleet"]},
    "xl_config_dir": {"type": "path", "default": "/etc/xen"},
    "xl_save_dir": {"type": "path", "default": "/var/lib/xen/save"},
    "lxc_path": {"type": "path"},
}

# doc fragment: virtfleet.hypervisor.guest_spec
GUEST = argspec_of(GUEST_FIELDS)

# doc fragment: virtfleet.hypervisor.restart
RESTART = {
    "restart": {"type": "str", "choices": ["never", "if_needed"], "default": "never"},
}

# documented in plugins/modules/snapshot.py
SNAPSHOT = {
    "guest": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "absent", "current"], "default": "present"},
    "description": {"type": "str"},
    "memory": {"type": "bool"},
    "keep": {"type": "int"},
}

# doc fragment: virtfleet.hypervisor.connection.capacity (defaults: _placement.DEFAULTS)
CAPACITY = {
    "capacity_check": {"type": "bool", "default": True},
    "cpu_ratio": {"type": "float", "default": 4.0},
    "memory_ratio": {"type": "float", "default": 1.0},
    "disk_ratio": {"type": "float", "default": 1.0},
    "reserved_memory_mib": {"type": "int", "default": 512},
}

_KINDS = {
    "guest": (CONNECTION, RESTART, CAPACITY, GUEST),
    "guest_info": (CONNECTION, {"name": {"type": "str"}, "snapshots": {"type": "bool", "default": True}}),
    "snapshot": (CONNECTION, SNAPSHOT),
    "guests": (CONNECTION, RESTART, CAPACITY, {
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
NETWORK = argspec_of(NETWORK_FIELDS)
# documented in plugins/modules/pool.py
POOL = argspec_of(POOL_FIELDS)
# doc fragment: virtfleet.hypervisor.volume_spec
VOLUME = argspec_of(VOLUME_FIELDS)
# documented in plugins/modules/cloud_init.py
CLOUD_INIT = argspec_of(CLOUD_INIT_FIELDS)


def carries_secrets(kind):
    """Modules whose options can hold a value of _model.SECRETS. They run with
    ``AnsibleModule(no_log=True)`` (no syslog line of their arguments: it is written before
    any value could be masked); _core.run masks the secrets in everything they return."""
    spec = argspec(kind)
    return (any(path.split(".", maxsplit=1)[0] in spec for path in SECRETS)
            or any(carries_secrets(ELEMENT_KINDS[o]) for o in spec if o in ELEMENT_KINDS))


# Batch options whose elements are specs of another kind (validated per element by the core,
# so one bad element fails only itself: Ansible sees them as plain dicts).
ELEMENT_KINDS = {"guests": "guest", "networks": "network", "volumes": "volume"}


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


# documented in plugins/modules/guest_backup.py
GUEST_BACKUP = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["present", "restored", "absent"], "default": "present"},
    "dest": {"type": "path", "required": True},
    "label": {"type": "str", "default": "default"},
    "disks": {"type": "bool", "default": True},
    "refresh": {"type": "bool", "default": False},
    "backend": {"type": "str", "choices": ["libvirt", "xl", "lxc"], "default": "libvirt"},
}

# documented in plugins/modules/migrate.py
MIGRATE = {
    "name": {"type": "str", "required": True},
    "dest_uri": {"type": "str", "required": True},
    "live": {"type": "bool", "default": True},
    "offline": {"type": "bool", "default": False},
    "copy_storage": {"type": "bool", "default": False},
    "bandwidth": {"type": "int"},
    "timeout": {"type": "int"},
    "postcopy": {"type": "bool", "default": False},
    "p2p": {"type": "bool", "default": True},
    "tunnelled": {"type": "bool", "default": False},
    "migration_host": {"type": "str"},
}
# the destination's capacity is admitted as capacity_check admits a guest (_placement.admit)
MIGRATE.update(CAPACITY)
_KINDS.update({"guest_backup": (CONNECTION_LIBVIRT, GUEST_BACKUP), "migrate": (CONNECTION_LIBVIRT, MIGRATE)})
