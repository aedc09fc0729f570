# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keys a virt-install user expects (issue 16): boot order, firmware, TPM, consoles,
devices, CPU/memory tuning, disk and NIC tuning, PCI host devices, labels.

Each parser takes (guest name, field path, raw value) and returns the normalised value or
raises SpecError naming the guest and the field. ``None`` always means "not managed": the
renderer leaves that part of the domain as it is, the planner does not compare it.
Pure: no libvirt, no filesystem (host checks are the backend's resolve).
"""

from __future__ import annotations

import re

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._checks import _bool, _choice, _int, _text, _unknown_keys
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import parse_kib, UnitError

BOOT_DEVICES = ("hd", "cdrom", "network")
FIRMWARES = ("bios", "uefi")
GRAPHICS_TYPES = ("vnc", "spice", "none")
VIDEO_MODELS = ("virtio", "vga", "qxl", "cirrus", "bochs", "ramfb", "none")
WATCHDOG_MODELS = ("i6300esb", "ib700", "itco")
WATCHDOG_ACTIONS = ("reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi")
CPU_FEATURE_POLICIES = ("force", "require", "optional", "disable", "forbid")
NUMA_MODES = ("strict", "preferred", "interleave", "restrictive")
DISK_CACHES = ("default", "none", "writethrough", "writeback", "directsync", "unsafe")
DISK_IOS = ("native", "threads", "io_uring")
DISK_DISCARDS = ("unmap", "ignore")
DISK_FORMATS = ("qcow2", "raw")
IOTUNE_KEYS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
               "total_iops_sec", "read_iops_sec", "write_iops_sec")
DIRECT_MODES = ("vepa", "bridge", "private", "passthrough")
LINK_STATES = ("up", "down")
BANDWIDTH_KEYS = ("average", "peak", "burst")

TARGET_RE = re.compile(r"^(vd|sd|hd)[a-z]{1,3}$")
PCI_RE = re.compile(r"^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")
CPUSET_RE = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
FEATURE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=-]{0,62}$")
# containers (lxc): AppArmor profile names as apparmor_parser and liblxc take them
APPARMOR_BUILTIN = ("generated", "unconfined")
APPARMOR_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/+-]{0,254}$")
IDMAP_KINDS = ("both", "uid", "gid")
ID_LIMIT = 2 ** 32 - 1  # (uid_t)-1 is no id: every mapped id is below it
_TARGET_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd"}

# top-level guest keys of this module, with what leaving them out means (None: unmanaged)
GUEST_KEYS = ("boot", "firmware", "secure_boot", "tpm", "graphics", "serial", "video", "guest_agent",
              "rng", "watchdog", "cpu_model", "cpu_features", "cpu_topology", "vcpu_pins", "emulator_pin",
              "numatune", "hugepage_size", "locked_memory", "iothreads", "hostdevs",
              "title", "description", "tags")
DISK_EXTRA = ("format", "target", "cache", "io", "discard", "serial", "iotune", "shareable")
NIC_EXTRA = ("direct", "mode", "vlan", "bandwidth", "mtu", "link")
# labels live in the metadata: nothing to apply to a running guest
CONFIG_ONLY = ("title", "description", "tags")
# what a disk / NIC is compared on (format and size are the backend's: sniffed, created)
DISK_VIEW = ("volume", "pool", "path", "device", "bus", "readonly", "target", "cache", "io", "discard",
             "serial", "iotune", "shareable")
NIC_VIEW = ("network", "bridge", "direct", "mode", "model", "mac", "vlan", "mtu", "link", "bandwidth")


def _err(msg, name, field):
    return SpecError(msg, name, field)


def _mapping(name, field, value, allowed):
    if not isinstance(value, dict):
        raise _err("expected a mapping, got %r" % (value,), name, field)
    _unknown_keys(name, field, value, allowed)
    return {k: v for k, v in value.items() if v is not None}


def cpuset(name, field, value):
    """'0-2,4' -> the canonical text libvirt writes back ('0-2,4'); ints are one CPU."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not CPUSET_RE.match(value.replace(" ", "")):
        raise _err("expected a CPU list like '0-3,6', got %r" % (value,), name, field)
    return format_cpuset(parse_cpuset(value))


def parse_cpuset(text):
    cpus = set()
    for part in text.replace(" ", "").split(","):
        lo, hi = (part.split("-", 1) + [None])[:2]
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def format_cpuset(cpus):
    out, run = [], []
    for c in sorted(cpus):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else "%d-%d" % (run[0], run[-1]))
        run = [c]
    if run:
        out.append(str(run[0]) if len(run) == 1 else "%d-%d" % (run[0], run[-1]))
    return ",".join(out)


