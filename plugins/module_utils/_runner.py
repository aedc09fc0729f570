# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate -> read -> plan -> (apply unless check mode) -> report, for one guest or
hundreds. The only place that calls exit_json/fail_json."""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import VirtfleetError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import (
    guests_from_params, view)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan as make_plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import get_backend

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


def _fail(module, err, results, **extra):
    module.fail_json(msg=str(err), object=err.obj, field=err.field, results=results,
                     changed=any(r.get("changed") for r in results), **extra)


def converge(module, raw_guests, prune=False, prune_storage=False, single=False):
    """Converge a list of raw guest specs; exits the module."""
    fleet = module.params["fleet"]
    raw_guests = [dict(g, fleet=fleet) if isinstance(g, dict) else g for g in raw_guests]
    try:
        backend_cls = get_backend(module.params["backend"])
    except VirtfleetError as e:
        _fail(module, e, [])
    if backend_cls.import_error():
        module.fail_json(msg=missing_required_lib(backend_cls.required_lib),
                         exception=backend_cls.import_error())
    try:
        guests, errors = guests_from_params(raw_guests, backend_cls.name)
    except VirtfleetError as e:
        _fail(module, e, [])
    if single and errors:
        _fail(module, errors[0], [])

    backend = backend_cls(module.params, module.run_command)

    def make_plan_for(guest, current):
        return make_plan(guest, current, module.params["restart"], fields=backend.fields,
                         live_ops=backend.live_ops)

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
        for p, current in work:
            if p["changed"] and not module.check_mode:
                try:
                    if p["action"] == "prune":
                        p["action"] = "delete"
                        backend.apply(p, current)
                        p["action"] = "prune"
                    else:
                        backend.apply(p, current)
                except VirtfleetError as e:
                    e.obj = e.obj or p["name"]
                    errors.append(e)
                    p["changed"] = True
                    p["failed"] = True
                    p["msg"] = str(e)
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

    for e in errors:
        if not any(r["name"] == e.obj for r in results):
            results.append({"kind": "guest", "name": e.obj, "action": "none", "changed": False,
                            "failed": True, "msg": str(e), "actions": [], "fields": [],
                            "pending_restart": False, "restart_fields": [], "managed": None})
    changed = any(r["changed"] for r in results)
    out = {"changed": changed, "results": results}
    if single:
        r = results[0] if results else {}
        out.update({k: r.get(k) for k in ("actions", "fields", "pending_restart", "restart_fields", "state")})
        diff = {"before": diffs_before.get(raw_guests[0]["name"], {}),
                "after": diffs_after.get(raw_guests[0]["name"], {})}
    else:
        out["pending_restart"] = sorted(r["name"] for r in results if r.get("pending_restart"))
        diff = {"before": diffs_before, "after": diffs_after}
    if module._diff:
        out["diff"] = diff
    if errors:
        failed = sorted({str(e) for e in errors})
        module.fail_json(msg="%d guest(s) failed: %s" % (len(failed), "; ".join(failed)),
                         failed_guests=sorted({e.obj for e in errors}, key=str), **out)
    module.exit_json(**out)
