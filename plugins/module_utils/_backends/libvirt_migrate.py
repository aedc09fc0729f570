# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a libvirt guest to another host (module migrate), as a kind of the one pipeline.

``current`` reads the guest on both hosts and what the destination offers (its CPUs and
memory and what its running guests use, networks, bridges, pools, volumes); ``plan`` (pure)
decides and refuses, before anything moves, what the destination cannot take (its capacity
as ``_placement.admit`` counts it for ``capacity_check``, the same ratios and wording);
``apply`` migrates live (libvirt's
migrateToURI3 / migrate3 with LIVE | PERSIST_DEST | UNDEFINE_SOURCE, bounded by a timeout
that aborts the job, or switches to post-copy when asked) or moves a stopped guest's
definition (define on the destination, undefine on the source)."""

from __future__ import annotations

import os
import threading
import time
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_libvirt as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.operation import OperationHandler
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError, SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import NAME_RE
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import new_plan

KIND = "migrate"
#: what QEMU says on the destination when it cannot do post-copy (no userfaultfd for it)
POSTCOPY_UNSUPPORTED = "postcopy is not supported"
#: seconds between two requests to switch to post-copy while libvirt cannot yet
POSTCOPY_RETRY = 0.5


def validate(raw):
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("invalid guest name %r" % (name,), name if isinstance(name, str) else None, "name", kind=KIND)
    spec = {k: raw.get(k) for k in ("name", "uri", "dest_uri", "live", "offline", "copy_storage", "bandwidth",
                                    "timeout", "postcopy", "p2p", "tunnelled", "migration_host",
                                    "capacity_check", "cpu_ratio", "memory_ratio", "disk_ratio",
                                    "reserved_memory_mib")}
    if not spec["dest_uri"] or not isinstance(spec["dest_uri"], str):
        raise SpecError("required: the libvirt URI of the destination host", name, "dest_uri", kind=KIND)
    if spec["dest_uri"] == spec["uri"]:
        raise SpecError("is the source uri itself", name, "dest_uri", kind=KIND)
    for field in ("bandwidth", "timeout", "reserved_memory_mib"):
        if spec[field] is not None and spec[field] < 0:
            raise SpecError("must be >= 0, got %r" % spec[field], name, field, kind=KIND)
    for field in ("cpu_ratio", "memory_ratio", "disk_ratio"):
        if spec[field] is not None:
            _placement.number(KIND, name, field, spec[field])
    if spec["capacity_check"] is None:
        spec["capacity_check"] = True
    if spec["postcopy"] and not spec["timeout"]:
        raise SpecError("postcopy switches to post-copy when the timeout expires: set timeout too", name,
                        "postcopy", kind=KIND)
    if spec["copy_storage"] and spec["tunnelled"]:
        raise SpecError("libvirt cannot tunnel the disk copy (it fails after creating the destination volumes): "
                        "use tunnelled: false, with migration_host when the destination's hostname does not "
                        "resolve", name, "copy_storage", kind=KIND)
    if spec["tunnelled"] and not spec["p2p"]:
        raise SpecError("a tunnelled migration is peer-to-peer: it needs p2p: true", name, "tunnelled", kind=KIND)
    if spec["migration_host"] and spec["tunnelled"]:
        raise SpecError("a tunnelled migration has no data connection of its own", name, "migration_host", kind=KIND)
    if spec["postcopy"] and not spec["live"]:
        raise SpecError("post-copy is a live migration: it needs live: true", name, "postcopy", kind=KIND)
    if spec["postcopy"] and spec["tunnelled"]:
        raise SpecError("libvirt cannot switch a tunnelled migration to post-copy: use tunnelled: false (with "
                        "migration_host when the destination's hostname does not resolve)", name, "postcopy",
                        kind=KIND)
    return spec


def _guest(dom, libvirt):
    """The guest as the planner needs it: identity, state, definition model, flags."""
    state = lv._state_name(dom.state()[0])
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
    try:
        snapshots = dom.snapshotNum(0)
    except libvirt.libvirtError:
        snapshots = 0
    return {"uuid": dom.UUIDString(), "state": state, "persistent": bool(dom.isPersistent()),
            "autostart": bool(dom.autostart()), "managed_save": bool(dom.hasManagedSaveImage(0)),
            "snapshots": snapshots, "config": render.parse_domain(xml), "xml": xml}


def _lookup(conn, name, libvirt):
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def _host_uuid(conn):
    return ET.fromstring(conn.getCapabilities()).findtext("host/uuid")


def _use(dom, libvirt):
    """What a running guest uses, as _placement.guest_use counts it (its live definition)."""
    g = render.parse_domain(dom.XMLDesc(0)) if dom.isActive() else render.parse_domain(
        dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    return _placement.guest_use(g["vcpus"], g["memory"], bool(g["hugepages"]))


def _bridge_on(conn, name, local, libvirt):
    """True / False when the destination can tell whether ``name`` is a bridge there; None
    when it cannot (no interface driver and not this machine)."""
    try:
        conn.interfaceLookupByName(name)
        return True
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_INTERFACE:
            return False if not local else host.is_bridge(name)
        return host.is_bridge(name) if local else None


class MigrateHandler(OperationHandler):
    kind = KIND
    validate = staticmethod(validate)
    result_extra = ("source_uri", "dest_uri", "mode", "location", "duration")

    def __init__(self, backend):
        super().__init__(backend)
        self._dest = None
        self._dest_backend = None

    # -- connections -----------------------------------------------------------
    def dest(self, name):
        """The connection to the destination, through a LibvirtBackend of its own (which reads
        its capacity as capacity_check reads a host's)."""
        if self._dest is None:
            self._dest_backend = lv.LibvirtBackend({"uri": self.dest_uri})
            try:
                self._dest = self._dest_backend.conn
            except BackendError as e:
                raise BackendError(e.msg, name, "dest_uri", kind=KIND)
        return self._dest

    def close(self):
        if self._dest_backend is not None:
            self._dest_backend.close()
            self._dest, self._dest_backend = None, None

    def resolve(self, spec):
        self.dest_uri = spec["dest_uri"]
        return spec

    # -- reading ---------------------------------------------------------------
    def current(self, spec):
        libvirt = lv.libvirt
        name = spec["name"]
        with self.boundary("read the source %s" % self.lv.uri, name, "uri"):
            src_conn = self.lv.conn
            dom = _lookup(src_conn, name, libvirt)
            source = _guest(dom, libvirt) if dom is not None else None
            src_uuid = _host_uuid(src_conn)
        dconn = self.dest(name)
        with self.boundary("read the destination %s" % spec["dest_uri"], name, "dest_uri"):
            ddom = _lookup(dconn, name, libvirt)
            dest = _guest(ddom, libvirt) if ddom is not None else None
            facts = {"host_uuid": _host_uuid(dconn), "source_host_uuid": src_uuid}
            guest = source or dest
            if source is not None and dest is None:
                facts.update(self._dest_facts(dconn, source["config"], spec))
                if spec["copy_storage"]:
                    facts["copies"] = self._copies(src_conn, dconn, source["config"], facts, spec)
                if source["state"] != "stopped":
                    facts["demand"] = _use(dom, libvirt)
        return {"source": source, "dest": dest, "facts": facts, "guest": guest,
                "uris": {"source": spec["uri"], "destination": spec["dest_uri"]}}

    def _dest_facts(self, dconn, config, spec):
        """What the destination offers for this guest's needs."""
        libvirt = lv.libvirt
        local = self._dest_backend.local
        facts = {"host": None, "running": {}, "networks": {}, "bridges": {}, "pools": {}, "volumes": {}}
        if spec["capacity_check"]:
            facts["host"] = self._dest_backend.host_resources()
            facts["running"] = {n: _placement.guest_use(*use) for n, use in self._dest_backend.running_use().items()}
        for nic in config["interfaces"]:
            if nic.get("network"):
                try:
                    facts["networks"][nic["network"]] = bool(dconn.networkLookupByName(nic["network"]).isActive())
                except libvirt.libvirtError:
                    facts["networks"][nic["network"]] = None
            elif nic.get("bridge"):
                facts["bridges"][nic["bridge"]] = _bridge_on(dconn, nic["bridge"], local, libvirt)
        refreshed = set()
        for disk in config["disks"]:
            if disk["volume"]:
                pool = self._pool(dconn, disk["pool"], refreshed)
                facts["pools"][disk["pool"]] = pool is not None and bool(pool.isActive())
                if facts["pools"][disk["pool"]]:
                    try:
                        pool.storageVolLookupByName(disk["volume"])
                        facts["volumes"][disk["pool"] + "/" + disk["volume"]] = True
                    except libvirt.libvirtError:
                        facts["volumes"][disk["pool"] + "/" + disk["volume"]] = False
            elif disk["path"]:
                for p in dconn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
                    if p.name() not in refreshed:
                        p.refresh(0)
                        refreshed.add(p.name())
                try:
                    dconn.storageVolLookupByPath(disk["path"])
                    facts["volumes"][disk["path"]] = True
                except libvirt.libvirtError:
                    facts["volumes"][disk["path"]] = False
        return facts

    def _copies(self, src_conn, dconn, config, facts, spec):
        """The disks copy_storage copies (writable disks the destination lacks): for each, the
        destination pool libvirt creates its copy in (a volume's own pool; for a path, the active
        pool whose directory holds it, None when there is none) and its size on the source (its
        capacity, as libvirt creates the copy; None when no pool there holds it); and, with
        capacity_check, what those pools hold and can hold."""
        libvirt = lv.libvirt
        by_dir = None
        copies = []
        for i, disk in enumerate(config["disks"]):
            key = disk["pool"] + "/" + disk["volume"] if disk["volume"] else disk["path"]
            if not key or disk["device"] != "disk" or disk["readonly"] or facts["volumes"].get(key):
                continue
            if disk["volume"]:
                pool = disk["pool"]
            else:
                if by_dir is None:
                    by_dir = {}
                    for p in dconn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
                        path = ET.fromstring(p.XMLDesc(0)).findtext("target/path")
                        if path:
                            by_dir.setdefault(os.path.normpath(path), p.name())
                pool = by_dir.get(os.path.dirname(os.path.normpath(disk["path"])))
            try:
                vol = (src_conn.storagePoolLookupByName(disk["pool"]).storageVolLookupByName(disk["volume"])
                       if disk["volume"] else src_conn.storageVolLookupByPath(disk["path"]))
                size = vol.info()[1]
            except libvirt.libvirtError:
                size = None
            copies.append({"index": i, "key": key, "pool": pool, "bytes": size})
        pools = sorted({c["pool"] for c in copies if c["pool"]})
        space = self._dest_backend.pool_space(pools) if spec["capacity_check"] and pools else {}
        return {"disks": copies, "pools": {name: list(v) for name, v in space.items()}}

    @staticmethod
    def _pool(dconn, name, refreshed):
        try:
            pool = dconn.storagePoolLookupByName(name)
        except lv.libvirt.libvirtError:
            return None
        if pool.isActive() and name not in refreshed:
            pool.refresh(0)
            refreshed.add(name)
        return pool

    # -- planning (pure) -------------------------------------------------------
    @staticmethod
    def planner(spec, current):
        return plan_migration(spec, current)

    # -- applying --------------------------------------------------------------
    def _apply(self, p, current):
        name = p["name"]
        with self.boundary("migrate", name):
            start = time.monotonic()
            if p["mode"] == "live":
                self._live(p, current)
            elif p["mode"] == "offline":
                self._offline(p, current)
            if "undefine the leftover definition on the source" in p["actions"]:
                dom = self.lv.conn.lookupByName(name)
                self.lv.call("undefine on the source", dom.undefineFlags, _undefine_flags())
            p["duration"] = round(time.monotonic() - start, 2)

    def _flags(self, spec):
        libvirt = lv.libvirt
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
                 | libvirt.VIR_MIGRATE_ABORT_ON_ERROR)
        if not spec["live"]:
            flags &= ~libvirt.VIR_MIGRATE_LIVE
        if spec["p2p"]:
            flags |= libvirt.VIR_MIGRATE_PEER2PEER
        if spec["tunnelled"]:
            flags |= libvirt.VIR_MIGRATE_TUNNELLED
        if spec["copy_storage"]:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
        if spec["postcopy"]:
            flags |= libvirt.VIR_MIGRATE_POSTCOPY
        return flags

    def _live(self, p, current):
        libvirt = lv.libvirt
        spec, name = p["desired"], p["name"]
        dom = self.lv.conn.lookupByName(name)
        params = {}
        if spec["bandwidth"]:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(spec["bandwidth"])
        if spec["migration_host"]:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = "tcp://%s" % spec["migration_host"]
            if spec["copy_storage"]:
                params[libvirt.VIR_MIGRATE_PARAM_DISKS_URI] = "tcp://%s" % spec["migration_host"]
        flags = self._flags(spec)
        outcome = {}

        def run():
            try:
                if spec["p2p"]:
                    dom.migrateToURI3(spec["dest_uri"], params, flags)
                else:
                    dom.migrate3(self.dest(name), params, flags)
            except libvirt.libvirtError as e:
                outcome["error"] = e
            except Exception as e:  # pylint: disable=broad-except
                outcome["error"] = e

        worker = threading.Thread(target=run, name="virtfleet-migrate")
        worker.daemon = True
        worker.start()
        timed_out = False
        if spec["timeout"]:
            worker.join(spec["timeout"])
            if worker.is_alive():
                timed_out = True
                if spec["postcopy"]:
                    # libvirt refuses the switch until its outgoing job runs (the destination's QEMU
                    # can take seconds to start on a loaded host): ask again until it goes through
                    # or the migration ends
                    waited = spec["timeout"]
                    while worker.is_alive():
                        if self._try(dom.migrateStartPostCopy, 0):
                            p["actions"].append("switched to post-copy after %ss" % round(waited, 1))
                            break
                        worker.join(POSTCOPY_RETRY)
                        waited += POSTCOPY_RETRY
                else:
                    self._try(dom.abortJob)
        worker.join()
        if "error" in outcome:
            e = outcome["error"]
            where = self._where(name)
            if spec["postcopy"] and POSTCOPY_UNSUPPORTED in str(e).lower():
                raise BackendError(
                    "refused by the destination: its QEMU cannot do post-copy (%s; QEMU needs userfaultfd there: "
                    "QEMU before 8.1 running as an unprivileged user gets it only with the sysctl "
                    "vm.unprivileged_userfaultfd=1, QEMU running as root always); nothing moved, the guest is %s; migrate without postcopy"
                    % (e, where), name, "postcopy", kind=KIND)
            if timed_out and not spec["postcopy"]:
                raise BackendError("did not complete within timeout=%ss; the migration was aborted (%s); the guest "
                                   "is %s" % (spec["timeout"], e, where), name, "timeout", kind=KIND)
            raise BackendError("migration to %s failed: %s; the guest is %s" % (spec["dest_uri"], e, where),
                               name, "dest_uri", kind=KIND)
        ddom = self.dest(name).lookupByName(name)
        if current["source"]["autostart"]:
            self.lv.call("set autostart on the destination", ddom.setAutostart, 1)

    @staticmethod
    def _try(fn, *args):
        """True when the call went through; False when the job ended meanwhile (the migration
        call reports how)."""
        try:
            fn(*args)
            return True
        except lv.libvirt.libvirtError:
            return False

    def _where(self, name):
        """Where the guest is after a failed migration, for the error message."""
        out = []
        for label, conn in (("source", self.lv.conn), ("destination", self._dest)):
            try:
                dom = conn.lookupByName(name) if conn is not None else None
                if dom is not None:
                    out.append("%s on the %s" % (lv._state_name(dom.state()[0]), label))
            except lv.libvirt.libvirtError:
                continue
        return " and ".join(out) or "on neither host (see both hosts' libvirt logs)"

    def _offline(self, p, current):
        name, src = p["name"], current["source"]
        dconn = self.dest(name)
        ddom = self.lv.call("define on the destination", dconn.defineXML, src["xml"])
        if src["autostart"]:
            self.lv.call("set autostart on the destination", ddom.setAutostart, 1)
        dom = self.lv.conn.lookupByName(name)
        self.lv.call("undefine on the source", dom.undefineFlags, _undefine_flags())

    # -- the pipeline's view ---------------------------------------------------
    @staticmethod
    def before(current):
        return _where_view(current, "before")

    @staticmethod
    def after(p, current):
        if p["mode"] == "none" and not p["changed"]:
            return _where_view(current, "before")
        return {"host": p["desired"]["dest_uri"], "state": p["state_after"]}

    @staticmethod
    def final_state(p, current, check_mode):
        if p.get("failed"):
            g = current.get("source") or current.get("dest") if current else None
            return g["state"] if g else None
        return p["state_after"]


