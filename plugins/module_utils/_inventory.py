# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest listing for the ``virtfleet.hypervisor.guests`` inventory plugin, importable without
Ansible (the plugin only turns these records into hosts, groups and variables).

One reader per hypervisor, run in a thread of its own (:func:`collect`), each with one
connection and bulk calls:

* libvirt (:func:`read_libvirt`): ``listAllDomains`` (all, persistent, autostart, managed save: four
  filtered listings), ``getAllDomainStats`` (state) and ``DHCPLeases`` of each active network,
  once per host; then each domain's definition (``XMLDesc``: libvirt has no bulk call for
  definitions), read with the guest modules' own reader ``_render_libvirt.parse_domain``, so
  the fields and the fleet marker are what the modules see. Only running guests cost more:
  the ARP table (``interfaceAddresses(SRC_ARP)``) when no lease names them, and the guest
  agent only when the live definition says its channel is connected, with a short deadline.
* LXC and xl hosts (:func:`read_probe`): one command per host (``ssh ... python3 -``, or
  ``python3 -`` for a local host) runs :mod:`_inventory_probe`, which prints the host's
  listing, markers and definitions as JSON; the records are parsed here with the backends'
  own readers.

A guest record is plain JSON (the inventory cache stores it as it is).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_libvirt as rlibvirt

# scheme[+transport]://[user@][host[:port]]/path[?query]; libvirt's drivers and transports
URI_RE = re.compile(r"^(qemu|xen|lxc|libxl|test|ch|bhyve|vz)(\+(unix|ssh|libssh|libssh2|tcp|tls|ext))?://"
                    r"([^/?#\s]*)(/[^?#\s]*)(\?[^#\s]*)?$")
BACKENDS = ("libvirt", "lxc", "xl")
ADDRESS_SOURCES = ("lease", "arp", "agent")
SPEC_FIELDS = ("virt_type", "machine", "vcpus", "max_vcpus", "memory", "max_memory", "cpu_mode",
               "hugepages", "cpu_shares", "kernel", "ramdisk", "extra", "disks", "interfaces")
AGENT_CHANNEL = "org.qemu.guest_agent.0"

# virDomainState -> the guest modules' states (crashed and unknown are kept as such)
LIBVIRT_STATES = {0: "unknown", 1: "running", 2: "running", 3: "paused", 4: "running",
                  5: "stopped", 6: "crashed", 7: "paused"}


class HostError(Exception):
    """A hypervisor could not be read: the message names it."""


def check_uri(uri):
    """None when ``uri`` is a libvirt URI this plugin can use, else why not (a sentence)."""
    if not isinstance(uri, str) or not uri:
        return "a libvirt URI is a non-empty string, got %r" % (uri,)
    m = URI_RE.match(uri)
    if not m:
        return ("malformed libvirt URI %r (expected driver[+transport]://[user@host]/path[?query], "
                "e.g. qemu:///system, qemu+ssh://root@kvm01/system)" % uri)
    query = parse_qs(m.group(6)[1:]) if m.group(6) else {}
    if m.group(3) == "unix" and "socket" in query and not query["socket"][0].startswith("/"):
        return "libvirt URI %r: socket= must be an absolute path" % uri
    if m.group(3) in ("ssh", "libssh", "libssh2", "tcp", "tls") and not m.group(4):
        return "libvirt URI %r: transport %s needs a host" % (uri, m.group(3))
    return None


def uri_host(uri):
    """The host part of a libvirt URI ('' for a local one)."""
    return urlsplit(uri).hostname or ""


# -- addresses ---------------------------------------------------------------------------------
def _usable(ip):
    return bool(ip) and not ip.startswith(("127.", "169.254.", "fe80:")) and ip != "::1"


def _agent_interfaces(ifaces, source):
    """``interfaceAddresses`` result -> [{ip, mac, interface, family, source}]."""
    out = []
    for ifname, data in sorted((ifaces or {}).items()):
        for addr in data.get("addrs") or ():
            ip = addr.get("addr")
            if _usable(ip):
                out.append({"ip": ip, "mac": (data.get("hwaddr") or "").lower() or None, "interface": ifname,
                            "family": "ipv6" if ":" in ip else "ipv4", "source": source})
    return out


def pick_host(addresses, order=ADDRESS_SOURCES):
    """ansible_host: the first IPv4 address by source order (lease, arp, agent), else the first
    IPv6 one, else None."""
    for family in ("ipv4", "ipv6"):
        for source in order:
            for a in addresses:
                if a["source"] == source and a["family"] == family:
                    return a["ip"]
    return None


# -- libvirt -----------------------------------------------------------------------------------
def _live_info(xml):
    """From a running domain's live XML: its NICs' MACs and whether the agent is connected."""
    root = ET.fromstring(xml)
    macs = [m.get("address").lower() for m in root.findall("devices/interface/mac") if m.get("address")]
    agent = False
    for ch in root.findall("devices/channel"):
        target = ch.find("target")
        if target is not None and target.get("name") == AGENT_CHANNEL:
            agent = target.get("state") == "connected"
    return macs, agent