# -- top-level keys ------------------------------------------------------------------------
def boot(name, field, value):
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, list) or not value:
        raise _err("expected a list of %s (in boot order)" % "|".join(BOOT_DEVICES), name, field)
    out = []
    for i, dev in enumerate(value):
        _choice(name, "%s[%d]" % (field, i), dev, BOOT_DEVICES)
        if dev in out:
            raise _err("%r is listed twice" % dev, name, field)
        out.append(dev)
    return out


def graphics(name, field, value):
    if isinstance(value, str):
        value = {"type": value}
    value = _mapping(name, field, value, ("type", "listen", "port", "password"))
    kind = _choice(name, field + ".type", value.get("type", "vnc"), GRAPHICS_TYPES)
    if kind == "none":
        extra = sorted(set(value) - {"type"})
        if extra:
            raise _err("type none takes no %s" % ", ".join(extra), name, field + "." + extra[0])
        return {"type": "none", "listen": None, "port": None, "password": None}
    listen = str(value.get("listen", "127.0.0.1"))
    if not re.match(r"^[0-9A-Fa-f.:]+$", listen):
        raise _err("expected an IP address to listen on, got %r" % listen, name, field + ".listen")
    port = value.get("port", "auto")
    port = None if port == "auto" else _int(name, field + ".port", port, 5900, 65535)
    password = value.get("password")
    if password is not None:
        password = _text(name, field + ".password", str(password), 64)
        if kind == "vnc" and len(password) > 8:
            raise _err("VNC uses at most 8 characters of a password; give 8 or fewer", name, field + ".password")
    return {"type": kind, "listen": listen, "port": port, "password": password}


def watchdog(name, field, value):
    if value is False or value == "false":
        return False
    if isinstance(value, str):
        value = {"action": value}
    value = _mapping(name, field, value, ("model", "action"))
    return {"model": _choice(name, field + ".model", value.get("model", "i6300esb"), WATCHDOG_MODELS),
            "action": _choice(name, field + ".action", value.get("action", "reset"), WATCHDOG_ACTIONS)}


def cpu_features(name, field, value):
    if isinstance(value, list):  # virt-install's spelling: ['+x2apic', '-svm']
        out = {}
        for i, item in enumerate(value):
            if not isinstance(item, str) or item[:1] not in "+-" or len(item) < 2:
                raise _err("expected '+feature' or '-feature', got %r" % (item,), name, "%s[%d]" % (field, i))
            out[item[1:]] = "force" if item[0] == "+" else "disable"
        value = out
    if not isinstance(value, dict):
        raise _err("expected a mapping of feature: policy (%s)" % "|".join(CPU_FEATURE_POLICIES), name, field)
    out = {}
    for feat, policy in value.items():
        if not isinstance(feat, str) or not FEATURE_RE.match(feat):
            raise _err("invalid CPU feature name %r" % (feat,), name, field)
        out[feat] = _choice(name, "%s.%s" % (field, feat), policy, CPU_FEATURE_POLICIES)
    return out


def cpu_topology(name, field, value):
    value = _mapping(name, field, value, ("sockets", "cores", "threads"))
    return {k: _int(name, "%s.%s" % (field, k), value.get(k, 1), 1, 4096) for k in ("sockets", "cores", "threads")}


def vcpu_pins(name, field, value):
    if not isinstance(value, dict):
        raise _err("expected a mapping of vCPU number: host CPU list", name, field)
    return {_int(name, field, k, 0): cpuset(name, "%s.%s" % (field, k), v) for k, v in value.items()}


def numatune(name, field, value):
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = {"nodeset": value}
    value = _mapping(name, field, value, ("mode", "nodeset"))
    if "nodeset" not in value:
        raise _err("nodeset is required (host NUMA nodes, e.g. '0')", name, field + ".nodeset")
    return {"mode": _choice(name, field + ".mode", value.get("mode", "strict"), NUMA_MODES),
            "nodeset": cpuset(name, field + ".nodeset", value["nodeset"])}


def hugepage_size(name, field, value):
    """A page size in KiB (what libvirt writes back): '2M' -> 2048, '1G' -> 1048576."""
    try:
        return parse_kib(value)
    except UnitError as e:
        raise _err("expected a page size such as 2M or 1G: %s" % e, name, field)