def _undefine_flags():
    """Undefining the moved guest on the source keeps its NVRAM file (a UEFI guest's variables)."""
    return lv.libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM


def _where_view(current, _when):
    if not current:
        return {}
    uris = current.get("uris") or {}
    if current.get("source"):
        return {"host": uris.get("source"), "state": current["source"]["state"]}
    if current.get("dest"):
        return {"host": uris.get("destination"), "state": current["dest"]["state"]}
    return {}


def plan_migration(spec, current):
    """What moving ``spec['name']`` to ``dest_uri`` takes, or a SpecError naming the field
    the destination cannot satisfy. Pure."""
    name = spec["name"]
    src, dst, facts = current["source"], current["dest"], current["facts"]
    p = new_plan(KIND, name, spec)
    p.update(mode="none", source_uri=spec["uri"], dest_uri=spec["dest_uri"], location=spec["dest_uri"],
             duration=0.0, state_after=None)
    if facts["host_uuid"] and facts["host_uuid"] == facts["source_host_uuid"]:
        raise SpecError("names the source host itself (same libvirt host UUID %s)" % facts["host_uuid"], name,
                        "dest_uri", kind=KIND)
    if src is None and dst is None:
        raise SpecError("no guest of this name on the source (%s) nor on the destination (%s)"
                        % (spec["uri"], spec["dest_uri"]), name, "name", kind=KIND)
    if dst is not None:
        if src is not None and src["uuid"] != dst["uuid"]:
            raise SpecError("the destination has a different guest of this name (UUID %s, the source's is %s)"
                            % (dst["uuid"], src["uuid"]), name, "dest_uri", kind=KIND)
        if src is None or (dst["state"] != "stopped" and src["state"] == "stopped"):
            p["state_after"] = dst["state"]
            if src is not None:  # a definition left on the source after the guest moved
                p.update(action="update", changed=True, mode="cleanup")
                p["actions"] = ["undefine the leftover definition on the source"]
                p["fields"] = [{"field": "location", "apply": "config"}]
            return p
        if dst["state"] != "stopped" and src["state"] != "stopped":
            raise SpecError("runs on both hosts (source %s, destination %s): resolve that by hand"
                            % (src["state"], dst["state"]), name, "dest_uri", kind=KIND)
        if src["state"] == "stopped":  # both defined, both stopped
            if not spec["offline"]:
                raise SpecError("is stopped and defined on both hosts; set offline: true to keep only the "
                                "destination's definition", name, "offline", kind=KIND)
            p.update(action="update", changed=True, mode="cleanup", state_after="stopped")
            p["actions"] = ["undefine the leftover definition on the source"]
            p["fields"] = [{"field": "location", "apply": "config"}]
            return p
    # the guest is (only, or running) on the source: it moves
    cfg = src["config"]
    if not src["persistent"]:
        raise SpecError("is a transient guest (no persistent definition): define it first", name, "name", kind=KIND)
    if src["state"] == "stopped":
        if not spec["offline"]:
            raise SpecError("is stopped: set offline: true to move its definition (define on the destination, "
                            "undefine on the source)", name, "offline", kind=KIND)
        if src["managed_save"]:
            raise SpecError("has a saved state (managed save) on the source, which cannot move: start it or "
                            "discard the save first", name, "state", kind=KIND)
        if spec["copy_storage"]:
            raise SpecError("an offline move carries the definition only; its disks must already be on the "
                            "destination (shared storage)", name, "copy_storage", kind=KIND)
    if src["snapshots"]:
        raise SpecError("has %d snapshot(s), whose metadata would not move: delete them first" % src["snapshots"],
                        name, "name", kind=KIND)
    _check_destination(spec, cfg, facts, src["state"] == "stopped")
    live = src["state"] != "stopped"
    p.update(action="update", changed=True, mode="live" if live else "offline", state_after=src["state"])
    p["fields"] = [{"field": "location", "apply": "live" if live else "config"}]
    if live:
        how = ["live" if spec["live"] else "paused"] + [w for w, on in (
            ("peer-to-peer", spec["p2p"]), ("tunnelled", spec["tunnelled"]),
            ("copying storage", spec["copy_storage"]), ("post-copy after %ss" % spec["timeout"], spec["postcopy"]),
            ("%s MiB/s" % spec["bandwidth"], spec["bandwidth"])) if on]
        p["actions"] = ["migrate to %s (%s)" % (spec["dest_uri"], ", ".join(how)),
                        "undefine on the source"]
    else:
        p["actions"] = ["define on %s" % spec["dest_uri"], "undefine on the source"]
    if src["autostart"]:
        p["actions"].insert(1, "autostart on the destination")
    return p


