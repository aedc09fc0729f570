# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest data model: one shape for KVM/QEMU, Xen and LXC guests.

``guest_from_params`` validates and normalises what the user wrote (units, MAC case,
defaults) or raises ``SpecError`` naming the guest and the field. The result is a plain
dict of the managed fields, so the planner compares meaning, never text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import parse_mib, parse_size

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

STATES = ("running", "stopped", "paused", "absent")
CPU_MODES = ("host-passthrough", "host-model", "default")
VIRT_TYPES = ("kvm", "qemu")
DISK_DEVICES = ("disk", "cdrom")
DISK_BUSES = ("virtio", "sata", "scsi", "ide")
NIC_MODELS = ("virtio", "e1000", "e1000e", "rtl8139")

# Every key a guest spec may carry. The values of the compared fields (vcpus, memory, ...)
# are not defaults: each backend's Capabilities.defaults says what leaving a key out means.
GUEST_DEFAULTS = {
    "name": None,
    "state": "running",
    "autostart": False,
    "vcpus": None,
    "memory": None,
    "max_vcpus": None,
    "max_memory": None,
    "cpu_mode": None,
    "hugepages": None,
    "cpu_shares": None,
    "virt_type": None,
    "machine": None,
    "disks": [],
    "interfaces": [],
    "remove_storage": False,
    "shutdown_timeout": 120,
    "force_stop": False,
    "fleet": "default",
    "kernel": None,
    "ramdisk": None,
    "extra": None,
}
COMPARED = ("fleet", "autostart", "vcpus", "memory", "max_vcpus", "max_memory", "cpu_mode", "hugepages",
            "cpu_shares", "virt_type", "machine", "kernel", "ramdisk", "extra", "disks", "interfaces", "config",
            "xen_type", "on_crash")
# Keys that steer the converge of every backend; never compared, never refused.
CONTROL_KEYS = ("name", "state", "remove_storage", "shutdown_timeout", "force_stop", "fleet", "autostart")
BACKENDS = ("libvirt", "lxc", "xl")
# Values that are secrets wherever they appear in a spec (dotted paths into a guest spec or
# a module's parameters). Every module masks them in results, diffs, warnings and invocation.
SECRETS = ("cloud_init.user_data", "cloud_init.network_config", "user_data", "network_config")

# Live rules a backend may give a field (Capabilities.live); the planner reads them, pure:
#   any          the running guest takes any new value
#   up_to_max    any value up to the guest's max_<field> (balloon, hot-unplug allowed)
#   grow_to_max  only more, up to max_<field>
#   hotplug      devices attached/detached one by one (hotpluggable ones, order kept)
LIVE_RULES = ("any", "up_to_max", "grow_to_max", "hotplug")


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

    def restart_fields(self):
        return tuple(f for f in self.fields if f not in self.live and f not in ("fleet", "autostart"))


DISK_KEYS = ("volume", "pool", "path", "device", "readonly", "bus", "size", "backing")
NIC_KEYS = ("network", "bridge", "model", "mac")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(name, field, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "true", "on", "1", "no", "false", "off", "0"):
        return value.lower() in ("yes", "true", "on", "1")
    raise SpecError("expected a boolean, got %r" % (value,), name, field)


def _int(name, field, value, minimum=None):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not _is_int(value):
        raise SpecError("expected an integer, got %r" % (value,), name, field)
    if minimum is not None and value < minimum:
        raise SpecError("must be at least %d, got %d" % (minimum, value), name, field)
    return value


def _choice(name, field, value, choices):
    if value not in choices:
        raise SpecError("expected one of %s, got %r" % ("|".join(choices), value), name, field)
    return value


def _unknown_keys(name, field, given, allowed):
    extra = sorted(set(given) - set(allowed))
    if extra:
        raise SpecError("unknown key(s) %s (allowed: %s)" % (", ".join(extra), ", ".join(allowed)),
                        name, field)


