# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LXC container config <-> the guest model, both ways. Pure: no I/O, no randomness.

A container config is ``key = value`` lines. liblxc ignores lines starting with ``#`` (and
lines without ``=``), strips one pair of quotes around a value, and lets list keys repeat
(``lxc.mount.entry``, ``lxc.cap.drop`` ...). ``parse`` keeps every line, comments too, so
``render`` edits the file in place: it drops the lines virtfleet manages and appends them
rendered from the model; template-written keys, comments and their order stay as they were.
Comparisons go through ``to_model`` and ``meaning``, never through text.

What virtfleet manages in the file:

==============  ===========================================================================
autostart       ``lxc.start.auto``
memory          ``lxc.cgroup.memory.limit_in_bytes`` (cgroup v1) / ``lxc.cgroup2.memory.max``
vcpus           a CPU bandwidth quota: ``lxc.cgroup.cpu.cfs_quota_us`` over ``cfs_period_us``
                (v1) / ``lxc.cgroup2.cpu.max`` (v2), ``vcpus`` x 100 ms per 100 ms
cpu_shares      ``lxc.cgroup.cpu.shares`` (v1) / ``lxc.cgroup2.cpu.weight`` (v2, converted)
interfaces      ``lxc.net.N.{type,link,flags,hwaddr}``: a veth pair on a host bridge
disks           ``lxc.mount.entry = /src src none bind,create=dir[,ro] 0 0`` (same path inside)
config          the user's raw ``lxc.*`` keys (each key's whole list of values)
cpuset          ``lxc.cgroup.cpuset.cpus`` (v1) / ``lxc.cgroup2.cpuset.cpus`` (v2): the host CPUs
nesting         ``lxc.include = <lxc config dir>/nesting.conf`` (AppArmor profile with nesting,
                /proc and /sys mounted again under dev/.lxc for a container inside)
apparmor_*      ``lxc.apparmor.profile`` (after the nesting include: it wins), ``lxc.apparmor.allow_nesting``
idmap           ``lxc.idmap = u|g <container> <host> <count>`` (set when the container is made)
==============  ===========================================================================

