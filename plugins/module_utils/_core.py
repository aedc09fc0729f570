# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one converge pipeline, for every kind of object:

    validate -> resolve -> read -> plan (pure) -> apply (never in check mode) -> report

A kind is a handler with ``validate(raw)``, ``resolve(spec)``, ``current(spec)``,
``plan(spec, current)`` (pure), ``apply(plan, current)`` and ``view(obj)``; guests, networks,
pools, volumes, seeds and snapshots are kinds (``KINDS``); a new kind is one more handler
over its backend's operations, not a new runner. Objects a guest declares with it
(its volumes, its seed) are planned through their own kind and become child plans of the
guest's plan. One object's failure, whatever raised it, never stops the others.

This is the only place that calls exit_json/fail_json; every module result has one shape.
"""

from __future__ import annotations

import traceback

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    BackendError, SpecError, VirtfleetError)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import all_backends, get_backend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt_objects as lvo
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _seed as seed
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _snapshot as snapshot
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _deps

# Every result of every kind carries these keys (RETURN docs: results).
RESULT_KEYS = ("kind", "name", "action", "changed", "failed", "actions", "fields", "restart_required",
               "restart_fields", "state")


class GuestKind(object):
    """Guests of one backend (libvirt, lxc, xl), as a kind of the pipeline."""

    kind = "guest"

    def __init__(self, backend, restart="never"):
        self.backend = backend
        self.caps = backend.caps
        self.restart = restart
        name = backend.name
        # the other backends' Capabilities, for an error message only: read (and their files
        # imported) when a spec names a key this backend does not manage
        self.others = lambda: tuple(c.caps for n, c in sorted(all_backends().items()) if n != name)

    def validate(self, raw):
        return _model.guest_from_params(raw, self.caps, self.others)

    @staticmethod
    def raw_key(raw):
        return raw.get("name")

    def children(self, spec):
        return self.backend.children(spec)

    def adopt(self, spec, children):
        self.backend.adopt(spec, children)

    def resolve(self, spec):
        return self.backend.resolve(spec)

    def current(self, spec):
        return self.backend.current(spec["name"])

    def prefetch(self, specs):
        self.backend.prefetch([s["name"] for s in specs])

    def plan(self, spec, current):
        return _plan.plan(spec, current, self.caps, self.restart)

    def apply(self, p, current):
        self.backend.apply(dict(p, action="delete", pruned=True) if p["action"] == "prune" else p, current)

    def view(self, obj):
        return _model.view(obj, self.caps.fields)

    def before(self, current):
        if current is None:
            return {}
        b = self.view(current["config"])
        b.update(state=current["state"], autostart=current["autostart"])
        return {k: v for k, v in b.items() if k not in ("uuid", "managed")}

    def after(self, p, current):
        if p["action"] in ("delete", "prune") or (current is None and p["action"] == "none"):
            return {}
        return {k: v for k, v in self.view(p["desired"]).items() if v is not None}

    def final_state(self, p, current, check_mode):
        if p["changed"] and not check_mode and not p.get("failed"):
            return self.backend.final_state(p["name"])
        if not p["changed"] or p.get("failed"):
            return current["state"] if current else "absent"
        return "absent" if p["action"] in ("delete", "prune") else p["desired"]["state"]

    def prune_candidates(self, fleet, declared):
        """The managed guests of ``fleet`` that are not declared."""
        return [n for n in self.backend.managed_names(fleet) if n not in declared]

    def prune_plan(self, name, prune_storage):
        current = self.backend.current(name)
        spec = {"name": name, "state": "absent", "remove_storage": prune_storage,
                "shutdown_timeout": 0, "force_stop": True}
        p = _plan.plan(spec, current, self.caps, self.restart)
        p["action"] = "prune"
        return p, current


class _ObjectKind(object):
    """Adds the pipeline's view of a libvirt object handler (networks, pools, volumes, seeds)."""

    def raw_key(self, raw):
        return (raw.get("pool") or "default", raw.get("name")) if self.kind in ("volume", "cloud_init") \
            else raw.get("name")

    def children(self, spec):
        return []

    def adopt(self, spec, children):
        pass

    def before(self, current):
        return self.view(current)

    def after(self, p, current):
        return {} if p["action"] == "delete" else self.view(p["desired"])

    def final_state(self, p, current, check_mode):
        if p["action"] == "delete" and (check_mode or not p.get("failed")):
            return "absent"
        if p["changed"] and not p.get("failed"):
            return p["desired"].get("state", "present")
        return current.get("state", "present") if current else "absent"


