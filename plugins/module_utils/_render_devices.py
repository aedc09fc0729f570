# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain XML <-> the keys of _model_devices (boot, firmware, consoles, devices, tuning,
labels), both ways. Spelled as ``virt-install --print-xml`` spells them (virtinst 4.1, the
oracle of tests/unit/plugins/module_utils/test_render_devices.py). A key whose model value
is None is not managed: its XML is left as it is. Pure: no libvirt import.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model_devices import (
    IOTUNE_KEYS, format_cpuset, parse_cpuset)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import libvirt_kib

AGENT_CHANNEL = "org.qemu.guest_agent.0"


# -- parsing -------------------------------------------------------------------------------
def _kib(elem):
    return libvirt_kib(elem.get("size"), elem.get("unit"))


def parse_extra(root, g, mark, config=None):
    """Fill ``g`` with the keys of _model_devices read from the domain ``root``."""
    os_el = root.find("os")
    g["boot"] = [b.get("dev") for b in os_el.findall("boot")] if os_el is not None else []
    loader = root.find("os/loader")
    efi = (os_el is not None and os_el.get("firmware") == "efi") or (
        loader is not None and loader.get("type") == "pflash")
    g["firmware"] = "uefi" if efi else "bios"
    feats = {f.get("name"): f.get("enabled") == "yes" for f in root.findall("os/firmware/feature")}
    g["secure_boot"] = bool(feats.get("secure-boot") or (loader is not None and loader.get("secure") == "yes"))
    dev = root.find("devices")
    dev = dev if dev is not None else ET.Element("devices")
    g["tpm"] = dev.find("tpm") is not None
    g["graphics"] = parse_graphics(dev.find("graphics"))
    g["serial"] = dev.find("serial") is not None or dev.find("console") is not None
    video = dev.find("video/model")
    g["video"] = video.get("type") if video is not None else "none"
    g["guest_agent"] = any(c.get("name") == AGENT_CHANNEL for c in dev.findall("channel/target"))
    g["rng"] = any((r.findtext("backend") or "").strip() == "/dev/urandom" for r in dev.findall("rng"))
    wd = dev.find("watchdog")
    g["watchdog"] = {"model": wd.get("model"), "action": wd.get("action", "reset")} if wd is not None else False
    cpu = root.find("cpu")
    cpu = cpu if cpu is not None else ET.Element("cpu")
    model = cpu.findtext("model")
    g["cpu_model"] = model if cpu.get("mode", "custom") == "custom" and model else None
    g["cpu_features"] = {f.get("name"): f.get("policy", "require") for f in cpu.findall("feature")}
    if config is not None:  # the running CPU is expanded: compare what the definition names
        if config.get("cpu_model") is None:
            g["cpu_model"] = None
        g["cpu_features"] = {k: v for k, v in g["cpu_features"].items() if k in (config.get("cpu_features") or {})}
    topo = cpu.find("topology")
    g["cpu_topology"] = ({k: int(topo.get(k, 1)) for k in ("sockets", "cores", "threads")}
                         if topo is not None else None)
    g["vcpu_pins"] = {int(p.get("vcpu")): format_cpuset(parse_cpuset(p.get("cpuset")))
                      for p in root.findall("cputune/vcpupin")}
    ep = root.find("cputune/emulatorpin")
    g["emulator_pin"] = format_cpuset(parse_cpuset(ep.get("cpuset"))) if ep is not None else None
    nt = root.find("numatune/memory")
    g["numatune"] = ({"mode": nt.get("mode", "strict"), "nodeset": format_cpuset(parse_cpuset(nt.get("nodeset")))}
                     if nt is not None and nt.get("nodeset") else None)
    page = root.find("memoryBacking/hugepages/page")
    g["hugepage_size"] = _kib(page) if page is not None else None
    g["locked_memory"] = root.find("memoryBacking/locked") is not None
    g["iothreads"] = int(root.findtext("iothreads") or 0)
    g["hostdevs"] = [_pci(h.find("source/address")) for h in dev.findall("hostdev")
                     if h.get("type") == "pci" and h.find("source/address") is not None]
    g["title"] = root.findtext("title") or ""
    g["description"] = root.findtext("description") or ""
    g["tags"] = sorted(mark.get("tags") or [])
    return g


def _pci(addr):
    return "%04x:%02x:%02x.%x" % tuple(int(addr.get(k, "0"), 16) for k in ("domain", "bus", "slot", "function"))


def parse_graphics(elem):
    if elem is None:
        return {"type": "none", "listen": None, "port": None, "password": None}
    listen = elem.get("listen")
    lel = elem.find("listen")
    if lel is not None and lel.get("address"):
        listen = lel.get("address")
    auto = elem.get("autoport") == "yes" or elem.get("port") in (None, "-1")
    return {"type": elem.get("type"), "listen": listen, "port": None if auto else int(elem.get("port")),
            "password": elem.get("passwd")}


