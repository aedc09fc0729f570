# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data models of networks, storage pools and volumes: validation and normalisation.

Each kind's keys are declared once, in a field table (``NETWORK_FIELDS``...) that also gives
the modules' argspecs and the typed shapes; ``*_from_params`` returns a normalised spec of
that shape or raises ``SpecError(kind, name, field)``."""

from __future__ import annotations

import ipaddress

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import (
    MAC_RE, NAME_RE, SEED_FIELDS, Field, _abspath, _bool, _size, integer, parse_fields, typed)

FORWARD_MODES = ("nat", "route", "bridge", "isolated")
NET_STATES = ("active", "inactive", "absent")
POOL_TYPES = ("dir",)
VOLUME_FORMATS = ("qcow2", "raw")
_NAME = Field("name", required=True, role="control")
_AUTOSTART = Field("autostart", "bool", bool, default=True, parse=_bool, role="common")

DHCP_HOST_FIELDS = (Field("mac", required=True), Field("ip", required=True), Field("name"))
DHCP_FIELDS = (Field("start", required=True), Field("end", required=True),
               Field("hosts", "list", list, default=[], elements="dict", options=DHCP_HOST_FIELDS))
NETWORK_FIELDS = (
    _NAME,
    Field("state", default="active", choices=NET_STATES, role="control"),
    _AUTOSTART,
    Field("forward", default="nat", choices=FORWARD_MODES),
    Field("bridge"),
    Field("ip"),
    Field("netmask"),
    Field("dhcp", "dict", dict, options=DHCP_FIELDS),  # read by _dhcp: it needs ip and netmask
    Field("mtu", "int", int, parse=integer(68, 65535)),
    Field("recreate", "bool", bool, default=False, parse=_bool, role="control"),
)
POOL_FIELDS = (
    _NAME,
    Field("state", default="active", choices=NET_STATES, role="control"),
    _AUTOSTART,
    Field("type", default="dir", choices=POOL_TYPES),
    Field("path", "path", parse=_abspath),
    Field("mode", default="0711"),
)
VOLUME_FIELDS = (
    _NAME,
    Field("pool", default="default", role="control"),
    Field("state", default="present", choices=("present", "absent"), role="control"),
    Field("size", "raw", int, parse=_size),
    Field("format", default="qcow2", choices=VOLUME_FORMATS),
    Field("backing"),
    Field("source", "path", parse=_abspath, role="control"),
)
# the cloud_init module: a seed volume (SEED_FIELDS, shared with a guest's cloud_init key)
CLOUD_INIT_FIELDS = (_NAME, Field("state", default="present", choices=("present", "absent"), role="control")) \
    + SEED_FIELDS


def _compared(fields):
    return tuple(f.name for f in fields if f.role in ("common", "compared"))


NETWORK_COMPARED = _compared(NETWORK_FIELDS)
POOL_COMPARED = _compared(POOL_FIELDS)
VOLUME_COMPARED = _compared(VOLUME_FIELDS)
NetworkSpec = typed("NetworkSpec", NETWORK_FIELDS)
PoolSpec = typed("PoolSpec", POOL_FIELDS)
VolumeSpec = typed("VolumeSpec", VOLUME_FIELDS)


def _err(kind, name, field, msg):
    return SpecError(msg, name, field, kind=kind)


def _common(kind, raw, fields):
    """Name checked, then the spec read through its field table; errors name the kind."""
    if not isinstance(raw, dict):
        raise SpecError("a %s spec must be a mapping, got %r" % (kind, raw), kind=kind)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _err(kind, name if isinstance(name, str) else None, "name",
                   "invalid name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (name,))
    try:
        spec = parse_fields(name, "", {k: v for k, v in raw.items() if v is not None}, fields)
    except SpecError as e:
        e.kind = kind
        raise
    return name, spec


def network_from_params(raw):
    name, n = _common("network", raw, NETWORK_FIELDS)
    if n["bridge"] is not None and not (isinstance(n["bridge"], str) and 0 < len(n["bridge"]) <= 15
                                        and NAME_RE.match(n["bridge"])):
        raise _err("network", name, "bridge", "invalid bridge name %r (1-15 characters)" % (n["bridge"],))
    if n["forward"] == "bridge":
        if not n["bridge"]:
            raise _err("network", name, "bridge", "forward: bridge needs the name of an existing host bridge")
        for key in ("ip", "netmask", "dhcp"):
            if n[key] is not None:
                raise _err("network", name, key, "a forward: bridge network has no addresses of its own")
    if n["ip"] is not None:
        try:
            addr = ipaddress.IPv4Address(str(n["ip"]))
        except ValueError:
            raise _err("network", name, "ip", "not an IPv4 address: %r" % (n["ip"],))
        mask = n["netmask"] if n["netmask"] is not None else "255.255.255.0"
        try:
            net = ipaddress.IPv4Network("%s/%s" % (addr, mask), strict=False)
        except ValueError:
            raise _err("network", name, "netmask", "not a netmask or prefix length: %r" % (mask,))
        n["ip"], n["netmask"] = str(addr), str(net.netmask)
    elif n["netmask"] is not None:
        raise _err("network", name, "netmask", "needs ip")
    if n["dhcp"] is not None:
        n["dhcp"] = _dhcp(name, n)
    return n


def _dhcp(name, n):
    dhcp = n["dhcp"]
    if not isinstance(dhcp, dict):
        raise _err("network", name, "dhcp", "expected a mapping with start, end and optional hosts")
    extra = sorted(set(dhcp) - {"start", "end", "hosts"})
    if extra:
        raise _err("network", name, "dhcp", "unknown key(s) %s" % ", ".join(extra))
    if n["ip"] is None:
        raise _err("network", name, "dhcp", "needs ip (the network's own address)")
    net = ipaddress.IPv4Network("%s/%s" % (n["ip"], n["netmask"]), strict=False)
    out = {"start": None, "end": None, "hosts": []}
    for key in ("start", "end"):
        if dhcp.get(key) is None:
            raise _err("network", name, "dhcp." + key, "required")
        try:
            out[key] = ipaddress.IPv4Address(str(dhcp[key]))
        except ValueError:
            raise _err("network", name, "dhcp." + key, "not an IPv4 address: %r" % (dhcp[key],))
        if out[key] not in net:
            raise _err("network", name, "dhcp." + key, "%s is outside %s" % (out[key], net))
    if out["start"] > out["end"]:
        raise _err("network", name, "dhcp", "start %s is after end %s" % (out["start"], out["end"]))
    out["start"], out["end"] = str(out["start"]), str(out["end"])
    seen = set()
    for i, host in enumerate(dhcp.get("hosts") or []):
        field = "dhcp.hosts[%d]" % i
        if not isinstance(host, dict) or set(host) - {"mac", "ip", "name"}:
            raise _err("network", name, field, "expected a mapping with mac, ip and optional name")
        mac = str(host.get("mac", "")).lower()
        if not MAC_RE.match(mac):
            raise _err("network", name, field + ".mac", "invalid MAC address %r" % (host.get("mac"),))
        try:
            ip = ipaddress.IPv4Address(str(host.get("ip")))
        except ValueError:
            raise _err("network", name, field + ".ip", "not an IPv4 address: %r" % (host.get("ip"),))
        if ip not in net:
            raise _err("network", name, field + ".ip", "%s is outside %s" % (ip, net))
        if mac in seen:
            raise _err("network", name, field + ".mac", "%s is given twice" % mac)
        seen.add(mac)
        out["hosts"].append({"mac": mac, "ip": str(ip), "name": host.get("name")})
    out["hosts"].sort(key=lambda h: h["mac"])
    return out


def pool_from_params(raw):
    name, p = _common("pool", raw, POOL_FIELDS)
    if p["path"] is not None:
        p["path"] = p["path"].rstrip("/") or "/"
    mode = str(p["mode"])
    if not (len(mode) in (3, 4) and all(c in "01234567" for c in mode)):
        raise _err("pool", name, "mode", "expected an octal mode like '0711', got %r" % (p["mode"],))
    p["mode"] = mode.zfill(4)
    return p


def volume_from_params(raw):
    name, v = _common("volume", raw, VOLUME_FIELDS)
    if not isinstance(v["pool"], str) or not NAME_RE.match(v["pool"]):
        raise _err("volume", name, "pool", "invalid pool name %r" % (v["pool"],))
    if v["backing"] is not None and v["source"] is not None:
        raise _err("volume", name, "backing", "give at most one of backing and source")
    if v["backing"] is not None and v["format"] != "qcow2":
        raise _err("volume", name, "format", "a copy-on-write overlay (backing) must be qcow2")
    if v["state"] == "present" and v["size"] is None and v["backing"] is None and v["source"] is None:
        raise _err("volume", name, "size", "required for a new empty volume (or give backing or source)")
    return v