def _object_kind(handler_cls):
    return type(handler_cls.__name__ + "Kind", (_ObjectKind, handler_cls), {})


def _operation_kind(handler_cls):
    """A kind whose handler shows its own diff and final state (a backup, a migration)."""
    return type(handler_cls.__name__ + "Kind", (handler_cls, _ObjectKind), {})


KINDS = {
    "network": _object_kind(lvo.NetworkHandler),
    "pool": _object_kind(lvo.PoolHandler),
    "volume": _object_kind(lvo.VolumeHandler),
    "cloud_init": _object_kind(lvo.SeedHandler),
    # over a guest backend (``backend``), like guests
    "snapshot": snapshot.SnapshotKind,
}


def register_operation(name, handler_cls):
    """Add an operation kind (``guest_backup``, ``migrate``: a handler that shows its own diff
    and final state) to KINDS. The module that runs it registers it, importing the handler's
    file itself, so that no other module packs or imports that code: Ansible ships a module
    every module_utils file it imports, and ``guests`` has no use for migration's or backup's."""
    KINDS[name] = _operation_kind(handler_cls)


#: kinds whose objects belong to a guest backend chosen with ``backend``
GUEST_BACKED = ("guest", "snapshot")
# the Python module each kind's toolstack needs, with its pip name
_NEEDS = {"cloud_init": (("pycdlib", seed.PYCDLIB_IMPORT_ERROR),)}


def _add(total, uses):
    """``total`` plus every {resource: amount} of ``uses``, as a new dict."""
    out = dict(total)
    for u in uses:
        for res, amount in u.items():
            out[res] = out.get(res, 0) + amount
    return out


def _wrap(e, obj, stage, kind):
    """Any exception raised in one object's path, as a VirtfleetError naming the object."""
    if isinstance(e, VirtfleetError):
        if e.obj is None:
            e.obj = obj
        return e
    err = BackendError("%s failed: %s: %s" % (stage, type(e).__name__, e), obj, None, kind=kind)
    err.details["exception"] = traceback.format_exc()
    return err


