# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan(desired, current) -> what must change, each field tagged live / restart / config.

Pure: it reads two model dicts and returns a plan; the backend applies it. The same
plan drives check mode, so check mode reports exactly what a real run does.

``current`` is None (no such guest) or a dict::

    {"config": <model dict of the persistent definition>,
     "live": <model dict of the running instance> or None,
     "state": "running" | "stopped" | "paused",
     "autostart": bool, "managed": bool}
"""

from __future__ import annotations

import copy

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError, UnsupportedChange

CONFIG_ONLY = ("fleet",) + mdev.CONFIG_ONLY  # metadata: nothing to apply to the running guest


def carry_backend_fields(desired, config):
    """Copy what the toolstack generated (MACs) from the current definition into the
    desired spec when the user left it out, so redefining never churns them."""
    desired = copy.deepcopy(desired)
    if not config:
        return desired
    cur_nics = config.get("interfaces") or []
    used = {n["mac"] for n in desired["interfaces"] if n.get("mac")}
    for i, nic in enumerate(desired["interfaces"]):
        if nic.get("mac") or i >= len(cur_nics):
            continue
        cur = cur_nics[i]
        same_source = (cur.get("network"), cur.get("bridge")) == (nic.get("network"), nic.get("bridge"))
        if same_source and cur.get("mac") and cur["mac"] not in used:
            nic["mac"] = cur["mac"]
            used.add(cur["mac"])
    if desired.get("machine") is None:
        desired["machine"] = config.get("machine")
    if desired.get("cpu_shares") is None:
        desired["cpu_shares"] = config.get("cpu_shares")
    return desired


def disk_key(d):
    return (d["device"], d["bus"], d.get("volume"), d.get("pool"), d.get("path"), d["readonly"])


def _hotpluggable_disk(d):
    return d["device"] == "disk" and d["bus"] in ("virtio", "scsi")


def nic_key(n):
    return (n.get("network"), n.get("bridge"), n.get("direct"), n.get("mode"), n["model"], n.get("mac"))


def _disk_idents(disks):
    """Identity of each disk for hotplug: a disk by its source, a cdrom by its slot (the
    n-th cdrom on its bus), so a cdrom whose medium changes is the same drive."""
    out, n = [], {}
    for d in disks:
        if d["device"] == "cdrom":
            out.append(("cdrom", d["bus"], n.get(d["bus"], 0)))
            n[d["bus"]] = n.get(d["bus"], 0) + 1
        else:
            out.append(disk_key(d))
    return out


_MEDIA = {"path", "volume", "pool"}


def _disk_tuning(w, h):
    """Live ops that turn the kept drive ``h`` into ``w``; None when only a restart does."""
    wv, hv = mdev.disk_view(w, w.get("target") is not None), mdev.disk_view(h, w.get("target") is not None)
    diff = {k for k in wv if wv[k] != hv.get(k)}
    if not diff:
        return []
    if w["device"] == "cdrom" and diff <= _MEDIA:
        return [("change_media", dict(w, target=h.get("target")))]
    if diff == {"iotune"}:
        return [("set_iotune", dict(w, target=h.get("target")))]
    return None


def _nic_tuning(w, h):
    diff = {k for k in mdev.NIC_VIEW if w.get(k) != h.get(k)}
    if diff - {"bandwidth", "link"}:
        return None
    return [("set_" + ("link" if k == "link" else "bandwidth"), w) for k in sorted(diff)]


def _device_ops(field, want, have, idents, hotpluggable, tuning):
    """Attach/detach ops that turn ``have`` into ``want`` live, then the live tuning of the
    devices kept (cdrom media, iotune, bandwidth, link state), or None when the difference
    cannot be applied live (order change, non-hotpluggable device, a restart-only setting)."""
    want_keys, have_keys = idents(want), idents(have)
    add = [x for x, k in zip(want, want_keys) if k not in have_keys]
    remove = [x for x, k in zip(have, have_keys) if k not in want_keys]
    if not all(hotpluggable(x) for x in add + remove):
        return None
    kept_want = [k for k in want_keys if k in have_keys]
    kept_have = [k for k in have_keys if k in want_keys]
    if kept_want != kept_have:
        return None
    noun = field[:-1]
    ops = [("detach_" + noun, x) for x in remove] + [("attach_" + noun, x) for x in add]
    for w, k in zip(want, want_keys):
        if k in have_keys:
            tune = tuning(w, have[have_keys.index(k)])
            if tune is None:
                return None
            ops.extend(tune)
    return ops


def live_ops(rule, field, want, live):
    """Ops that make the running guest's ``field`` equal ``want`` under the backend's live
    ``rule`` (see _model.LIVE_RULES), or None when only a restart applies it."""
    have = live.get(field)
    ceiling = live.get("max_" + field) or have
    if rule == "any":
        return [("set_" + field, want)]
    if rule == "up_to_max":
        return [("set_" + field, want)] if ceiling and want <= ceiling else None
    if rule == "grow_to_max":
        return [("set_" + field, want)] if have is not None and have < want <= ceiling else None
    if rule == "hotplug" and field == "disks":
        return _device_ops(field, want, have, _disk_idents, _hotpluggable_disk, _disk_tuning)
    if rule == "hotplug" and field == "interfaces":
        return _device_ops(field, want, have, lambda ns: [nic_key(n) for n in ns], lambda n: True, _nic_tuning)
    return None


def _equal(field, want, have):
    if field == "disks":
        return mdev.same_disks(want, have or [])
    if field == "interfaces":
        return mdev.same_nics(want, have or [])
    return want == have


def _disk_files(p, desired, running):
    """A ``path`` disk with ``size``: the file is created when missing, grown when smaller
    (never shrunk); the backend's resolve marks ``create`` / ``grow``."""
    for i, d in enumerate(desired.get("disks") or []):
        if d.get("create"):
            p["actions"].append("create %s (%s, %d bytes)" % (d["path"], d.get("format") or "qcow2", d["size"]))
            p["fields"].append({"field": "disks[%d].size" % i, "apply": "config"})
        elif d.get("grow"):
            p["actions"].append("grow %s to %d bytes" % (d["path"], d["size"]))
            p["fields"].append({"field": "disks[%d].size" % i, "apply": "live" if running else "config"})
        else:
            continue
        p["disk_files"] = p.get("disk_files", []) + [i]