def parse_disk_extra(elem, disk):
    drv = elem.find("driver")
    drv = drv if drv is not None else ET.Element("driver")
    target = elem.find("target")
    disk["target"] = target.get("dev") if target is not None else None
    disk["format"] = drv.get("type")
    for key in ("cache", "io", "discard"):
        disk[key] = drv.get(key)
    disk["serial"] = elem.findtext("serial")
    tune = {}
    for child in elem.findall("iotune/*"):
        if child.tag in IOTUNE_KEYS and int(child.text or 0):
            tune[child.tag] = int(child.text)
    disk["iotune"] = tune or None
    disk["shareable"] = True if elem.find("shareable") is not None else None
    return disk


def parse_nic_extra(elem, nic):
    src = elem.find("source")
    nic["direct"] = src.get("dev") if elem.get("type") == "direct" and src is not None else None
    nic["mode"] = (src.get("mode") or "vepa") if nic["direct"] else None
    tag = elem.find("vlan/tag")
    nic["vlan"] = int(tag.get("id")) if tag is not None else None
    mtu = elem.find("mtu")
    nic["mtu"] = int(mtu.get("size")) if mtu is not None else None
    link = elem.find("link")
    nic["link"] = "down" if link is not None and link.get("state") == "down" else None
    bw = {}
    for way in ("inbound", "outbound"):
        w = elem.find("bandwidth/" + way)
        if w is not None and int(w.get("average") or 0):
            bw[way] = {k: int(w.get(k)) for k in ("average", "peak", "burst") if w.get(k)}
    nic["bandwidth"] = bw or None
    return nic


# -- naming --------------------------------------------------------------------------------
def target_names(disks, device_names, prefixes):
    """Target names: the declared ones, the others lettered in order around them."""
    generated = iter(n for n in device_names(disks + disks, prefixes)
                     if n not in {d.get("target") for d in disks})
    out = []
    for d in disks:
        if d.get("target"):
            out.append(d["target"])
            continue
        prefix = prefixes[d["bus"]]
        name = next(generated)
        while not name.startswith(prefix):
            name = next(generated)
        out.append(name)
    return out


# -- rendering -----------------------------------------------------------------------------
def disk_extra_elements(elem, disk):
    drv = elem.find("driver")
    for key in ("cache", "io", "discard"):
        if disk.get(key):
            drv.set(key, disk[key])
    if disk.get("serial"):
        ET.SubElement(elem, "serial").text = disk["serial"]
    if disk.get("iotune"):
        tune = ET.SubElement(elem, "iotune")
        for key in IOTUNE_KEYS:
            if disk["iotune"].get(key):
                ET.SubElement(tune, key).text = str(disk["iotune"][key])
    if disk.get("shareable"):
        ET.SubElement(elem, "shareable")


def nic_extra_elements(elem, nic):
    if nic.get("vlan") is not None:
        if nic.get("bridge"):
            ET.SubElement(elem, "virtualport", {"type": "openvswitch"})
        ET.SubElement(ET.SubElement(elem, "vlan"), "tag", {"id": str(nic["vlan"])})
    if nic.get("bandwidth"):
        bw = ET.SubElement(elem, "bandwidth")
        for way in ("inbound", "outbound"):
            if way in nic["bandwidth"]:
                ET.SubElement(bw, way, {k: str(v) for k, v in sorted(nic["bandwidth"][way].items())})
    if nic.get("mtu"):
        ET.SubElement(elem, "mtu", {"size": str(nic["mtu"])})
    if nic.get("link") == "down":
        ET.SubElement(elem, "link", {"state": "down"})


def bandwidth_params(bandwidth):
    """virDomainSetInterfaceParameters' typed parameters; zeros clear a direction."""
    out = {}
    for way in ("inbound", "outbound"):
        for key in ("average", "peak", "burst"):
            out["%s.%s" % (way, key)] = int(((bandwidth or {}).get(way) or {}).get(key, 0))
    return out


def iotune_params(iotune):
    return {k: int((iotune or {}).get(k, 0)) for k in IOTUNE_KEYS}


def graphics_element(g):
    attrib = {"type": g["type"]}
    if g["port"] is None:
        attrib.update(port="-1", autoport="yes")
    else:
        attrib.update(port=str(g["port"]), autoport="no")
    attrib["listen"] = g["listen"]
    if g["password"] is not None:
        attrib["passwd"] = g["password"]
    elem = ET.Element("graphics", attrib)
    ET.SubElement(elem, "listen", {"type": "address", "address": g["listen"]})
    return elem


