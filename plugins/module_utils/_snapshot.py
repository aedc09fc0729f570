# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest snapshots as a kind of the one pipeline (``_core.KINDS['snapshot']``).

``snapshot_from_params`` validates a spec; ``plan_snapshot(spec, current)`` is pure: it reads
what the backend read of the guest and its snapshots (``GuestBackend.snapshot_read``) and
returns the plan the backend carries out (``GuestBackend.snapshot_apply``): create, delete,
revert, set the description, and the retention deletes of ``keep``.

Snapshots this collection made carry a marker line at the end of their description (libvirt)
or comment (LXC): retention (``keep``) only ever deletes those, oldest first.
"""

from __future__ import annotations

import contextlib

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    SpecError, UnsupportedChange, VirtfleetError)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import NAME_RE

KIND = "snapshot"
STATES = ("present", "absent", "current")
KEYS = ("guest", "name", "state", "description", "memory", "keep")
#: the last line of the description of every snapshot this collection made
MARK = "[virtfleet.hypervisor snapshot]"


def mark_description(description):
    """The stored description: the user's text and the marker line."""
    return (description + "\n" + MARK) if description else MARK


def split_description(stored):
    """(the user's description, made by this collection?) from a stored description."""
    text = (stored or "").rstrip("\n")
    if text == MARK:
        return "", True
    if text.endswith("\n" + MARK):
        return text[:-len(MARK) - 1], True
    return text, False


def snapshot_from_params(raw):
    """Validate one snapshot spec; raise SpecError naming the snapshot and the field."""
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError("invalid snapshot name %r: use [A-Za-z0-9][A-Za-z0-9_.-]{0,62}" % (name,),
                        name if isinstance(name, str) else None, "name", kind=KIND)
    guest = raw.get("guest")
    if not isinstance(guest, str) or not NAME_RE.match(guest):
        raise SpecError("invalid guest name %r" % (guest,), name, "guest", kind=KIND)
    state = raw.get("state") or "present"
    if state not in STATES:
        raise SpecError("expected one of %s, got %r" % ("|".join(STATES), state), name, "state", kind=KIND)
    s = {"guest": guest, "name": name, "state": state, "description": raw.get("description"),
         "memory": raw.get("memory"), "keep": raw.get("keep")}
    if s["description"] is not None:
        s["description"] = str(s["description"]).rstrip("\n")
        if MARK in s["description"]:
            raise SpecError("must not contain the marker %r" % MARK, name, "description", kind=KIND)
    if s["memory"] is not None and not isinstance(s["memory"], bool):
        raise SpecError("expected a boolean, got %r" % (s["memory"],), name, "memory", kind=KIND)
    if s["keep"] is not None:
        if isinstance(s["keep"], bool) or not isinstance(s["keep"], int) or s["keep"] < 1:
            raise SpecError("expected an integer of at least 1, got %r" % (s["keep"],), name, "keep", kind=KIND)
    for key in ("memory", "keep", "description"):
        if s[key] is not None and state != "present":
            raise SpecError("only with state=present", name, key, kind=KIND)
    return s


def _order(snap):
    return (snap.get("created") or 0, snap.get("order") or 0, snap["name"])


