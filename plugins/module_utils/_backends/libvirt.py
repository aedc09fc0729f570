# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt backend: read current guests, resolve references, apply plans.

One connection per module run, closed by ``close()``. Never calls exit_json/fail_json
and never reads check mode: the runner decides whether ``apply`` runs at all.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError, SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_libvirt as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import Capabilities
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_devices as rdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _units as units
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _snapshot as snapshot
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import disk_letters
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import disk_key, nic_key
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.base import GuestBackend

try:
    import libvirt
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()
else:
    LIBVIRT_IMPORT_ERROR = None

_TRANSIENT = ("asynchronous job", "cannot acquire state change lock", "timed out during operation",
              "is busy", "resource busy", "another job", "try again")
_STATE_NAMES = {1: "running", 2: "running", 3: "paused", 7: "paused"}


def _state_name(code):
    return _STATE_NAMES.get(code, "stopped")


class LibvirtBackend(GuestBackend):
    name = "libvirt"
    required_lib = "libvirt-python"
    caps = Capabilities(
        backend="libvirt",
        fields=("fleet", "autostart", "vcpus", "memory", "max_vcpus", "max_memory", "cpu_mode", "hugepages",
                "cpu_shares", "virt_type", "machine", "kernel", "ramdisk", "extra", "disks", "interfaces")
        + mdev.GUEST_KEYS,
        keys=("cloud_init",),
        live={"memory": "up_to_max", "vcpus": "grow_to_max", "cpu_shares": "any",
              "disks": "hotplug", "interfaces": "hotplug"},
        defaults={"vcpus": 1, "memory": 512, "cpu_mode": "default", "hugepages": False, "virt_type": "kvm"},
        balloon=True,
        children=("volume", "cloud_init"),
        meaning={"memory": "currentMemory (the balloon target), max_memory the <memory> ceiling",
                 "vcpus": "online vCPUs, max_vcpus the hot-plug ceiling"},
        states=("running", "stopped", "paused", "saved", "absent"),
        disk_keys=("volume", "pool", "path", "device", "readonly", "bus", "size", "backing") + mdev.DISK_EXTRA,
        nic_keys=("network", "bridge", "model", "mac") + mdev.NIC_EXTRA,
        path_size=True,
    )
    #: plans applied at once over the one connection (thread-safe); libvirtd serves up to 5
    #: calls of one client at a time (max_client_requests), so more would only queue there
    apply_workers = 4
    read_workers = 4

    def __init__(self, params, run_command=None, retries=6, sleep=time.sleep):
        super(LibvirtBackend, self).__init__(params, run_command)
        self.uri = params["uri"]
        self.retries = retries
        self.sleep = sleep
        self._conn = None
        self._domains = None
        self._pools = {}
        self._machines = None
        self._lock = threading.Lock()
        #: what prefetch() read in bulk, per guest name; each entry is used once by current()
        self._prefetched = {}
        #: the state apply left a guest in when it knows it without asking (a new definition)
        self._known_final = {}
        #: what this run's reads found, per guest, for prune and capacity_check before any
        #: change is applied: the fleet of its marker (None: not virtfleet's) and, for a running
        #: guest, (vcpus, memory MiB, hugepages) of its live definition
        self._fleet_of = {}
        self._use_of = {}
        self.runner = host.Runner(run_command)

    @classmethod
    def import_error(cls):
        return LIBVIRT_IMPORT_ERROR

    # -- where checks run ------------------------------------------------------
    @property
    def local(self):
        """True when ``uri`` names a libvirtd on the machine the module runs on."""
        return urlsplit(self.uri).hostname in (None, "", "localhost", "127.0.0.1", "::1")

    def local_only(self, obj, field, kind="guest"):
        """Refuse a check that reads this machine's filesystem when ``uri`` is another host:
        it would be made on the wrong machine (docs/guest-engine.md, What runs where).
        Returns True, so a check reads ``self.local_only(...) and not probe(...)``."""
        if not self.local:
            raise SpecError("is checked on the filesystem of the machine the module runs on, but uri %r is "
                            "another host; run the module on the hypervisor itself (uri qemu:///system)"
                            % self.uri, obj, field, kind=kind)
        return True

    # -- connection and retries ------------------------------------------------
    @property
    def conn(self):
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    try:
                        self._conn = libvirt.open(self.uri)
                    except libvirt.libvirtError as e:
                        raise BackendError("cannot connect to %s: %s" % (self.uri, e), None, "uri")
        return self._conn

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass  # the connection is gone either way
            finally:
                self._conn = None

    def boundary(self, what, obj=None, kind="guest", field=None):
        """host.boundary that also turns a libvirtError (and a size libvirt wrote in a unit it
        does not document) into a BackendError."""
        return host.boundary(what, obj, kind, field, extra=(libvirt.libvirtError, units.UnitError))

    def call(self, what, fn, *args, **kwargs):
        """Run a libvirt call, retrying transient refusals with a bounded backoff. A
        libvirtError becomes a BackendError '<what> failed: <libvirt's text>'."""
        delay = 0.1
        for attempt in range(self.retries + 1):
            try:
                return fn(*args, **kwargs)
            except libvirt.libvirtError as e:
                text = str(e).lower()
                if attempt < self.retries and any(t in text for t in _TRANSIENT):
                    self.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                raise BackendError("%s failed: %s" % (what, e), None, None,
                                   code=e.get_error_code())
        raise AssertionError("unreachable")

    # -- reading ---------------------------------------------------------------
    def domains(self):
        if self._domains is None:
            self._domains = {d.name(): d for d in self.call("list domains", self.conn.listAllDomains, 0)}
        return self._domains

    def current(self, name):
        with self.boundary("read", name):
            return self._current(name)

    def prefetch(self, names):
        """The state, autostart flag and inactive definition of the guests ``names`` that
        exist, read in bulk: one getAllDomainStats for every state, one listAllDomains each for
        the autostart and managed-save flags (instead of three calls per guest), and the
        definitions ``read_workers`` at a time. A guest whose definition cannot be read here
        is left out: current() then reads it alone, so its error stays its own."""
        doms = self.domains()
        wanted = [n for n in names if n in doms and n not in self._prefetched]
        if len(wanted) < 2:
            return
        codes = {d.name(): rec.get("state.state") for d, rec in
                 self.call("read states", self.conn.getAllDomainStats, libvirt.VIR_DOMAIN_STATS_STATE, 0)}
        autostart = {d.name() for d in self.call("list autostart domains", self.conn.listAllDomains,
                                                 libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)}
        saved = {d.name() for d in self.call("list managed-save domains", self.conn.listAllDomains,
                                             libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE)}
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE

        def definition(name):
            try:
                return doms[name].XMLDesc(flags)
            except libvirt.libvirtError:
                return None

        for name, xml in zip(wanted, self._read_all(definition, wanted)):
            if xml is None or codes.get(name) is None:
                continue
            state = _state_name(codes[name])
            if state == "stopped" and name in saved:
                state = "saved"
            self._prefetched[name] = {"state": state, "xml": xml, "autostart": name in autostart}

    def _read_all(self, fn, names):
        """[fn(name) for name in names], ``read_workers`` at a time over the one connection;
        the first exception (in the order of ``names``) is raised, as a loop would raise it."""
        if len(names) < 2:
            return [fn(n) for n in names]
        import concurrent.futures  # only a batch pays for the import

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.read_workers) as pool:
            return list(pool.map(fn, names))

    def dom_state(self, dom):
        """running | paused | stopped, or saved: shut off with a managed-save image."""
        state = _state_name(self.call("read state", dom.state)[0])
        if state == "stopped" and self.call("read managed save", dom.hasManagedSaveImage, 0):
            return "saved"
        return state

    def _current(self, name):
        dom = self.domains().get(name)
        if dom is None:
            return None
        pre = self._prefetched.pop(name, None)
        state = pre["state"] if pre else self.dom_state(dom)
        # SECURE: the graphics password is compared (and masked in every view)
        config_xml = pre["xml"] if pre else self.call(
            "read definition", dom.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        config = render.parse_domain(config_xml)
        live = None
        if state in ("running", "paused"):
            live = render.parse_domain(self.call("read live definition", dom.XMLDesc, libvirt.VIR_DOMAIN_XML_SECURE),
                                       config=config)
        elif state == "saved":  # what a restore brings back
            live = render.parse_domain(self.call("read the managed save", dom.managedSaveGetXMLDesc,
                                                 libvirt.VIR_DOMAIN_SAVE_IMAGE_XML_SECURE), config=config)
        autostart = pre["autostart"] if pre else bool(self.call("read autostart", dom.autostart))
        self._fleet_of[name] = config["fleet"]
        if live is not None and state != "saved":
            self._use_of[name] = (live["vcpus"], live["memory"], bool(live["hugepages"]))
        return {"config": config, "config_xml": config_xml, "live": live, "state": state,
                "autostart": autostart, "managed": config["managed"]}

    def host_resources(self):
        """CPUs and memory as libvirt reports the host (any uri); hugepage pools from this
        machine's sysfs when the uri is local (else not counted)."""
        info = self.call("read host info", self.conn.getInfo)
        out = {"cpus": info[2], "memory_mib": info[1], "hugepages": {}}
        if self.local:
            from ansible_collections.virtfleet.hypervisor.plugins.module_utils._facts import hugepage_facts
            out["hugepages"] = {k: {"total": v["total"]} for k, v in hugepage_facts().items() if v.get("total")}
        return out

    def running_use(self):
        """{name: (vcpus, memory MiB, hugepages)} of the running and paused guests: every state
        from one getAllDomainStats; the live definitions this run has not read yet,
        ``read_workers`` at a time (a guest gone since it was listed is left out)."""
        doms = self.domains()
        codes = {d.name(): rec.get("state.state") for d, rec in
                 self.call("read states", self.conn.getAllDomainStats, libvirt.VIR_DOMAIN_STATS_STATE, 0)}
        active = sorted(n for n in doms if codes.get(n) is not None and _state_name(codes[n]) != "stopped")

        def use(name):
            if name in self._use_of:
                return self._use_of[name]
            try:
                g = render.parse_domain(self.call("read live definition", doms[name].XMLDesc, 0))
            except BackendError as e:
                if e.details.get("code") == libvirt.VIR_ERR_NO_DOMAIN:
                    return None  # gone since it was listed
                raise
            return (g["vcpus"], g["memory"], bool(g["hugepages"]))

        return {name: u for name, u in zip(active, self._read_all(use, active)) if u is not None}

    def pool_space(self, names):
        out = {}
        for name in names:
            try:
                pool = self.conn.storagePoolLookupByName(name)
            except libvirt.libvirtError:
                continue  # not there: the volume's own check names it
            info = self.call("read pool %s" % name, pool.info)
            if info[0] == libvirt.VIR_STORAGE_POOL_RUNNING:
                out[name] = (info[1], info[2])
        return out

    def managed_names(self, fleet):
        """Names of guests that carry virtfleet's marker for ``fleet`` (candidates for prune).
        A definition this run has read already is not read again; the others are read
        ``read_workers`` at a time."""
        doms = self.domains()

        def fleet_of(name):
            if name in self._fleet_of:
                return self._fleet_of[name]
            try:
                xml = self.call("read definition", doms[name].XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE)
            except BackendError as e:
                if e.details.get("code") == libvirt.VIR_ERR_NO_DOMAIN:
                    return None  # undefined since it was listed: not a candidate
                e.obj = name
                raise
            mark = render.marker(ET.fromstring(xml))
            return mark.get("fleet", "default") if mark is not None else None

        names = list(doms)
        self._fleet_of.update(zip(names, self._read_all(fleet_of, names)))
        return sorted(n for n in names if self._fleet_of[n] == fleet)

    def final_state(self, name):
        if name in self._known_final:
            return self._known_final.pop(name)
        try:
            dom = self.conn.lookupByName(name)
        except libvirt.libvirtError:
            return "absent"
        try:
            return self.dom_state(dom)
        except BackendError as e:
            if e.details.get("code") == libvirt.VIR_ERR_NO_DOMAIN:
                return "absent"
            e.obj = name
            raise

    # -- snapshots ---------------------------------------------------------------
    def version(self):
        return self.call("read the libvirt version", self.conn.getLibVersion)

    def snapshots(self, dom):
        """The snapshot records of a domain (oldest first)."""
        version = self.version()
        out = []
        for snap in self.call("list snapshots", dom.listAllSnapshots, 0):
            rec = parse_snapshot(self.call("read snapshot", snap.getXMLDesc, 0), version)
            rec["current"] = bool(self.call("read snapshot", snap.isCurrent, 0))
            out.append(rec)
        return sorted(out, key=lambda r: (r["created"] or 0, r["name"]))

    def snapshot_read(self, guest):
        with self.boundary("reading the snapshots of guest %s" % guest, kind="snapshot"):
            try:
                dom = self.conn.lookupByName(guest)
            except libvirt.libvirtError:
                return None
            state = self.dom_state(dom)
            xml = self.call("read definition", dom.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE)
            refused = snapshot_refusals(xml, self.version())
            if state == "saved":
                refused["create"] = refused["create"] or (
                    "the guest is saved (managed save): resume it (state=running) or discard the saved state "
                    "(state=stopped) before taking a snapshot")
            return {"guest_state": state, "snapshots": self.snapshots(dom), "refused": refused}

    def snapshot_apply(self, guest, ops, current):
        with self.boundary("snapshot of guest %s" % guest, kind="snapshot"):
            dom = self._lookup(guest)
            for op, arg in ops:
                if op == "create":
                    root = ET.Element("domainsnapshot")
                    ET.SubElement(root, "name").text = arg["name"]
                    ET.SubElement(root, "description").text = snapshot.mark_description(arg["description"])
                    # internal: with memory for a running/paused guest, disks only for a stopped one
                    self.call("create snapshot %s" % arg["name"], dom.snapshotCreateXML,
                              ET.tostring(root, encoding="unicode"), libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)
                    continue
                snap = self.call("look up snapshot %s" % arg["name"], dom.snapshotLookupByName, arg["name"], 0)
                if op == "delete":
                    self.call("delete snapshot %s" % arg["name"], snap.delete, 0)
                elif op == "revert":
                    self.call("revert to snapshot %s" % arg["name"], dom.revertToSnapshot, snap, 0)
                elif op == "describe":
                    root = ET.fromstring(self.call("read snapshot", snap.getXMLDesc, 0))
                    desc = root.find("description")
                    if desc is None:
                        desc = ET.Element("description")
                        root.insert(1, desc)
                    desc.text = snapshot.mark_description(arg["description"]) if arg["managed"] \
                        else arg["description"]
                    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
                    if arg.get("current"):
                        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
                    self.call("set the description of snapshot %s" % arg["name"], dom.snapshotCreateXML,
                              ET.tostring(root, encoding="unicode"), flags)
        self._domains = None

    # -- references ------------------------------------------------------------
    def _pool(self, name):
        if name not in self._pools:
            try:
                self._pools[name] = self.conn.storagePoolLookupByName(name)
            except libvirt.libvirtError:
                self._pools[name] = None
        return self._pools[name]

    def _canonical_machines(self, virt_type):
        if self._machines is None:
            self._machines = {}
            caps = ET.fromstring(self.call("read capabilities", self.conn.getCapabilities))
            for guest in caps.findall("guest"):
                if guest.findtext("arch") and guest.find("arch").get("name") != "x86_64":
                    continue
                for dom in guest.findall("arch/domain"):
                    table = self._machines.setdefault(dom.get("type"), {})
                    machines = dom.findall("machine") or guest.findall("arch/machine")
                    for m in machines:
                        table[m.text] = m.get("canonical") or m.text
        return self._machines.get(virt_type, {})

    def resolve(self, guest):
        """Check every reference of a guest (pools, volumes, networks, files, machine)
        and fill in what the renderer needs (disk formats). Raises SpecError."""
        with self.boundary("resolve", guest["name"]):
            return self._resolve(guest)

    def _resolve(self, guest):
        name = guest["name"]
        if guest["state"] == "absent":
            return guest
        machines = self._canonical_machines(guest["virt_type"])
        if not machines:
            raise SpecError("this host offers no '%s' domains on x86_64" % guest["virt_type"],
                            name, "virt_type")
        if guest.get("machine"):
            if guest["machine"] not in machines:
                raise SpecError("unknown machine type %r for virt_type %s (e.g. %s)"
                                % (guest["machine"], guest["virt_type"],
                                   ", ".join(sorted(k for k in machines if "." not in k)[:6])),
                                name, "machine")
            guest["machine"] = machines[guest["machine"]]
        for key in ("kernel", "ramdisk"):
            if guest.get(key) and self.local_only(name, key) and not os.path.isfile(guest[key]):
                raise SpecError("file %r does not exist" % guest[key], name, key)
        for i, disk in enumerate(guest["disks"]):
            field = "disks[%d]" % i
            if disk["volume"]:
                pool = self._pool(disk["pool"])
                if pool is None:
                    raise SpecError("storage pool %r does not exist" % disk["pool"], name, field + ".pool")
                if disk.get("format"):  # a child volume (adopt) or the seed
                    continue
                try:
                    vol = pool.storageVolLookupByName(disk["volume"])
                except libvirt.libvirtError:
                    raise SpecError("volume %r not found in pool %r (give size or backing to have it created)"
                                    % (disk["volume"], disk["pool"]), name, field + ".volume")
                fmt = ET.fromstring(self.call("read volume %s" % disk["volume"], vol.XMLDesc, 0)).find("target/format")
                disk["format"] = fmt.get("type") if fmt is not None else "raw"
            elif disk["path"]:
                self.local_only(name, field + ".path")
                self._resolve_path_disk(name, field, disk)
        for i, nic in enumerate(guest["interfaces"]):
            if nic["network"]:
                try:
                    self.conn.networkLookupByName(nic["network"])
                except libvirt.libvirtError:
                    raise SpecError("network %r does not exist" % nic["network"], name,
                                    "interfaces[%d].network" % i)
            elif nic["bridge"] and self.local_only(name, "interfaces[%d].bridge" % i) and \
                    not host.is_bridge(nic["bridge"]) and not self._ovs_bridge(nic["bridge"]):
                raise SpecError("%r is not a bridge on this host" % nic["bridge"], name,
                                "interfaces[%d].bridge" % i)
            self._resolve_nic_extra(name, "interfaces[%d]" % i, nic)
        self._resolve_extra(guest)
        return guest

    # -- the keys of issue 16: host checks ------------------------------------------
    def _resolve_path_disk(self, name, field, disk):
        """A ``path`` disk: an existing file or device, or (with ``size``) one to create;
        an existing file smaller than ``size`` is grown, never shrunk."""
        path = disk["path"]
        disk["create"] = disk["grow"] = False
        if not os.path.exists(path):
            if disk.get("size") is None:
                raise SpecError("file %r does not exist (give size to have it created)" % path, name, field + ".path")
            if not os.path.isdir(os.path.dirname(path)):
                raise SpecError("directory %r does not exist" % os.path.dirname(path), name, field + ".path")
            disk["create"], disk["is_block"] = True, False
            disk["format"] = disk.get("format") or "qcow2"
            return
        disk["is_block"] = not os.path.isfile(path)
        disk["format"] = host.sniff_format(path)
        if disk.get("size") is not None and not disk["is_block"]:
            disk["grow"] = disk["size"] > self._virtual_size(name, field, path)

    def _virtual_size(self, name, field, path):
        qemu_img = host.find_program("qemu-img")
        if not qemu_img:
            raise SpecError("qemu-img is needed to read the size of %r (Debian package qemu-utils)" % path,
                            name, field + ".size")
        out = self.runner([qemu_img, "info", "-U", "--output=json", path], "qemu-img info %s" % path,
                          name, field + ".size")[1]
        return int(json.loads(out)["virtual-size"])

    def _ovs_bridge(self, bridge):
        ovs = host.find_program("ovs-vsctl")
        return bool(ovs) and self.runner([ovs, "br-exists", bridge], check=False)[0] == 0

    def _resolve_nic_extra(self, name, field, nic):
        if nic.get("direct"):
            dev = nic["direct"]
            if self.local_only(name, field + ".direct") and not os.path.exists("/sys/class/net/%s" % dev):
                raise SpecError("host interface %r does not exist" % dev, name, field + ".direct")
            if host.is_bridge(dev):
                raise SpecError("%r is a bridge: use bridge: %s instead of direct" % (dev, dev), name, field + ".direct")
        if nic.get("vlan") is None:
            return
        if nic.get("bridge"):
            if not self._ovs_bridge(nic["bridge"]):
                raise SpecError("a VLAN tag needs an Open vSwitch bridge; %r is a Linux bridge (put the guest on "
                                "a bridge over a VLAN sub-interface instead)" % nic["bridge"], name, field + ".vlan")
        elif nic.get("network"):
            net = self.call("look up network", self.conn.networkLookupByName, nic["network"])
            vport = ET.fromstring(self.call("read network", net.XMLDesc, 0)).find("virtualport")
            if vport is None or vport.get("type") != "openvswitch":
                raise SpecError("a VLAN tag needs network %r to be an Open vSwitch network (virtualport "
                                "openvswitch); it is not" % nic["network"], name, field + ".vlan")
        elif nic.get("mode") != "passthrough":
            raise SpecError("a VLAN tag on a direct interface needs mode passthrough (an SR-IOV VF)",
                            name, field + ".vlan")

    def _host_info(self):
        if getattr(self, "_hostinfo", None) is None:
            caps = ET.fromstring(self.call("read capabilities", self.conn.getCapabilities))
            cpus = int(self.call("read host info", self.conn.getInfo)[2])
            cells = [int(c.get("id")) for c in caps.findall("host/topology/cells/cell")] or [0]
            pages = {int(p.get("size")) for p in caps.findall("host/cpu/pages")
                     if (p.get("unit") or "KiB") == "KiB"}
            self._hostinfo = {"cpus": cpus, "cells": cells, "pages": pages}
        return self._hostinfo

    def _domcaps(self, guest):
        key = (guest.get("machine"), guest["virt_type"])
        cache = self.__dict__.setdefault("_domcaps_cache", {})
        if key not in cache:
            cache[key] = ET.fromstring(self.call("read domain capabilities", self.conn.getDomainCapabilities,
                                                 None, "x86_64", guest.get("machine"), guest["virt_type"], 0))
        return cache[key]

    def _resolve_extra(self, guest):
        name = guest["name"]
        info = self._host_info()
        for field, sets in (("vcpu_pins", list((guest.get("vcpu_pins") or {}).items())),
                            ("emulator_pin", [(None, guest["emulator_pin"])] if guest.get("emulator_pin") else [])):
            for vcpu, cpus in sets:
                missing = sorted(c for c in mdev.parse_cpuset(cpus) if c >= info["cpus"])
                if missing:
                    raise SpecError("host CPU %d does not exist (this host has CPUs 0-%d)" % (missing[0], info["cpus"] - 1),
                                    name, field if vcpu is None else "%s.%s" % (field, vcpu))
        if guest.get("numatune"):
            missing = sorted(mdev.parse_cpuset(guest["numatune"]["nodeset"]) - set(info["cells"]))
            if missing:
                raise SpecError("host NUMA node %d does not exist (this host has %s)"
                                % (missing[0], mdev.format_cpuset(info["cells"])), name, "numatune.nodeset")
        if guest.get("hugepage_size") and guest["hugepage_size"] not in info["pages"]:
            raise SpecError("this host offers no %d KiB pages (it has %s KiB)" % (
                guest["hugepage_size"], ", ".join(map(str, sorted(info["pages"])))), name, "hugepage_size")
        if guest.get("firmware") == "uefi":
            fw = [v.text for v in self._domcaps(guest).findall("os/enum[@name='firmware']/value")]
            if "efi" not in fw:
                raise SpecError("this host has no UEFI firmware for %s guests (install OVMF: Debian package ovmf)"
                                % guest["virt_type"], name, "firmware")
        if guest.get("secure_boot") and "q35" not in (guest.get("machine") or ""):
            raise SpecError("Secure Boot needs SMM, which needs machine q35", name, "secure_boot")
        if guest.get("tpm"):
            models = [v.text for v in self._domcaps(guest).findall("devices/tpm/enum[@name='backendModel']/value")]
            if "emulator" not in models:
                raise SpecError("this host cannot emulate a TPM (install swtpm: Debian packages swtpm, swtpm-tools)",
                                name, "tpm")
        for i, addr in enumerate(guest.get("hostdevs") or []):
            field = "hostdevs[%d]" % i
            if self.local_only(name, field) and not os.path.isdir("/sys/bus/pci/devices/%s" % addr):
                raise SpecError("no PCI device %s on this host" % addr, name, field)

    # -- child objects ---------------------------------------------------------
    SEED_KEYS = ("user_data", "meta_data", "network_config", "pool")

    def children(self, guest):
        """A disk that declares size/backing has its volume planned with the guest (created
        when missing, grown; never rebased); cloud_init has its seed volume <name>-cidata."""
        if guest["state"] == "absent":
            return []
        out = []
        for i, disk in enumerate(guest["disks"]):
            if disk["volume"] and (disk.get("size") or disk.get("backing")):
                out.append(("volume", {"name": disk["volume"], "pool": disk["pool"], "size": disk.get("size"),
                                       "backing": disk.get("backing"), "format": "qcow2"},
                            "disks[%d]" % i, {"only_when_missing": ("format", "backing")}))
        ci = guest.get("cloud_init")
        if ci is not None:
            if not isinstance(ci, dict) or set(ci) - set(self.SEED_KEYS):
                raise SpecError("expected a mapping with %s" % ", ".join(self.SEED_KEYS), guest["name"], "cloud_init")
            out.append(("cloud_init", dict(ci, name=guest["name"] + "-cidata", pool=ci.get("pool") or "default"),
                        "cloud_init", {}))
        return out

    def adopt(self, guest, children):
        for field, (spec, current) in children.items():
            if field == "cloud_init":
                guest["disks"].append({"volume": spec["name"], "pool": spec["pool"], "path": None, "device": "cdrom",
                                       "bus": "sata", "readonly": True, "size": None, "backing": None,
                                       "format": "raw"})
            else:
                disk = guest["disks"][int(field[len("disks["):-1])]
                disk["format"] = (current or spec)["format"]

    # -- applying --------------------------------------------------------------
    def _apply(self, plan, current):
        with self.boundary("apply", plan["name"]):
            if plan["action"] == "delete":
                self._delete(plan["name"], plan["desired"], current)
            elif plan["action"] in ("create", "update"):
                self._converge(plan, current)

    def apply_alone(self, plan):
        """A plan that creates or grows a ``path`` disk, or removes a guest's storage, is applied
        alone: another guest of the call may name the same file."""
        return bool(plan.get("disk_files")) or bool(
            plan["action"] in ("delete", "prune") and (plan.get("desired") or {}).get("remove_storage"))

    def _lookup(self, name):
        return self.call("look up", self.conn.lookupByName, name)

    def _disk_files(self, plan, dom=None):
        for i in plan.get("disk_files") or []:
            disk = plan["desired"]["disks"][i]
            field = "disks[%d].size" % i
            qemu_img = host.find_program("qemu-img")
            if disk.get("create"):
                self.runner([qemu_img, "create", "-q", "-f", disk["format"], disk["path"], str(disk["size"])],
                            "create %s" % disk["path"], plan["name"], field)
            elif dom is not None and self.call("read state", dom.isActive):
                target = self._live_target(dom, disk)
                self.call("grow %s" % disk["path"], dom.blockResize, target, disk["size"],
                          libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            elif dom is not None:
                self.runner([qemu_img, "resize", "-q", "-f", disk["format"], disk["path"], str(disk["size"])],
                            "grow %s" % disk["path"], plan["name"], field)

    def _live_target(self, dom, disk):
        live = ET.fromstring(self.call("read live definition", dom.XMLDesc, 0))
        for elem in live.findall("devices/disk"):
            if render.parse_disk(elem).get("path") == disk["path"]:
                return elem.find("target").get("dev")
        raise BackendError("disk %s is not in the running guest" % disk["path"], None, "disks")

    def _converge(self, plan, current):
        desired = plan["desired"]
        # a definition this call created is shut off, with no managed save: no need to ask
        fresh = False
        if any(desired["disks"][i].get("create") for i in plan.get("disk_files") or []):
            self._disk_files(dict(plan, disk_files=[i for i in plan["disk_files"] if desired["disks"][i].get("create")]))
        if plan["define"]:
            xml = render.render_domain(desired, current["config_xml"] if current else None)
            try:
                dom = self.call("define", self.conn.defineXML, xml)
            except BackendError as e:
                if current is not None or e.details.get("code") != libvirt.VIR_ERR_OPERATION_FAILED \
                        or "already exists" not in str(e):
                    raise
                # another run defined this guest since it was read (two converges at once): define
                # the declared guest over that definition, keeping its UUID, as an update would
                taken = self._lookup(desired["name"])
                xml = render.render_domain(desired, self.call("read definition", taken.XMLDesc,
                                                              libvirt.VIR_DOMAIN_XML_INACTIVE))
                dom = self.call("define", self.conn.defineXML, xml)
            else:
                fresh = current is None
        else:
            dom = self._lookup(desired["name"])
        grow = [i for i in plan.get("disk_files") or [] if desired["disks"][i].get("grow")]
        if grow:
            self._disk_files(dict(plan, disk_files=grow), dom)
        live_xml = None
        for op, arg in plan["live_ops"]:
            if op == "set_memory":
                self.call("set memory", dom.setMemoryFlags, units.mib_to_kib(arg), libvirt.VIR_DOMAIN_AFFECT_LIVE)
            elif op == "set_vcpus":
                self.call("set vcpus", dom.setVcpusFlags, arg, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            elif op == "set_cpu_shares":
                self.call("set cpu_shares", dom.setSchedulerParametersFlags, {"cpu_shares": arg},
                          libvirt.VIR_DOMAIN_AFFECT_LIVE)
            elif op == "set_iotune":
                self.call("set iotune of %s" % arg["target"], dom.setBlockIoTune, arg["target"],
                          rdev.iotune_params(arg["iotune"]), libvirt.VIR_DOMAIN_AFFECT_LIVE)
            elif op == "set_bandwidth":
                self.call("set bandwidth of %s" % arg["mac"], dom.setInterfaceParameters, arg["mac"],
                          rdev.bandwidth_params(arg["bandwidth"]), libvirt.VIR_DOMAIN_AFFECT_LIVE)
            elif op in ("change_media", "set_link"):
                live_xml = ET.fromstring(self.call("read live definition", dom.XMLDesc, 0))
                self._update_device(dom, op, arg, live_xml)
            else:
                live_xml = live_xml or ET.fromstring(self.call("read live definition", dom.XMLDesc, 0))
                self._hotplug(dom, op, arg, live_xml)
        if plan["autostart"] is not None:
            self.call("set autostart", dom.setAutostart, 1 if plan["autostart"] else 0)
        if plan.get("restart"):
            host.stop(_LibvirtPower(self, dom, desired["name"]), desired)
        if fresh and plan["state_to"] in (None, "stopped") and not plan.get("restart"):
            self._known_final[desired["name"]] = "stopped"
        elif plan["state_to"]:
            host.to_state(_LibvirtPower(self, dom, desired["name"], "stopped" if fresh else None), desired,
                          plan["state_to"])

    def _update_device(self, dom, op, arg, live_xml):
        """A cdrom's medium (inserted, swapped, ejected) or a NIC's link state, live."""
        flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
        if op == "change_media":
            for elem in live_xml.findall("devices/disk"):
                target = elem.find("target")
                if elem.get("device") == "cdrom" and target is not None and target.get("dev") == arg["target"]:
                    new = render.disk_element(dict(arg, format=arg.get("format") or "raw"), arg["target"])
                    addr = elem.find("address")
                    if addr is not None:
                        new.append(addr)
                    self.call("change the medium of %s" % arg["target"], dom.updateDeviceFlags,
                              ET.tostring(new, encoding="unicode"), flags)
                    return
            raise BackendError("no cdrom %s in the running guest" % arg["target"], None, "disks")
        for elem in live_xml.findall("devices/interface"):
            mac = elem.find("mac")
            if mac is not None and mac.get("address").lower() == arg["mac"]:
                for link in elem.findall("link"):
                    elem.remove(link)
                ET.SubElement(elem, "link", {"state": arg.get("link") or "up"})
                self.call("set the link of %s %s" % (arg["mac"], arg.get("link") or "up"), dom.updateDeviceFlags,
                          ET.tostring(elem, encoding="unicode"), flags)
                return
        raise BackendError("no interface %s in the running guest" % arg["mac"], None, "interfaces")

    def _hotplug(self, dom, op, arg, live_xml):
        devices = live_xml.find("devices")
        flags = libvirt.VIR_DOMAIN_AFFECT_LIVE
        if op == "attach_disk":
            used = {t.get("dev") for t in devices.findall("disk/target")}
            prefix = {"virtio": "vd", "scsi": "sd"}[arg["bus"]]
            n = 0
            while prefix + disk_letters(n) in used:
                n += 1
            dev = arg.get("target") or prefix + disk_letters(n)
            xml = ET.tostring(render.disk_element(arg, dev), encoding="unicode")
            self.call("attach disk", dom.attachDeviceFlags, xml, flags)
        elif op == "attach_interface":
            xml = ET.tostring(render.nic_element(arg), encoding="unicode")
            self.call("attach interface", dom.attachDeviceFlags, xml, flags)
        else:
            tag, parse, key = (("disk", render.parse_disk, disk_key) if op == "detach_disk"
                               else ("interface", render.parse_nic, nic_key))
            for elem in devices.findall(tag):
                parsed = parse(elem)
                if parsed and key(parsed) == key(arg):
                    self.call(op.replace("_", " "), dom.detachDeviceFlags,
                              ET.tostring(elem, encoding="unicode"), flags)
                    break

    def _delete(self, name, desired, current):
        dom = self._lookup(name)
        if self.call("read state", dom.isActive):
            self.call("destroy", dom.destroy)
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                 | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        self.call("undefine", dom.undefineFlags, flags)
        if desired.get("remove_storage"):
            for disk in current["config"]["disks"]:
                if disk["device"] == "disk" and not disk["readonly"]:
                    self._remove_disk(disk)

    def _remove_disk(self, disk):
        if disk["volume"]:
            pool = self._pool(disk["pool"])
            if pool is None:
                raise BackendError("cannot remove volume %r: storage pool %r does not exist"
                                   % (disk["volume"], disk["pool"]), None, "remove_storage")
            vol = self.call("look up volume", pool.storageVolLookupByName, disk["volume"])
        else:
            try:
                vol = self.conn.storageVolLookupByPath(disk["path"])
            except libvirt.libvirtError:
                vol = None
                self.local_only(None, "remove_storage")
                if os.path.isfile(disk["path"]):
                    with host.boundary("removing %s" % disk["path"], field="remove_storage"):
                        os.unlink(disk["path"])
        if vol is not None:
            self.call("delete volume", vol.delete, 0)


#: libvirt versions (getLibVersion) that lift this host's snapshot limits
REVERT_EXTERNAL = 9009000  # reverting (and deleting) external snapshots: libvirt 9.9
INTERNAL_UEFI = 10009000  # internal snapshots of UEFI (pflash) guests: libvirt 10.9


def _version_text(n):
    return "%d.%d.%d" % (n // 1000000, (n // 1000) % 1000, n % 1000)


def snapshot_refusals(domain_xml, version):
    """Why libvirt ``version`` cannot take an internal snapshot of this domain definition,
    as {"create", "memory", "disk_only"} -> reason or None. Pure."""
    root = ET.fromstring(domain_xml)
    have = _version_text(version)
    out = {"create": None, "memory": None, "disk_only": None}
    loader = root.find("os/loader")
    uefi = root.find("os").get("firmware") == "efi" if root.find("os") is not None else False
    if (uefi or (loader is not None and loader.get("type") == "pflash")) and version < INTERNAL_UEFI:
        out["create"] = ("internal snapshots of UEFI (pflash) guests need libvirt 10.9 or later (this host: %s), "
                         "and external ones cannot be reverted before 9.9" % have)
    for disk in root.findall("devices/disk"):
        if disk.get("device", "disk") != "disk" or disk.find("readonly") is not None:
            continue
        fmt = (disk.find("driver").get("type") if disk.find("driver") is not None else None)
        if fmt is not None and fmt != "qcow2":
            target = disk.find("target")
            src = disk.find("source")
            where = (src.get("file") or src.get("dev") or src.get("volume")) if src is not None else None
            out["create"] = out["create"] or (
                "internal snapshots need every writable disk in qcow2 format; disk %s (%s) is %s"
                % (target.get("dev") if target is not None else "?", where, fmt))
    out["disk_only"] = ("a disk-only snapshot of a running guest is external, and reverting external snapshots "
                        "needs libvirt 9.9 or later (this host: %s): set memory: true (or leave it out) to keep "
                        "its memory too, or stop the guest first" % have if version < REVERT_EXTERNAL else
                        "a disk-only snapshot of a running guest is external; this module takes internal "
                        "snapshots only: set memory: true (or leave it out), or stop the guest first")
    return out


def parse_snapshot(xml, version):
    """A libvirt snapshot XML as the snapshot record of _snapshot.plan_snapshot."""
    root = ET.fromstring(xml)
    description, managed = snapshot.split_description(root.findtext("description"))
    mem = root.find("memory")
    memory = mem is not None and mem.get("snapshot") in ("internal", "external")
    external = (mem is not None and mem.get("snapshot") == "external") or any(
        d.get("snapshot") == "external" for d in root.findall("disks/disk"))
    created = root.findtext("creationTime")
    state = root.findtext("state")
    return {"name": root.findtext("name"), "description": description, "managed": managed, "memory": memory,
            "created": int(created) if created and created.isdigit() else None,
            "state": {"shutoff": "stopped", "disk-snapshot": "stopped"}.get(state, state),
            "parent": root.findtext("parent/name"), "external": external,
            "revert_refused": ("reverting an external snapshot needs libvirt 9.9 or later (this host: %s)"
                               % _version_text(version)) if external and version < REVERT_EXTERNAL else None}


class _LibvirtPower(host.Power):
    """libvirt's power primitives: create (START_PAUSED for paused), suspend/resume, ACPI
    shutdown then a wait of up to shutdown_timeout for the domain to go inactive, destroy."""

    force_verb = "power it off"

    def __init__(self, backend, dom, name, known=None):
        super(_LibvirtPower, self).__init__(name)
        self.be, self.dom = backend, dom
        #: the state the caller knows the guest is in (a new definition: stopped), used once
        self.known = known

    def state(self):
        if self.known is not None:
            known, self.known = self.known, None
            return known
        return self.be.dom_state(self.dom)

    def is_off(self):
        return not self.be.call("read state", self.dom.isActive)

    def start(self, paused=False):
        if paused:
            self.be.call("start paused", self.dom.createWithFlags, libvirt.VIR_DOMAIN_START_PAUSED)
        else:
            self.be.call("start", self.dom.create)

    def resume(self):
        self.be.call("resume", self.dom.resume)

    def suspend(self):
        self.be.call("suspend", self.dom.suspend)

    def shutdown(self, timeout, force):
        self.be.call("shutdown", self.dom.shutdown)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_off():
                return None
            time.sleep(0.5)
        return None

    def destroy(self):
        self.be.call("destroy", self.dom.destroy)

    def save(self):
        """Managed save: memory to libvirt's own state file (/var/lib/libvirt/qemu/save/<name>.save),
        the domain shut off; the next start resumes it."""
        self.be.call("managed save", self.dom.managedSave, 0)

    def restore(self, paused=False):
        self.be.call("restore (managed save)", self.dom.createWithFlags,
                     libvirt.VIR_DOMAIN_START_PAUSED if paused else 0)

    def discard(self):
        self.be.call("discard the managed save", self.dom.managedSaveRemove, 0)