def _devices(root):
    dev = root.find("devices")
    if dev is None:
        dev = ET.SubElement(root, "devices")
    return dev


def _drop(parent, tag, match=lambda e: True):
    for e in parent.findall(tag):
        if match(e):
            parent.remove(e)


def _ensure_one(dev, tag, match, build):
    if not any(match(e) for e in dev.findall(tag)):
        dev.append(build())


def _agent_channel():
    ch = ET.Element("channel", {"type": "unix"})
    ET.SubElement(ch, "source", {"mode": "bind"})
    ET.SubElement(ch, "target", {"type": "virtio", "name": AGENT_CHANNEL})
    return ch


def _rng():
    r = ET.Element("rng", {"model": "virtio"})
    ET.SubElement(r, "backend", {"model": "random"}).text = "/dev/urandom"
    return r


def _tpm():
    t = ET.Element("tpm", {"model": "tpm-crb"})
    ET.SubElement(t, "backend", {"type": "emulator", "version": "2.0"})
    return t


def _is_agent(ch):
    return ch.find("target") is not None and ch.find("target").get("name") == AGENT_CHANNEL


def render_cpu(root, guest):
    """<cpu>: mode (cpu_mode, or custom with cpu_model), model, topology, features."""
    cpu = root.find("cpu")
    old_topo = cpu.find("topology") if cpu is not None else None
    old_feats = cpu.findall("feature") if cpu is not None else []
    mode, model = guest.get("cpu_mode") or "default", guest.get("cpu_model")
    topo, feats = guest.get("cpu_topology"), guest.get("cpu_features")
    if cpu is not None:
        root.remove(cpu)
    keep_topo = old_topo if topo is None else None
    if mode == "default" and not model and topo is None and keep_topo is None and not feats:
        return
    cpu = ET.SubElement(root, "cpu")
    if model:
        cpu.attrib.update({"mode": "custom", "match": "exact"})
        ET.SubElement(cpu, "model", {"fallback": "forbid"}).text = model
    elif mode != "default":
        cpu.attrib.update({"mode": mode, "check": "none"})
    if topo is not None:
        ET.SubElement(cpu, "topology", {"sockets": str(topo["sockets"]), "dies": "1",
                                        "cores": str(topo["cores"]), "threads": str(topo["threads"])})
    elif keep_topo is not None:
        cpu.append(keep_topo)
    if feats is not None:
        for name in sorted(feats):
            ET.SubElement(cpu, "feature", {"policy": feats[name], "name": name})
    elif model or mode == "host-model":
        for f in old_feats:
            cpu.append(f)