``cpuset``, ``nesting``, ``apparmor_*`` and ``idmap`` left out of a spec (None) are not managed:
their lines stay as they are.
"""

from __future__ import annotations

import re

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import (
    bytes_to_mib_ratio, cgroup_bytes, mib_to_bytes)

CPU_PERIOD = 100000  # microseconds: vcpus=N is N x 100 ms of CPU time per 100 ms
AUTOSTART_KEY = "lxc.start.auto"
MOUNT_KEY = "lxc.mount.entry"
HEADER = "# virtfleet.hypervisor manages the keys below (and virtfleet.json); other keys are kept"
CGROUP_PREFIX = {1: "lxc.cgroup.", 2: "lxc.cgroup2."}
# cgroup files of each limit, per cgroup version
LIMIT_FILES = {
    1: {"memory": ("memory.limit_in_bytes",), "vcpus": ("cpu.cfs_period_us", "cpu.cfs_quota_us"),
        "cpu_shares": ("cpu.shares",), "cpuset": ("cpuset.cpus",)},
    2: {"memory": ("memory.max",), "vcpus": ("cpu.max",), "cpu_shares": ("cpu.weight",),
        "cpuset": ("cpuset.cpus",)},
}
CPUSET_KEYS = frozenset(CGROUP_PREFIX[v] + "cpuset.cpus" for v in CGROUP_PREFIX)
INCLUDE_KEY = "lxc.include"
NESTING_CONF = "/usr/share/lxc/config/nesting.conf"  # LXC 4.0 - 6.0 on Debian/Ubuntu
APPARMOR_KEY = "lxc.apparmor.profile"
ALLOW_NESTING_KEY = "lxc.apparmor.allow_nesting"
IDMAP_KEY = "lxc.idmap"
# config keys of model options: the field a line belongs to (managed only when the spec names it)
OPTION_KEYS = {APPARMOR_KEY: "apparmor_profile", ALLOW_NESTING_KEY: "apparmor_allow_nesting", IDMAP_KEY: "idmap"}
LIMIT_KEYS = frozenset(CGROUP_PREFIX[v] + f for v, fields in LIMIT_FILES.items()
                       for files in fields.values() for f in files)
NET_RE = re.compile(r"^lxc\.net\.(\d+)\.(.+)$")
NIC_SUBKEYS = ("type", "link", "flags", "hwaddr")
KEY_RE = re.compile(r"^lxc(\.[A-Za-z0-9_-]+)+$")
# top-level namespaces of lxc.container.conf(5), LXC 4.0 - 6.0
NAMESPACES = ("apparmor", "arch", "autodev", "cap", "cgroup", "cgroup2", "console", "environment", "ephemeral",
              "execute", "group", "hook", "idmap", "include", "init", "keyring", "log", "monitor", "mount",
              "namespace", "net", "no_new_privs", "prlimit", "proc", "pty", "rootfs", "sched", "seccomp",
              "selinux", "signal", "start", "sysctl", "time", "tty", "uts")
_UNLIMITED = 1 << 62  # cgroup v1 reports "no limit" as PAGE_COUNTER_MAX pages (~2^63 bytes)


# -- lines ---------------------------------------------------------------------------------
def normalize_value(value):
    """A value as liblxc reads it: surrounding blanks and one pair of quotes removed."""
    value = value.strip()
    if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def parse(text):
    """Lines of a config as (key, value, text); key and value are None for comments, blank
    lines and lines liblxc ignores."""
    lines = []
    for raw in text.splitlines():
        s = raw.strip()
        if not s or s.startswith("#") or "=" not in s:
            lines.append((None, None, raw))
            continue
        key, _sep, value = s.partition("=")
        lines.append((key.strip(), normalize_value(value), raw))
    return lines


def entries(lines):
    return [(k, v) for k, v, _t in lines if k is not None]


def meaning(lines):
    """What a config means to liblxc: each key's values in order; key order, comments and
    spacing do not matter."""
    out = {}
    for k, v in entries(lines):
        out.setdefault(k, []).append(v)
    return out


# -- limits --------------------------------------------------------------------------------
def shares_to_weight(shares):
    """cgroup v1 cpu.shares (2..262144) -> v2 cpu.weight (1..10000), the kernel's/systemd's mapping."""
    return 1 + ((shares - 2) * 9999) // 262142


def weight_to_shares(weight):
    """The smallest shares value that maps to ``weight`` (so weight -> shares -> weight is exact)."""
    return 2 + ((weight - 1) * 262142 + 9998) // 9999


def _ratio(num, den):
    return num // den if num % den == 0 else round(float(num) / den, 3)


def limit_settings(version, field, value):
    """[(cgroup file, value)] that set one limit field, in the order they must be written."""
    if value is None:
        return []
    if field == "memory":
        return [(LIMIT_FILES[version]["memory"][0], str(mib_to_bytes(value)))]
    if field == "vcpus":
        quota = int(value * CPU_PERIOD)
        if version == 1:
            return [("cpu.cfs_period_us", str(CPU_PERIOD)), ("cpu.cfs_quota_us", str(quota))]
        return [("cpu.max", "%d %d" % (quota, CPU_PERIOD))]
    if field == "cpu_shares":
        return [("cpu.shares", str(value))] if version == 1 else [("cpu.weight", str(shares_to_weight(value)))]
    if field == "cpuset":
        return [("cpuset.cpus", value)]
    raise ValueError("not a limit field: %s" % field)


def limits(version, get):
    """memory (MiB), vcpus, cpu_shares (and cpuset when it has a value) from cgroup values; ``get(file)`` returns the raw
    value of a cgroup file (from the config or the live cgroup) or None. No limit -> None."""
    out = {"memory": None, "vcpus": None, "cpu_shares": None}  # and cpuset, when set
    mem = cgroup_bytes(get(LIMIT_FILES[version]["memory"][0]))
    if mem is not None and 0 < mem < _UNLIMITED:
        out["memory"] = bytes_to_mib_ratio(mem)
    try:
        if version == 1:
            quota, period = int(get("cpu.cfs_quota_us") or -1), int(get("cpu.cfs_period_us") or CPU_PERIOD)
        else:
            parts = (get("cpu.max") or "max").split()
            quota = -1 if parts[0] == "max" else int(parts[0])
            period = int(parts[1]) if len(parts) > 1 else CPU_PERIOD
        if quota > 0 and period > 0:
            out["vcpus"] = _ratio(quota, period)
    except ValueError:
        pass
    shares = get("cpu.shares" if version == 1 else "cpu.weight")
    if shares and shares.strip().isdigit():
        out["cpu_shares"] = int(shares) if version == 1 else weight_to_shares(int(shares))
    cpus = (get("cpuset.cpus") or "").strip()
    if cpus and mdev.CPUSET_RE.match(cpus.replace(" ", "")):
        out["cpuset"] = mdev.format_cpuset(mdev.parse_cpuset(cpus))
    return out


# -- disks ---------------------------------------------------------------------------------
_DISK_OPTS = [frozenset(("bind", "create=" + kind) + ro) for kind in ("dir", "file") for ro in ((), ("ro",))]


def disk_entry(disk):
    """The lxc.mount.entry value of a disk: the host path bound at the same path inside."""
    path = disk["path"]
    ro = ",ro" if disk["readonly"] else ""
    return "%s %s none bind,create=%s%s 0 0" % (path, path.lstrip("/"), disk.get("kind") or "dir", ro)


def disk_from_entry(value):
    """The disk of a mount entry virtfleet renders, or None for any other mount entry."""
    fields = value.split()
    if len(fields) not in (4, 5, 6) or not fields[0].startswith("/") or fields[2] != "none":
        return None
    opts = frozenset(fields[3].split(","))
    if fields[1] != fields[0].lstrip("/") or not fields[1] or opts not in _DISK_OPTS:
        return None
    return {"volume": None, "pool": None, "path": fields[0], "device": "disk", "readonly": "ro" in opts,
            "bus": "virtio", "kind": "file" if "create=file" in opts else "dir"}


# -- model ---------------------------------------------------------------------------------
def is_nesting(key, value):
    return key == INCLUDE_KEY and value.rstrip("/").endswith("/nesting.conf")


def _is_managed(key, value, desired=None):
    desired = desired or {}
    if key in CPUSET_KEYS:
        return desired.get("cpuset") is not None
    if is_nesting(key, value):
        return desired.get("nesting") is not None
    if key in OPTION_KEYS:
        return desired.get(OPTION_KEYS[key]) is not None
    if key in (AUTOSTART_KEY, "lxc.net") or key in LIMIT_KEYS:
        return True
    m = NET_RE.match(key)
    if m and m.group(2) in NIC_SUBKEYS:
        return True
    return key == MOUNT_KEY and disk_from_entry(value) is not None


def _nics(pairs):
    nets = {}
    for k, v in pairs:
        if k == "lxc.net" and v == "":
            nets = {}
            continue
        m = NET_RE.match(k)
        if m and m.group(2) in NIC_SUBKEYS:
            nets.setdefault(int(m.group(1)), {})[m.group(2)] = v
    out = []
    for idx in sorted(nets):
        net = nets[idx]
        kind = net.get("type") or "veth"
        if kind in ("empty", "none") and len(net) == 1:
            continue
        mac = (net.get("hwaddr") or "").lower() or None
        if mac and "x" in mac:  # a template liblxc fills at random on every load: not a fixed MAC
            mac = None
        out.append({"network": None, "bridge": net.get("link") if kind == "veth" else None,
                    "model": "virtio" if kind == "veth" else kind, "mac": mac})
    return out


def idmap_of(pairs):
    """The model's id map from the ``lxc.idmap`` lines (an empty value clears the list, as liblxc
    reads it); a malformed line is left out (liblxc refuses to start such a container)."""
    out = []
    for k, v in pairs:
        if k != IDMAP_KEY:
            continue
        f = v.split()
        if not f:
            out = []
        elif len(f) == 4 and f[0] in ("u", "g") and all(x.isdigit() for x in f[1:]):
            out.append((f[0], int(f[1]), int(f[2]), int(f[3])))
    return mdev.canonical_idmap(out)


def to_model(lines, version, raw_keys=(), want_keys=()):
    """The managed fields of a config as a guest-model dict.

    ``config`` holds the raw keys in ``want_keys`` (always, [] when absent) and those in
    ``raw_keys`` (the ones virtfleet set before) that still have values."""
    pairs = entries(lines)
    vals = meaning(lines)
    prefix = CGROUP_PREFIX[version]

    def last(key):
        return vals[key][-1] if vals.get(key) else None

    g = {"autostart": (last(AUTOSTART_KEY) or "0").strip() not in ("", "0")}
    g.update(limits(version, lambda f: last(prefix + f)))
    g["interfaces"] = _nics(pairs)
    disks = []
    for k, v in pairs:
        if k == MOUNT_KEY:
            if v == "":
                disks = []
            elif disk_from_entry(v):
                disks.append(disk_from_entry(v))
    g["disks"] = disks
    g["nesting"] = any(is_nesting(k, v) for k, v in pairs)
    g["apparmor_profile"] = last(APPARMOR_KEY) or None
    g["apparmor_allow_nesting"] = (last(ALLOW_NESTING_KEY) or "0").strip() not in ("", "0")
    g["idmap"] = idmap_of(pairs)
    config = {}
    for key in sorted(set(raw_keys) | set(want_keys)):
        values = [v for v in vals.get(key, []) if not (key == MOUNT_KEY and disk_from_entry(v)) and not is_nesting(key, v)]
        if key in want_keys or values:
            config[key] = values
    g["config"] = config
    return g


def render(lines, desired, version, old_raw_keys=()):
    """New config text: ``lines`` without what virtfleet manages, then the managed keys of
    ``desired``. ``desired['config']`` None leaves raw keys alone; a dict replaces the keys
    it names and removes those of ``old_raw_keys`` it no longer names."""
    raw = desired.get("config")
    drop = set(old_raw_keys) | set(raw) if raw is not None else set()
    nics = desired.get("interfaces") or []
    kept = []
    for key, value, text in lines:
        if key is None:
            if text.strip() == HEADER:
                continue
        elif _is_managed(key, value, desired) or key in drop:
            continue
        elif NET_RE.match(key) and int(NET_RE.match(key).group(1)) >= len(nics):
            continue  # a setting of an interface that is no longer declared
        if not text.strip() and (not kept or not kept[-1].strip()):
            continue
        kept.append(text)
    while kept and not kept[-1].strip():
        kept.pop()
    block = [HEADER, "%s = %d" % (AUTOSTART_KEY, 1 if desired.get("autostart") else 0)]
    if desired.get("nesting"):
        block.append("%s = %s" % (INCLUDE_KEY, NESTING_CONF))
    if desired.get("apparmor_profile") is not None:
        block.append("%s = %s" % (APPARMOR_KEY, desired["apparmor_profile"]))
    if desired.get("apparmor_allow_nesting") is not None:
        block.append("%s = %d" % (ALLOW_NESTING_KEY, 1 if desired["apparmor_allow_nesting"] else 0))
    for value in mdev.idmap_lines(desired.get("idmap") or []):
        block.append("%s = %s" % (IDMAP_KEY, value))
    for field in ("memory", "vcpus", "cpu_shares", "cpuset"):
        for name, value in limit_settings(version, field, desired.get(field)):
            block.append("%s%s = %s" % (CGROUP_PREFIX[version], name, value))
    for i, nic in enumerate(nics):
        block += ["lxc.net.%d.type = veth" % i, "lxc.net.%d.link = %s" % (i, nic["bridge"]),
                  "lxc.net.%d.flags = up" % i]
        if nic.get("mac"):
            block.append("lxc.net.%d.hwaddr = %s" % (i, nic["mac"]))
    for disk in desired.get("disks") or []:
        block.append("%s = %s" % (MOUNT_KEY, disk_entry(disk)))
    for key in sorted(raw or {}):
        block += ["%s = %s" % (key, v) for v in raw[key]]
    return "\n".join(kept + ([""] if kept else []) + block) + "\n"


# -- raw config validation -----------------------------------------------------------------
_MANAGED_HINT = (
    (lambda k: k == AUTOSTART_KEY, "autostart"),
    (lambda k: k.endswith("memory.limit_in_bytes") or k.endswith("memory.max"), "memory"),
    (lambda k: k.endswith(("cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.max")), "vcpus"),
    (lambda k: k.endswith(("cpu.shares", "cpu.weight")), "cpu_shares"),
    (lambda k: k.endswith("cpuset.cpus"), "cpuset"),
)


def _value(name, field, value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise SpecError("a value cannot span lines", name, field)
        return normalize_value(value)
    raise SpecError("values must be strings, integers or booleans (or a list of them), got %r" % (value,),
                    name, field)


def normalize_config(name, raw, n_interfaces):
    """Validate the ``config`` option: {lxc.key: value or [values]} -> {key: [str]}.
    Raises SpecError naming ``config.<key>``."""
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping of lxc.* keys to values, got %r" % (raw,), name, "config")
    out = {}
    for key in sorted(raw, key=str):
        field = "config.%s" % (key,)
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise SpecError("keys must be LXC config keys starting with 'lxc.' (see lxc.container.conf(5))",
                            name, field)
        if key.split(".")[1] not in NAMESPACES:
            raise SpecError("unknown LXC config key namespace 'lxc.%s' (see lxc.container.conf(5))"
                            % key.split(".")[1], name, field)
        if key == AUTOSTART_KEY or key in LIMIT_KEYS:
            option = [opt for test, opt in _MANAGED_HINT if test(key)][0]
            raise SpecError("managed by virtfleet: use the '%s' option" % option, name, field)
        if key in OPTION_KEYS:
            raise SpecError("managed by virtfleet: use the '%s' option" % OPTION_KEYS[key], name, field)
        if key == INCLUDE_KEY and any(is_nesting(key, _value(name, field, v))
                                      for v in (raw[key] if isinstance(raw[key], list) else [raw[key]])):
            raise SpecError("managed by virtfleet: use the 'nesting' option", name, field)
        m = NET_RE.match(key)
        if key == "lxc.net" or (m and m.group(2) in NIC_SUBKEYS) or key.startswith("lxc.network"):
            raise SpecError("managed by virtfleet: use 'interfaces' (other lxc.net.N.* settings of a "
                            "declared interface are allowed)", name, field)
        if m and int(m.group(1)) >= n_interfaces:
            raise SpecError("interface %s is not declared (interfaces has %d item(s))" % (m.group(1), n_interfaces),
                            name, field)
        if key.startswith("lxc.rootfs"):
            raise SpecError("the rootfs is set when the container is created (template or rootfs) and never "
                            "changed by virtfleet", name, field)
        values = raw[key] if isinstance(raw[key], list) else [raw[key]]
        out[key] = [_value(name, field, v) for v in values]
        if key == MOUNT_KEY:
            for v in out[key]:
                if disk_from_entry(v):
                    raise SpecError("%r is a bind mount at the same path: declare it in 'disks'" % v, name, field)
    return out
