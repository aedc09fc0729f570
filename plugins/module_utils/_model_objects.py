# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data models of networks, storage pools and volumes: validation and normalisation.

Each ``*_from_params`` returns a plain dict or raises ``SpecError(kind, name, field)``."""

from __future__ import annotations

import ipaddress

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import MAC_RE, NAME_RE
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import parse_size

FORWARD_MODES = ("nat", "route", "bridge", "isolated")
NET_STATES = ("active", "inactive", "absent")
POOL_TYPES = ("dir",)
VOLUME_FORMATS = ("qcow2", "raw")

NETWORK_DEFAULTS = {"name": None, "state": "active", "autostart": True, "forward": "nat", "bridge": None,
                    "ip": None, "netmask": None, "dhcp": None, "mtu": None, "recreate": False}
NETWORK_COMPARED = ("forward", "bridge", "ip", "netmask", "dhcp", "mtu", "autostart")
POOL_DEFAULTS = {"name": None, "state": "active", "autostart": True, "type": "dir", "path": None,
                 "mode": "0711"}
POOL_COMPARED = ("type", "path", "mode", "autostart")
VOLUME_DEFAULTS = {"name": None, "pool": "default", "state": "present", "size": None, "format": "qcow2",
                   "backing": None, "source": None}
VOLUME_COMPARED = ("size", "format", "backing")


def _err(kind, name, field, msg):
    return SpecError(msg, name, field, kind=kind)


def _common(kind, raw, defaults, states):
    if not isinstance(raw, dict):
        raise SpecError("a %s spec must be a mapping, got %r" % (kind, raw), kind=kind)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _err(kind, name if isinstance(name, str) else None, "name",
                   "invalid name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (name,))
    extra = sorted(k for k in raw if k not in defaults and raw[k] is not None)
    if extra:
        raise _err(kind, name, "spec", "unknown key(s) %s (allowed: %s)" % (", ".join(extra), ", ".join(defaults)))
    spec = dict(defaults)
    spec.update({k: v for k, v in raw.items() if v is not None})
    if spec["state"] not in states:
        raise _err(kind, name, "state", "expected one of %s, got %r" % ("|".join(states), spec["state"]))
    if not isinstance(spec.get("autostart", False), bool):
        raise _err(kind, name, "autostart", "expected a boolean, got %r" % (spec["autostart"],))
    return name, spec


def network_from_params(raw):
    name, n = _common("network", raw, NETWORK_DEFAULTS, NET_STATES)
    if n["forward"] not in FORWARD_MODES:
        raise _err("network", name, "forward", "expected one of %s, got %r" % ("|".join(FORWARD_MODES), n["forward"]))
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
    if n["mtu"] is not None and (isinstance(n["mtu"], bool) or not isinstance(n["mtu"], int) or not 68 <= n["mtu"] <= 65535):
        raise _err("network", name, "mtu", "expected an integer from 68 to 65535, got %r" % (n["mtu"],))
    if not isinstance(n["recreate"], bool):
        raise _err("network", name, "recreate", "expected a boolean")
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
    name, p = _common("pool", raw, POOL_DEFAULTS, NET_STATES)
    if p["type"] not in POOL_TYPES:
        raise _err("pool", name, "type", "expected one of %s, got %r" % ("|".join(POOL_TYPES), p["type"]))
    if p["path"] is not None:
        if not isinstance(p["path"], str) or not p["path"].startswith("/"):
            raise _err("pool", name, "path", "must be an absolute path, got %r" % (p["path"],))
        p["path"] = p["path"].rstrip("/") or "/"
    mode = str(p["mode"])
    if not (len(mode) in (3, 4) and all(c in "01234567" for c in mode)):
        raise _err("pool", name, "mode", "expected an octal mode like '0711', got %r" % (p["mode"],))
    p["mode"] = mode.zfill(4)
    return p


def volume_from_params(raw):
    name, v = _common("volume", raw, VOLUME_DEFAULTS, ("present", "absent"))
    if not isinstance(v["pool"], str) or not NAME_RE.match(v["pool"]):
        raise _err("volume", name, "pool", "invalid pool name %r" % (v["pool"],))
    if v["format"] not in VOLUME_FORMATS:
        raise _err("volume", name, "format", "expected one of %s, got %r" % ("|".join(VOLUME_FORMATS), v["format"]))
    if v["size"] is not None:
        try:
            v["size"] = parse_size(v["size"])
        except ValueError as e:
            raise _err("volume", name, "size", str(e))
        if v["size"] <= 0:
            raise _err("volume", name, "size", "must be greater than zero")
    if v["backing"] is not None and v["source"] is not None:
        raise _err("volume", name, "backing", "give at most one of backing and source")
    if v["source"] is not None and not str(v["source"]).startswith("/"):
        raise _err("volume", name, "source", "must be an absolute path, got %r" % (v["source"],))
    if v["backing"] is not None and v["format"] != "qcow2":
        raise _err("volume", name, "format", "a copy-on-write overlay (backing) must be qcow2")
    if v["state"] == "present" and v["size"] is None and v["backing"] is None and v["source"] is None:
        raise _err("volume", name, "size", "required for a new empty volume (or give backing or source)")
    return v