def _disk(name, idx, raw):
    field = "disks[%d]" % idx
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping, got %r" % (raw,), name, field)
    _unknown_keys(name, field, raw, DISK_KEYS)
    has_vol, has_path = raw.get("volume") is not None, raw.get("path") is not None
    if has_vol == has_path:
        raise SpecError("give exactly one of 'volume' (with 'pool') or 'path'", name, field)
    disk = {
        "volume": None, "pool": None, "path": None,
        "device": _choice(name, field + ".device", raw.get("device") or "disk", DISK_DEVICES),
        "readonly": None,
        "bus": None,
        "size": None,
        "backing": None,
    }
    if has_vol:
        if raw.get("size") is not None:
            try:
                disk["size"] = parse_size(raw["size"])
            except ValueError as e:
                raise SpecError(str(e), name, field + ".size")
            if disk["size"] <= 0:
                raise SpecError("must be greater than zero", name, field + ".size")
        if raw.get("backing") is not None:
            disk["backing"] = str(raw["backing"])
        disk["volume"] = str(raw["volume"])
        disk["pool"] = str(raw.get("pool") or "default")
        if not NAME_RE.match(disk["volume"]) and "/" in disk["volume"]:
            raise SpecError("a volume name cannot contain '/'", name, field + ".volume")
    else:
        for key in ("size", "backing"):
            if raw.get(key) is not None:
                raise SpecError("only with 'volume' (a volume the guest converge creates when missing)",
                                name, field + "." + key)
        path = str(raw["path"])
        if not path.startswith("/"):
            raise SpecError("must be an absolute path, got %r" % path, name, field + ".path")
        disk["path"] = path
    default_bus = "sata" if disk["device"] == "cdrom" else "virtio"
    disk["bus"] = _choice(name, field + ".bus", raw.get("bus") or default_bus, DISK_BUSES)
    if disk["device"] == "cdrom" and disk["bus"] == "virtio":
        raise SpecError("a cdrom cannot sit on the virtio bus (use sata, scsi or ide)", name, field + ".bus")
    ro = raw.get("readonly")
    disk["readonly"] = True if disk["device"] == "cdrom" else (
        False if ro is None else _bool(name, field + ".readonly", ro))
    return disk


def _nic(name, idx, raw):
    field = "interfaces[%d]" % idx
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping, got %r" % (raw,), name, field)
    _unknown_keys(name, field, raw, NIC_KEYS)
    if (raw.get("network") is None) == (raw.get("bridge") is None):
        raise SpecError("give exactly one of 'network' or 'bridge'", name, field)
    mac = raw.get("mac")
    if mac is not None:
        mac = str(mac).strip().lower().replace("-", ":")
        if not MAC_RE.match(mac):
            raise SpecError("invalid MAC address %r (expected six hex pairs, e.g. 52:54:00:12:34:56)"
                            % raw.get("mac"), name, field + ".mac")
        if int(mac[:2], 16) & 1:
            raise SpecError("%r is a multicast MAC address; a NIC needs a unicast one" % mac,
                            name, field + ".mac")
    return {
        "network": None if raw.get("network") is None else str(raw["network"]),
        "bridge": None if raw.get("bridge") is None else str(raw["bridge"]),
        "model": _choice(name, field + ".model", raw.get("model") or "virtio", NIC_MODELS),
        "mac": mac,
    }