def _admit(spec, facts):
    """The destination takes the running guest only if its running guests stay within its
    capacity after the ratios: ``_placement.admit``, as capacity_check admits a guest that
    starts there. A stopped guest moving offline takes nothing until it starts (and its
    start is then admitted by the guest module's capacity_check)."""
    demand = dict(facts.get("demand") or {})
    others = {}
    for use in facts["running"].values():
        for res, amount in use.items():
            others[res] = others.get(res, 0) + amount
    host = facts["host"]
    copies = facts.get("copies") or {}
    if copies.get("pools"):  # copy_storage: the copies against the pools they land in, as disk_ratio counts them
        host = dict(host, pools={name: cap for name, (cap, _alloc) in copies["pools"].items()})
        for name, (_cap, alloc) in copies["pools"].items():
            others["disk_" + name] = float(alloc)
        for c in copies["disks"]:
            if c["pool"] in copies["pools"] and c["bytes"]:
                demand["disk_" + c["pool"]] = demand.get("disk_" + c["pool"], 0.0) + c["bytes"]
    ratios = {k: spec.get(k) for k in ("cpu_ratio", "memory_ratio", "disk_ratio", "reserved_memory_mib")}
    ok, report, refusal = _placement.admit(host, others, demand, ratios)
    if ok:
        return
    short = [(res, r["used"] + r["requested"] - r["capacity"]) for res, r in sorted(report.items())
             if r["requested"] and r["used"] + r["requested"] > r["capacity"]]
    res, why = refusal.split(": ", 1)  # admit names the resource first
    res, shortfall = short[0] if short else (res, None)
    raise _placement.PlacementError(
        "refused, on the destination %s %s%s (nothing moved; a larger ratio, a guest stopped there or "
        "capacity_check=false lets it through)" % (spec["dest_uri"], why,
                                                   ": short by %s" % _placement.show(res, shortfall) if short else ""),
        spec["name"], res, kind=KIND, resource=res, best_host=spec["dest_uri"], shortfall=shortfall)


