# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read guests as they are: the definition as the toolstack holds it and as the guest model,
live state and statistics, snapshots. Read-only; used by the guest_info module.

``definition(backend, name)`` is the one reader of a guest's definition for every module
that needs it (guest_info, guest_backup): it goes through the backend's ``current`` (the
same reader and parser the converge uses), so there is no second parser.

Statistics of libvirt guests come from one bulk call (``getAllDomainStats``, or
``domainListGetStats`` for one guest); LXC from ``lxc-info``; xl from ``xl list``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lvb
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_xl as render_xl
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _units as units
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._facts import file_size

FORMATS = {"libvirt": "xml", "xl": "xl", "lxc": "lxc"}
_TEXT = {"libvirt": "config_xml", "xl": "cfg_text", "lxc": "text"}
MASK = "********"
# the secret a definition can hold that no module was given (so Ansible cannot mask it): a console's
# password, as libvirt's secure XML holds it (passwd='...'); xl cfgs: _render_xl.mask_secrets
_SECRET_TEXT = {
    "xml": re.compile(r"""(\spasswd=)(['"])(.*?)\2"""),
}


def mask_definition(fmt, text):
    """A libvirt definition's text with the console passwords it holds replaced by MASK."""
    pattern = _SECRET_TEXT.get(fmt)
    if text is None or pattern is None:
        return text
    return pattern.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(2), text)