class Run(object):
    """One module call: its objects of one kind through the pipeline."""

    def __init__(self, module, kind, capacity=None):
        self.module = module
        self.kind_name = kind
        self.check_mode = module.check_mode
        self.errors = []
        #: the ratios of capacity_check (guests), None when it is off
        self.capacity = capacity

    # -- steps ------------------------------------------------------------------
    def _validate(self, kind, raws, single):
        keys = [kind.raw_key(r) for r in raws if isinstance(r, dict)]
        _model.check_unique(keys, self.kind_name, self.kind_name + "s")
        specs = []
        for raw in raws:
            try:
                specs.append(kind.validate(raw))
            except SpecError as e:
                if single:
                    raise
                self.errors.append(e)
        return specs

    def _child_plans(self, kind, spec):
        """Plan the objects a spec declares with it; their errors name the parent and field."""
        out, adopted = [], {}
        for child_kind, raw, field, overrides in kind.children(spec):
            handler = KINDS[child_kind](kind.backend)
            try:
                child = handler.validate(raw)
                child.update(overrides)
                child = handler.resolve(child)
                current = handler.current(child)
                p = handler.plan(child, current)
            except VirtfleetError as e:
                raise type(e)(e.msg, spec["name"], field + "." + (e.field or "volume"), kind=kind.kind)
            p["field"] = field
            out.append((handler, p, current))
            adopted[field] = (p["desired"], current)
        kind.adopt(spec, adopted)
        return out

    def _plan_one(self, kind, spec):
        children = self._child_plans(kind, spec)
        spec = kind.resolve(spec)
        current = kind.current(spec)
        p = kind.plan(spec, current)
        if children:
            _adopt_child_plans(p, children, current, spec, kind.restart)
        return p, current

    def _admit(self, kind, work):
        """capacity_check: a plan that would run a guest with more vCPUs or memory than now
        (create, start, growth) is admitted only if the host's running guests stay within its
        ratios, and one that creates or grows volumes only if their pools stay within
        ``disk_ratio`` of their capacity; a refused plan fails alone, before anything of it
        (its volumes included) is applied. Admitted guests count for the next ones of the same call."""
        checked = []
        for p, c, _k in work:
            if p["changed"] and not p.get("failed"):
                grows, disk = _grows(p, c), _disk_demand(p)
                if grows or disk:
                    checked.append((p, grows, disk))
        if not checked:
            return
        # imported here: most runs admit nothing (stopped guests, no growth) and inside
        # AnsiballZ every imported file is compiled on every run (placement's is 48 KB)
        from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement
        pools = sorted({pool for _p, _g, disk in checked for pool in disk})
        try:
            host_res = kind.backend.host_resources()
            running = kind.backend.running_use() if host_res is not None else None
            space = (kind.backend.pool_space(pools) if pools else {}) if host_res is not None else None
        except Exception as e:  # pylint: disable=broad-except
            err = _wrap(e, None, "reading the host for capacity_check", self.kind_name)
            for p, _g, _d in checked:
                p["failed"], p["msg"] = True, str(err)
                self.errors.append(type(err)(err.msg, p["name"], "capacity_check", kind="guest", **err.details))
            return
        if host_res is None:
            for p, _g, _d in checked:
                p["capacity"] = {"checked": False}
            return
        host_res = dict(host_res, pools={name: cap for name, (cap, _alloc) in (space or {}).items()})
        use = {}
        for name, (vcpus, memory, hugepages) in running.items():
            use[name] = _placement.guest_use(vcpus, memory, hugepages)
        total = _add({}, use.values())
        stored = {"disk_" + name: alloc for name, (_cap, alloc) in (space or {}).items()}
        free = host_res.get("free_memory_mib")  # a hypervisor that does not overcommit (xl)
        for p, grows, disk in checked:
            d = p["desired"]
            demand = _placement.guest_use(d.get("vcpus"), d.get("memory"), d.get("hugepages")) if grows else {}
            demand.update(("disk_" + pool, float(n)) for pool, n in disk.items() if pool in (space or {}))
            mine = use.get(p["name"], {}) if grows else {}
            others = {res: amount - mine.get(res, 0) for res, amount in total.items() if amount - mine.get(res, 0)}
            others.update(stored)
            this_host = host_res if free is None else dict(host_res, free_memory_mib=free + mine.get("memory_mib", 0))
            ok, report, refusal = _placement.admit(this_host, others, demand, self.capacity)
            p["capacity"] = dict(report, checked=True)
            if ok:
                if grows:
                    run = {r: v for r, v in demand.items() if not r.startswith("disk_")}
                    total = _add({r: v for r, v in others.items() if not r.startswith("disk_")}, [run])
                    use[p["name"]] = run
                    if free is not None:
                        free -= run.get("memory_mib", 0) - mine.get("memory_mib", 0)
                stored = _add(stored, [{r: v for r, v in demand.items() if r.startswith("disk_")}])
                continue
            err = SpecError("refused, %s (nothing was changed; a larger ratio, a stopped guest, a smaller "
                            "disk or capacity_check=false lets it through)" % refusal, p["name"], "capacity_check")
            p["failed"], p["msg"], p["changed"] = True, str(err), False
            self.errors.append(err)

    def _apply(self, kind, p, current):
        for handler, child, child_current in p.get("children", ()):
            if child["changed"]:
                handler.apply(child, child_current)
        kind.apply(p, current)

    def _apply_one(self, item):
        """Apply one plan; returns the error (naming the object) or None. Never raises."""
        p, current, k = item
        try:
            self._apply(k, p, current)
        except Exception as e:  # pylint: disable=broad-except
            return _wrap(e, p["name"], "apply", self.kind_name)
        return None

    def _apply_all(self, kind, work):
        """Apply every changed plan. A backend that declares ``apply_workers`` > 1 (libvirt: its
        connection is thread-safe) gets the plans that touch only their own object applied that
        many at a time; plans with changed child plans (volumes, seeds) or that the backend says
        must go alone (files on the host) are applied one by one, in order, after them. Each
        plan's error stays its own, and errors are recorded in the order of the plans."""
        todo = [w for w in work if w[0]["changed"] and not w[0].get("failed")]
        backend = getattr(kind, "backend", None)
        workers = getattr(backend, "apply_workers", 1) if kind.kind == "guest" else 1
        alone, parallel = [], []
        for w in todo:
            one_by_one = workers <= 1 or any(c[1]["changed"] for c in w[0].get("children", ())) \
                or backend.apply_alone(w[0])
            (alone if one_by_one else parallel).append(w)
        outcome = {}
        if len(parallel) > 1:
            import concurrent.futures  # only a batch pays for the import
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(parallel))) as pool:
                for w, err in zip(parallel, pool.map(self._apply_one, parallel)):
                    outcome[id(w)] = err
        else:
            alone = parallel + alone
        for w in alone:
            outcome[id(w)] = self._apply_one(w)
        for w in todo:
            err = outcome[id(w)]
            if err is not None:
                self.errors.append(err)
                w[0]["failed"], w[0]["msg"] = True, str(err)
                if err.details.get("changed_nothing"):
                    w[0]["changed"] = False  # the backend checked: the object is as it was

    # -- the pipeline -----------------------------------------------------------
    def converge(self, kind, raws, single=False, prune=None):
        """Returns (results, diff before, diff after); failures are in self.errors."""
        work = []
        specs = self._validate(kind, raws, single)
        if hasattr(kind, "prefetch") and len(specs) > 1:
            try:
                kind.prefetch(specs)
            except Exception:  # pylint: disable=broad-except
                pass  # an optimisation only: each object is then read alone, its error its own
        for spec in specs:
            try:
                work.append(self._plan_one(kind, spec) + (kind,))
            except Exception as e:  # pylint: disable=broad-except
                self.errors.append(_wrap(e, spec["name"], "read/plan", self.kind_name))
        if prune is not None:
            declared = {s["name"] for s in specs} | {e.obj for e in self.errors}
            try:
                names = kind.prune_candidates(prune[0], declared)
            except Exception as e:  # pylint: disable=broad-except
                self.errors.append(_wrap(e, None, "listing guests to prune", self.kind_name))
                names = []
            for name in names:
                try:
                    work.append(kind.prune_plan(name, prune[1]) + (kind,))
                except Exception as e:  # pylint: disable=broad-except
                    self.errors.append(_wrap(e, name, "read (prune)", self.kind_name))
        if self.capacity is not None and kind.kind == "guest":
            self._admit(kind, work)
        if not self.check_mode:
            self._apply_all(kind, work)
        results, before, after = [], {}, {}
        for p, current, k in work:
            r = {key: p.get(key) for key in RESULT_KEYS}
            r["failed"] = bool(p.get("failed"))
            r["restart_required"] = bool(p.get("restart_required"))
            r["restart_fields"] = p.get("restart_fields") or []
            if p.get("managed") is not None or k.kind == "guest":
                r["managed"] = p.get("managed")
            if "capacity" in p:
                r["capacity"] = p["capacity"]
            if p.get("msg"):
                r["msg"] = p["msg"]
            r.update(p.get("report") or {})
            r["state"] = k.final_state(p, current, self.check_mode)
            results.append(r)
            if p["changed"]:
                before[p["name"]] = k.before(current)
                after[p["name"]] = k.after(p, current)
        return results, before, after


