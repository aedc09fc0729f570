# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest model <-> libvirt domain XML, both ways.

``parse_domain`` reads only the fields virtfleet manages, so everything libvirt adds
(addresses, aliases, controllers, generated MACs, seclabels) never looks like a change.
``render_domain`` edits those fields in place in the existing persistent XML, so what
virtfleet does not manage (graphics, consoles, extra devices) is kept as it is.
Pure: no libvirt import, unit-testable on recorded XML.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_devices as rdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import device_names
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import libvirt_mib, mib_to_kib

MARKER_NS = "https://virtfleet.dev/xmlns/guest/1"
MARKER_TAG = "{%s}guest" % MARKER_NS
ET.register_namespace("virtfleet", MARKER_NS)

_DEV_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "ide": "hd"}


def _mib(elem):
    """<memory unit='...'> in MiB (libvirt's whole unit table; an unknown unit is an error)."""
    return None if elem is None else libvirt_mib(elem.text, elem.get("unit"))


def marker(root):
    """The virtfleet marker of a domain as a dict, or None for a foreign domain."""
    md = root.find("metadata")
    elem = md.find(MARKER_TAG) if md is not None else None
    if elem is None:
        return None
    try:
        data = json.loads(elem.text or "{}")
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def parse_domain(xml, config_cpu_mode=None, config=None):
    """Return the managed fields of a domain XML as a guest-model dict.

    ``config_cpu_mode``: for live XML, the mode in the persistent config; libvirt
    expands a running host-model CPU to mode='custom', which is not a change.
    ``config``: for live XML, the parsed persistent config (libvirt expands the running
    CPU model and features; only those the config names are compared).
    """
    if config is not None and config_cpu_mode is None:
        config_cpu_mode = config.get("cpu_mode")
    root = ET.fromstring(xml) if isinstance(xml, str) else xml
    g = {"name": root.findtext("name"), "uuid": root.findtext("uuid"),
         "virt_type": root.get("type")}
    mark = marker(root)
    g["managed"] = mark is not None
    g["fleet"] = mark.get("fleet", "default") if mark is not None else None
    os_type = root.find("os/type")
    g["machine"] = os_type.get("machine") if os_type is not None else None
    g["kernel"], g["ramdisk"], g["extra"] = (root.findtext("os/kernel"), root.findtext("os/initrd"),
                                             root.findtext("os/cmdline"))
    vcpu = root.find("vcpu")
    g["max_vcpus"] = int(vcpu.text) if vcpu is not None else 1
    g["vcpus"] = int(vcpu.get("current", vcpu.text)) if vcpu is not None else 1
    g["max_memory"] = _mib(root.find("memory"))
    g["memory"] = _mib(root.find("currentMemory")) or g["max_memory"]
    cpu = root.find("cpu")
    mode = cpu.get("mode") if cpu is not None else None
    if mode == "custom" and config_cpu_mode == "host-model":
        mode = "host-model"
    g["cpu_mode"] = mode if mode in ("host-passthrough", "host-model") else "default"
    g["hugepages"] = root.find("memoryBacking/hugepages") is not None
    shares = root.findtext("cputune/shares")
    g["cpu_shares"] = int(shares) if shares else None
    g["disks"] = [parse_disk(d) for d in root.findall("devices/disk")
                  if d.get("device", "disk") in ("disk", "cdrom")]
    g["interfaces"] = [n for n in (parse_nic(i) for i in root.findall("devices/interface")) if n]
    rdev.parse_extra(root, g, mark or {}, config)
    return g


def parse_disk(elem):
    src = elem.find("source")
    src = src if src is not None else ET.Element("source")
    target = elem.find("target")
    device = elem.get("device", "disk")
    disk = {"volume": None, "pool": None, "path": None, "device": device,
            "bus": target.get("bus") if target is not None else None,
            "readonly": device == "cdrom" or elem.find("readonly") is not None}
    if elem.get("type") == "volume":
        disk["volume"], disk["pool"] = src.get("volume"), src.get("pool")
    else:
        disk["path"] = src.get("file") or src.get("dev")
    return rdev.parse_disk_extra(elem, disk)