def _leases(conn, libvirt):
    """mac -> [lease dicts] over every active network of the host (one call per network)."""
    out = {}
    for net in conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE):
        try:
            leases = net.DHCPLeases()
        except libvirt.libvirtError:
            continue
        for lease in leases:
            mac = (lease.get("mac") or "").lower()
            if mac and _usable(lease.get("ipaddr")):
                out.setdefault(mac, []).append({
                    "ip": lease["ipaddr"], "mac": mac, "interface": lease.get("iface"),
                    "family": "ipv6" if lease.get("type") == 1 else "ipv4", "source": "lease"})
    return out


def _agent_addresses(doms, libvirt, timeout):
    """Guest agent addresses of ``doms`` (name -> dom), each asked in a daemon thread; whatever
    has not answered after ``timeout`` seconds in all is left out (never waited for)."""
    results = {}

    def ask(name, dom):
        try:
            results[name] = _agent_interfaces(
                dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0), "agent")
        except libvirt.libvirtError:
            results[name] = []

    threads = []
    for name, dom in doms.items():
        t = threading.Thread(target=ask, args=(name, dom), name="virtfleet-agent-" + name, daemon=True)
        t.start()
        threads.append(t)
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return dict(results)


def read_libvirt(conn, libvirt, hypervisor, uri, sources=ADDRESS_SOURCES, agent_timeout=2.0):
    """Every domain of one libvirt connection as guest records (see :func:`guest_record`)."""
    doms = sorted(conn.listAllDomains(0), key=lambda d: d.name())
    persistent = {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT)}
    autostart = {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)}
    # shut off with a managed save image: 'saved', as the guest modules name it (state: saved)
    saved = {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE)}
    states = {}
    for dom, stats in conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0):
        states[dom.UUIDString()] = LIBVIRT_STATES.get(stats.get("state.state"), "unknown")
    leases = _leases(conn, libvirt) if "lease" in sources else {}
    records, agent_wanted = [], {}
    for dom in doms:
        uuid = dom.UUIDString()
        state = states.get(uuid, "unknown")
        if state == "stopped" and uuid in saved:
            state = "saved"
        try:
            if uuid in persistent:
                xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            else:
                xml = dom.XMLDesc(0)
            live_xml = dom.XMLDesc(0) if state in ("running", "paused") and uuid in persistent else xml
        except libvirt.libvirtError as e:  # undefined between the listing and this read
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue
            raise
        try:
            spec = rlibvirt.parse_domain(xml)
        except Exception:  # pylint: disable=broad-except  # a definition the modules' reader refuses
            spec = {"name": dom.name(), "managed": False, "fleet": None}  # (an odd memory unit): listed bare
        rec = guest_record(spec["name"], hypervisor, uri, "libvirt", state, spec,
                           autostart=uuid in autostart, persistent=uuid in persistent,
                           managed=spec["managed"], fleet=spec["fleet"], uuid=uuid)
        addrs = []
        macs = [n["mac"] for n in spec.get("interfaces") or () if n.get("mac")]
        if state in ("running", "paused"):
            live_macs, agent = _live_info(live_xml)
            macs = live_macs or macs
            rec["agent"] = agent
            for mac in macs:
                addrs += leases.get(mac, [])
            if not addrs and "arp" in sources and state == "running":
                try:
                    addrs = _agent_interfaces(
                        dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP, 0), "arp")
                except libvirt.libvirtError:
                    addrs = []
            if not addrs and agent and "agent" in sources and state == "running":
                agent_wanted[rec["name"]] = dom
        rec["addresses"] = addrs
        records.append(rec)
    if agent_wanted and agent_timeout > 0:
        found = _agent_addresses(agent_wanted, libvirt, agent_timeout)
        for rec in records:
            if rec["name"] in found:
                rec["addresses"] = found[rec["name"]]
    for rec in records:
        rec["ansible_host"] = pick_host(rec["addresses"], sources)
    return records


def guest_record(name, hypervisor, uri, backend, state, spec, autostart, persistent=True, managed=False,
                 fleet=None, uuid=None):
    """One guest. ``title``, ``description`` and ``tags`` are the labels the guest modules keep
    (libvirt: <title>, <description>, the managed metadata's tags; xl: the cfg's virtfleet_*
    keys; lxc: virtfleet.json), "" and [] when the guest has none."""
    return {"name": name, "uuid": uuid, "hypervisor": hypervisor, "uri": uri, "backend": backend,
            "state": state, "autostart": bool(autostart), "persistent": persistent, "managed": bool(managed),
            "fleet": fleet, "agent": False, "addresses": [], "ansible_host": None,
            "title": spec.get("title") or "", "description": spec.get("description") or "",
            "tags": sorted(str(t) for t in spec.get("tags") or ()),
            "spec": {k: spec.get(k) for k in SPEC_FIELDS if k in spec}}


def open_libvirt(uri, libvirt):
    """One connection per host. Read-write, because libvirt refuses guest agent queries on a
    read-only one; nothing here changes anything."""
    return libvirt.open(uri)


