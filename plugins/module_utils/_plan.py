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

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import COMPARED

CONFIG_ONLY = ("fleet",)  # metadata: nothing to apply to the running guest
RESTART_ONLY = ("kernel", "ramdisk", "extra", "max_vcpus", "max_memory", "cpu_mode", "hugepages", "virt_type", "machine")


def carry_backend_fields(desired, config):
    """Copy what the toolstack generated (MACs) from the current definition into the
    desired spec when the user left it out, so redefining never churns them."""
    # backend bookkeeping (e.g. libvirt's planned volumes, holding the connection) is shared, not copied
    desired = copy.deepcopy(desired, {id(desired.get("_storage")): desired.get("_storage")})
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
    return (n.get("network"), n.get("bridge"), n["model"], n.get("mac"))


def _device_ops(field, want, have, key, hotpluggable):
    """Attach/detach ops that turn ``have`` into ``want`` live, or None when the
    difference cannot be applied live (order change, non-hotpluggable device)."""
    want_keys, have_keys = [key(x) for x in want], [key(x) for x in have]
    add = [x for x in want if key(x) not in have_keys]
    remove = [x for x in have if key(x) not in want_keys]
    if not all(hotpluggable(x) for x in add + remove):
        return None
    kept_want = [k for k in want_keys if k in have_keys]
    kept_have = [k for k in have_keys if k in want_keys]
    if kept_want != kept_have:
        return None
    noun = field[:-1]
    return [("detach_" + noun, x) for x in remove] + [("attach_" + noun, x) for x in add]


def default_live_ops(field, want, live):
    """Ops to make the running guest's ``field`` equal ``want``, or None (restart)."""
    have = live.get(field)
    if field == "memory":
        return [("set_memory", want)] if want <= (live.get("max_memory") or have) else None
    if field == "vcpus":
        return [("set_vcpus", want)] if have < want <= (live.get("max_vcpus") or have) else None
    if field == "cpu_shares":
        return [("set_cpu_shares", want)]
    if field == "disks":
        return _device_ops(field, want, have, disk_key, _hotpluggable_disk)
    if field == "interfaces":
        return _device_ops(field, want, have, nic_key, lambda n: True)
    return None


def _equal(field, want, have):
    if field == "disks":
        return [disk_key(d) for d in want] == [disk_key(d) for d in have or []]
    if field == "interfaces":
        return [nic_key(n) for n in want] == [nic_key(n) for n in have or []]
    return want == have


def plan(desired, current, restart="never", fields=COMPARED, live_ops=None):
    """Return the plan for one guest (a dict, see module RETURN docs).

    ``fields``: the compared fields the backend manages. ``live_ops(field, want, live)``:
    the backend's rule for applying a field to a running guest; returns a list of
    ``(op, arg)`` or None when only a restart applies it. Defaults to libvirt's rules."""
    live_ops = live_ops or default_live_ops
    name = desired["name"]
    p = {"kind": "guest", "name": name, "action": "none", "changed": False,
         "actions": [], "fields": [], "pending_restart": False, "restart_fields": [],
         "define": False, "live_ops": [], "state_from": None, "state_to": None,
         "autostart": None, "desired": desired, "managed": None}
    want_state = desired["state"]

    if current is None:
        if want_state == "absent":
            return p
        p.update(action="create", changed=True, define=True, state_from="undefined",
                 state_to=want_state)
        p["fields"] = [{"field": f, "apply": "config"} for f in fields
                       if desired.get(f) not in (None, [], False)]
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
        if current["state"] != "stopped":
            p["actions"].append("destroy")
        p["actions"].append("undefine")
        if desired.get("remove_storage"):
            p["actions"].append("remove storage")
        return p

    desired = carry_backend_fields(desired, current["config"])
    p["desired"] = desired
    config, live = current["config"], current.get("live")
    running = current["state"] in ("running", "paused") and live is not None
    for field in fields:
        if field == "autostart":
            continue
        want = desired.get(field)
        if want is None:
            continue
        config_differs = not _equal(field, want, config.get(field))
        live_differs = running and field not in CONFIG_ONLY and not _equal(field, want, live.get(field))
        if field == "memory" and not config_differs:
            # The balloon target is a request the guest OS may not honour (yet): the
            # live size drifting from a definition that already matches is not a change.
            live_differs = False
        if not (config_differs or live_differs):
            continue
        if config_differs:
            p["define"] = True
        if not running or not live_differs:
            p["fields"].append({"field": field, "apply": "config"})
            continue
        ops = None if field in RESTART_ONLY or not live_differs else live_ops(field, want, live)
        if ops is None and live_differs:
            p["restart_fields"].append(field)
            if config_differs:
                p["fields"].append({"field": field, "apply": "restart"})
        else:
            p["live_ops"].extend(ops or [])
            p["fields"].append({"field": field, "apply": "live"})

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
        p["actions"].append({("stopped", "running"): "start", ("paused", "running"): "resume",
                             ("running", "stopped"): "shutdown", ("paused", "stopped"): "shutdown",
                             ("running", "paused"): "suspend",
                             ("stopped", "paused"): "start, suspend"}[(state, want_state)])
    will_run = want_state in ("running", "paused")
    if p["restart_fields"] and state != "stopped" and will_run:
        if restart == "if_needed":
            p["actions"].append("restart")
            p["state_from"], p["state_to"] = state, want_state
            p["restart"] = True
        else:
            p["pending_restart"] = True
    if p["define"] or p["live_ops"] or p["autostart"] is not None or p["state_to"]:
        p["changed"] = True
        p["action"] = "update"
    return p


def _describe(arg):
    if isinstance(arg, dict):
        if "device" in arg:
            return arg.get("path") or "%s/%s" % (arg.get("pool"), arg.get("volume"))
        return arg.get("network") or arg.get("bridge")
    return str(arg)