def plan(desired, current, caps, restart="never"):
    """Return the plan for one guest (a dict, see module RETURN docs). Pure: it reads the
    desired spec, what was read of the guest and the backend's Capabilities (the fields it
    manages and their live rules); it calls nothing."""
    fields = caps.fields
    name = desired["name"]
    p = {"kind": "guest", "name": name, "action": "none", "changed": False,
         "actions": [], "fields": [], "restart_required": False, "restart_fields": [],
         "define": False, "live_ops": [], "state_from": None, "state_to": None,
         "autostart": None, "desired": desired, "managed": None}
    want_state = desired["state"]

    if current is None:
        if want_state == "absent":
            return p
        if want_state == "saved":
            raise UnsupportedChange("the guest does not exist, so there is no running state to save; "
                                    "create it with state=running first", name, "state")
        p.update(action="create", changed=True, define=True, state_from="undefined",
                 state_to=want_state)
        p["fields"] = [{"field": f, "apply": "config"} for f in fields
                       if desired.get(f) not in (None, [], False)]
        _disk_files(p, desired, False)
        p["actions"].append("define")
        if desired["autostart"]:
            p["autostart"] = True
            p["actions"].append("autostart on")
        if want_state in ("running", "paused"):
            p["actions"].append("start")
        if want_state == "paused":
            p["actions"].append("suspend")
        return p

    p["managed"] = current.get("managed")
    if want_state == "absent":
        p.update(action="delete", changed=True, state_from=current["state"], state_to="absent")
        if current["state"] not in ("stopped", "saved"):
            p["actions"].append("destroy")
        if current["state"] == "saved":
            p["actions"].append("discard saved state")
        p["actions"].append("undefine")
        if desired.get("remove_storage"):
            p["actions"].append("remove storage")
        return p

    desired = carry_backend_fields(desired, current["config"])
    p["desired"] = desired
    config, live = current["config"], current.get("live")
    running = current["state"] in ("running", "paused") and live is not None
    saved = current["state"] == "saved"
    if want_state == "saved" and current["state"] == "stopped":
        raise UnsupportedChange("the guest is stopped, so there is no running state to save; start it first "
                                "(state=running), then save it", name, "state")
    for field in fields:
        if field == "autostart":
            continue
        want = desired.get(field)
        if want is None:
            continue
        config_differs = not _equal(field, want, config.get(field))
        live_differs = running and field not in CONFIG_ONLY and not _equal(field, want, live.get(field))
        # a saved guest resumes with the definition it was saved with (``live``, when the
        # toolstack shows it): a field that differs there waits for a fresh boot
        saved_differs = saved and live is not None and field not in CONFIG_ONLY and \
            not _equal(field, want, live.get(field))
        if field == "memory" and caps.balloon and not config_differs:
            # The balloon target is a request the guest OS may not honour (yet): the
            # live size drifting from a definition that already matches is not a change.
            live_differs = saved_differs = False
        if not (config_differs or live_differs or saved_differs):
            continue
        if config_differs:
            p["define"] = True
        if saved and field not in CONFIG_ONLY:
            # the saved state carries the definition it was saved with: a resume brings that
            # back; the new definition is used from the next fresh boot on
            needs_boot = saved_differs if live is not None else config_differs
            if config_differs:
                p["fields"].append({"field": field, "apply": "restart" if needs_boot else "config"})
            if needs_boot:
                p["restart_fields"].append(field)
            continue
        if not running or not live_differs:
            p["fields"].append({"field": field, "apply": "config"})
            continue
        rule = caps.live.get(field)
        ops = live_ops(rule, field, want, live) if rule else None
        if ops is None and live_differs:
            p["restart_fields"].append(field)
            if config_differs:
                p["fields"].append({"field": field, "apply": "restart"})
        else:
            p["live_ops"].extend(ops or [])
            p["fields"].append({"field": field, "apply": "live"})

    _disk_files(p, desired, running)
    if p["define"]:
        p["actions"].append("redefine")
    p["actions"].extend("%s %s" % (op, _describe(arg)) for op, arg in p["live_ops"])
    if "autostart" in fields and desired["autostart"] != current["autostart"]:
        p["autostart"] = desired["autostart"]
        p["fields"].append({"field": "autostart", "apply": "live"})
        p["actions"].append("autostart %s" % ("on" if desired["autostart"] else "off"))

    state = current["state"]
    if state != want_state:
        p.update(state_from=state, state_to=want_state)
        p["actions"].append(TRANSITIONS[(state, want_state)])
    will_run = want_state in ("running", "paused", "saved")
    if p["restart_fields"] and state != "stopped" and will_run:
        if saved or want_state == "saved":
            # never throw a saved state away to apply a change: it waits for a fresh boot
            p["restart_required"] = True
        elif restart == "if_needed":
            p["actions"].append("restart")
            p["state_from"], p["state_to"] = state, want_state
            p["restart"] = True
        else:
            p["restart_required"] = True
    if p["define"] or p["live_ops"] or p["autostart"] is not None or p["state_to"] or p.get("disk_files"):
        p["changed"] = True
        p["action"] = "update"
    return p