def parse_nic(elem):
    kind = elem.get("type")
    if kind not in ("network", "bridge", "direct"):
        return None
    src = elem.find("source")
    mac = elem.find("mac")
    model = elem.find("model")
    nic = {"network": src.get("network") if kind == "network" and src is not None else None,
           "bridge": src.get("bridge") if kind == "bridge" and src is not None else None,
           "model": model.get("type") if model is not None else None,
           "mac": mac.get("address").lower() if mac is not None else None}
    return rdev.parse_nic_extra(elem, nic)


def _set_child(parent, tag, text=None, attrib=None, index=None):
    elem = parent.find(tag)
    if elem is None:
        elem = ET.Element(tag)
        if index is None:
            parent.append(elem)
        else:
            parent.insert(index, elem)
    if attrib is not None:
        elem.attrib.clear()
        elem.attrib.update(attrib)
    if text is not None:
        elem.text = str(text)
    return elem


def _skeleton(name):
    root = ET.Element("domain")
    ET.SubElement(root, "name").text = name
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", {"arch": "x86_64"}).text = "hvm"
    ET.SubElement(os_el, "boot", {"dev": "hd"})  # unless the guest declares boot
    feats = ET.SubElement(root, "features")
    ET.SubElement(feats, "acpi")
    ET.SubElement(feats, "apic")
    ET.SubElement(root, "on_poweroff").text = "destroy"
    ET.SubElement(root, "on_reboot").text = "restart"
    ET.SubElement(root, "on_crash").text = "destroy"
    devices = ET.SubElement(root, "devices")
    ET.SubElement(devices, "serial", {"type": "pty"})
    ET.SubElement(devices, "console", {"type": "pty"})
    ET.SubElement(devices, "memballoon", {"model": "virtio"})
    return root


def disk_element(disk, dev):
    """One <disk>; ``disk['format']`` (qcow2|raw) is filled in by the backend."""
    if disk.get("volume"):
        elem = ET.Element("disk", {"type": "volume", "device": disk["device"]})
        ET.SubElement(elem, "driver", {"name": "qemu", "type": disk.get("format") or "raw"})
        ET.SubElement(elem, "source", {"pool": disk["pool"], "volume": disk["volume"]})
    elif not disk.get("path"):  # an empty cdrom drive
        elem = ET.Element("disk", {"type": "file", "device": disk["device"]})
        ET.SubElement(elem, "driver", {"name": "qemu", "type": "raw"})
    else:
        kind = "block" if disk.get("is_block") else "file"
        elem = ET.Element("disk", {"type": kind, "device": disk["device"]})
        ET.SubElement(elem, "driver", {"name": "qemu", "type": disk.get("format") or "raw"})
        ET.SubElement(elem, "source", {"dev" if kind == "block" else "file": disk["path"]})
    ET.SubElement(elem, "target", {"dev": disk.get("target") or dev, "bus": disk["bus"]})
    if disk["readonly"]:
        ET.SubElement(elem, "readonly")
    rdev.disk_extra_elements(elem, disk)
    return elem


def nic_element(nic):
    kind = "network" if nic.get("network") else "direct" if nic.get("direct") else "bridge"
    elem = ET.Element("interface", {"type": kind})
    if nic.get("mac"):
        ET.SubElement(elem, "mac", {"address": nic["mac"]})
    if kind == "direct":
        ET.SubElement(elem, "source", {"dev": nic["direct"], "mode": nic.get("mode") or "vepa"})
    else:
        ET.SubElement(elem, "source", {kind: nic[kind]})
    ET.SubElement(elem, "model", {"type": nic["model"]})
    rdev.nic_extra_elements(elem, nic)
    return elem