def hostdevs(name, field, value):
    if not isinstance(value, list):
        raise _err("expected a list of PCI devices", name, field)
    out = []
    for i, dev in enumerate(value):
        f = "%s[%d]" % (field, i)
        if isinstance(dev, dict):
            dev = _mapping(name, f, dev, ("pci",)).get("pci")
            f += ".pci"
        m = PCI_RE.match(str(dev).strip().lower()) if isinstance(dev, str) else None
        if not m:
            raise _err("malformed PCI address %r (expected [dddd:]bb:ss.f, e.g. 0000:03:00.0)" % (dev,), name, f)
        addr = "%s:%s:%s.%s" % (m.group(1) or "0000", m.group(2), m.group(3), m.group(4))
        if addr in out:
            raise _err("%s is listed twice" % addr, name, f)
        out.append(addr)
    return out


def tags(name, field, value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _err("expected a list of tags", name, field)
    for i, t in enumerate(value):
        if not isinstance(t, str) or not TAG_RE.match(t):
            raise _err("invalid tag %r (letters, digits and _.:=-, up to 63)" % (t,), name, "%s[%d]" % (field, i))
    return sorted(set(value))


def apparmor_profile(name, field, value):
    """``generated``, ``unconfined`` or the name of a loaded AppArmor profile (host check: the backend)."""
    if not isinstance(value, str) or not APPARMOR_RE.match(value):
        raise _err("expected generated, unconfined or an AppArmor profile name (letters, digits and _.:/+-), got %r"
                   % (value,), name, field)
    return value


def canonical_idmap(entries):
    """[(u|g, container, host, count)] -> the model's sorted list of {kind, container, host, count};
    a range mapped for both uids and gids is one ``both`` item."""
    uids = {e[1:] for e in entries if e[0] == "u"}
    gids = {e[1:] for e in entries if e[0] == "g"}
    out = [(r, "both") for r in uids & gids] + [(r, "uid") for r in uids - gids] + [(r, "gid") for r in gids - uids]
    return [{"kind": k, "container": r[0], "host": r[1], "count": r[2]}
            for r, k in sorted(out, key=lambda x: (x[0], IDMAP_KINDS.index(x[1])))]


def idmap_lines(idmap):
    """The model's id map as ``lxc.idmap`` values (``u 0 100000 65536``), uid ranges first."""
    return (["u %(container)d %(host)d %(count)d" % e for e in idmap if e["kind"] in ("both", "uid")]
            + ["g %(container)d %(host)d %(count)d" % e for e in idmap if e["kind"] in ("both", "gid")])


def idmap(name, field, value):
    """An unprivileged container's id map: [{kind: both|uid|gid, container, host, count}]; [] is none
    (a privileged container). Ranges may not overlap on either side, container root (0) must be
    mapped for uids and gids, and host id 0 never is (that container would be root on the host)."""
    if not isinstance(value, list):
        raise _err("expected a list of ranges (kind, container, host, count), [] for none", name, field)
    ranges = []
    for i, item in enumerate(value):
        f = "%s[%d]" % (field, i)
        item = _mapping(name, f, item, ("kind", "container", "host", "count"))
        kind = _choice(name, f + ".kind", item.get("kind", "both"), IDMAP_KINDS)
        for key in ("container", "host", "count"):
            if key not in item:
                raise _err("%s is required (e.g. container: 0, host: 100000, count: 65536)" % key, name, f + "." + key)
        start = _int(name, f + ".container", item["container"], 0, ID_LIMIT - 1)
        host = _int(name, f + ".host", item["host"], 0, ID_LIMIT - 1)
        count = _int(name, f + ".count", item["count"], 1, ID_LIMIT)
        for key, base in (("container", start), ("host", host)):
            if base + count > ID_LIMIT:
                raise _err("%s + count passes the last id %d" % (key, ID_LIMIT - 1), name, f + ".count")
        if host == 0:
            raise _err("maps host id 0: the container's ids would include the host's root; map subordinate "
                       "ids (e.g. host: 100000)", name, f + ".host")
        ranges.append((i, kind, start, host, count))
    for kind in ("uid", "gid"):
        mine = [r for r in ranges if r[1] in (kind, "both")]
        for side, at in (("container", 2), ("host", 3)):
            spans = sorted(mine, key=lambda r, at=at: r[at])
            for a, b in zip(spans, spans[1:]):
                if b[at] < a[at] + a[4]:
                    first, later = sorted((a[0], b[0]))
                    raise _err("overlaps %s[%d]: %s %ss %d-%d are mapped twice" % (
                        field, first, side, kind, b[at], min(a[at] + a[4], b[at] + b[4]) - 1),
                        name, "%s[%d]" % (field, later))
        if ranges and not any(r[2] == 0 for r in mine):
            raise _err("no range maps the container's root %s 0 (an unprivileged container needs one: "
                       "container: 0)" % kind, name, field)
    return canonical_idmap([(k, s, h, n) for _i, kind, s, h, n in ranges
                            for k in ("u", "g") if kind in ("both", {"u": "uid", "g": "gid"}[k])])


_PARSERS = {
    "boot": boot,
    "firmware": lambda n, f, v: _choice(n, f, v, FIRMWARES),
    "secure_boot": _bool, "tpm": _bool, "serial": _bool, "guest_agent": _bool, "rng": _bool,
    "locked_memory": _bool,
    "graphics": graphics,
    "video": lambda n, f, v: _choice(n, f, v, VIDEO_MODELS),
    "watchdog": watchdog,
    "cpu_model": lambda n, f, v: _text(n, f, v, 64),
    "cpu_features": cpu_features,
    "cpu_topology": cpu_topology,
    "vcpu_pins": vcpu_pins,
    "emulator_pin": cpuset,
    "numatune": numatune,
    "hugepage_size": hugepage_size,
    "iothreads": lambda n, f, v: _int(n, f, v, 0, 1024),
    "hostdevs": hostdevs,
    "title": lambda n, f, v: _text(n, f, v, 256),
    "description": lambda n, f, v: _text(n, f, v, 4096),
    "tags": tags,
    "cpuset": cpuset,
    "apparmor_profile": apparmor_profile,
    "idmap": idmap,
}


def parser(key):
    """The parser of a top-level key (the ``parse`` of its row in _model.GUEST_FIELDS)."""
    return _PARSERS[key]


def guest_rules(name, g):
    """Cross-field rules of the keys of this module on a parsed guest ``g``: secure_boot needs
    uefi, a topology adds up to the vCPUs, a page size needs hugepages..."""
    if g.get("title") is not None and "\n" in g.get("title"):
        raise _err("a title is one line", name, "title")
    if g.get("nesting") and g.get("apparmor_profile") == "generated":
        # the generated profile replaces nesting.conf's; it allows a nested container only with allow_nesting
        if g.get("apparmor_allow_nesting") is False:
            raise _err("nesting with apparmor_profile generated needs the generated profile to allow it: leave "
                       "apparmor_allow_nesting out (or true)", name, "apparmor_allow_nesting")
        g["apparmor_allow_nesting"] = True
    if g.get("secure_boot") and g.get("firmware") != "uefi":
        raise _err("needs firmware: uefi", name, "secure_boot")
    if g.get("hugepage_size") is not None and not g.get("hugepages"):
        raise _err("needs hugepages: true", name, "hugepage_size")
    if g.get("cpu_features") and not g.get("cpu_model") and g.get("cpu_mode") in (None, "default"):
        raise _err("needs cpu_model (or cpu_mode host-model/host-passthrough)", name, "cpu_features")
    if g.get("cpu_model") and g.get("cpu_mode") not in (None, "default"):
        raise _err("cpu_model names a custom CPU; it cannot go with cpu_mode %s" % g.get("cpu_mode"),
                   name, "cpu_model")
    vcpus = g.get("max_vcpus") or g.get("vcpus")
    if g.get("cpu_topology") is not None and vcpus is not None:
        t = g["cpu_topology"]
        total = t["sockets"] * t["cores"] * t["threads"]
        if total != vcpus:
            raise _err("sockets*cores*threads = %d, but the guest has %d vCPUs (max_vcpus or vcpus)"
                       % (total, vcpus), name, "cpu_topology")
    if g.get("vcpu_pins") and vcpus is not None:
        bad = sorted(v for v in g.get("vcpu_pins") if v >= vcpus)
        if bad:
            raise _err("vCPU %d does not exist (the guest has %d)" % (bad[0], vcpus), name, "vcpu_pins")
    return g


def validate_disk(name, field, raw, disk):
    """The tuning keys of one disk (``raw`` the user's mapping, ``disk`` the normalised one)."""
    disk["format"] = None
    if raw.get("format") is not None:
        disk["format"] = _choice(name, field + ".format", raw["format"], DISK_FORMATS)
    tgt = raw.get("target")
    disk["target"] = None
    if tgt is not None:
        if not isinstance(tgt, str) or not TARGET_RE.match(tgt):
            raise _err("expected a device name like vda, sdb or hdc, got %r" % (tgt,), name, field + ".target")
        if not tgt.startswith(_TARGET_PREFIX[disk["bus"]]):
            raise _err("%r does not name a %s disk (use %s...)" % (tgt, disk["bus"], _TARGET_PREFIX[disk["bus"]]),
                       name, field + ".target")
        disk["target"] = tgt
    for key, choices in (("cache", DISK_CACHES), ("io", DISK_IOS), ("discard", DISK_DISCARDS)):
        disk[key] = None if raw.get(key) is None else _choice(name, field + "." + key, raw[key], choices)
    disk["serial"] = None
    if raw.get("serial") is not None:
        disk["serial"] = str(raw["serial"])
        if not re.match(r"^[A-Za-z0-9_.+-]{1,20}$", disk["serial"]):
            raise _err("expected up to 20 of A-Za-z0-9_.+-, got %r" % disk["serial"], name, field + ".serial")
    disk["shareable"] = None if raw.get("shareable") is None else _bool(name, field + ".shareable", raw["shareable"])
    if disk["shareable"] is False:
        disk["shareable"] = None
    disk["iotune"] = None
    if raw.get("iotune") is not None:
        tune = _mapping(name, field + ".iotune", raw["iotune"], IOTUNE_KEYS)
        for kind in ("bytes", "iops"):
            if "total_%s_sec" % kind in tune and ("read_%s_sec" % kind in tune or "write_%s_sec" % kind in tune):
                raise _err("total_%s_sec cannot go with read_/write_%s_sec" % (kind, kind), name, field + ".iotune")
        tune = {k: _int(name, "%s.iotune.%s" % (field, k), v, 0) for k, v in tune.items()}
        disk["iotune"] = {k: v for k, v in tune.items() if v} or None
    if disk["device"] == "cdrom":
        for key in ("iotune", "shareable", "discard"):
            if disk[key] is not None:
                raise _err("not for a cdrom", name, field + "." + key)
    return disk


def validate_nic(name, field, raw, nic):
    nic["direct"] = None if raw.get("direct") is None else str(raw["direct"])
    nic["mode"] = None
    if raw.get("mode") is not None:
        if nic["direct"] is None:
            raise _err("only with direct (a macvtap interface)", name, field + ".mode")
        nic["mode"] = _choice(name, field + ".mode", raw["mode"], DIRECT_MODES)
    elif nic["direct"] is not None:
        nic["mode"] = "vepa"  # libvirt's default, written back explicitly
    nic["vlan"] = None if raw.get("vlan") is None else _int(name, field + ".vlan", raw["vlan"], 1, 4094)
    nic["mtu"] = None if raw.get("mtu") is None else _int(name, field + ".mtu", raw["mtu"], 68, 65535)
    link = raw.get("link")
    if isinstance(link, bool):
        link = "up" if link else "down"
    nic["link"] = None if link in (None, "up") else _choice(name, field + ".link", link, LINK_STATES)
    nic["bandwidth"] = None
    if raw.get("bandwidth") is not None:
        bw = _mapping(name, field + ".bandwidth", raw["bandwidth"], ("inbound", "outbound"))
        out = {}
        for way, val in bw.items():
            f = "%s.bandwidth.%s" % (field, way)
            if isinstance(val, int) and not isinstance(val, bool):
                val = {"average": val}
            val = _mapping(name, f, val, BANDWIDTH_KEYS)
            if "average" not in val:
                raise _err("average (KiB/s) is required", name, f + ".average")
            val = {k: _int(name, "%s.%s" % (f, k), v, 1, 2 ** 32 - 1) for k, v in val.items()}
            out[way] = val
        nic["bandwidth"] = out or None
    return nic


# -- comparing by meaning ------------------------------------------------------------------
def disk_view(disk, target=True):
    return {k: disk.get(k) for k in DISK_VIEW if target or k != "target"}


def same_disk(want, have):
    """By meaning: a target left out is libvirt's choice, not a change."""
    return disk_view(want, want.get("target") is not None) == disk_view(have, want.get("target") is not None)


def same_disks(want, have):
    return have is not None and len(want) == len(have) and all(same_disk(w, h) for w, h in zip(want, have))


def nic_view(nic):
    return {k: nic.get(k) for k in NIC_VIEW}


def same_nics(want, have):
    return have is not None and [nic_view(n) for n in want] == [nic_view(n) for n in have]