# -- LXC and xl over SSH -------------------------------------------------------------------------
def probe_source():
    """The text of the probe script sent to a host's Python on stdin."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_inventory_probe.py")
    with open(path) as f:
        return f.read()


def probe_argv(host, python="python3", user=None, port=None, key=None, ssh_args=(), timeout=10,
               local=False):
    """The argv that runs the probe on ``host``: ``python3 -`` locally, else through ssh in
    batch mode (no password prompt can hang an inventory run)."""
    if local:
        return [python, "-"]
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % max(1, int(timeout))]
    if port:
        argv += ["-p", str(int(port))]
    if key:
        argv += ["-i", key]
    if user:
        argv += ["-l", user]
    argv += list(ssh_args) + ["--", host, python, "-"]
    return argv


def run_probe(argv, backend, options, timeout):
    """Run the probe: its JSON document, or HostError with what went wrong."""
    payload = probe_source() + "\nmain(%r)\n" % json.dumps(dict(options, backend=backend))
    try:
        proc = subprocess.run(argv, input=payload, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, LC_ALL="C"), check=False)
    except subprocess.TimeoutExpired:
        raise HostError("no answer after %d s" % timeout)
    except OSError as e:
        raise HostError("cannot run %s: %s" % (argv[0], e))
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["exit code %d" % proc.returncode])[-1]
        raise HostError(err)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise HostError("the probe printed no JSON: %s" % proc.stdout[:200])
    if doc.get("error"):
        raise HostError(doc["error"])
    return doc


def read_probe(doc, hypervisor, where):
    """Guest records from a probe document (LXC or xl)."""
    backend = doc["backend"]
    if backend == "lxc":
        return _lxc_records(doc, hypervisor, where)
    return _xl_records(doc, hypervisor, where)


def _lxc_records(doc, hypervisor, where):
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_lxc as rlxc
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import labels_of, parse_listing
    listing = parse_listing(doc["listing"])
    out = []
    for name in sorted(listing):
        info = listing[name]
        c = doc["containers"].get(name) or {}
        mark = c.get("marker") if isinstance(c.get("marker"), dict) else None
        spec = {}
        if c.get("config") is not None:
            try:
                spec = rlxc.to_model(rlxc.parse(c["config"]), doc["cgroup"], (mark or {}).get("config_keys") or (), ())
            except Exception:  # pylint: disable=broad-except  # a config LXC itself would refuse
                spec = {}
        spec.update(labels_of(mark))  # kept in the marker, not in the config
        rec = guest_record(name, hypervisor, where, "lxc", info["state"], spec, info["autostart"],
                           managed=mark is not None and bool(mark.get("fleet")),
                           fleet=(mark or {}).get("fleet"))
        rec["spec"].update({k: spec[k] for k in ("config",) if k in spec})
        addrs = []
        for ip in c.get("ipv4") or ():
            if _usable(ip):
                addrs.append({"ip": ip, "mac": None, "interface": None, "family": "ipv4", "source": "lxc"})
        rec["addresses"] = addrs
        rec["ansible_host"] = addrs[0]["ip"] if addrs else None
        out.append(rec)
    return out


def _xl_records(doc, hypervisor, where):
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_xl as rxl
    running = rxl.parse_xl_list(doc.get("list") or "")
    running.pop("Domain-0", None)
    configs = doc.get("configs") or {}
    saved = set(doc.get("saved") or ())  # xl save state files (state: saved), by guest name
    out = []
    for name in sorted(set(configs) | set(running)):  # xl names are unique per host
        cfg = configs.get(name)
        spec = {}
        if cfg is not None:
            try:
                spec = rxl.parse_cfg_model(cfg["text"])
            except rxl.CfgError:
                spec = {}
        dom = running.get(name)
        if dom is None:
            state = "saved" if name in saved else "stopped"
        else:
            state = {"paused": "paused", "crashed": "crashed"}.get(dom["state"], "running")
        rec = guest_record(name, hypervisor, where, "xl", state, spec, autostart=bool(cfg and cfg.get("auto")),
                           persistent=cfg is not None, managed=spec.get("managed", False),
                           fleet=spec.get("fleet") if spec.get("managed") else None)
        for key in ("xen_type", "on_crash"):
            if key in spec:
                rec["spec"][key] = spec[key]
        out.append(rec)
    return out


# -- many hosts at once ------------------------------------------------------------------------
def collect(jobs, timeout):
    """Run every job (name, callable returning records) in its own daemon thread, all at once.
    Returns (records by job name, {job name: error message}); a job still running after
    ``timeout`` seconds is an error ("no answer") and is not waited for."""
    results, errors = {}, {}

    def run(name, fn):
        try:
            results[name] = fn()
        except HostError as e:
            errors[name] = str(e)
        except Exception as e:  # pylint: disable=broad-except  # reported per host, the others still list
            errors[name] = "%s: %s" % (type(e).__name__, e)

    threads = []
    for name, fn in jobs:
        t = threading.Thread(target=run, args=(name, fn), name="virtfleet-inv-" + name, daemon=True)
        t.start()
        threads.append((name, t))
    deadline = time.monotonic() + timeout
    for name, t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            errors[name] = "no answer after %d s" % timeout
    return {k: v for k, v in results.items() if k not in errors}, errors
