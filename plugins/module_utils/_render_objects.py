# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network, pool and volume models <-> libvirt XML, both ways. Pure."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import libvirt_bytes


def _tostring(root):
    return ET.tostring(root, encoding="unicode")


# -- networks ------------------------------------------------------------------------
def parse_network(xml):
    root = ET.fromstring(xml)
    fwd = root.find("forward")
    mode = fwd.get("mode", "nat") if fwd is not None else "isolated"
    bridge = root.find("bridge")
    mtu = root.find("mtu")
    n = {"name": root.findtext("name"), "uuid": root.findtext("uuid"),
         "forward": mode if mode in ("nat", "route", "bridge") else mode,
         "bridge": bridge.get("name") if bridge is not None else None,
         "mac": root.find("mac").get("address") if root.find("mac") is not None else None,
         "ip": None, "netmask": None, "dhcp": None,
         "mtu": int(mtu.get("size")) if mtu is not None else None}
    ip = next((i for i in root.findall("ip") if i.get("family", "ipv4") == "ipv4"), None)
    if ip is not None:
        n["ip"] = ip.get("address")
        if ip.get("netmask"):
            n["netmask"] = ip.get("netmask")
        elif ip.get("prefix"):
            n["netmask"] = str(ipaddress.IPv4Network("0.0.0.0/%s" % ip.get("prefix")).netmask)
        dhcp = ip.find("dhcp")
        if dhcp is not None and dhcp.find("range") is not None:
            rng = dhcp.find("range")
            n["dhcp"] = {"start": rng.get("start"), "end": rng.get("end"),
                         "hosts": sorted(({"mac": h.get("mac").lower(), "ip": h.get("ip"), "name": h.get("name")}
                                          for h in dhcp.findall("host") if h.get("mac")), key=lambda h: h["mac"])}
    return n


def dhcp_range_xml(dhcp):
    return _tostring(ET.Element("range", {"start": dhcp["start"], "end": dhcp["end"]}))


def dhcp_host_xml(host):
    attrs = {"mac": host["mac"], "ip": host["ip"]}
    if host.get("name"):
        attrs["name"] = host["name"]
    return _tostring(ET.Element("host", attrs))


def render_network(n, current=None):
    """Network XML; the UUID and bridge MAC of ``current`` are kept."""
    root = ET.Element("network")
    ET.SubElement(root, "name").text = n["name"]
    if current and current.get("uuid"):
        ET.SubElement(root, "uuid").text = current["uuid"]
    if n["forward"] != "isolated":
        ET.SubElement(root, "forward", {"mode": n["forward"]})
    if n.get("bridge"):
        attrs = {"name": n["bridge"]}
        if n["forward"] != "bridge":
            attrs["stp"] = "on"
        ET.SubElement(root, "bridge", attrs)
    if current and current.get("mac") and n["forward"] != "bridge":
        ET.SubElement(root, "mac", {"address": current["mac"]})
    if n.get("mtu"):
        ET.SubElement(root, "mtu", {"size": str(n["mtu"])})
    if n.get("ip"):
        ip = ET.SubElement(root, "ip", {"address": n["ip"], "netmask": n["netmask"]})
        if n.get("dhcp"):
            dhcp = ET.SubElement(ip, "dhcp")
            dhcp.append(ET.fromstring(dhcp_range_xml(n["dhcp"])))
            for host in n["dhcp"]["hosts"]:
                dhcp.append(ET.fromstring(dhcp_host_xml(host)))
    return _tostring(root)


# -- pools ---------------------------------------------------------------------------
def parse_pool(xml):
    root = ET.fromstring(xml)
    mode = root.findtext("target/permissions/mode")
    return {"name": root.findtext("name"), "uuid": root.findtext("uuid"), "type": root.get("type"),
            "path": root.findtext("target/path"), "mode": mode.zfill(4) if mode else None}


def render_pool(p, current=None):
    root = ET.Element("pool", {"type": p["type"]})
    ET.SubElement(root, "name").text = p["name"]
    if current and current.get("uuid"):
        ET.SubElement(root, "uuid").text = current["uuid"]
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "path").text = p["path"]
    perms = ET.SubElement(target, "permissions")
    ET.SubElement(perms, "mode").text = p["mode"]
    return _tostring(root)


# -- volumes -------------------------------------------------------------------------
def parse_volume(xml):
    root = ET.fromstring(xml)
    cap = root.find("capacity")
    fmt = root.find("target/format")
    return {"name": root.findtext("name"), "path": root.findtext("target/path"),
            "size": libvirt_bytes(cap.text, cap.get("unit")) if cap is not None else None,
            "format": fmt.get("type") if fmt is not None else "raw",
            "backing": root.findtext("backingStore/path")}


def render_volume(v, backing_format=None):
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = v["name"]
    ET.SubElement(root, "capacity", {"unit": "bytes"}).text = str(v["size"])
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", {"type": v["format"]})
    if v.get("backing_path"):
        bs = ET.SubElement(root, "backingStore")
        ET.SubElement(bs, "path").text = v["backing_path"]
        ET.SubElement(bs, "format", {"type": backing_format or "raw"})
    return _tostring(root)
