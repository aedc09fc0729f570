# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of libvirt guests (module guest_backup), as a kind of the one pipeline.

A backup is the directory ``<dest>/<guest>/<label>/`` holding ``domain.xml`` (the
persistent definition), ``disks/<target>.qcow2`` (a consistent copy of each writable disk:
the guest is paused while ``qemu-img convert`` reads them, a stopped guest is read as it
is) and ``manifest.json`` (the sha256 of every other file, the guest's UUID, where each disk
came from). Everything is written into ``.<label>.partial-*`` first and the manifest last;
the directory is renamed into place only when complete, so an interrupted backup never
leaves a manifest that claims completeness. Files are 0600, directories 0700.

``state: restored`` defines the guest again from such a backup, copying each disk back
where it was when it is missing there, and refuses to overwrite a different guest."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import xml.etree.ElementTree as ET

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_libvirt as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.operation import OperationHandler
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import NAME_RE
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import new_plan

KIND = "guest_backup"
MANIFEST = "manifest.json"
FORMAT = 1
#: fields of the guest model a restore compares with an existing guest
COMPARED = ("virt_type", "machine", "kernel", "ramdisk", "extra", "max_vcpus", "vcpus", "max_memory", "memory",
            "cpu_mode", "hugepages", "cpu_shares", "disks", "interfaces")


def validate(raw):
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("invalid guest name %r" % (name,), name if isinstance(name, str) else None, "name", kind=KIND)
    if raw.get("backend", "libvirt") != "libvirt":
        raise SpecError("guest_backup supports backend libvirt only (not %s)" % raw["backend"], name, "backend",
                        kind=KIND)
    spec = {k: raw.get(k) for k in ("name", "uri", "dest", "label", "state", "disks", "refresh")}
    if not spec["dest"] or not os.path.isabs(spec["dest"]):
        raise SpecError("must be an absolute directory path, got %r" % (spec["dest"],), name, "dest", kind=KIND)
    if not isinstance(spec["label"], str) or not NAME_RE.match(spec["label"]) or spec["label"].startswith("."):
        raise SpecError("must be a name of letters, digits, '.', '_' or '-', got %r" % (spec["label"],), name,
                        "label", kind=KIND)
    spec["path"] = os.path.join(spec["dest"], name, spec["label"])
    return spec


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_backup(path):
    """The manifest of the backup at ``path`` (None when there is no complete backup) with
    ``damaged``: the files missing or whose sha256 differs from the manifest's."""
    mpath = os.path.join(path, MANIFEST)
    if not os.path.isfile(mpath):
        return None
    with open(mpath) as f:
        manifest = json.load(f)
    damaged = []
    for rel, digest in sorted(manifest.get("files", {}).items()):
        full = os.path.join(path, rel)
        if not os.path.isfile(full) or sha256(full) != digest:
            damaged.append(rel)
    manifest["damaged"] = damaged
    manifest["xml"] = None
    if "domain.xml" not in damaged:
        with open(os.path.join(path, "domain.xml")) as f:
            manifest["xml"] = f.read()
    return manifest


def _model(xml):
    g = render.parse_domain(xml)
    return {k: g.get(k) for k in COMPARED}


def _differs(a, b):
    return [k for k in COMPARED if a.get(k) != b.get(k)]


