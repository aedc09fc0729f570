# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate -> read -> plan -> (apply unless check mode) -> report, for one guest or
hundreds. The only place that calls exit_json/fail_json."""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import VirtfleetError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import (
    guests_from_params, view)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan as make_plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import get_backend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt_objects as lvo
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _seed as seed
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _deps

_RESULT_KEYS = ("kind", "name", "action", "changed", "actions", "fields", "pending_restart",
                "restart_fields", "managed")


def _before(current):
    if current is None:
        return {}
    b = view(current["config"])
    b.update(state=current["state"], autostart=current["autostart"])
    return {k: v for k, v in b.items() if k not in ("uuid", "managed")}


def _after(p, current):
    if p["action"] == "delete" or (current is None and p["action"] == "none"):
        return {}
    return {k: v for k, v in view(p["desired"]).items() if v is not None}


def _final_state(p, current, check_mode, backend):
    if p["changed"] and not check_mode:
        return backend.final_state(p["name"])
    if not p["changed"]:
        return current["state"] if current else "absent"
    return "absent" if p["action"] in ("delete", "prune") else p["desired"]["state"]


def _fail(module, err, results):
    module.fail_json(msg=str(err), object=err.obj, field=err.field, results=results,
                     changed=any(r.get("changed") for r in results))


def _merge_storage(p, guest, current, restart):
    """Volumes and seeds a guest's disks need (libvirt): their actions come first in the
    guest's plan; a rebuilt seed of a running guest waits for its next boot."""
    first = []
    for _handler, sub, _current in guest.get("_storage", ()):
        if not sub["changed"]:
            continue
        first.extend("%s %s/%s: %s" % (sub["kind"], sub["desired"]["pool"], sub["name"], a) for a in sub["actions"])
        p["changed"] = True
        if p["action"] == "none":
            p["action"] = "update"
        running = current is not None and current["state"] != "stopped" and guest["state"] != "stopped"
        if sub.get("restart_required") and running:
            p["fields"].append({"field": "cloud_init", "apply": "restart"})
            p["restart_fields"].append("cloud_init")
            if restart == "if_needed" and "restart" not in p["actions"]:
                p["actions"].append("restart")
                p["restart"] = True
                p["state_from"] = p["state_to"] = guest["state"]
            elif restart != "if_needed":
                p["pending_restart"] = True
    p["actions"][0:0] = first


def _apply_all(module, work, apply, errors):
    """Apply every changed plan (not in check mode); a failure marks only its object."""
    for p, current in work:
        if not p["changed"] or module.check_mode:
            continue
        try:
            apply(p, current)
        except VirtfleetError as e:
            e.obj = e.obj or p["name"]
            errors.append(e)
            p["failed"], p["msg"] = True, str(e)


def _finish(module, kind, results, before, after, errors, single, name=None, **extra):
    """Add results for objects that failed before planning, build diff, exit or fail."""
    for e in errors:
        if not any(r["name"] == e.obj for r in results):
            results.append({"kind": kind, "name": e.obj, "action": "none", "changed": False,
                            "failed": True, "msg": str(e), "actions": [], "fields": []})
    out = {"changed": any(r["changed"] for r in results), "results": results}
    out.update(extra)
    if single:
        r = results[0] if results else {}
        out.update({k: v for k, v in r.items() if k not in ("kind", "name", "changed", "failed", "msg")})
        diff = {"before": before.get(name, {}), "after": after.get(name, {})}
    else:
        diff = {"before": before, "after": after}
    if module._diff:
        out["diff"] = diff
    if errors:
        failed = sorted({str(e) for e in errors})
        module.fail_json(msg="%d %s(s) failed: %s" % (len(failed), kind, "; ".join(failed)),
                         **dict(out, **{"failed_%ss" % kind: sorted({e.obj for e in errors}, key=str)}))
    module.exit_json(**out)