def _disk_demand(p):
    """{pool: bytes} a guest plan adds to its pools: the size of each volume it creates (an
    overlay without a ``size``: its backing's virtual size, which it is created with), the growth
    of each it grows."""
    out = {}
    for _handler, sub, current in p.get("children") or ():
        v = sub["desired"]
        size = v.get("size")
        if not size and sub["action"] == "create":
            size = v.get("backing_size")
        if sub["kind"] != "volume" or not sub["changed"] or not size:
            continue
        add = size - ((current or {}).get("size") or 0) if sub["action"] in ("create", "update") else 0
        if add > 0:
            out[v["pool"]] = out.get(v["pool"], 0) + add
    return out


def _grows(p, current):
    """Whether a guest plan makes the guest run with more vCPUs or memory than it does now."""
    d = p.get("desired") or {}
    if p["action"] not in ("create", "update") or d.get("state") not in ("running", "paused"):
        return False
    if current is None or current["state"] == "stopped":
        return True
    now = current.get("config") or {}
    return any((d.get(k) or 0) > (now.get(k) or 0) for k in ("vcpus", "memory")) or \
        (bool(d.get("hugepages")) and not now.get("hugepages"))


def _adopt_child_plans(p, children, current, spec, restart):
    """A guest's child plans (volumes, seed) come first in its plan; a child that only a
    restart makes the running guest see (a rebuilt seed) is a restart field of the guest."""
    p["children"] = children
    first = []
    running = current is not None and current["state"] != "stopped" and spec["state"] != "stopped"
    for _handler, sub, _current in children:
        if not sub["changed"]:
            continue
        first.extend("%s %s/%s: %s" % (sub["kind"], sub["desired"]["pool"], sub["name"], a) for a in sub["actions"])
        p["changed"] = True
        if p["action"] == "none":
            p["action"] = "update"
        if sub["restart_required"] and running:
            p["fields"].append({"field": sub["field"], "apply": "restart"})
            p["restart_fields"].append(sub["field"])
            if restart == "if_needed" and "restart" not in p["actions"]:
                p["actions"].append("restart")
                p["restart"] = True
                p["state_from"] = p["state_to"] = spec["state"]
            elif restart != "if_needed":
                p["restart_required"] = True
    p["actions"][0:0] = first


