# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the guests of a host being drained go (playbooks/evacuate.yml). Pure.

Only the translation: the source's guests and the targets' host_facts become a placement
problem of ``_placement`` (the engine of the ``place`` module, the same capacity after the
ratios, the same committed use, the same error naming guest, resource and shortfall), and
its assignment becomes the list of moves. No capacity rule of its own.

Every guest that moves takes its vCPUs and memory on its target, a stopped one too (its
definition commits them there, as ``place`` and Nova count a stopped guest); the targets'
own guests, running or not, are their base use. A guest already defined on a target (a
move that stopped halfway) stays there. Non-libvirt guests, and stopped guests with
``move_stopped`` false, are ``skipped``; when a guest fits nowhere, ``unplaced`` holds it
with the engine's reason and there are no moves."""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement

POLICY = "spread"


def plan(guests, targets, ratios=None, policy=POLICY, move_stopped=True):
    """``guests``: host_facts guest entries of the source (name, state, vcpus, memory_mib,
    hugepages, backend). ``targets``: {host: its ``virtfleet_host`` fact (cpu, memory,
    hugepages, guests)}. ``ratios``: cpu_ratio, memory_ratio, reserved_memory_mib (None:
    _placement's defaults). Returns {"moves": [...], "unplaced": [...], "skipped": [...],
    "targets": {host: projected use}}, each move {guest, to, mode (live|offline), state,
    memory_mib, vcpus}. Raises SpecError for a target or ratio the engine refuses."""
    ratios = {k: v for k, v in (ratios or {}).items() if v is not None}
    skipped = [{"guest": g["name"], "reason": "backend %s: only libvirt guests migrate" % g.get("backend")}
               for g in guests if g.get("backend", "libvirt") != "libvirt"]
    moving = []
    for g in sorted((g for g in guests if g.get("backend", "libvirt") == "libvirt"), key=lambda g: g["name"]):
        if g["state"] == "stopped" and not move_stopped:
            skipped.append({"guest": g["name"], "reason": "stopped (evacuate_move_stopped is false)"})
        else:
            moving.append(g)
    out = {"moves": [], "unplaced": [], "skipped": skipped, "targets": {}}
    if not moving:
        return out
    names = {g["name"] for g in moving}
    hosts = [_placement.host_from_facts(name, facts, known=names) for name, facts in sorted(targets.items())]
    current = _placement.current_hosts(targets)
    wanted = [{"name": g["name"], "vcpus": g.get("vcpus") or 1, "memory_mib": g.get("memory_mib") or 0,
               "hugepages": bool(g.get("hugepages")), "current": current.get(g["name"])} for g in moving]
    try:
        result = _placement.place(hosts, wanted, policy, defaults=ratios)
    except _placement.PlacementError as e:
        out["unplaced"].append({"guest": e.obj, "reason": str(e), "resource": e.details.get("resource"),
                                "best_host": e.details.get("best_host"), "shortfall": e.details.get("shortfall")})
        return out
    # running guests first (largest first), then the definitions of the stopped ones
    for g in sorted(moving, key=lambda g: (g["state"] == "stopped", -(g.get("memory_mib") or 0), g["name"])):
        out["moves"].append({"guest": g["name"], "to": result["assignment"][g["name"]],
                             "mode": "offline" if g["state"] == "stopped" else "live", "state": g["state"],
                             "memory_mib": g.get("memory_mib") or 0, "vcpus": g.get("vcpus") or 1})
    out["targets"] = {name: {k: h[k] for k in ("guests", "free", "load", "peak_load")}
                      for name, h in result["hosts"].items()}
    return out
