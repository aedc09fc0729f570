# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the guests of a host being drained go (playbooks/evacuate.yml). Pure.

Running guests are placed first, the largest (maximum memory) first, each on the target
with the most memory left that can take it: its maximum memory within the target's
available memory minus ``reserve_mib`` and what was already placed there, its vCPUs
within the target's CPUs, and the target's running vCPUs within ``cpu_ratio`` x CPUs.
Stopped guests (their definitions) go to the target with the most memory left, without
using it up: they take nothing until they start. A guest no target can take is listed in
``unplaced`` with the reason, and the playbook stops before anything moves."""

from __future__ import annotations


def plan(guests, targets, reserve_mib=256, cpu_ratio=4.0, move_stopped=True):
    """``guests``: host_facts guest entries of the source (name, state, vcpus, max_vcpus,
    memory_mib, max_memory_mib, backend). ``targets``: {host: host_facts of it} (memory,
    cpu, committed). Returns {"moves": [...], "unplaced": [...], "skipped": [...]}, each
    move {guest, to, mode (live|offline), state, memory_mib, vcpus}."""
    room = {}
    for name, facts in sorted(targets.items()):
        running = ((facts.get("committed") or {}).get("running") or {})
        room[name] = {"memory": (facts.get("memory") or {}).get("available_mib", 0) - reserve_mib,
                      "cpus": (facts.get("cpu") or {}).get("count") or 0,
                      "vcpus": running.get("vcpus", 0)}
    moves, unplaced, skipped = [], [], []
    libvirt = [g for g in guests if g.get("backend", "libvirt") == "libvirt"]
    skipped.extend({"guest": g["name"], "reason": "backend %s: only libvirt guests migrate" % g.get("backend")}
                   for g in guests if g.get("backend", "libvirt") != "libvirt")

    def need(g):
        return g.get("max_memory_mib") or g.get("memory_mib") or 0

    active = sorted((g for g in libvirt if g["state"] != "stopped"), key=lambda g: (-need(g), g["name"]))
    for g in active:
        vcpus = g.get("max_vcpus") or g.get("vcpus") or 1
        fits, why = [], []
        for host, r in room.items():
            if need(g) > r["memory"]:
                why.append("%s: %d MiB left, needs %d" % (host, max(r["memory"], 0), need(g)))
            elif vcpus > r["cpus"]:
                why.append("%s: %d CPUs, needs %d vCPUs" % (host, r["cpus"], vcpus))
            elif r["vcpus"] + (g.get("vcpus") or 1) > r["cpus"] * cpu_ratio:
                why.append("%s: %d running vCPUs of %g" % (host, r["vcpus"], r["cpus"] * cpu_ratio))
            else:
                fits.append(host)
        if not fits:
            unplaced.append({"guest": g["name"], "reason": "no target has room (%s)" % "; ".join(why or ["no targets"])})
            continue
        host = max(fits, key=lambda h: (room[h]["memory"], -sorted(room).index(h)))
        room[host]["memory"] -= need(g)
        room[host]["vcpus"] += g.get("vcpus") or 1
        moves.append({"guest": g["name"], "to": host, "mode": "live", "state": g["state"],
                      "memory_mib": need(g), "vcpus": g.get("vcpus") or 1})
    for g in sorted((g for g in libvirt if g["state"] == "stopped"), key=lambda g: g["name"]):
        if not move_stopped:
            skipped.append({"guest": g["name"], "reason": "stopped (evacuate_move_stopped is false)"})
            continue
        if not room:
            unplaced.append({"guest": g["name"], "reason": "no targets"})
            continue
        host = max(sorted(room), key=lambda h: room[h]["memory"])
        moves.append({"guest": g["name"], "to": host, "mode": "offline", "state": "stopped",
                      "memory_mib": need(g), "vcpus": g.get("vcpus") or 1})
    return {"moves": moves, "unplaced": unplaced, "skipped": skipped}