def _check_destination(spec, cfg, facts, offline):
    """Refuse, before anything moves, what the destination lacks for this guest."""
    name = spec["name"]
    if not offline and spec["capacity_check"]:
        _admit(spec, facts)
    for i, nic in enumerate(cfg["interfaces"]):
        field = "interfaces[%d]" % i
        if nic.get("network"):
            state = facts["networks"].get(nic["network"])
            if state is None:
                raise SpecError("network %r does not exist on the destination" % nic["network"], name,
                                field + ".network", kind=KIND)
            if not state and not offline:
                raise SpecError("network %r is not active on the destination" % nic["network"], name,
                                field + ".network", kind=KIND)
        elif nic.get("bridge") and facts["bridges"].get(nic["bridge"]) is False:
            raise SpecError("%r is not a bridge on the destination" % nic["bridge"], name, field + ".bridge",
                            kind=KIND)
    for i, disk in enumerate(cfg["disks"]):
        field = "disks[%d]" % i
        if disk["volume"]:
            if not facts["pools"].get(disk["pool"]):
                raise SpecError("storage pool %r does not exist or is not active on the destination" % disk["pool"],
                                name, field + ".pool", kind=KIND)
            key = disk["pool"] + "/" + disk["volume"]
        elif disk["path"]:
            key = disk["path"]
        else:
            continue
        exists = facts["volumes"].get(key)
        if spec["copy_storage"] and disk["device"] == "disk" and not disk["readonly"]:
            copy = [c for c in (facts.get("copies") or {}).get("disks", ()) if c["index"] == i]
            if copy and copy[0]["pool"] is None:
                raise SpecError("no active storage pool on the destination has the directory %s: libvirt creates "
                                "the copy of %s in a pool there (define one, or move the disk first)"
                                % (os.path.dirname(os.path.normpath(disk["path"])), key), name, field + ".path",
                                kind=KIND)
            continue  # libvirt creates it in the destination pool and copies it
        if not exists:
            raise SpecError("%s is not on the destination's storage (shared storage with the volume in a pool there, "
                            "or copy_storage: true)" % key, name, field, kind=KIND)