class BackupHandler(OperationHandler):
    kind = KIND
    validate = staticmethod(validate)
    result_extra = ("backup_dir", "files", "uuid", "restored_disks")

    def __init__(self, backend):
        super().__init__(backend)
        self._name = None

    def resolve(self, spec):
        self.lv.local_only(spec["name"], "dest", KIND)
        return spec

    # -- reading ---------------------------------------------------------------
    def current(self, spec):
        libvirt = lv.libvirt
        name = spec["name"]
        with self.boundary("read the backup %s" % spec["path"], name, "dest"):
            try:
                backup = read_backup(spec["path"])
            except ValueError as e:
                raise SpecError("%s is not a manifest of this module: %s" % (os.path.join(spec["path"], MANIFEST), e),
                                name, "dest", kind=KIND)
        guest = None
        with self.boundary("read", name):
            try:
                dom = self.lv.conn.lookupByName(name)
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
                dom = None
            if dom is not None:
                xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
                guest = {"uuid": dom.UUIDString(), "xml": xml, "model": _model(xml),
                         "state": lv._state_name(dom.state()[0]), "autostart": bool(dom.autostart()),
                         "disks": self._disks(xml, strict=spec["disks"] and spec["state"] == "present")}
        restore_disks = []
        if backup is not None and spec["state"] == "restored":
            for d in backup.get("disks", []):
                if d.get("file") and not os.path.exists(d["source"]):
                    restore_disks.append(d["target"])
        return {"backup": backup, "guest": guest, "missing_disks": restore_disks,
                "dir_exists": os.path.isdir(spec["path"])}

    def _disks(self, xml, strict=True):
        """The guest's writable disks: target, source path, format (volumes resolved to paths).
        A disk with no local source (network) fails when its copy is asked for (``strict``), else
        it is left out."""
        self._name = ET.fromstring(xml).findtext("name")
        out = []
        for elem in ET.fromstring(xml).findall("devices/disk"):
            if elem.get("device", "disk") != "disk" or elem.find("readonly") is not None:
                continue
            target = elem.find("target").get("dev")
            src = elem.find("source")
            driver = elem.find("driver")
            fmt = driver.get("type", "raw") if driver is not None else "raw"
            if src is None:
                continue
            if elem.get("type") == "volume":
                pool = self.lv.conn.storagePoolLookupByName(src.get("pool"))
                path = pool.storageVolLookupByName(src.get("volume")).path()
            else:
                path = src.get("file") or src.get("dev")
            if not path and not strict:
                continue
            if not path:
                raise SpecError("disk %s is a %r disk; only file, block and volume disks can be copied (disks: false "
                                "backs up the definition alone)" % (target, elem.get("type")), self._name, "disks",
                                kind=KIND)
            out.append({"target": target, "source": path, "format": fmt,
                        "pool": src.get("pool"), "volume": src.get("volume")})
        return out

    # -- planning (pure) -------------------------------------------------------
    @staticmethod
    def planner(spec, current):
        return plan_backup(spec, current)

    # -- applying --------------------------------------------------------------
    def _apply(self, p, current):
        name = p["name"]
        with self.boundary(p["action"] if p["desired"]["state"] != "restored" else "restore", name):
            if p["desired"]["state"] == "absent":
                shutil.rmtree(p["desired"]["path"])
            elif p["desired"]["state"] == "present":
                self._backup(p, current)
            else:
                self._restore(p, current)

    def _backup(self, p, current):
        spec, guest, name = p["desired"], current["guest"], p["name"]
        parent = os.path.dirname(spec["path"])
        os.makedirs(parent, mode=0o700, exist_ok=True)
        label = spec["label"]
        for old in os.listdir(parent):  # what an interrupted run of this module left behind
            if old.startswith(".%s.partial-" % label) or old.startswith(".%s.old-" % label):
                shutil.rmtree(os.path.join(parent, old), ignore_errors=True)
        tmp = os.path.join(parent, ".%s.partial-%d" % (label, os.getpid()))
        os.mkdir(tmp, 0o700)
        try:
            files = {}
            host.atomic_write(os.path.join(tmp, "domain.xml"), guest["xml"], 0o600, obj=name, field="dest", kind=KIND)
            disks = []
            if spec["disks"] and guest["disks"]:
                os.mkdir(os.path.join(tmp, "disks"), 0o700)
                disks = self._copy_disks(name, guest, tmp)
            for rel in ["domain.xml"] + ["disks/%s.qcow2" % d["target"] for d in disks]:
                files[rel] = sha256(os.path.join(tmp, rel))
            manifest = {"format": FORMAT, "guest": name, "uuid": guest["uuid"], "label": label,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "guest_state": guest["state"], "autostart": guest["autostart"], "with_disks": spec["disks"],
                        "disks": [dict(d, file="disks/%s.qcow2" % d["target"]) for d in disks]
                        + [dict(d, file=None) for d in guest["disks"] if not spec["disks"]],
                        "files": files}
            host.atomic_write(os.path.join(tmp, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                              0o600, obj=name, field="dest", kind=KIND)
            old = None
            if os.path.exists(spec["path"]):
                old = os.path.join(parent, ".%s.old-%d" % (label, os.getpid()))
                os.rename(spec["path"], old)
            os.rename(tmp, spec["path"])
            tmp = None
            if old:
                shutil.rmtree(old)
            p["files"] = sorted(files)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _copy_disks(self, name, guest, tmp):
        """Copy every writable disk with the guest paused (a running guest is resumed after,
        whatever happens); a stopped guest's disks are read as they are."""
        dom = self.lv.conn.lookupByName(name)
        paused_here = False
        if lv._state_name(dom.state()[0]) == "running":
            self.lv.call("pause", dom.suspend)
            paused_here = True
        try:
            out = []
            for d in guest["disks"]:
                dst = os.path.join(tmp, "disks", "%s.qcow2" % d["target"])
                argv = ["qemu-img", "convert", "-O", "qcow2"]
                if dom.isActive():
                    argv.append("-U")  # the paused QEMU holds the image; it has flushed it
                self.lv.runner(argv + ["-f", d["format"], d["source"], dst], "copy disk %s" % d["target"], name,
                               "disks", kind=KIND)
                os.chmod(dst, 0o600)
                out.append(d)
            return out
        finally:
            if paused_here:
                self.lv.call("resume", dom.resume)

    def _restore(self, p, current):
        spec, backup, name = p["desired"], current["backup"], p["name"]
        restored = []
        for d in backup["disks"]:
            if d["target"] not in current["missing_disks"]:
                continue
            target = d["source"]
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = os.path.join(os.path.dirname(target), ".%s.virtfleet-restore" % os.path.basename(target))
            try:
                self.lv.runner(["qemu-img", "convert", "-O", d["format"], os.path.join(spec["path"], d["file"]), tmp],
                               "copy disk %s back" % d["target"], name, "disks", kind=KIND)
                os.chmod(tmp, 0o600)
                os.rename(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            restored.append(d["target"])
            if d.get("pool"):
                try:
                    self.lv.conn.storagePoolLookupByName(d["pool"]).refresh(0)
                except lv.libvirt.libvirtError:
                    pass  # the path is in place either way; the pool shows it at its next refresh
        p["restored_disks"] = restored
        if current["guest"] is None:
            dom = self.lv.call("define", self.lv.conn.defineXML, backup["xml"])
            if backup.get("autostart"):
                self.lv.call("set autostart", dom.setAutostart, 1)

    # -- the pipeline's view ---------------------------------------------------
    @staticmethod
    def before(current):
        return _view(current)

    @staticmethod
    def after(p, current):
        spec = p["desired"]
        if spec["state"] == "absent":
            b = _view(current)
            b.pop("backup", None)
            return b
        out = _view(current)
        if spec["state"] == "present":
            out["backup"] = {"path": spec["path"], "uuid": current["guest"]["uuid"] if current["guest"] else None,
                             "files": {f: "(new copy)" for f in p["files"]}}
        else:
            out["guest"] = {"uuid": current["backup"]["uuid"], "defined": True}
        return out

    @staticmethod
    def final_state(p, current, check_mode):
        spec = p["desired"]
        if p.get("failed"):
            return "present" if current.get("backup") else "absent"
        return {"present": "present", "absent": "absent", "restored": "restored"}[spec["state"]]


def _view(current):
    """The backup (files and their digests) and the guest (its UUID), as --diff shows them."""
    out = {}
    b = current.get("backup") if current else None
    if b is not None:
        out["backup"] = {"uuid": b.get("uuid"), "created": b.get("created"),
                         "files": {k: "sha256:%s" % v[:16] for k, v in sorted(b.get("files", {}).items())}}
    g = current.get("guest") if current else None
    out["guest"] = {"uuid": g["uuid"], "defined": True} if g else {"defined": False}
    return out


def plan_backup(spec, current):
    """What the backup or the restore takes, or a SpecError naming the field. Pure."""
    name, state = spec["name"], spec["state"]
    backup, guest = current["backup"], current["guest"]
    p = new_plan(KIND, name, spec)
    p.update(backup_dir=spec["path"], uuid=(guest or backup or {}).get("uuid"), restored_disks=[],
             files=sorted((backup or {}).get("files", {})))
    if state == "absent":
        if backup is not None or _any_dir(current):
            p.update(action="delete", changed=True, actions=["remove %s" % spec["path"]])
        return p
    if state == "present":
        if guest is None:
            if backup is not None and not backup["damaged"]:
                return p  # the guest is gone; its backup is what is left of it
            raise SpecError("no guest of this name on %s (and no complete backup at %s)" % (spec["uri"], spec["path"]),
                            name, "name", kind=KIND)
        fields = []
        if backup is None:
            p["action"] = "create"
        else:
            p["action"] = "update"
            if backup["damaged"]:
                fields.append({"field": "files", "apply": "config", "damaged": backup["damaged"]})
            if backup.get("uuid") != guest["uuid"]:
                fields.append({"field": "uuid", "apply": "config"})
            elif backup["xml"] is not None and _differs(_model(backup["xml"]), guest["model"]):
                fields.append({"field": "definition", "apply": "config",
                               "changed": _differs(_model(backup["xml"]), guest["model"])})
            if bool(backup.get("with_disks")) != bool(spec["disks"]):
                fields.append({"field": "disks", "apply": "config"})
            if spec["refresh"]:
                fields.append({"field": "refresh", "apply": "config"})
            if not fields:
                p["action"] = "none"
                return p
        p.update(changed=True, fields=fields)
        copying = spec["disks"] and guest["disks"]
        acts = []
        if copying and guest["state"] == "running":
            acts.append("pause the guest")
        if copying:
            acts.extend("copy disk %s (%s) to disks/%s.qcow2" % (d["target"], d["source"], d["target"])
                        for d in guest["disks"])
        if copying and guest["state"] == "running":
            acts.append("resume the guest")
        acts += ["write domain.xml", "write manifest.json"]
        p["actions"] = acts
        p["files"] = ["domain.xml"] + (["disks/%s.qcow2" % d["target"] for d in guest["disks"]] if copying else [])
        return p
    # restored
    if backup is None:
        raise SpecError("no complete backup at %s (no %s)" % (spec["path"], MANIFEST), name, "label", kind=KIND)
    if backup["damaged"]:
        raise SpecError("the backup at %s is damaged: %s differ from the sha256 in %s"
                        % (spec["path"], ", ".join(backup["damaged"]), MANIFEST), name, "label", kind=KIND)
    if backup.get("guest") != name:
        raise SpecError("the backup at %s is of guest %r" % (spec["path"], backup.get("guest")), name, "name",
                        kind=KIND)
    if guest is not None:
        if guest["uuid"] != backup["uuid"]:
            raise SpecError("a different guest of this name exists (UUID %s, the backup's is %s): refusing to "
                            "overwrite it" % (guest["uuid"], backup["uuid"]), name, "name", kind=KIND)
        diff = _differs(_model(backup["xml"]), guest["model"])
        if diff:
            raise SpecError("the existing guest's definition differs from the backup's (%s): refusing to "
                            "overwrite it" % ", ".join(diff), name, "name", kind=KIND)
    missing = [d for d in backup["disks"] if d["target"] in current["missing_disks"]]
    p["actions"] = ["copy disks/%s.qcow2 back to %s" % (d["target"], d["source"]) for d in missing]
    p["restored_disks"] = [d["target"] for d in missing]
    if guest is None:
        p["actions"].append("define the guest (UUID %s)" % backup["uuid"])
        if backup.get("autostart"):
            p["actions"].append("autostart on")
        p["action"] = "create"
    elif missing:
        p["action"] = "update"
    p["changed"] = bool(p["actions"])
    if missing:
        p["fields"].append({"field": "disks", "apply": "config"})
    return p


def _any_dir(current):
    return bool(current.get("dir_exists"))
