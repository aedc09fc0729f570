# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest data model: one shape for KVM/QEMU, Xen and LXC guests.

Every key is declared once, as a row of a field table (``GUEST_FIELDS``, ``DISK_FIELDS``...):
its type, parser, default, role (control / compared / a backend's own key) and whether it is a
secret. ``guest_from_params`` reads what the user wrote through the table (units, MAC case,
defaults) or raises ``SpecError`` naming the guest and the field; the modules' argspecs
(``_spec``), the typed shapes (``GuestSpec``...) and the secret paths derive from the same
rows. A normalised spec is a dict of that shape, so the planner compares meaning, never text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypedDict

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._checks import (
    _bool, _choice, _text, _unknown_keys, integer)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import human, mib_to_bytes, parse_mib, parse_size

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

STATES = ("running", "stopped", "paused", "saved", "absent")
# the states every backend reaches; "saved" (memory kept in a state file) only where the
# toolstack saves and restores a running guest (Capabilities.states)
BASE_STATES = ("running", "stopped", "paused", "absent")
CPU_MODES = ("host-passthrough", "host-model", "default")
VIRT_TYPES = ("kvm", "qemu")
DISK_DEVICES = ("disk", "cdrom")
DISK_BUSES = ("virtio", "sata", "scsi", "ide")
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139")
XEN_TYPES = ("pvh", "pv", "hvm")
XEN_CRASH_ACTIONS = ("destroy", "restart", "preserve", "coredump-destroy", "coredump-restart", "soft-reset",
                     "rename-restart")
BACKENDS = ("libvirt", "lxc", "xl")
# Upper bounds no x86 guest of any toolstack here reaches; a bigger value is a typo ("64P").
MAX_VCPUS = 4096
MAX_MEMORY_MIB = 16 * 1024 * 1024  # 16 TiB in MiB

# Live rules a backend may give a field (Capabilities.live); the planner reads them, pure:
#   any          the running guest takes any new value
#   up_to_max    any value up to the guest's max_<field> (balloon, hot-unplug allowed)
#   grow_to_max  only more, up to max_<field>
#   hotplug      devices attached/detached one by one (hotpluggable ones, order kept)
LIVE_RULES = ("any", "up_to_max", "grow_to_max", "hotplug")

# Roles of a field (Field.role):
#   control   steers the converge (state, timeouts); never compared, accepted by every backend
#   common    compared, and accepted by every backend (fleet, autostart)
#   compared  compared; accepted only by a backend whose Capabilities.fields name it
#   key       a backend's own input (template, cloud_init); accepted only where Capabilities.keys
#             name it, validated by that backend's resolve, never compared
ROLES = ("control", "common", "compared", "key")


@dataclass(frozen=True)
class Field:
    """One key of a spec, declared once. The validator, the module argspec (``_spec``), the
    typed shape (``GuestSpec``...), the diff and the secret masking all read this table."""

    name: str
    #: the option's Ansible type (argspec): str int bool raw path list dict
    type: str = "str"
    #: Python type of the normalised value (the typed model)
    value: object = str
    #: value when the key is left out (None: unset; a list default is copied)
    default: object = None
    choices: tuple = ()
    #: parse(obj, path, value) -> normalised value, raising SpecError naming obj and path
    parse: object = None
    role: str = "compared"
    #: the value is a secret: masked in every output of every module
    secret: bool = False
    #: sub-fields of a dict, or of each element of a list of dicts
    options: tuple = ()
    elements: str = None
    required: bool = False
    #: left out of the normalised spec when not given (keys only some backends know)
    optional: bool = False
    #: an option of the modules' own argspec (False: given through another option, e.g. fleet)
    option: bool = True


def _mib(name, field, value):
    try:
        mib = parse_mib(value)
    except ValueError as e:
        raise SpecError(str(e), name, field)
    if mib > MAX_MEMORY_MIB:
        raise SpecError("%s is more than any guest here can have (at most %s)"
                        % (human(mib_to_bytes(mib)), human(mib_to_bytes(MAX_MEMORY_MIB))), name, field)
    return mib


def _size(name, field, value):
    try:
        size = parse_size(value)
    except ValueError as e:
        raise SpecError(str(e), name, field)
    if size <= 0:
        raise SpecError("must be greater than zero", name, field)
    return size


def _abspath(name, field, value):
    if not str(value).startswith("/"):
        raise SpecError("must be an absolute path, got %r" % (value,), name, field)
    return str(value)


def _str(name, field, value):  # pylint: disable=unused-argument
    return str(value)


def _mac(name, field, value):
    mac = str(value).strip().lower().replace("-", ":")
    if not MAC_RE.match(mac):
        raise SpecError("invalid MAC address %r (expected six hex pairs, e.g. 52:54:00:12:34:56)"
                        % (value,), name, field)
    if int(mac[:2], 16) & 1:
        raise SpecError("%r is a multicast MAC address; a NIC needs a unicast one" % mac, name, field)
    return mac


def _fleet(name, field, value):
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise SpecError("invalid fleet name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (value,), name, field)
    return value


def parse_fields(name, path, raw, fields, rules=None):
    """``raw`` read through ``fields``: unknown keys refused, choices checked, each value
    parsed, defaults filled; then ``rules(name, path, spec)`` checks what spans fields.
    Errors name the object ``name`` and the field's dotted ``path``."""
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping, got %r" % (raw,), name, path or None)
    _unknown_keys(name, path or "spec", [k for k in raw if raw[k] is not None], [f.name for f in fields])
    out = {}
    for f in fields:
        sub = "%s.%s" % (path, f.name) if path else f.name
        value = raw.get(f.name)
        if value is None:
            if f.optional and f.default is None:
                continue
            value = list(f.default) if isinstance(f.default, list) else f.default
        else:
            if f.choices:
                _choice(name, sub, value, f.choices)
            if f.parse is not None:
                value = f.parse(name, sub, value)
        out[f.name] = value
    if rules is not None:
        rules(name, path, out)
    return out


def list_of(fields, rules=None):
    """A parser for a list of mappings, each read through ``fields`` (errors name ``field[i]``)."""
    def parse(name, field, value):
        if not isinstance(value, list):
            raise SpecError("expected a list, got %r" % (value,), name, field)
        return [parse_fields(name, "%s[%d]" % (field, i), item, fields, rules) for i, item in enumerate(value)]
    return parse


def mapping_of(fields, rules=None):
    return lambda name, field, value: parse_fields(name, field, value, fields, rules)


def _disk_rules(name, field, disk):
    empty_cdrom = disk["device"] == "cdrom" and disk["volume"] is None and disk["path"] is None
    if (disk["volume"] is None) == (disk["path"] is None) and not empty_cdrom:
        raise SpecError("give exactly one of 'volume' (with 'pool') or 'path' (a cdrom may have neither: "
                        "an empty drive)", name, field)
    if disk["size"] is not None and (disk["device"] == "cdrom" or disk["readonly"]):
        raise SpecError("a read-only disk is never created or grown; drop size", name, field + ".size")
    if disk["volume"] is not None:
        disk["pool"] = disk["pool"] or "default"
        if "/" in disk["volume"]:
            raise SpecError("a volume name cannot contain '/'", name, field + ".volume")
    else:
        for key in ("backing", "pool"):
            if disk[key] is not None:
                raise SpecError("only with 'volume' (a volume the guest converge creates when missing)",
                                name, field + "." + key)
        if disk["format"] is not None and disk["size"] is None:
            raise SpecError("only with size (the format of a file the converge creates; an existing "
                            "file keeps its own)", name, field + ".format")
    disk["bus"] = disk["bus"] or ("sata" if disk["device"] == "cdrom" else "virtio")
    if disk["device"] == "cdrom" and disk["bus"] == "virtio":
        raise SpecError("a cdrom cannot sit on the virtio bus (use sata, scsi or ide)", name, field + ".bus")
    disk["readonly"] = True if disk["device"] == "cdrom" else bool(disk["readonly"])
    mdev.validate_disk(name, field, dict(disk), disk)


def _nic_rules(name, field, nic):
    if sum(nic[k] is not None for k in ("network", "bridge", "direct")) != 1:
        raise SpecError("give exactly one of 'network', 'bridge' or 'direct'", name, field)
    mdev.validate_nic(name, field, dict(nic), nic)


DISK_FIELDS = (
    Field("volume", parse=_str),
    Field("pool", parse=_str),
    Field("path", "path", parse=_abspath),
    Field("device", default="disk", choices=DISK_DEVICES),
    Field("readonly", "bool", bool, parse=_bool),
    Field("bus", choices=DISK_BUSES),
    Field("size", "raw", int, parse=_size),
    Field("backing", parse=_str),
    # issue 16: created files, tuning (libvirt; Capabilities.disk_keys)
    Field("format", choices=mdev.DISK_FORMATS),
    Field("target", parse=_str),
    Field("cache", choices=mdev.DISK_CACHES),
    Field("io", choices=mdev.DISK_IOS),
    Field("discard", choices=mdev.DISK_DISCARDS),
    Field("serial", parse=_str),
    Field("iotune", "dict", dict, options=tuple(Field(k, "int", int) for k in mdev.IOTUNE_KEYS)),
    Field("shareable", "bool", bool, parse=_bool),
)
NIC_FIELDS = (
    Field("network", parse=_str),
    Field("bridge", parse=_str),
    Field("model", default="virtio", choices=NIC_MODELS),
    Field("mac", parse=_mac),
    # issue 16: macvtap, VLAN, QoS, MTU, link state (libvirt; Capabilities.nic_keys)
    Field("direct", parse=_str),
    Field("mode", choices=mdev.DIRECT_MODES),
    Field("vlan", "int", int),
    Field("bandwidth", "dict", dict, options=tuple(
        Field(way, "dict", dict, options=tuple(Field(k, "int", int) for k in mdev.BANDWIDTH_KEYS))
        for way in ("inbound", "outbound"))),
    Field("mtu", "int", int),
    Field("link", choices=mdev.LINK_STATES),
)
# a NoCloud seed: a guest's cloud_init key and the cloud_init module's options
SEED_FIELDS = (
    Field("user_data", "raw", object, secret=True),
    Field("meta_data", "raw", object),
    Field("network_config", "raw", object, secret=True),
    Field("pool", default="default"),
)

# The guest model, one row per key. The values of compared fields (vcpus, memory, ...) are no
# defaults: each backend's Capabilities.defaults says what leaving a key out means there.
GUEST_FIELDS = (
    Field("name", required=True, role="control"),
    Field("state", default="running", choices=STATES, role="control"),
    Field("autostart", "bool", bool, default=False, parse=_bool, role="common"),
    Field("fleet", default="default", parse=_fleet, role="common", option=False),
    Field("vcpus", "int", int, parse=integer(1, MAX_VCPUS)),
    Field("memory", "raw", int, parse=_mib),
    Field("max_vcpus", "int", int, parse=integer(1, MAX_VCPUS)),
    Field("max_memory", "raw", int, parse=_mib),
    Field("cpu_mode", choices=CPU_MODES),
    Field("hugepages", "bool", bool, parse=_bool),
    Field("cpu_shares", "int", int, parse=integer(2, 262144)),
    Field("virt_type", choices=VIRT_TYPES),
    Field("machine", parse=_str),
    Field("kernel", "path", parse=_abspath),
    Field("ramdisk", "path", parse=_abspath),
    Field("extra", parse=_text),
    Field("disks", "list", list, default=[], elements="dict", options=DISK_FIELDS,
          parse=list_of(DISK_FIELDS, _disk_rules)),
    Field("interfaces", "list", list, default=[], elements="dict", options=NIC_FIELDS,
          parse=list_of(NIC_FIELDS, _nic_rules)),
    Field("config", "dict", dict, optional=True),
    Field("xen_type", choices=XEN_TYPES, optional=True),
    Field("on_crash", choices=XEN_CRASH_ACTIONS, optional=True),
    Field("remove_storage", "bool", bool, default=False, parse=_bool, role="control"),
    Field("shutdown_timeout", "int", int, default=120, parse=integer(0), role="control"),
    Field("force_stop", "bool", bool, default=False, parse=_bool, role="control"),
    Field("cloud_init", "dict", dict, options=SEED_FIELDS, role="key", optional=True),
    Field("template", role="key", optional=True),
    Field("template_options", "list", list, elements="str", role="key", optional=True),
    Field("rootfs", "path", role="key", optional=True),
    # issue 16: what virt-install offers (libvirt; _model_devices parses, _render_devices renders)
    Field("boot", "list", list, elements="str", parse=mdev.parser("boot"), optional=True),
    Field("firmware", choices=mdev.FIRMWARES, optional=True),
    Field("secure_boot", "bool", bool, parse=_bool, optional=True),
    Field("tpm", "bool", bool, parse=_bool, optional=True),
    Field("graphics", "dict", dict, parse=mdev.parser("graphics"), optional=True, options=(
        Field("type", choices=mdev.GRAPHICS_TYPES), Field("listen"), Field("port", "raw", object),
        Field("password", secret=True))),
    Field("serial", "bool", bool, parse=_bool, optional=True),
    Field("video", choices=mdev.VIDEO_MODELS, optional=True),
    Field("guest_agent", "bool", bool, parse=_bool, optional=True),
    Field("rng", "bool", bool, parse=_bool, optional=True),
    Field("watchdog", "raw", object, parse=mdev.parser("watchdog"), optional=True),
    Field("cpu_model", parse=mdev.parser("cpu_model"), optional=True),
    Field("cpu_features", "raw", dict, parse=mdev.parser("cpu_features"), optional=True),
    Field("cpu_topology", "dict", dict, parse=mdev.parser("cpu_topology"), optional=True,
          options=tuple(Field(k, "int", int) for k in ("sockets", "cores", "threads"))),
    Field("vcpu_pins", "dict", dict, parse=mdev.parser("vcpu_pins"), optional=True),
    Field("emulator_pin", parse=mdev.parser("emulator_pin"), optional=True),
    Field("numatune", "dict", dict, parse=mdev.parser("numatune"), optional=True,
          options=(Field("mode", choices=mdev.NUMA_MODES), Field("nodeset", required=True))),
    Field("hugepage_size", "raw", int, parse=mdev.parser("hugepage_size"), optional=True),
    Field("locked_memory", "bool", bool, parse=_bool, optional=True),
    Field("iothreads", "int", int, parse=mdev.parser("iothreads"), optional=True),
    Field("hostdevs", "list", list, elements="raw", parse=mdev.parser("hostdevs"), optional=True),
    Field("title", parse=mdev.parser("title"), optional=True),
    Field("description", parse=mdev.parser("description"), optional=True),
    Field("tags", "list", list, elements="str", parse=mdev.parser("tags"), optional=True),
    # issue 16, containers: the host CPUs a container may run on (cgroup cpuset), nesting
    Field("cpuset", parse=mdev.parser("cpuset"), optional=True),
    Field("nesting", "bool", bool, parse=_bool, optional=True),
    # containers: the AppArmor profile (lxc.apparmor.*) and an unprivileged container's id map
    Field("apparmor_profile", parse=mdev.parser("apparmor_profile"), optional=True),
    Field("apparmor_allow_nesting", "bool", bool, parse=_bool, optional=True),
    Field("idmap", "list", list, elements="dict", parse=mdev.parser("idmap"), optional=True, options=(
        Field("kind", choices=mdev.IDMAP_KINDS), Field("container", "int", int), Field("host", "int", int),
        Field("count", "int", int))),
)
FIELDS = {f.name: f for f in GUEST_FIELDS}
GUEST_DEFAULTS = {f.name: f.default for f in GUEST_FIELDS if not f.optional}
COMPARED = tuple(f.name for f in GUEST_FIELDS if f.role in ("common", "compared"))
CONTROL_KEYS = tuple(f.name for f in GUEST_FIELDS if f.role in ("control", "common"))


def typed(name, fields):
    """The typed shape of a normalised spec, from its field table (a TypedDict)."""
    return TypedDict(name, {f.name: f.value for f in fields}, total=False)


DiskSpec = typed("DiskSpec", DISK_FIELDS)
NicSpec = typed("NicSpec", NIC_FIELDS)
SeedSpec = typed("SeedSpec", SEED_FIELDS)
GuestSpec = typed("GuestSpec", GUEST_FIELDS)


def secret_paths(fields, prefix=""):
    """Dotted paths of the secret fields of a table (into a raw spec or module params)."""
    out = []
    for f in fields:
        path = prefix + f.name
        if f.secret:
            out.append(path)
        if f.options and f.type == "dict":
            out.extend(secret_paths(f.options, path + "."))
    return tuple(out)


# Values that are secrets wherever they appear in a spec (dotted paths into a guest spec or a
# module's parameters): every module masks them in results, diffs, warnings and invocation.
SECRETS = secret_paths(GUEST_FIELDS) + secret_paths(SEED_FIELDS)

MIN_SECRET = 4


def secret_values(raw, paths=SECRETS):
    """The values at the secret paths of a raw spec, as the strings Ansible masks wherever
    they appear in the output. A mapping is masked leaf by leaf; leaves shorter than
    MIN_SECRET characters and booleans are left alone (masking every '2' or 'ops' in the
    output would garble it and hide nothing)."""
    out = set()

    def leaves(value):
        if isinstance(value, dict):
            for v in value.values():
                leaves(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                leaves(v)
        elif value is not None and not isinstance(value, bool) and len(str(value)) >= MIN_SECRET:
            out.add(str(value))

    for path in paths:
        value = raw
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            leaves(value)
            if not isinstance(value, str):
                out.add(str(value))
    return out


@dataclass(frozen=True)
class Capabilities:
    """What one backend manages, as data: the planner, the validator, the docs and the diff
    all read it, so a field a backend cannot carry is refused in one place."""

    backend: str
    #: compared fields of the model this backend converges (diff, plan)
    fields: tuple
    #: backend-only spec keys it accepts (validated by the backend's resolve)
    keys: tuple = ()
    #: field -> live rule (LIVE_RULES); a managed field without one needs a restart
    live: dict = field(default_factory=dict)
    #: field -> value used when the spec leaves the field out (None: not managed then)
    defaults: dict = field(default_factory=dict)
    #: the running memory is a balloon target the guest may not honour: live drift from a
    #: definition that already matches is not a change
    balloon: bool = False
    #: child kinds a guest of this backend plans with it (its volumes, its seed)
    children: tuple = ()
    #: what memory / vcpus mean on this backend (docs and errors)
    meaning: dict = field(default_factory=dict)
    #: the guest states it reaches (``saved``: libvirt managed save, xl save/restore)
    states: tuple = BASE_STATES
    #: the disk / interface keys it manages (the others are refused by name, once); ``path_size``:
    #: a ``path`` disk may carry ``size`` (the file is created when missing)
    disk_keys: tuple = ("volume", "pool", "path", "device", "readonly", "bus", "size", "backing")
    nic_keys: tuple = ("network", "bridge", "model", "mac")
    path_size: bool = False

    def restart_fields(self):
        return tuple(f for f in self.fields if f not in self.live and f not in ("fleet", "autostart"))


def _guest_rules(name, path, g):  # pylint: disable=unused-argument
    for key, base, unit in (("max_vcpus", "vcpus", ""), ("max_memory", "memory", " MiB")):
        if g[key] is not None and g[base] is not None and g[key] < g[base]:
            raise SpecError("must be at least %s (%s%s), got %s%s" % (base, g[base], unit, g[key], unit), name, key)
    macs = [n["mac"] for n in g["interfaces"] if n["mac"]]
    if len(macs) != len(set(macs)):
        raise SpecError("the same MAC address is given twice", name, "interfaces")
    if g["remove_storage"] and g["state"] != "absent":
        raise SpecError("only with state: absent (it says which disks go with the guest)", name, "remove_storage")
    mdev.guest_rules(name, g)


def guest_from_params(raw, caps="libvirt", others=()) -> GuestSpec:
    """Validate one guest spec for the backend whose Capabilities are ``caps``; return the
    normalised spec (a GuestSpec). A field the backend does not manage is refused here, once,
    naming the guest, the field and the backend; ``others`` (the other backends'
    Capabilities, or a function returning them, called only for such an error) name the
    backend a misplaced key belongs to. Keys in ``caps.keys`` are
    passed through for the backend's resolve to validate."""
    if isinstance(caps, str):  # a backend name (tests, tools)
        from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import all_backends
        _REGISTRY = all_backends()
        others = tuple(c.caps for n, c in sorted(_REGISTRY.items()) if n != caps)
        caps = _REGISTRY[caps].caps
    if not isinstance(raw, dict):
        raise SpecError("a guest spec must be a mapping, got %r" % (raw,))
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("invalid guest name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (name,),
                        name if isinstance(name, str) else None, "name")
    spec = {k: raw[k] for k in raw if raw[k] is not None}
    _unknown_keys(name, "spec", spec, list(FIELDS))
    for key in spec:
        if key in CONTROL_KEYS or key in caps.fields or key in caps.keys:
            continue
        owners = [c.backend for c in _other_caps(others) if key in c.fields or key in c.keys]
        raise SpecError("not supported by backend %s%s" % (
            caps.backend, " (only %s)" % ", ".join(owners) if owners else ""), name, key)
    for key, value in caps.defaults.items():
        if key in caps.fields and key not in spec:
            spec[key] = value
    _refuse_sub_keys(name, caps, others, spec)
    g = parse_fields(name, "", spec, GUEST_FIELDS, _guest_rules)
    if g["state"] not in caps.states:
        owners = [c.backend for c in _other_caps(others) if g["state"] in c.states]
        raise SpecError("%s is not supported by backend %s%s" % (
            g["state"], caps.backend, " (only %s)" % ", ".join(owners) if owners else ""), name, "state")
    return g


def _other_caps(others):
    return others() if callable(others) else others


def _refuse_sub_keys(name, caps, others, spec):
    """A disk / interface key this backend does not manage, refused by name, once."""
    for key, allowed, table in (("disks", caps.disk_keys, DISK_FIELDS), ("interfaces", caps.nic_keys, NIC_FIELDS)):
        items = spec.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            known = {f.name for f in table}
            for sub in sorted(k for k, v in item.items() if v is not None and k not in allowed and k in known):
                owners = [c.backend for c in _other_caps(others) if sub in (c.disk_keys if key == "disks" else c.nic_keys)]
                raise SpecError("not supported by backend %s%s" % (
                    caps.backend, " (only %s)" % ", ".join(owners) if owners else ""), name, "%s[%d].%s" % (key, i, sub))
            if key == "disks" and item.get("path") is not None and item.get("size") is not None and not caps.path_size:
                raise SpecError("backend %s creates no files for path disks; create it first or use a volume"
                                % caps.backend, name, "disks[%d].size" % i)


def check_unique(names, kind, field):
    """Names declared twice in one call fail the whole call: which one would win is ambiguous."""
    dupes = sorted({n for n in names if names.count(n) > 1 and n is not None}, key=str)
    if dupes:
        raise SpecError("%s name(s) declared more than once in this call: %s"
                        % (kind, ", ".join(map(str, dupes))), None, field, kind=kind)


def view(guest, fields=COMPARED):
    """The user-facing dict of a guest for diff output (compared fields + state)."""
    if guest is None:
        return {}
    out = {"name": guest["name"], "state": guest.get("state")}
    for k in fields:
        if k in guest:
            out[k] = guest[k]
    if (out.get("graphics") or {}).get("password") is not None:
        # a secret: the declared one is masked by Ansible, the one read back is not known to it
        out["graphics"] = dict(out["graphics"], password="********")
    return out


def device_names(disks, prefixes):
    """Guest device names of model disks (vda, vdb ... vdz, vdaa), lettered in declaration
    order per name prefix; ``prefixes`` maps a disk bus to the toolstack's prefix."""
    used, names = {}, []
    for d in disks:
        prefix = prefixes[d["bus"]]
        n = used.get(prefix, 0)
        used[prefix] = n + 1
        names.append(prefix + disk_letters(n))
    return names


def disk_letters(n):
    """0 -> a, 25 -> z, 26 -> aa (Linux disk naming)."""
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(ord("a") + r) + s
    return s
