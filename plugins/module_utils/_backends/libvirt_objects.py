# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks, storage pools, volumes and seeds: validate, resolve, read, apply.

One handler per kind over one shared connection (LibvirtBackend's, with its retries).
Their plans are the pure planners of _plan (what they need of the host, e.g. the guests
using a network, is read by ``current``); ``apply`` runs only outside check mode."""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_objects as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _seed as seed
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _units as units
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import NAME_RE
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    BackendError, SpecError)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model_objects import (
    NETWORK_COMPARED, POOL_COMPARED, VOLUME_COMPARED, network_from_params, pool_from_params, volume_from_params)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import (
    plan_network, plan_pool, plan_seed, plan_volume)


class _Handler(object):
    kind = None

    def __init__(self, backend):
        self.lv = backend  # a LibvirtBackend: .conn and .call (retries)

    def view(self, obj):
        """The object as shown in --diff: its declared fields."""
        if obj is None:
            return {}
        return {k: obj.get(k) for k in ("name", "state") + self.compared if obj.get(k) is not None}

    def _read(self, lookup, name, parse, inactive_flag):
        """The persistent definition of a network or pool as a model, with its run state."""
        try:
            obj = lookup(name)
        except lv.libvirt.libvirtError:
            return None
        with self.boundary("read", name):
            cur = parse(self.call("read " + self.kind, obj.XMLDesc, inactive_flag))
            active = bool(self.call("read %s state" % self.kind, obj.isActive))
            cur.update(active=active, autostart=bool(self.call("read autostart", obj.autostart)),
                       state="active" if active else "inactive")
        return cur

    def call(self, what, fn, *args):
        try:
            return self.lv.call(what, fn, *args)
        except BackendError as e:
            e.kind = self.kind
            raise

    def boundary(self, what, obj=None, field=None):
        """OSError / libvirtError raised in the block -> BackendError naming this kind's object."""
        return self.lv.boundary(what, obj, self.kind, field)

    def apply(self, p, current):
        """Carry out one plan (never in check mode); raises BackendError naming the object."""
        with self.boundary("apply", p["name"]):
            self._apply(p, current)


class NetworkHandler(_Handler):
    kind = "network"
    validate = staticmethod(network_from_params)
    compared = NETWORK_COMPARED
    plan = staticmethod(plan_network)

    def current(self, spec):
        cur = self._read(self.lv.conn.networkLookupByName, spec["name"], render.parse_network,
                         lv.libvirt.VIR_NETWORK_XML_INACTIVE)
        if cur is not None and cur["active"]:
            cur["users"] = self.users(spec["name"])  # the planner refuses a rebuild that cuts them off
        return cur

    def users(self, name):
        """Running guests with an interface on network ``name``."""
        return _running_users(self, name, lambda root: any(
            s.get("network") == name for s in root.findall("devices/interface/source")))

    def resolve(self, n):
        if n["state"] != "absent" and n["forward"] == "bridge" and (
                self.lv.local_only(n["name"], "bridge", "network") and not host.is_bridge(n["bridge"])):
            raise SpecError("%r is not a bridge on this host (create it first, e.g. with the bridge role)" % n["bridge"],
                            n["name"], "bridge", kind="network")
        return n

    def _apply(self, p, current):
        n, conn = p["desired"], self.lv.conn
        if p["action"] == "delete":
            net = conn.networkLookupByName(n["name"])
            if net.isActive():
                self.call("stop network", net.destroy)
            self.call("undefine network", net.undefine)
            return
        if p["action"] == "create":
            net = self.call("define network", conn.networkDefineXML, render.render_network(n))
        else:
            net = conn.networkLookupByName(n["name"])
        if "redefine" in p["actions"]:
            net = self.call("redefine network", conn.networkDefineXML, render.render_network(n, current))
        if "update dhcp live" in p["actions"]:
            self._update_dhcp(net, current["dhcp"], n["dhcp"])
        if "autostart on" in p["actions"] or "autostart off" in p["actions"]:
            self.call("set autostart", net.setAutostart, 1 if n["autostart"] else 0)
        if p.get("rebuild") and net.isActive():
            self.call("stop network", net.destroy)
        if n["state"] == "active" and not net.isActive():
            self.call("start network", net.create)
        elif n["state"] == "inactive" and net.isActive():
            self.call("stop network", net.destroy)

    def _update_dhcp(self, net, old, new):
        libvirt = lv.libvirt
        flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE | libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        cmd = {"add": libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
               "delete": libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE,
               "modify": libvirt.VIR_NETWORK_UPDATE_COMMAND_MODIFY}
        if (old["start"], old["end"]) != (new["start"], new["end"]):
            sec = libvirt.VIR_NETWORK_SECTION_IP_DHCP_RANGE
            self.call("update dhcp range", net.update, cmd["delete"], sec, -1, render.dhcp_range_xml(old), flags)
            self.call("update dhcp range", net.update, cmd["add"], sec, -1, render.dhcp_range_xml(new), flags)
        sec = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST
        before = {h["mac"]: h for h in old["hosts"]}
        after = {h["mac"]: h for h in new["hosts"]}
        for mac in sorted(set(before) - set(after)):
            self.call("remove dhcp host", net.update, cmd["delete"], sec, -1, render.dhcp_host_xml(before[mac]), flags)
        for mac in sorted(set(after)):
            if mac not in before:
                self.call("add dhcp host", net.update, cmd["add"], sec, -1, render.dhcp_host_xml(after[mac]), flags)
            elif before[mac] != after[mac]:
                self.call("change dhcp host", net.update, cmd["modify"], sec, -1, render.dhcp_host_xml(after[mac]), flags)


class PoolHandler(_Handler):
    kind = "pool"
    validate = staticmethod(pool_from_params)
    compared = POOL_COMPARED
    plan = staticmethod(plan_pool)

    def current(self, spec):
        return self._read(self.lv.conn.storagePoolLookupByName, spec["name"], render.parse_pool,
                          lv.libvirt.VIR_STORAGE_XML_INACTIVE)

    def resolve(self, p):
        return p

    def _apply(self, p, current):
        pool_spec, conn = p["desired"], self.lv.conn
        if p["action"] == "delete":
            pool = conn.storagePoolLookupByName(pool_spec["name"])
            if pool.isActive():
                self.call("stop pool", pool.destroy)
            self.call("undefine pool", pool.undefine)  # the directory and its volumes stay
            return
        xml = render.render_pool(pool_spec, current)
        if p["action"] == "create" or any(a.startswith("redefine") for a in p["actions"]):
            pool = self.call("define pool", conn.storagePoolDefineXML, xml, 0)
        else:
            pool = conn.storagePoolLookupByName(pool_spec["name"])
        if p["action"] == "create":
            self.call("build pool", pool.build, 0)  # dir pools: mkdir -p with the mode
        if p["action"] == "create" or any(a.startswith("redefine") for a in p["actions"]):
            self.lv.local_only(pool_spec["name"], "mode", "pool")
            os.chmod(pool_spec["path"], int(pool_spec["mode"], 8))
        if any(a.startswith("autostart") for a in p["actions"]):
            self.call("set autostart", pool.setAutostart, 1 if pool_spec["autostart"] else 0)
        if pool_spec["state"] == "active" and not pool.isActive():
            self.call("start pool", pool.create, 0)
        elif pool_spec["state"] == "inactive" and pool.isActive():
            self.call("stop pool", pool.destroy)


class VolumeHandler(_Handler):
    kind = "volume"
    validate = staticmethod(volume_from_params)
    compared = VOLUME_COMPARED
    plan = staticmethod(plan_volume)

    def __init__(self, backend):
        super(VolumeHandler, self).__init__(backend)
        self._refreshed = set()

    def _pool(self, v):
        try:
            pool = self.lv.conn.storagePoolLookupByName(v["pool"])
        except lv.libvirt.libvirtError:
            raise SpecError("storage pool %r does not exist" % v["pool"], v["name"], "pool", kind="volume")
        if not self.call("read pool state", pool.isActive):
            raise SpecError("storage pool %r is not active" % v["pool"], v["name"], "pool", kind=self.kind)
        if v["pool"] not in self._refreshed:
            self.call("refresh pool", pool.refresh, 0)
            self._refreshed.add(v["pool"])
        return pool

    def lookup(self, v):
        try:
            return self._pool(v).storageVolLookupByName(v["name"])
        except lv.libvirt.libvirtError:
            return None

    def current(self, spec):
        with self.boundary("read", spec["name"]):
            vol = self.lookup(spec)
            if vol is None:
                return None
            cur = render.parse_volume(self.call("read volume", vol.XMLDesc, 0))
        if spec["state"] == "absent":
            cur["users"] = self.users(cur["path"], spec)  # the planner refuses removing a volume in use
        return cur

    def _existing(self, v):
        """The volume of ``v``, which must exist (apply): BackendError when it is gone."""
        vol = self.lookup(v)
        if vol is None:
            raise BackendError("volume %r not found in pool %r" % (v["name"], v["pool"]), v["name"], "name",
                               kind=self.kind)
        return vol

    def resolve(self, v):
        with self.boundary("resolve", v["name"]):
            return self._resolve(v)

    def _resolve(self, v):
        pool = self._pool(v)
        if v["state"] == "absent":
            return v
        capacity = self.call("read pool size", pool.info)[1]
        if v.get("size") and v["size"] > capacity:
            raise SpecError("%s is more than the whole pool %r holds (%s): a volume that can never be written "
                            "full is a typo" % (units.human(v["size"]), v["pool"], units.human(capacity)),
                            v["name"], "size", kind=self.kind)
        if v["backing"] is not None:
            b = v["backing"]
            if b.startswith("/"):
                self.lv.local_only(v["name"], "backing", "volume")
                if not os.path.exists(b):
                    raise SpecError("file %r does not exist" % b, v["name"], "backing", kind="volume")
                v["backing_path"], v["backing_format"] = b, host.sniff_format(b)
                v["backing_size"] = host.image_size(b)
            else:
                bvol = self.lookup(dict(v, name=b))
                if bvol is None:
                    raise SpecError("volume %r not found in pool %r" % (b, v["pool"]), v["name"], "backing", kind="volume")
                info = render.parse_volume(self.call("read volume %s" % b, bvol.XMLDesc, 0))
                v["backing_path"], v["backing_format"], v["backing_size"] = info["path"], info["format"], info["size"]
        if v["source"] is not None and self.lv.local_only(v["name"], "source", "volume") \
                and not os.path.isfile(v["source"]):
            raise SpecError("file %r does not exist" % v["source"], v["name"], "source", kind="volume")
        return v

    def users(self, path, v):
        """Running guests with a disk on this volume (by path or by pool/volume)."""
        return _running_users(self, v["name"], lambda root: any(
            src.get("file") == path or (src.get("pool"), src.get("volume")) == (v["pool"], v["name"])
            for src in root.findall("devices/disk/source")))

    def _apply(self, p, current):
        v = p["desired"]
        pool = self._pool(v)
        if p["action"] == "delete":
            self.call("delete volume", self._existing(v).delete, 0)
            return
        if p["action"] == "create":
            if v["source"]:
                self._convert(pool, v)
            else:
                size = v["size"] or v.get("backing_size")
                if size is None:
                    raise SpecError("required: the backing file's size cannot be read", v["name"], "size", kind="volume")
                xml = render.render_volume(dict(v, size=size), v.get("backing_format"))
                self.call("create volume", pool.createXML, xml, 0)
                return
        if v["size"] is not None:
            vol = self._existing(v)
            if render.parse_volume(self.call("read volume", vol.XMLDesc, 0))["size"] < v["size"]:
                self.call("grow volume", vol.resize, v["size"], 0)

    def _convert(self, pool, v):
        target = os.path.join(render.parse_pool(self.call("read pool", pool.XMLDesc, 0))["path"], v["name"])
        if os.path.exists(target):
            raise BackendError("%s exists but is not a volume of pool %s" % (target, v["pool"]), v["name"], "name",
                               kind="volume")
        tmp = target + ".virtfleet-partial"
        try:
            self.lv.runner(["qemu-img", "convert", "-O", v["format"], v["source"], tmp], "qemu-img convert",
                           v["name"], "source", kind=self.kind)
        except BackendError:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        os.rename(tmp, target)
        self.call("refresh pool", pool.refresh, 0)


class SeedHandler(VolumeHandler):
    """A NoCloud seed ISO kept in a pool volume (module cloud_init)."""

    kind = "cloud_init"
    plan = staticmethod(plan_seed)

    @staticmethod
    def validate(raw):
        name = raw.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise SpecError("invalid volume name %r" % (name,), name if isinstance(name, str) else None, "name",
                            kind="cloud_init")
        pool = raw.get("pool") or "default"
        if not isinstance(pool, str) or not NAME_RE.match(pool):
            raise SpecError("invalid pool name %r" % (pool,), name, "pool", kind="cloud_init")
        state = raw.get("state") or "present"
        if state not in ("present", "absent"):
            raise SpecError("expected one of present|absent, got %r" % (state,), name, "state", kind="cloud_init")
        spec = {"name": name, "pool": pool, "state": state, "format": "raw"}
        if state == "present":
            spec["files"] = seed.seed_files(name, raw.get("user_data"), raw.get("meta_data"), raw.get("network_config"))
        return spec

    def view(self, obj):
        if not obj:
            return {}
        if obj.get("not_seed"):
            return {"name": obj["name"], "seed": False}
        return {"name": obj["name"], "pool": obj.get("pool"),
                "files": {k: "sha256:%s (%d bytes)" % (hashlib.sha256(v).hexdigest()[:16], len(v))
                          for k, v in sorted((obj.get("files") or {}).items())}}

    def _resolve(self, v):
        self._pool(v)
        return v

    def current(self, spec):
        with self.boundary("read", spec["name"]):
            vol = self.lookup(spec)
            if vol is None:
                return None
            info = render.parse_volume(self.call("read volume", vol.XMLDesc, 0))
            self.lv.local_only(spec["name"], "uri", "cloud_init")  # the seed's files are read from its file
            files = seed.read_iso(info["path"])
            return dict(info, pool=spec["pool"], files=files, not_seed=files is None)

    def _apply(self, p, current):
        s = p["desired"]
        pool = self._pool(s)
        if p["action"] == "delete":
            self.call("delete seed", self._existing(s).delete, 0)
            return
        data = seed.build_iso(s["files"])
        vol = self.lookup(s)
        if vol is None:
            xml = render.render_volume({"name": s["name"], "size": len(data), "format": "raw"})
            vol = self.call("create seed volume", pool.createXML, xml, 0)
        elif self.call("read seed volume", vol.info)[1] < len(data):
            self.call("grow seed volume", vol.resize, len(data), 0)
        stream = self.call("open a stream", self.lv.conn.newStream, 0)
        self.call("upload seed", vol.upload, stream, 0, len(data), 0)
        self.call("upload seed", stream.send, data)
        self.call("upload seed", stream.finish)


def _running_users(handler, name, uses):
    """Names of running guests whose live definition ``uses(root)``; a guest that stops or
    goes away while it is read is skipped."""
    libvirt = lv.libvirt
    out = []
    with handler.boundary("list running guests", name):
        doms = handler.call("list running guests", handler.lv.conn.listAllDomains,
                            libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
    for dom in doms:
        try:
            root = ET.fromstring(handler.call("read guest definition", dom.XMLDesc, 0))
        except BackendError as e:
            if e.details.get("code") in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID):
                continue
            e.obj = name
            raise
        if uses(root):
            out.append(dom.name())
    return sorted(out)