def render_domain(guest, base_xml=None):
    """Domain XML for ``guest``: the persistent ``base_xml`` with the managed fields
    set, or a minimal new domain. Disks and NICs get their MACs carried over by the
    planner before this is called."""
    root = ET.fromstring(base_xml) if base_xml else _skeleton(guest["name"])
    root.set("type", guest["virt_type"])
    if guest.get("machine"):
        os_type = root.find("os/type")
        if base_xml and os_type.get("machine") != guest["machine"]:
            _drop_bus_layout(root)
        os_type.set("machine", guest["machine"])
    os_el = root.find("os")
    for key, tag in (("kernel", "kernel"), ("ramdisk", "initrd"), ("extra", "cmdline")):
        elem = os_el.find(tag)
        if guest.get(key):
            if elem is None:
                elem = ET.SubElement(os_el, tag)
            elem.text = guest[key]
        elif elem is not None:
            os_el.remove(elem)
    idx = list(root).index(root.find("name")) + 1
    if root.find("uuid") is not None:
        idx += 1
    md = _set_child(root, "metadata", index=idx)
    mark = md.find(MARKER_TAG)
    if mark is None:
        mark = ET.SubElement(md, MARKER_TAG)
    old = marker(root) or {}
    data = {"managed_by": "virtfleet.hypervisor", "version": 1, "fleet": guest.get("fleet", "default")}
    tags = guest.get("tags") if guest.get("tags") is not None else old.get("tags")
    if tags:
        data["tags"] = tags
    mark.text = json.dumps(data, sort_keys=True)

    max_mem = max(guest.get("max_memory") or guest["memory"], guest["memory"])
    _set_child(root, "memory", mib_to_kib(max_mem), {"unit": "KiB"})
    _set_child(root, "currentMemory", mib_to_kib(guest["memory"]), {"unit": "KiB"})
    max_vcpus = max(guest.get("max_vcpus") or guest["vcpus"], guest["vcpus"])
    vcpu_attr = {"placement": "static"}
    if max_vcpus != guest["vcpus"]:
        vcpu_attr["current"] = str(guest["vcpus"])
    _set_child(root, "vcpu", max_vcpus, vcpu_attr)
    root.find("vcpu").text = str(max_vcpus)

    mb = root.find("memoryBacking")
    if guest["hugepages"]:
        mb = mb if mb is not None else _set_child(root, "memoryBacking")
        if mb.find("hugepages") is None:
            ET.SubElement(mb, "hugepages")
    elif mb is not None and mb.find("hugepages") is not None:
        mb.remove(mb.find("hugepages"))
        if len(mb) == 0:
            root.remove(mb)

    if guest.get("cpu_shares") is not None:
        ct = _set_child(root, "cputune")
        _set_child(ct, "shares", guest["cpu_shares"])

    rdev.render_cpu(root, guest)
    rdev.render_extra(root, guest)

    devices = root.find("devices")
    existing = parse_domain(root) if base_xml else {"disks": None, "interfaces": None}
    if not mdev.same_disks(guest["disks"], existing["disks"]):
        _replace_disks(devices, guest["disks"])
    if not mdev.same_nics(guest["interfaces"], existing["interfaces"]):
        _replace_nics(devices, guest["interfaces"])
    return ET.tostring(root, encoding="unicode")


def _drop_bus_layout(root):
    """A new machine type (pc <-> q35) has another PCI topology: let libvirt lay out
    controllers and device addresses again."""
    devices = root.find("devices")
    for ctrl in devices.findall("controller"):
        devices.remove(ctrl)
    for parent in devices.iter():
        for addr in parent.findall("address"):
            parent.remove(addr)


def _disk_identity(disk):
    return mdev.disk_view(disk)


def _first_device_pos(devices):
    return 1 if devices.find("emulator") is not None else 0


def _replace_disks(devices, disks):
    for d in devices.findall("disk"):
        if d.get("device", "disk") in ("disk", "cdrom"):
            devices.remove(d)
    pos = _first_device_pos(devices)
    for disk, dev in zip(disks, rdev.target_names(disks, device_names, _DEV_PREFIX)):
        devices.insert(pos, disk_element(disk, dev))
        pos += 1


def _replace_nics(devices, nics):
    for n in devices.findall("interface"):
        if n.get("type") in ("network", "bridge", "direct"):
            devices.remove(n)
    pos = _first_device_pos(devices) + len(devices.findall("disk"))
    for nic in nics:
        devices.insert(pos, nic_element(nic))
        pos += 1