def plan_snapshot(spec, current):
    """The plan for one snapshot spec. Pure. ``current`` is what the backend read::

        {"guest_state": "running" | "paused" | "stopped" | "saved",
         "snapshots": [{"name", "description", "managed", "memory", "created", "current",
                        "revert_refused" (a reason or None), ...}],
         "refused": {"create", "memory", "disk_only"} -> a reason or None}

    or None when the guest does not exist.
    """
    name, guest = spec["name"], spec["guest"]
    p = {"kind": KIND, "name": name, "guest": guest, "action": "none", "changed": False, "actions": [],
         "fields": [], "restart_required": False, "restart_fields": [], "desired": spec, "ops": [],
         "report": {"guest": guest, "deleted": []}}
    if current is None:
        if spec["state"] == "absent":
            return p
        raise SpecError("guest %r does not exist" % guest, name, "guest", kind=KIND)
    snaps = current["snapshots"]
    have = next((s for s in snaps if s["name"] == name), None)
    refused = current.get("refused") or {}
    if spec["state"] == "absent":
        if have is not None:
            p.update(action="delete", changed=True)
            p["ops"].append(("delete", have))
            p["actions"].append("delete %s" % name)
        return p
    if spec["state"] == "current":
        if have is None:
            raise SpecError("guest %r has no snapshot %r to revert to" % (guest, name), name, "name", kind=KIND)
        if have.get("revert_refused"):
            raise UnsupportedChange(have["revert_refused"], name, "state", kind=KIND)
        # A revert is what the operator asks for each time: the guest's disks (and memory)
        # have moved on since the snapshot in a way no toolstack reports, so it always runs.
        p.update(action="revert", changed=True)
        p["ops"].append(("revert", have))
        p["actions"].append("revert to %s" % name)
        p["report"]["state_after"] = have.get("state")
        return p

    # present
    if have is None:
        running = current["guest_state"] in ("running", "paused")
        memory = running if spec["memory"] is None else spec["memory"]
        if refused.get("create"):
            raise UnsupportedChange(refused["create"], name, "state", kind=KIND)
        reason = refused.get("memory") if memory else (refused.get("disk_only") if running else None)
        if reason:
            raise UnsupportedChange(reason, name, "memory", kind=KIND)
        if memory and not running:
            raise SpecError("the guest is %s: a snapshot with memory needs it running (or paused); leave memory "
                            "out or set it false for a disk-only snapshot" % current["guest_state"],
                            name, "memory", kind=KIND)
        desired = dict(spec, memory=memory, description=spec["description"] or "")
        p["desired"] = desired
        p.update(action="create", changed=True)
        p["ops"].append(("create", desired))
        p["actions"].append("create %s (%s)" % (name, "disks and memory" if memory else "disk-only"))
        p["fields"] = [{"field": f, "apply": "config"} for f in ("description", "memory") if desired.get(f)]
    else:
        p["desired"] = dict(spec, memory=have["memory"])
        if spec["description"] is not None and spec["description"] != have["description"]:
            p.update(action="update", changed=True)
            p["ops"].append(("describe", dict(have, description=spec["description"])))
            p["actions"].append("set the description of %s" % name)
            p["fields"].append({"field": "description", "apply": "live"})
    if spec["keep"] is not None:
        ours = sorted((s for s in snaps if s["managed"] and s["name"] != name), key=_order)
        mine = have is None or have["managed"]
        excess = len(ours) + (1 if mine else 0) - spec["keep"]
        for old in ours[:max(0, excess)]:
            p["ops"].append(("delete", old))
            p["actions"].append("delete %s (keep %d)" % (old["name"], spec["keep"]))
            p["report"]["deleted"].append(old["name"])
        if excess > 0:
            p["changed"] = True
            if p["action"] == "none":
                p["action"] = "update"
    return p


def view(snap):
    """A snapshot as shown in --diff."""
    if snap is None:
        return {}
    return {k: snap.get(k) for k in ("name", "guest", "description", "memory") if snap.get(k) is not None}


class SnapshotKind(object):
    """Snapshots of the guests of one backend, as a kind of the pipeline."""

    kind = KIND

    def __init__(self, backend):
        self.backend = backend

    @staticmethod
    def raw_key(raw):
        return (raw.get("guest"), raw.get("name"))

    def validate(self, raw):
        return snapshot_from_params(raw)

    def children(self, spec):
        return []

    def adopt(self, spec, children):
        pass

    def resolve(self, spec):
        return spec

    @staticmethod
    @contextlib.contextmanager
    def _named(name):
        """Errors of the backend's snapshot operations name the snapshot, as a snapshot."""
        try:
            yield
        except VirtfleetError as e:
            e.kind, e.obj = KIND, name
            raise

    def current(self, spec):
        with self._named(spec["name"]):
            cur = self.backend.snapshot_read(spec["guest"])
        if cur is not None:
            cur["guest"] = spec["guest"]
            cur["named"] = next((s for s in cur["snapshots"] if s["name"] == spec["name"]), None)
        return cur

    def plan(self, spec, current):
        return plan_snapshot(spec, current)

    def apply(self, p, current):
        with self._named(p["name"]):
            self.backend.snapshot_apply(p["guest"], p["ops"], current)

    @staticmethod
    def _names(current):
        return sorted(s["name"] for s in (current or {}).get("snapshots") or ())

    def before(self, current):
        out = {"snapshots": self._names(current)}
        named = (current or {}).get("named")
        if named is not None:
            out["snapshot"] = view(dict(named, guest=current["guest"]))
        return out

    def after(self, p, current):
        names = set(self._names(current))
        for op, arg in p["ops"]:
            if op == "create":
                names.add(arg["name"])
            elif op == "delete":
                names.discard(arg["name"])
        out = {"snapshots": sorted(names)}
        if p["desired"]["state"] != "absent":
            out["snapshot"] = view(dict(p["desired"], keep=None))
        return out

    def final_state(self, p, current, check_mode):
        if p.get("failed"):
            have = any(s["name"] == p["name"] for s in (current or {}).get("snapshots") or ())
            return "present" if have else "absent"
        return p["desired"]["state"]