def _set(value):
    """The keys that are set, at every level: an unset key is left out, as a user writes a spec
    (Ansible refuses an explicit null for an option with choices)."""
    if isinstance(value, dict):
        return {k: _set(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_set(v) for v in value]
    return value


def model_of(backend, current):
    """A guest as the guest model (the keys the guest module takes), with state and autostart."""
    out = _model.view(current["config"], backend.caps.fields)
    out.update(state=current["state"], autostart=current["autostart"])
    return _set({k: v for k, v in out.items() if k not in ("uuid", "managed")})


def definition(backend, name, current=None):
    """The definition of guest ``name`` or None when it does not exist::

        {"name", "backend", "format": "xml" | "xl" | "lxc",
         "text": the domain XML (inactive) / xl cfg file / lxc config, as the toolstack holds it,
                 console passwords masked (mask_definition, _render_xl.mask_secrets),
         "model": the guest model (what the guest module accepts), "managed": bool}

    ``text`` is None only for a Xen guest running without a cfg file in xl_config_dir."""
    current = current if current is not None else backend.current(name)
    if current is None:
        return None
    text = current.get(_TEXT[backend.name])
    if backend.name == "xl":
        text = render_xl.mask_secrets(text)  # vncpasswd, read with xl's own cfg parser
    else:
        text = mask_definition(FORMATS[backend.name], text)  # libvirt's secure XML carries passwd='...'
    return {"name": name, "backend": backend.name, "format": FORMATS[backend.name],
            "text": text, "model": model_of(backend, current),
            "managed": bool(current.get("managed"))}


# -- libvirt ---------------------------------------------------------------------------------
def _libvirt_stats(backend, names):
    """{name: (dom, stats dict)} from one bulk call."""
    lv = lvb.libvirt
    which = (lv.VIR_DOMAIN_STATS_STATE | lv.VIR_DOMAIN_STATS_CPU_TOTAL | lv.VIR_DOMAIN_STATS_BALLOON
             | lv.VIR_DOMAIN_STATS_VCPU | lv.VIR_DOMAIN_STATS_INTERFACE | lv.VIR_DOMAIN_STATS_BLOCK)
    if names is None:
        records = backend.call("read domain statistics", backend.conn.getAllDomainStats, which, 0)
    else:
        doms = [backend.domains()[n] for n in names]
        records = backend.call("read domain statistics", backend.conn.domainListGetStats, doms, which, 0) \
            if doms else []
    return {dom.name(): (dom, stats) for dom, stats in records}


def _kib_mib(value):
    return units.kib_to_mib(value) if value is not None else None


def _addresses(backend, dom):
    """{mac: [{address, prefix, type}]} from DHCP leases, else the host's ARP table."""
    lv = lvb.libvirt
    for source in (lv.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, lv.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP):
        try:
            found = dom.interfaceAddresses(source, 0) or {}
        except lv.libvirtError:
            continue
        out = {}
        for iface in found.values():
            mac = (iface.get("hwaddr") or "").lower()
            for a in iface.get("addrs") or []:
                out.setdefault(mac, []).append({
                    "address": a.get("addr"), "prefix": a.get("prefix"),
                    "type": "ipv6" if a.get("type") == lv.VIR_IP_ADDR_TYPE_IPV6 else "ipv4"})
        if out:
            return out
    return {}


def libvirt_stats(backend, dom, stats, live_xml):
    """State and statistics of one libvirt domain from its getAllDomainStats record."""
    s = dict(stats)
    running = backend.dom_state(dom) in ("running", "paused")
    out = {"cpu_time_ns": s.get("cpu.time"),
           "vcpus": s.get("vcpu.current"), "max_vcpus": s.get("vcpu.maximum"),
           "memory": {"current_mib": _kib_mib(s.get("balloon.current")),
                      "max_mib": _kib_mib(s.get("balloon.maximum")),
                      "rss_mib": _kib_mib(s.get("balloon.rss")),
                      "available_mib": _kib_mib(s.get("balloon.available")),
                      "unused_mib": _kib_mib(s.get("balloon.unused"))},
           "disks": [], "interfaces": []}
    for i in range(s.get("block.count") or 0):
        b = "block.%d." % i
        out["disks"].append({"target": s.get(b + "name"), "path": s.get(b + "path"),
                             "capacity_bytes": s.get(b + "capacity"), "allocation_bytes": s.get(b + "allocation"),
                             "physical_bytes": s.get(b + "physical"),
                             "read_bytes": s.get(b + "rd.bytes"), "write_bytes": s.get(b + "wr.bytes")})
    net = {}
    for i in range(s.get("net.count") or 0):
        n = "net.%d." % i
        net[s.get(n + "name")] = {"rx_bytes": s.get(n + "rx.bytes"), "tx_bytes": s.get(n + "tx.bytes")}
    addrs = _addresses(backend, dom) if running else {}
    root = ET.fromstring(live_xml)
    for elem in root.findall("devices/interface"):
        mac = elem.find("mac")
        mac = mac.get("address").lower() if mac is not None else None
        src, target = elem.find("source"), elem.find("target")
        dev = target.get("dev") if target is not None else None
        entry = {"mac": mac, "type": elem.get("type"), "device": dev,
                 "network": src.get("network") if src is not None else None,
                 "bridge": src.get("bridge") if src is not None else None,
                 "addresses": addrs.get(mac, [])}
        entry.update(net.get(dev) or {"rx_bytes": None, "tx_bytes": None})
        out["interfaces"].append(entry)
    return out


def _libvirt_guests(backend, names, snapshots):
    records = _libvirt_stats(backend, names)
    out = []
    for name in sorted(records):
        dom, stats = records[name]
        with backend.boundary("read", name):
            current = backend.current(name)
            if current is None:
                continue  # undefined since it was listed
            live_xml = current["config_xml"] if current["state"] not in ("running", "paused") else \
                backend.call("read live definition", dom.XMLDesc, 0)
            g = _entry(backend, name, current)
            g["stats"] = libvirt_stats(backend, dom, stats, live_xml)
            g["id"] = dom.ID() if dom.ID() > 0 else None
            g["uuid"] = dom.UUIDString()
            g["persistent"] = bool(dom.isPersistent())
            if snapshots:
                g["snapshots"] = backend.snapshots(dom)
        out.append(g)
    return out


# -- lxc -------------------------------------------------------------------------------------
def parse_lxc_info(text):
    """``lxc-info -H``: {key: value or [values]} (IP appears once per address)."""
    out = {}
    for line in text.splitlines():
        key, sep, val = line.partition(":")
        if not sep:
            continue
        key, val = key.strip(), val.strip()
        if key == "IP":
            out.setdefault("IP", []).append(val)
        elif key in out and key in ("Link", "TX bytes", "RX bytes", "Total bytes"):
            out.setdefault(key + " all", [out[key]]).append(val)
        else:
            out[key] = val
    return out


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def lxc_stats(info, model):
    """Statistics of a container from ``lxc-info -H`` and its model (its interfaces)."""
    ips = info.get("IP") or []
    nics = []
    links = info.get("Link all") or ([info["Link"]] if info.get("Link") else [])
    rx = info.get("RX bytes all") or [info.get("RX bytes")]
    tx = info.get("TX bytes all") or [info.get("TX bytes")]
    for i, nic in enumerate(model.get("interfaces") or []):
        nics.append({"mac": nic.get("mac"), "type": "veth", "bridge": nic.get("bridge"), "network": None,
                     "device": links[i] if i < len(links) else None,
                     "rx_bytes": _int(rx[i]) if i < len(rx) else None,
                     "tx_bytes": _int(tx[i]) if i < len(tx) else None,
                     # lxc-info lists the container's addresses, not per interface
                     "addresses": [{"address": a, "prefix": None, "type": "ipv6" if ":" in a else "ipv4"}
                                   for a in ips] if len(model.get("interfaces") or []) == 1 else []})
    mem = _int(info.get("Memory use"))
    return {"cpu_time_ns": _int(info.get("CPU use")), "pid": _int(info.get("PID")),
            "vcpus": model.get("vcpus"), "max_vcpus": None,
            "memory": {"current_mib": units.bytes_to_mib(mem) if mem is not None else None,
                       "max_mib": model.get("memory")},
            "addresses": ips, "disks": [], "interfaces": nics}


def _lxc_guests(backend, names, snapshots):
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import _LxcSnapshots
    out = []
    for name in sorted(names if names is not None else backend.listing()):
        with host.boundary("read", name):
            current = backend.current(name)
            if current is None:
                continue
            g = _entry(backend, name, current)
            info = {}
            if current["state"] != "stopped":
                info = parse_lxc_info(backend._run(backend._lxc("lxc-info", name, "-H"), "lxc-info", name))
            g["stats"] = lxc_stats(info, current["config"])
            g["stats"]["disks"] = [{"target": None, "path": d["path"], "readonly": d["readonly"]}
                                   for d in current["config"].get("disks") or []]
            g["rootfs"] = os.path.join(backend.lxc_path, name, "rootfs")
            if snapshots:
                g["snapshots"] = _LxcSnapshots(backend).records(name)
        out.append(g)
    return out


# -- xl --------------------------------------------------------------------------------------
def _xl_guests(backend, names, snapshots):
    out = []
    for name in names if names is not None else backend.guest_names():
        try:
            current = backend.current(name)
        except BackendError:
            if name in backend.domains():
                raise
            continue  # a cfg file that is not a guest (xl.conf): not a guest to show
        if current is None:
            continue
        g = _entry(backend, name, current)
        dom = backend.domains().get(name) or {}
        view = current["live"] or current["config"]
        g["id"] = dom.get("domid")
        g["stats"] = {"cpu_time_ns": int(dom["cpu_time"] * 1e9) if dom.get("cpu_time") is not None else None,
                      "vcpus": dom.get("vcpus"), "max_vcpus": view.get("max_vcpus"),
                      "memory": {"current_mib": dom.get("memory"), "max_mib": view.get("max_memory")},
                      "disks": [{"target": d.get("vdev"), "path": d.get("path"),
                                 "capacity_bytes": file_size(d["path"]) if d.get("path") else None}
                                for d in view.get("disks") or []],
                      "interfaces": [{"mac": n.get("mac"), "type": "vif", "bridge": n.get("bridge"),
                                      "network": None, "device": None, "addresses": [],
                                      "rx_bytes": None, "tx_bytes": None}
                                     for n in view.get("interfaces") or []]}
        if current["state"] == "saved":
            g["saved_state_file"] = backend.save_path(name)
        if snapshots:
            g["snapshots"] = []  # xl keeps no snapshots
        out.append(g)
    return out


def _entry(backend, name, current):
    d = definition(backend, name, current)
    return {"name": name, "backend": backend.name, "state": current["state"], "autostart": current["autostart"],
            "managed": d["managed"], "fleet": current["config"].get("fleet"), "format": d["format"],
            "definition": d["text"], "model": d["model"]}


_READERS = {"libvirt": _libvirt_guests, "lxc": _lxc_guests, "xl": _xl_guests}


def read(backend, name=None, snapshots=True):
    """Every guest of the backend (``name`` None) or the one named, as a list of dicts:
    name, backend, state, autostart, managed, fleet, format, definition (the toolstack's text),
    model (the guest model), stats (cpu_time_ns, vcpus, memory, disks, interfaces with
    addresses) and snapshots. Raises BackendError naming a guest that does not exist."""
    if name is not None:
        if backend.current(name) is None:
            raise BackendError("does not exist", name, "name")
        return _READERS[backend.name](backend, [name], snapshots)
    return _READERS[backend.name](backend, None, snapshots)