def _fail(module, err, results):
    module.fail_json(msg=str(err), object=err.obj, field=err.field, results=results,
                     changed=any(r.get("changed") for r in results))


def _require(module, name, import_error):
    """A library missing here: respawn under the system Python that has it, or fail naming
    the OS package to install (_deps)."""
    if import_error:
        _deps.require(module, name)


def _open_backend(module):
    """The guest backend of module.params['backend'], its library required (respawn/fail)."""
    try:
        backend_cls = get_backend(module.params["backend"])
    except VirtfleetError as e:
        _fail(module, e, [])
    _require(module, backend_cls.required_lib, backend_cls.import_error())
    return backend_cls(module.params, module.run_command)


def read(module, reader):
    """A read-only module (guest_info): ``reader(backend)`` returns the result keys; a
    VirtfleetError fails naming object and field. Never changes anything."""
    backend = _open_backend(module)
    try:
        out = reader(backend)
    except VirtfleetError as e:
        _fail(module, e, [])
    finally:
        backend.close()
    module.exit_json(changed=False, **out)


def run(module, kind, raws, single=False, prune=False, prune_storage=False):
    """Converge ``raws`` (raw specs) of ``kind`` ('guest', 'network', ...); exits the module."""
    for raw in raws:
        if isinstance(raw, dict):
            module.no_log_values.update(_model.secret_values(raw))
    fleet = module.params.get("fleet")
    if prune_storage and not prune:
        _fail(module, SpecError("only with prune: true (it says whether pruned guests' disks go too)", None,
                                "prune_storage", kind=kind), [])
    if kind in GUEST_BACKED:
        if kind == "guest":
            raws = [dict(r, fleet=fleet) if isinstance(r, dict) else r for r in raws]
        try:
            backend_cls = get_backend(module.params["backend"])
        except VirtfleetError as e:
            _fail(module, e, [])
        _require(module, backend_cls.required_lib, backend_cls.import_error())
    else:
        backend_cls = lv.LibvirtBackend
        _require(module, backend_cls.required_lib, backend_cls.import_error())
        for lib, import_error in _NEEDS.get(kind, ()):
            _require(module, lib, import_error)

    backend = backend_cls(module.params, module.run_command)
    handler = GuestKind(backend, module.params["restart"]) if kind == "guest" else KINDS[kind](backend)
    capacity = None
    if kind == "guest" and module.params.get("capacity_check"):
        capacity = {k: module.params.get(k) for k in ("cpu_ratio", "memory_ratio", "disk_ratio", "reserved_memory_mib")}
    pipeline = Run(module, kind, capacity)
    try:
        results, before, after = pipeline.converge(
            handler, raws, single, prune=(fleet, prune_storage) if prune else None)
    except SpecError as e:
        _fail(module, e, [])
    finally:
        if hasattr(handler, "close"):
            handler.close()
        backend.close()
    errors = pipeline.errors
    for e in errors:
        if not any(r["name"] == e.obj for r in results):
            results.append({"kind": kind, "name": e.obj, "action": "none", "changed": False, "failed": True,
                            "msg": str(e), "actions": [], "fields": [], "restart_required": False,
                            "restart_fields": [], "state": None})
    out = {"changed": any(r["changed"] for r in results), "results": results}
    if kind == "guest" and not single:
        out["pending_restart"] = sorted(r["name"] for r in results if r.get("restart_required"))
    if single:
        name = raws[0].get("name") if raws and isinstance(raws[0], dict) else None
        r = results[0] if results else {}
        out.update({k: v for k, v in r.items() if k not in ("kind", "name", "changed", "failed", "msg")})
        diff = {"before": before.get(name, {}), "after": after.get(name, {})}
    else:
        diff = {"before": before, "after": after}
    if module._diff:
        out["diff"] = diff
    if errors:
        failed = sorted({str(e) for e in errors})
        tb = "\n".join(e.details["exception"] for e in errors if e.details.get("exception"))
        if tb:
            out["exception"] = tb
        module.fail_json(msg="%d %s(s) failed: %s" % (len(failed), kind, "; ".join(failed)),
                         **dict(out, **{"failed_%ss" % kind: sorted({e.obj for e in errors}, key=str)}))
    module.exit_json(**out)