def converge(module, raw_guests, prune=False, prune_storage=False, single=False):
    """Converge a list of raw guest specs; exits the module."""
    fleet = module.params["fleet"]
    raw_guests = [dict(g, fleet=fleet) if isinstance(g, dict) else g for g in raw_guests]
    try:
        backend_cls = get_backend(module.params["backend"])
    except VirtfleetError as e:
        _fail(module, e, [])
    if backend_cls.import_error():
        _deps.require(module, backend_cls.required_lib)  # respawns or fails
    try:
        guests, errors = guests_from_params(raw_guests, backend_cls.name)
    except VirtfleetError as e:
        _fail(module, e, [])
    if single and errors:
        _fail(module, errors[0], [])

    backend = backend_cls(module.params, module.run_command)

    def make_plan_for(guest, current):
        p = make_plan(guest, current, module.params["restart"], fields=backend.fields,
                      live_ops=backend.live_ops)
        _merge_storage(p, guest, current, module.params["restart"])
        return p

    def apply(p, current):
        backend.apply(dict(p, action="delete", pruned=True) if p["action"] == "prune" else p, current)

    results, diffs_before, diffs_after = [], {}, {}
    try:
        work = []
        for g in guests:
            try:
                g = backend.resolve(g)
                current = backend.current(g["name"])
                work.append((make_plan_for(g, current), current))
            except VirtfleetError as e:
                e.obj = e.obj or g["name"]
                errors.append(e)
        if prune:
            declared = {g["name"] for g in guests} | {e.obj for e in errors}
            for name in backend.managed_names(fleet):
                if name not in declared:
                    current = backend.current(name)
                    spec = {"name": name, "state": "absent", "remove_storage": prune_storage,
                            "shutdown_timeout": 0, "force_stop": True}
                    p = make_plan_for(spec, current)
                    p["action"] = "prune"
                    work.append((p, current))
        _apply_all(module, work, apply, errors)
        for p, current in work:
            r = {k: p[k] for k in _RESULT_KEYS}
            r["failed"] = p.get("failed", False)
            if p.get("msg"):
                r["msg"] = p["msg"]
            r["state"] = _final_state(p, current, module.check_mode, backend)
            results.append(r)
            if p["changed"]:
                diffs_before[p["name"]] = _before(current)
                diffs_after[p["name"]] = _after(p, current)
    finally:
        backend.close()
    extra = {} if single else {"pending_restart": sorted(r["name"] for r in results if r.get("pending_restart"))}
    _finish(module, "guest", results, diffs_before, diffs_after, errors, single,
            raw_guests[0]["name"] if single else None, **extra)


OBJECT_HANDLERS = {"network": lvo.NetworkHandler, "pool": lvo.PoolHandler, "volume": lvo.VolumeHandler,
                   "cloud_init": lvo.SeedHandler}


def converge_objects(module, kind, raw_specs, single=False):
    """Converge networks, pools or volumes (libvirt); exits the module."""
    if lv.libvirt is None:
        _deps.require(module, "libvirt")  # respawns under the system Python or fails
    if kind == "cloud_init" and seed.pycdlib is None:
        _deps.require(module, "pycdlib")
    handler_cls = OBJECT_HANDLERS[kind]
    specs, errors, seen = [], [], set()
    for raw in raw_specs:
        try:
            spec = handler_cls.validate(raw)
        except VirtfleetError as e:
            if single:
                _fail(module, e, [])
            errors.append(e)
            continue
        key = (spec.get("pool"), spec["name"])
        if key in seen:
            _fail(module, VirtfleetError("declared more than once in this call", spec["name"], "name", kind=kind), [])
        seen.add(key)
        specs.append(spec)

    backend = lv.LibvirtBackend(module.params, module.run_command)
    handler = handler_cls(backend)
    results, before, after, work = [], {}, {}, []
    try:
        for spec in specs:
            try:
                spec = handler.resolve(spec)
                current = handler.current(spec)
                work.append((handler.plan(spec, current), current))
            except VirtfleetError as e:
                e.obj = e.obj or spec["name"]
                errors.append(e)
        _apply_all(module, work, handler.apply, errors)
    finally:
        backend.close()
    for p, current in work:
        r = {k: p[k] for k in ("kind", "name", "action", "changed", "actions", "fields", "restart_required")}
        r["failed"] = p.get("failed", False)
        if p.get("msg"):
            r["msg"] = p["msg"]
        results.append(r)
        if p["changed"]:
            before[p["name"]] = handler.view(current)
            after[p["name"]] = {} if p["action"] == "delete" else handler.view(p["desired"])
    _finish(module, kind, results, before, after, errors, single, specs[0]["name"] if single and specs else None)
