# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks, storage pools and volumes: read, plan, apply.

One handler per kind over one shared connection (LibvirtBackend's, with its retries).
``plan`` is pure given what ``current`` read; ``apply`` runs only outside check mode."""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_objects as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _seed as seed
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import NAME_RE
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    BackendError, SpecError, UnsupportedChange)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model_objects import (
    NETWORK_COMPARED, POOL_COMPARED, VOLUME_COMPARED, network_from_params, pool_from_params, volume_from_params)


def new_plan(kind, name, desired):
    return {"kind": kind, "name": name, "action": "none", "changed": False, "actions": [],
            "fields": [], "desired": desired, "restart_required": False}


def _state_plan(p, current, desired, active_word="active"):
    """Shared create/delete/state/autostart planning for networks and pools."""
    want = desired["state"]
    if current is None:
        if want != "absent":
            p.update(action="create", changed=True)
            p["actions"] = ["define"] + (["build"] if p["kind"] == "pool" else []) + (
                ["start"] if want == active_word else []) + (["autostart on"] if desired["autostart"] else [])
        return p, False
    if want == "absent":
        p.update(action="delete", changed=True)
        p["actions"] = (["destroy"] if current["active"] else []) + ["undefine"]
        return p, False
    return p, True


def _finish_state(p, current, desired):
    if desired["autostart"] != current["autostart"]:
        p["fields"].append({"field": "autostart", "apply": "live"})
        p["actions"].append("autostart %s" % ("on" if desired["autostart"] else "off"))
    want_active = desired["state"] == "active"
    if want_active != current["active"]:
        p["actions"].append("start" if want_active else "stop")
    if p["actions"]:
        p.update(action="update", changed=True)
    return p


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

    def current(self, spec):
        return self._read(self.lv.conn.networkLookupByName, spec["name"], render.parse_network,
                          lv.libvirt.VIR_NETWORK_XML_INACTIVE)

    def users(self, name):
        """Running guests with an interface on network ``name``."""
        return _running_users(self, name, lambda root: any(
            s.get("network") == name for s in root.findall("devices/interface/source")))

    def resolve(self, n):
        if n["state"] != "absent" and n["forward"] == "bridge" and not host.is_bridge(n["bridge"]):
            raise SpecError("%r is not a bridge on this host (create it first, e.g. with the bridge role)" % n["bridge"],
                            n["name"], "bridge", kind="network")
        return n

    def plan(self, n, current):
        p, existing = _state_plan(new_plan("network", n["name"], n), current, n)
        if not existing:
            return p
        if n["bridge"] is None:
            n["bridge"] = current["bridge"]
        rebuild = []
        for field in ("forward", "bridge", "ip", "netmask", "dhcp", "mtu"):
            if n[field] == current[field]:
                continue
            live_dhcp = field == "dhcp" and current["active"] and n["dhcp"] and current["dhcp"] and \
                (n["ip"], n["netmask"]) == (current["ip"], current["netmask"])
            if live_dhcp:
                p["fields"].append({"field": field, "apply": "live"})
            elif current["active"]:
                rebuild.append(field)
                p["fields"].append({"field": field, "apply": "rebuild"})
            else:
                p["fields"].append({"field": field, "apply": "config"})
        if rebuild:
            users = self.users(n["name"])
            if users and not n["recreate"]:
                raise UnsupportedChange(
                    "changing %s needs the network rebuilt, which would cut off running guest(s) %s; "
                    "set recreate: true to do it anyway" % (", ".join(rebuild), ", ".join(users)),
                    n["name"], rebuild[0], kind="network")
            p["actions"].extend(["redefine", "restart"])
        elif any(f["apply"] == "config" for f in p["fields"]):
            p["actions"].append("redefine")
        elif p["fields"]:
            p["actions"].append("update dhcp live")
        p["rebuild"] = bool(rebuild)
        return _finish_state(p, current, n)

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

    def current(self, spec):
        return self._read(self.lv.conn.storagePoolLookupByName, spec["name"], render.parse_pool,
                          lv.libvirt.VIR_STORAGE_XML_INACTIVE)

    def resolve(self, p):
        return p

    def plan(self, pool, current):
        p, existing = _state_plan(new_plan("pool", pool["name"], pool), current, pool)
        if not existing:
            if p["action"] == "create" and not pool["path"]:
                raise SpecError("required to create a pool", pool["name"], "path", kind="pool")
            return p
        if pool["path"] is None:
            pool["path"] = current["path"]
        for field, why in (("type", "a pool's type cannot change"),
                           ("path", "moving a pool would orphan its volumes; define a new pool instead")):
            if pool[field] != current[field]:
                raise UnsupportedChange("%s (%r -> %r)" % (why, current[field], pool[field]),
                                        pool["name"], field, kind="pool")
        if pool["mode"] != current["mode"]:
            p["fields"].append({"field": "mode", "apply": "live"})
            p["actions"].append("redefine, chmod %s" % pool["mode"])
        return _finish_state(p, current, pool)

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
            return render.parse_volume(self.call("read volume", vol.XMLDesc, 0))

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
        self._pool(v)
        if v["state"] == "absent":
            return v
        if v["backing"] is not None:
            b = v["backing"]
            if b.startswith("/"):
                if not os.path.exists(b):
                    raise SpecError("file %r does not exist" % b, v["name"], "backing", kind="volume")
                v["backing_path"], v["backing_format"] = b, host.sniff_format(b)
                v["backing_size"] = None
            else:
                bvol = self.lookup(dict(v, name=b))
                if bvol is None:
                    raise SpecError("volume %r not found in pool %r" % (b, v["pool"]), v["name"], "backing", kind="volume")
                info = render.parse_volume(self.call("read volume %s" % b, bvol.XMLDesc, 0))
                v["backing_path"], v["backing_format"], v["backing_size"] = info["path"], info["format"], info["size"]
        if v["source"] is not None and not os.path.isfile(v["source"]):
            raise SpecError("file %r does not exist" % v["source"], v["name"], "source", kind="volume")
        return v

    def users(self, path, v):
        """Running guests with a disk on this volume (by path or by pool/volume)."""
        return _running_users(self, v["name"], lambda root: any(
            src.get("file") == path or (src.get("pool"), src.get("volume")) == (v["pool"], v["name"])
            for src in root.findall("devices/disk/source")))

    def plan(self, v, current):
        p = new_plan("volume", v["name"], v)
        if current is None:
            if v["state"] == "present":
                p.update(action="create", changed=True)
                p["actions"] = ["convert %s" % v["source"]] if v["source"] else ["create"]
                if v["source"] and v["size"]:
                    p["actions"].append("grow to %d" % v["size"])
            return p
        if v["state"] == "absent":
            users = self.users(current["path"], v)
            if users:
                raise UnsupportedChange("in use by running guest(s) %s; stop them or detach it first" % ", ".join(users),
                                        v["name"], "state", kind="volume")
            p.update(action="delete", changed=True, actions=["delete"])
            return p
        if v["format"] != current["format"]:
            raise UnsupportedChange("the volume is %s; converting a volume in place is refused" % current["format"],
                                    v["name"], "format", kind="volume")
        if v["backing"] is not None and v.get("backing_path") != current["backing"]:
            raise UnsupportedChange("backing is %r; rebasing an existing overlay is refused" % (current["backing"],),
                                    v["name"], "backing", kind="volume")
        if v["size"] is not None and v["size"] != current["size"]:
            if v["size"] < current["size"]:
                raise UnsupportedChange("shrinking is refused (%d -> %d bytes): it would destroy data"
                                        % (current["size"], v["size"]), v["name"], "size", kind="volume")
            p["fields"].append({"field": "size", "apply": "live"})
            p["actions"].append("grow to %d" % v["size"])
            p.update(action="update", changed=True)
        return p

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
            files = seed.read_iso(info["path"])
            return dict(info, pool=spec["pool"], files=files, not_seed=files is None)

    def plan(self, v, current):
        p = new_plan("cloud_init", v["name"], v)
        if current is not None and current["not_seed"]:
            raise UnsupportedChange("volume %r in pool %r exists and is not a cidata seed; refusing to touch it"
                                    % (v["name"], v["pool"]), v["name"], "name", kind="cloud_init")
        if v["state"] == "absent":
            if current is not None:
                p.update(action="delete", changed=True, actions=["delete seed"])
            return p
        if current is None:
            p.update(action="create", changed=True, actions=["build seed"])
            p["fields"] = [{"field": f, "apply": "config"} for f in sorted(v["files"])]
        elif current["files"] != v["files"]:
            p.update(action="update", changed=True, actions=["rebuild seed"], restart_required=True)
            p["fields"] = [{"field": f, "apply": "restart"} for f in sorted(set(v["files"]) | set(current["files"]))
                           if v["files"].get(f) != current["files"].get(f)]
        return p

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