def render_extra(root, guest):
    """Set every managed key of _model_devices in the domain ``root`` (in place)."""
    g = guest
    os_el = root.find("os")
    if g.get("boot") is not None:
        _drop(os_el, "boot")
        for devname in g["boot"]:
            ET.SubElement(os_el, "boot", {"dev": devname})
    if g.get("firmware") == "bios":
        os_el.attrib.pop("firmware", None)
        _drop(os_el, "loader")
        _drop(os_el, "nvram")
        _drop(os_el, "firmware")
    elif g.get("firmware") == "uefi":
        loader = os_el.find("loader")
        if os_el.get("firmware") != "efi" and loader is not None:
            _drop(os_el, "loader")  # a hand-written loader: let libvirt pick OVMF again
            _drop(os_el, "nvram")
        os_el.set("firmware", "efi")
        if g.get("secure_boot") is not None:
            _drop(os_el, "firmware")
            fw = ET.Element("firmware")
            for feat in ("enrolled-keys", "secure-boot"):
                ET.SubElement(fw, "feature", {"enabled": "yes" if g["secure_boot"] else "no", "name": feat})
            os_el.insert(list(os_el).index(os_el.find("type")) + 1, fw)
            loader = os_el.find("loader")
            if loader is not None:
                loader.set("secure", "yes" if g["secure_boot"] else "no")
            feats = root.find("features")
            if feats is None:
                feats = ET.SubElement(root, "features")
            if g["secure_boot"]:
                if feats.find("smm") is None:
                    ET.SubElement(feats, "smm", {"state": "on"})
    dev = _devices(root)
    if g.get("tpm") is not None:
        if g["tpm"]:
            _ensure_one(dev, "tpm", lambda e: True, _tpm)
        else:
            _drop(dev, "tpm")
    if g.get("graphics") is not None:
        have = parse_graphics(dev.find("graphics"))
        if have != g["graphics"] or len(dev.findall("graphics")) > 1:
            _drop(dev, "graphics")
            if g["graphics"]["type"] != "spice":  # libvirt refuses spice audio without spice graphics
                _drop(dev, "audio", lambda e: e.get("type") == "spice")
                _drop(dev, "channel", lambda e: e.get("type") == "spicevmc")
            if g["graphics"]["type"] != "none":
                dev.append(graphics_element(g["graphics"]))
    if g.get("serial") is not None:
        if g["serial"]:
            _ensure_one(dev, "serial", lambda e: True, lambda: ET.Element("serial", {"type": "pty"}))
            _ensure_one(dev, "console", lambda e: True, lambda: ET.Element("console", {"type": "pty"}))
        else:
            _drop(dev, "serial")
            _drop(dev, "console")
    if g.get("video") is not None:
        video = dev.find("video/model")
        if video is None or video.get("type") != g["video"]:
            _drop(dev, "video")
            v = ET.SubElement(dev, "video")
            ET.SubElement(v, "model", {"type": g["video"]})
    if g.get("guest_agent") is not None:
        if g["guest_agent"]:
            _ensure_one(dev, "channel", _is_agent, _agent_channel)
        else:
            _drop(dev, "channel", _is_agent)
    if g.get("rng") is not None:
        if g["rng"]:
            _ensure_one(dev, "rng", lambda e: (e.findtext("backend") or "").strip() == "/dev/urandom", _rng)
        else:
            _drop(dev, "rng")
    if g.get("watchdog") is not None:
        wd = dev.find("watchdog")
        have = {"model": wd.get("model"), "action": wd.get("action", "reset")} if wd is not None else False
        if have != g["watchdog"]:
            _drop(dev, "watchdog")
            if g["watchdog"]:
                dev.append(ET.Element("watchdog", dict(g["watchdog"])))
    if g.get("hostdevs") is not None:
        _drop(dev, "hostdev", lambda e: e.get("type") == "pci")
        for addr in g["hostdevs"]:
            h = ET.SubElement(dev, "hostdev", {"mode": "subsystem", "type": "pci", "managed": "yes"})
            dom_, bus, rest = addr.split(":")
            slot, func = rest.split(".")
            ET.SubElement(ET.SubElement(h, "source"), "address", {
                "domain": "0x" + dom_, "bus": "0x" + bus, "slot": "0x" + slot, "function": "0x" + func})
    _render_tuning(root, g)
    _render_labels(root, g)


def _child(root, tag, after=None):
    elem = root.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        anchor = root.find(after) if after else None
        if anchor is not None:
            root.insert(list(root).index(anchor) + 1, elem)
        else:
            root.append(elem)
    return elem


def _render_tuning(root, g):
    if g.get("vcpu_pins") is not None or g.get("emulator_pin") is not None:
        ct = _child(root, "cputune")
        if g.get("vcpu_pins") is not None:
            _drop(ct, "vcpupin")
            for vcpu in sorted(g["vcpu_pins"]):
                ET.SubElement(ct, "vcpupin", {"vcpu": str(vcpu), "cpuset": g["vcpu_pins"][vcpu]})
        if g.get("emulator_pin") is not None:
            _drop(ct, "emulatorpin")
            ET.SubElement(ct, "emulatorpin", {"cpuset": g["emulator_pin"]})
    if g.get("numatune") is not None:
        _drop(root, "numatune")
        nt = _child(root, "numatune", after="vcpu")
        ET.SubElement(nt, "memory", {"mode": g["numatune"]["mode"], "nodeset": g["numatune"]["nodeset"]})
    mb = root.find("memoryBacking")
    if g.get("hugepage_size") is not None and mb is not None and mb.find("hugepages") is not None:
        hp = mb.find("hugepages")
        _drop(hp, "page")
        ET.SubElement(hp, "page", {"size": str(g["hugepage_size"]), "unit": "KiB"})
    if g.get("locked_memory") is not None:
        if g["locked_memory"]:
            mb = mb if mb is not None else _child(root, "memoryBacking", after="currentMemory")
            if mb.find("locked") is None:
                ET.SubElement(mb, "locked")
        elif mb is not None:
            _drop(mb, "locked")
            if len(mb) == 0:
                root.remove(mb)
    if g.get("iothreads") is not None:
        _drop(root, "iothreads")
        if g["iothreads"]:
            _child(root, "iothreads", after="vcpu").text = str(g["iothreads"])


def _render_labels(root, g):
    anchor = "uuid" if root.find("uuid") is not None else "name"
    for key in ("description", "title"):  # title first: each goes right after the anchor
        if g.get(key) is None:
            continue
        _drop(root, key)
        if g[key]:
            _child(root, key, after=anchor).text = g[key]
    title, desc = root.find("title"), root.find("description")
    if title is not None and desc is not None and list(root).index(desc) < list(root).index(title):
        root.remove(desc)
        root.insert(list(root).index(title) + 1, desc)