def guest_from_params(raw, caps="libvirt", others=()):
    """Validate one guest spec for the backend whose Capabilities are ``caps``; return the
    normalised dict. A field the backend does not manage is refused here, once, naming the
    guest, the field and the backend; ``others`` (the other backends' Capabilities) name the
    backend a misplaced key belongs to. Keys in ``caps.keys`` are passed through for the
    backend's resolve to validate."""
    if isinstance(caps, str):  # a backend name (tests, tools)
        from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import BACKENDS as _REGISTRY
        others = tuple(c.caps for n, c in sorted(_REGISTRY.items()) if n != caps)
        caps = _REGISTRY[caps].caps
    if not isinstance(raw, dict):
        raise SpecError("a guest spec must be a mapping, got %r" % (raw,))
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("invalid guest name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (name,),
                        name if isinstance(name, str) else None, "name")
    spec = {k: raw[k] for k in raw if raw[k] is not None}
    known = set(GUEST_DEFAULTS) | set(COMPARED) | {k for c in others for k in c.keys}
    _unknown_keys(name, "spec", spec, sorted(known | set(caps.keys)))
    for key in spec:
        if key in CONTROL_KEYS or key in caps.fields or key in caps.keys:
            continue
        owners = [c.backend for c in others if key in c.fields or key in c.keys]
        raise SpecError("not supported by backend %s%s" % (
            caps.backend, " (only %s)" % ", ".join(owners) if owners else ""), name, key)
    g = dict(GUEST_DEFAULTS)
    g.update({k: v for k, v in caps.defaults.items() if k in caps.fields})
    g.update(spec)
    g["name"] = name
    g["state"] = _choice(name, "state", g["state"], STATES)
    g["autostart"] = _bool(name, "autostart", g["autostart"])
    if g["vcpus"] is not None:
        g["vcpus"] = _int(name, "vcpus", g["vcpus"], minimum=1)
    for key in ("memory", "max_memory"):
        if g[key] is not None:
            try:
                g[key] = parse_mib(g[key])
            except ValueError as e:
                raise SpecError(str(e), name, key)
    for key, base, unit in (("max_vcpus", "vcpus", ""), ("max_memory", "memory", " MiB")):
        if key == "max_vcpus" and g[key] is not None:
            g[key] = _int(name, key, g[key], minimum=1)
        if g[key] is not None and g[base] is not None and g[key] < g[base]:
            raise SpecError("must be at least %s (%s%s), got %s%s" % (base, g[base], unit, g[key], unit), name, key)
    if g["cpu_mode"] is not None:
        g["cpu_mode"] = _choice(name, "cpu_mode", g["cpu_mode"], CPU_MODES)
    if g["hugepages"] is not None:
        g["hugepages"] = _bool(name, "hugepages", g["hugepages"])
    if g["cpu_shares"] is not None:
        g["cpu_shares"] = _int(name, "cpu_shares", g["cpu_shares"], minimum=2)
        if g["cpu_shares"] > 262144:
            raise SpecError("must be at most 262144, got %d" % g["cpu_shares"], name, "cpu_shares")
    if g["virt_type"] is not None:
        g["virt_type"] = _choice(name, "virt_type", g["virt_type"], VIRT_TYPES)
    if g["machine"] is not None:
        g["machine"] = str(g["machine"])
    for key in ("disks", "interfaces"):
        if not isinstance(g[key], list):
            raise SpecError("expected a list, got %r" % (g[key],), name, key)
    g["disks"] = [_disk(name, i, d) for i, d in enumerate(g["disks"])]
    g["interfaces"] = [_nic(name, i, n) for i, n in enumerate(g["interfaces"])]
    macs = [n["mac"] for n in g["interfaces"] if n["mac"]]
    if len(macs) != len(set(macs)):
        raise SpecError("the same MAC address is given twice", name, "interfaces")
    g["remove_storage"] = _bool(name, "remove_storage", g["remove_storage"])
    g["force_stop"] = _bool(name, "force_stop", g["force_stop"])
    if not isinstance(g["fleet"], str) or not NAME_RE.match(g["fleet"]):
        raise SpecError("invalid fleet name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (g["fleet"],),
                        name, "fleet")
    for key in ("kernel", "ramdisk"):
        if g[key] is not None and not str(g[key]).startswith("/"):
            raise SpecError("must be an absolute path, got %r" % (g[key],), name, key)
    if g["extra"] is not None and not isinstance(g["extra"], str):
        raise SpecError("expected a string (the kernel command line)", name, "extra")
    g["shutdown_timeout"] = _int(name, "shutdown_timeout", g["shutdown_timeout"], minimum=0)
    return g


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
