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

# Every key a guest spec may carry, with its default. Fields in COMPARED are the ones
# converged; the others steer how the module acts.
GUEST_DEFAULTS = {
    "name": None,
    "state": "running",
    "autostart": False,
    "vcpus": 1,
    "memory": 512,
    "max_vcpus": None,
    "max_memory": None,
    "cpu_mode": "default",
    "hugepages": False,
    "cpu_shares": None,
    "virt_type": "kvm",
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
            "cpu_shares", "virt_type", "machine", "kernel", "ramdisk", "extra", "disks", "interfaces", "config")
BACKENDS = ("libvirt", "lxc", "xl")
# Keys that only one backend understands; its backend module validates them.
BACKEND_KEYS = {
    "libvirt": ("cloud_init",),
    "lxc": ("template", "template_options", "rootfs", "config"),
    "xl": ("xen_type", "on_crash"),
}
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


def guest_from_params(raw, backend="libvirt"):
    """Validate one guest spec; return the normalised dict. Keys of ``backend`` in
    BACKEND_KEYS are passed through for the backend to validate."""
    if not isinstance(raw, dict):
        raise SpecError("a guest spec must be a mapping, got %r" % (raw,))
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("invalid guest name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (name,),
                        name if isinstance(name, str) else None, "name")
    spec = {k: raw[k] for k in raw if raw[k] is not None}
    for other, keys in BACKEND_KEYS.items():
        for key in keys:
            if other != backend and key in spec:
                raise SpecError("only meaningful with backend %s (this call uses %s)" % (other, backend),
                                name, key)
    _unknown_keys(name, "spec", spec, tuple(GUEST_DEFAULTS) + BACKEND_KEYS[backend])
    g = dict(GUEST_DEFAULTS)
    g.update(spec)
    g["name"] = name
    g["state"] = _choice(name, "state", g["state"], STATES)
    g["autostart"] = _bool(name, "autostart", g["autostart"])
    g["vcpus"] = _int(name, "vcpus", g["vcpus"], minimum=1)
    try:
        g["memory"] = parse_mib(g["memory"])
    except ValueError as e:
        raise SpecError(str(e), name, "memory")
    if g["max_vcpus"] is not None:
        g["max_vcpus"] = _int(name, "max_vcpus", g["max_vcpus"], minimum=1)
        if g["max_vcpus"] < g["vcpus"]:
            raise SpecError("must be at least vcpus (%s), got %s" % (g["vcpus"], g["max_vcpus"]),
                            name, "max_vcpus")
    if g["max_memory"] is not None:
        try:
            g["max_memory"] = parse_mib(g["max_memory"])
        except ValueError as e:
            raise SpecError(str(e), name, "max_memory")
        if g["max_memory"] < g["memory"]:
            raise SpecError("must be at least memory (%s MiB), got %s MiB" % (g["memory"], g["max_memory"]),
                            name, "max_memory")
    g["cpu_mode"] = _choice(name, "cpu_mode", g["cpu_mode"], CPU_MODES)
    g["hugepages"] = _bool(name, "hugepages", g["hugepages"])
    if g["cpu_shares"] is not None:
        g["cpu_shares"] = _int(name, "cpu_shares", g["cpu_shares"], minimum=2)
        if g["cpu_shares"] > 262144:
            raise SpecError("must be at most 262144, got %d" % g["cpu_shares"], name, "cpu_shares")
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


def guests_from_params(raw_list, backend="libvirt"):
    """Validate a batch. Duplicate names fail the whole call (which one would win is
    ambiguous); any other bad spec fails only its own guest.

    Returns (valid_guests, errors) where errors is a list of SpecError.
    """
    if not isinstance(raw_list, list):
        raise SpecError("expected a list of guest specs", None, "guests")
    names = [r.get("name") for r in raw_list if isinstance(r, dict)]
    dupes = sorted({n for n in names if names.count(n) > 1 and n is not None}, key=str)
    if dupes:
        raise SpecError("guest name(s) declared more than once in this call: %s"
                        % ", ".join(map(str, dupes)), None, "guests")
    valid, errors = [], []
    for raw in raw_list:
        try:
            valid.append(guest_from_params(raw, backend))
        except SpecError as e:
            errors.append(e)
    return valid, errors


def view(guest):
    """The user-facing dict of a guest for diff output (compared fields + state)."""
    if guest is None:
        return {}
    out = {"name": guest["name"], "state": guest.get("state")}
    for k in COMPARED:
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