# the action each state transition reports (check mode and real runs alike)
TRANSITIONS = {
    ("stopped", "running"): "start", ("paused", "running"): "resume",
    ("running", "stopped"): "shutdown", ("paused", "stopped"): "shutdown",
    ("running", "paused"): "suspend", ("stopped", "paused"): "start, suspend",
    ("running", "saved"): "save", ("paused", "saved"): "save",
    ("saved", "running"): "restore", ("saved", "paused"): "restore paused",
    ("saved", "stopped"): "discard saved state",
}


def _describe(arg):
    if isinstance(arg, dict):
        if "device" in arg:
            if arg.get("volume"):
                return "%s/%s" % (arg.get("pool"), arg.get("volume"))
            return arg.get("path") or "(empty %s)" % arg.get("target", arg["device"])
        return arg.get("network") or arg.get("bridge") or arg.get("direct")
    return str(arg)


# -- networks, pools, volumes, seeds ----------------------------------------------
# The same contract as plan(): pure functions of (desired spec, what was read), returning
# a plan with the one shape every kind shares. They never edit the spec they are given.

def new_plan(kind, name, desired):
    return {"kind": kind, "name": name, "action": "none", "changed": False, "actions": [],
            "fields": [], "desired": desired, "restart_required": False, "restart_fields": []}


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


def plan_network(n, current):
    """``current`` carries ``users`` (running guests on the network) when it is active."""
    p, existing = _state_plan(new_plan("network", n["name"], n), current, n)
    if not existing:
        return p
    if n["bridge"] is None:
        n = p["desired"] = dict(n, bridge=current["bridge"])
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
        users = current.get("users") or []
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


def plan_pool(pool, current):
    p, existing = _state_plan(new_plan("pool", pool["name"], pool), current, pool)
    if not existing:
        if p["action"] == "create" and not pool["path"]:
            raise SpecError("required to create a pool", pool["name"], "path", kind="pool")
        return p
    if pool["path"] is None:
        pool = p["desired"] = dict(pool, path=current["path"])
    for field, why in (("type", "a pool's type cannot change"),
                       ("path", "moving a pool would orphan its volumes; define a new pool instead")):
        if pool[field] != current[field]:
            raise UnsupportedChange("%s (%r -> %r)" % (why, current[field], pool[field]),
                                    pool["name"], field, kind="pool")
    if pool["mode"] != current["mode"]:
        p["fields"].append({"field": "mode", "apply": "live"})
        p["actions"].append("redefine, chmod %s" % pool["mode"])
    return _finish_state(p, current, pool)


def plan_volume(v, current):
    """``only_when_missing`` (a guest's disk volume): those keys only shape a volume that is
    created; an existing one keeps its format and is never rebased. ``current`` carries
    ``users`` (running guests using it) when the volume is to be removed."""
    p = new_plan("volume", v["name"], v)
    if current is None:
        if v["state"] == "present":
            p.update(action="create", changed=True)
            p["actions"] = ["convert %s" % v["source"]] if v["source"] else ["create"]
            if v["source"] and v["size"]:
                p["actions"].append("grow to %d" % v["size"])
        return p
    if v.get("only_when_missing"):
        v = p["desired"] = dict(v, format=current["format"], backing=None)
    if v["state"] == "absent":
        users = current.get("users") or []
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


def plan_seed(v, current):
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
        p["restart_fields"] = [f["field"] for f in p["fields"]]
    return p
