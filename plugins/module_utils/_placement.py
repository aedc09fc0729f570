# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity: where guests go across a fleet (``place``) and whether one host admits a guest
(``admit``). Pure Python, no Ansible, no libvirt: the ``place`` module runs it on the
controller, the guest pipeline (``_core``) runs ``admit`` on the hypervisor.

Resources are named dimensions of one vector:

=====================  ==============================================  ===================
resource               capacity of a host                              a guest's demand
=====================  ==============================================  ===================
``vcpus``              CPUs x ``cpu_ratio``                            its vCPUs
``memory_mib``         (memory - reserved - hugepage pools) x          its memory, unless
                       ``memory_ratio``                                hugepage-backed
``hugepages_<size>``   pages of that size (never overcommitted)        memory / page size
``disk_<pool>``        pool capacity x ``disk_ratio``                  sizes of the volumes
                                                                       it creates there
=====================  ==============================================  ===================

The ratios default to OpenStack Nova's since Antelope (``cpu_allocation_ratio`` 4.0,
``ram_allocation_ratio`` 1.0, ``disk_allocation_ratio`` 1.0); ``reserved_memory_mib``
to Nova's ``reserved_host_memory_mb`` (512).

Policies. ``spread`` (lowest peak load) takes the guests largest first (largest share of
the mean host) and gives each the host where its arrival leaves the lowest peak load (max
over the resources of used / capacity; ties: the lower sum of loads, then the name): the
L-infinity member of the norm-based greedy heuristics of Panigrahy, Talwar, Uyeda and
Wieder, "Heuristics for Vector Bin Packing" (2011). ``pack`` (fewest hosts) opens the hosts
already in use and the fewest more whose capacity covers the demand (trying the hosts by
size weighted by the demand and by each resource first), fills them with their item-centric
dot product, normalised (each guest, largest first, to the host whose free room lines up
best with its demand: the dot product over the room's norm, each resource weighted by how
scarce it is), re-packs the hosts with the most room in
each resource together with the guests left over while that leaves less over (a local
search), opens one more host only when it does not, and at the end tries to empty the least
loaded hosts into the others. Their bin-centric Dot Product (filling one host at a time)
used 12-25 % more hosts than the lower bound on mixed host sizes; balancing the L-infinity
greedy over the covering hosts 4-9 % more; the plain (not normalised) dot product 0-5.5 %
more; the shipped scheme 0-1.4 % (docs/benchmarks.md).

Stability: a guest already on a host (``current``) or pinned (``host``) stays there; only
the others are placed, so adding a guest never moves another. ``rebalance`` places every
unpinned guest anew. The same input gives the same output: every choice breaks its ties on
names.
"""

from __future__ import annotations

import math

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import pages_for, pages_to_mib

POLICIES = ("pack", "spread")
# OpenStack Nova's defaults since Antelope (2023.1)
DEFAULTS = {"cpu_ratio": 4.0, "memory_ratio": 1.0, "disk_ratio": 1.0, "reserved_memory_mib": 512}
PAGE_KIB = {"2M": 2048, "1G": 1048576}
# the size given to a pool a host declares but has not created yet (not checked, not shown)
UNKNOWN_POOL = float(2 ** 60)
_EPS = 1e-9
# pack: the fill recomputes its weights every this many guests; the re-pack's group sizes and rounds
_REWEIGH = 50
_REPACK_SIZES = (1, 2, 3, 4, 6)
_REPACK_ROUNDS = 200

HOST_KEYS = ("name", "backends", "cpus", "memory_mib", "hugepages", "pools", "networks", "bridges", "used",
             "cpu_ratio", "memory_ratio", "disk_ratio", "reserved_memory_mib")
GUEST_KEYS = ("name", "vcpus", "memory_mib", "hugepages", "hugepage_size", "disks", "backend", "host",
              "current", "affinity", "anti_affinity", "networks", "bridges")


class PlacementError(SpecError):
    """A guest fits nowhere; ``details``: resource, best host and its shortfall."""


def unit(resource):
    return "MiB" if resource == "memory_mib" else "bytes" if resource.startswith("disk_") else \
        "pages" if resource.startswith("hugepages_") else ""


def show(resource, amount):
    """An amount of a resource for a message: '4 vcpus', '2048 MiB', '10.0 GiB', '512 pages'."""
    if resource.startswith("disk_"):
        from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import human
        return human(amount)
    if resource == "vcpus":
        return "%s vCPUs" % _num(amount)
    return "%s %s" % (_num(amount), unit(resource))


def _num(x):
    return str(int(x)) if float(x).is_integer() else "%.2f" % x


# -- input -------------------------------------------------------------------------------
def number(kind, name, field, value, positive=True, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise SpecError("expected a number, got %r" % (value,), name, field, kind=kind)
    if math.isnan(value) or value < 0 or (positive and not allow_zero and value == 0):
        what = "greater than zero" if positive and not allow_zero else "zero or more"
        raise SpecError("must be %s, got %r" % (what, value), name, field, kind=kind)
    return value


def _names(kind, name, field, value):
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise SpecError("expected a list of names, got %r" % (value,), name, field, kind=kind)
    return tuple(sorted(set(value)))


def _unknown(kind, name, raw, allowed):
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise SpecError("unknown key(s) %s (allowed: %s)" % (", ".join(extra), ", ".join(allowed)),
                        name, "spec", kind=kind)


def host_capacity(raw, defaults=None):
    """A host's capacity and base use (what is committed by guests not being placed), both
    as {resource: amount}; validates the host, naming it and the field."""
    defaults = dict(DEFAULTS, **(defaults or {}))
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise SpecError("a host must be a mapping with a name, got %r" % (raw,), None, "hosts", kind="host")
    name = raw["name"]
    _unknown("host", name, raw, HOST_KEYS)
    ratio = {}
    for key in ("cpu_ratio", "memory_ratio", "disk_ratio"):
        v = raw.get(key)
        ratio[key] = number("host", name, key, defaults[key] if v is None else v)
    reserved = raw.get("reserved_memory_mib")
    reserved = number("host", name, "reserved_memory_mib",
                      defaults["reserved_memory_mib"] if reserved is None else reserved, allow_zero=True)
    cpus = number("host", name, "cpus", raw.get("cpus"))
    memory = number("host", name, "memory_mib", raw.get("memory_mib"))
    cap = {"vcpus": cpus * ratio["cpu_ratio"]}
    pools_mib = 0.0
    for size, hp in sorted((raw.get("hugepages") or {}).items()):
        field = "hugepages.%s" % size
        if size not in PAGE_KIB:
            raise SpecError("unknown page size (expected one of %s)" % ", ".join(PAGE_KIB), name, field, kind="host")
        total = number("host", name, field + ".total", (hp or {}).get("total", 0), allow_zero=True)
        if total:
            cap["hugepages_" + size] = total
            pools_mib += pages_to_mib(total, PAGE_KIB[size])
    usable = memory - reserved - pools_mib
    if usable <= 0:
        raise SpecError("%s MiB of memory leave nothing for guests after %s MiB reserved and %s MiB of hugepages"
                        % (_num(memory), _num(reserved), _num(pools_mib)), name, "memory_mib", kind="host")
    cap["memory_mib"] = usable * ratio["memory_ratio"]
    for pool, size in sorted((raw.get("pools") or {}).items()):
        cap["disk_" + pool] = number("host", name, "pools.%s" % pool, size) * ratio["disk_ratio"]
    used = {}
    for res, amount in sorted((raw.get("used") or {}).items()):
        used[res] = number("host", name, "used.%s" % res, amount, allow_zero=True)
    backends = _names("host", name, "backends", raw.get("backends"))
    return {"name": name, "capacity": cap, "used": used, "backends": backends,
            "networks": _names("host", name, "networks", raw.get("networks")),
            "bridges": _names("host", name, "bridges", raw.get("bridges")), "ratios": ratio,
            "reserved_memory_mib": reserved}


def guest_demand(raw):
    """A guest's demand {resource: amount} and constraints; validates, naming guest and field."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise SpecError("a guest must be a mapping with a name, got %r" % (raw,), None, "guests")
    name = raw["name"]
    _unknown("guest", name, raw, GUEST_KEYS)
    vcpus = number("guest", name, "vcpus", raw.get("vcpus") or 1)
    memory = number("guest", name, "memory_mib", raw.get("memory_mib") or 0, allow_zero=True)
    demand = {"vcpus": vcpus}
    if raw.get("hugepages"):
        size = raw.get("hugepage_size") or "2M"
        if size not in PAGE_KIB:
            raise SpecError("expected one of %s, got %r" % (", ".join(PAGE_KIB), size), name, "hugepage_size")
        demand["hugepages_" + size] = pages_for(memory, PAGE_KIB[size])
    elif memory:
        demand["memory_mib"] = memory
    disk = {}
    for pool, size in sorted((raw.get("disks") or {}).items()):
        amount = number("guest", name, "disks.%s" % pool, size, allow_zero=True)
        if amount:
            disk["disk_" + pool] = amount
    for key in ("host", "current", "affinity", "anti_affinity", "backend"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise SpecError("expected a name, got %r" % (raw[key],), name, key)
    return {"name": name, "demand": demand, "disk": disk, "backend": raw.get("backend"),
            "host": raw.get("host"), "current": raw.get("current"), "affinity": raw.get("affinity"),
            "anti_affinity": raw.get("anti_affinity"),
            "networks": _names("guest", name, "networks", raw.get("networks")),
            "bridges": _names("guest", name, "bridges", raw.get("bridges"))}


# -- the engine --------------------------------------------------------------------------
class _Item(object):
    """What is placed as one: a guest, or an affinity group's guests together."""

    __slots__ = ("name", "guests", "demand", "disk", "anti", "backends", "networks", "bridges", "host", "current",
                 "vec", "cls")

    def __init__(self, guests):
        self.guests = guests
        self.name = guests[0]["name"] if len(guests) == 1 else "affinity group '%s' (%s)" % (
            guests[0]["affinity"], ", ".join(g["name"] for g in guests))
        self.demand, self.disk = {}, {}
        for g in guests:
            for src, dst in ((g["demand"], self.demand), (g["disk"], self.disk)):
                for k, v in src.items():
                    dst[k] = dst.get(k, 0) + v
        self.anti = frozenset(g["anti_affinity"] for g in guests if g["anti_affinity"])
        self.backends = frozenset(g["backend"] for g in guests if g["backend"])
        self.networks = frozenset(n for g in guests for n in g["networks"])
        self.bridges = frozenset(n for g in guests for n in g["bridges"])
        self.host = None
        self.current = None
        self.vec = None
        self.cls = None


def _eligible(item, host):
    """None when the host can take the item apart from capacity, else why not."""
    if len(item.backends) > 1:
        return "backend"
    if item.backends and host["backends"] and not item.backends <= set(host["backends"]):
        return "backend"
    missing = item.networks - set(host["networks"])
    if missing:
        return "networks"
    if item.bridges - set(host["bridges"]):
        return "bridges"
    for res in list(item.demand) + list(item.disk):
        if res not in host["capacity"]:
            return res
    return None


def _group(item):
    return " (with its affinity group %s)" % item.name[len("affinity group "):] if len(item.guests) > 1 else ""


class Placement(object):
    """One placement problem; ``solve()`` returns the result dict."""

    def __init__(self, hosts, guests, policy="pack", rebalance=False, defaults=None):
        if policy not in POLICIES:
            raise SpecError("expected one of %s, got %r" % ("|".join(POLICIES), policy), None, "policy",
                            kind="placement")
        self.policy = policy
        self.rebalance = bool(rebalance)
        if not isinstance(hosts, list) or not hosts:
            raise SpecError("expected a non-empty list of hosts", None, "hosts", kind="placement")
        if not isinstance(guests, list):
            raise SpecError("expected a list of guests", None, "guests", kind="placement")
        self.hosts = [host_capacity(h, defaults) for h in hosts]
        self.by_name = {h["name"]: h for h in self.hosts}
        if len(self.by_name) != len(self.hosts):
            dup = sorted({h["name"] for h in self.hosts if [x["name"] for x in self.hosts].count(h["name"]) > 1})
            raise SpecError("host name(s) given more than once: %s" % ", ".join(dup), None, "hosts", kind="placement")
        self.guests = [guest_demand(g) for g in guests]
        seen = set()
        for g in self.guests:
            if g["name"] in seen:
                raise SpecError("guest name given more than once", g["name"], "name")
            seen.add(g["name"])
            for key in ("host", "current"):
                if g[key] is not None and g[key] not in self.by_name:
                    if key == "host":
                        raise SpecError("pinned to host %r, which is not in the fleet (hosts: %s)"
                                        % (g[key], ", ".join(sorted(self.by_name))), g["name"], "host")
                    g[key] = None  # it sits on a host outside this placement: place it anew
        self._check_groups()

    def _check_groups(self):
        anti = {}
        for g in self.guests:
            if g["anti_affinity"]:
                anti.setdefault(g["anti_affinity"], []).append(g["name"])
        for group, members in sorted(anti.items()):
            if len(members) > len(self.hosts):
                raise SpecError("anti_affinity group %r has %d guests but the fleet has only %d hosts (%s)"
                                % (group, len(members), len(self.hosts), ", ".join(sorted(members)[:5])
                                   + (", ..." if len(members) > 5 else "")),
                                sorted(members)[0], "anti_affinity")

    # -- items --------------------------------------------------------------------------
    def _items(self):
        groups, items = {}, []
        for g in sorted(self.guests, key=lambda x: x["name"]):
            if g["affinity"]:
                groups.setdefault(g["affinity"], []).append(g)
            else:
                items.append(_Item([g]))
        for name, members in sorted(groups.items()):
            item = _Item(members)
            if len(item.anti) < sum(1 for m in members if m["anti_affinity"]):
                clash = sorted(m["name"] for m in members if m["anti_affinity"])
                raise SpecError("affinity group %r puts guests of one anti_affinity group on one host (%s)"
                                % (name, ", ".join(clash)), clash[0], "affinity")
            items.append(item)
        for item in items:
            pins = sorted({g["host"] for g in item.guests if g["host"]})
            if len(pins) > 1:
                raise SpecError("its affinity group is pinned to several hosts (%s)" % ", ".join(pins),
                                item.guests[0]["name"], "host")
            item.host = pins[0] if pins else None
            currents = sorted({g["current"] for g in item.guests if g["current"]})
            item.current = currents[0] if len(currents) == 1 else None
        return items

    # -- vectors ------------------------------------------------------------------------
    def _setup(self, items):
        res = sorted({r for h in self.hosts for r in h["capacity"]})
        self.res = res
        idx = {r: i for i, r in enumerate(res)}
        for h in self.hosts:
            h["cap"] = [h["capacity"].get(r, 0.0) for r in res]
            h["use"] = [h["used"].get(r, 0.0) for r in res]
            h["anti"] = set()
            h["items"] = []
        for item in items:
            vec = [0.0] * len(res)
            for r, v in list(item.demand.items()) + list(item.disk.items()):
                if r in idx:
                    vec[idx[r]] += v
            item.vec = vec

    def _vec_on(self, item, host):
        """The demand on ``host``: an existing guest's volumes are already in its pools."""
        if item.current == host["name"] and item.disk:
            vec = list(item.vec)
            for r, v in item.disk.items():
                if r in self.res:
                    vec[self.res.index(r)] -= v
            return vec
        return item.vec

    @staticmethod
    def _fits(vec, host):
        cap, use = host["cap"], host["use"]
        for i, v in enumerate(vec):
            if v and use[i] + v > cap[i] + _EPS:
                return False
        return True

    def _put(self, item, host, vec=None):
        vec = vec if vec is not None else self._vec_on(item, host)
        use = host["use"]
        for i, v in enumerate(vec):
            if v:
                use[i] += v
        host["anti"].update(item.anti)
        host["items"].append(item)
        item.host = host["name"]

    # -- policies -----------------------------------------------------------------------
    def _pack(self, free, hosts):
        """Fewest hosts: open the hosts in use and the fewest more whose capacity covers the
        demand (``_cover``), fill them with the dot-product greedy (``_fill``), re-pack the hosts
        with the most room in each resource when guests are left over (``_repack``), open one
        more host only when that fails, and at the end try to empty the least loaded hosts
        (``_close``). Only the guests placed in this call (``free``) are ever moved."""
        n = len(self.res)
        opened, rest = self._cover(free, hosts)
        movable = set(id(it) for it in free)
        mean = [sum(h["cap"][i] for h in opened) / (len(opened) or 1) or 1.0 for i in range(n)]
        left = self._repack(self._fill(free, opened), opened, movable, mean) if opened else list(free)
        while left and rest:
            demand = [sum(it.vec[i] for it in left) for i in range(n)]
            h = min(rest, key=lambda h: (-sum(min(c, d) / d for c, d in zip(h["cap"], demand) if d), h["name"]))
            rest.remove(h)
            opened.append(h)
            left = self._repack(self._fill(left, opened), opened, movable, mean)
        if not left:
            self._close(opened, movable, mean)
        return left

    def _cover(self, free, hosts):
        """(opened, rest): the hosts in use, plus the fewest others whose capacity covers what
        the free guests need beyond the room left on those; ``rest`` in the order to open more.
        Orders tried: by the size weighted by the demand's share of each resource, and by each
        resource first (the one that binds sets the count); the shortest cover wins."""
        n = len(self.res)
        inuse = [h for h in hosts if h["items"] or any(h["use"])]
        idle = [h for h in hosts if not (h["items"] or any(h["use"]))]
        demand = [sum(it.vec[i] for it in free) for i in range(n)]
        room = [sum(max(h["cap"][i] - h["use"][i], 0.0) for h in inuse) for i in range(n)]
        need = [max(0.0, d - r) for d, r in zip(demand, room)]
        total = [sum(h["cap"][i] for h in idle) or 1.0 for i in range(n)]
        weight = [need[i] / total[i] for i in range(n)]

        def size(h):
            return sum(w * c / t for w, c, t in zip(weight, h["cap"], total))

        keys = [lambda h: (-size(h), h["name"])]
        keys += [lambda h, r=r: (-h["cap"][r], -size(h), h["name"]) for r in range(n) if need[r] > 0]
        best = None
        for key in keys:
            order = sorted(idle, key=key)
            acc, k = [0.0] * n, 0
            while k < len(order) and any(acc[i] + _EPS < need[i] for i in range(n)):
                acc = [a + c for a, c in zip(acc, order[k]["cap"])]
                k += 1
            if best is None or k < best[0]:
                best = (k, order)
        k, order = best
        return inuse + order[:k], order[k:]

    def _fill(self, free, hosts):
        """Item-centric dot product (Panigrahy et al. 2011), normalised: the guests by decreasing
        weighted size, each to the host whose free room lines up best with its demand: the
        largest sum over the resources of weight x demand x room, divided by the room's
        weighted norm (the cosine of the angle between demand and room, up to the guest's own
        norm). Dividing matters with hosts of mixed shapes: the plain dot product gives every
        guest to the largest rooms, so memory-heavy guests fill CPU-rich hosts and the
        memory-rich ones run out of vCPUs. The weight of a resource is the square of the share
        of the room left that the guests still to place need, over the mean host's size
        squared, recomputed every ``_REWEIGH`` guests: the scarce resource steers. Returns
        the guests that fit nowhere."""
        n = len(self.res)
        mean = [sum(h["cap"][i] for h in hosts) / len(hosts) or 1.0 for i in range(n)]
        remaining = [sum(it.vec[i] for it in free) for i in range(n)]
        room = [sum(h["cap"][i] - h["use"][i] for h in hosts) for i in range(n)]

        def weights():
            return [((d / r) if r > _EPS else 1.0) ** 2 / (m * m) for d, r, m in zip(remaining, room, mean)]

        wt = weights()

        def each(j):
            if j and j % _REWEIGH == 0:
                wt[:] = weights()

        def score(vec, dims, h, _best):
            cap, use = h["cap"], h["use"]
            dot = 0.0
            for i in dims:
                free_i = cap[i] - use[i]
                if vec[i] > free_i + _EPS:
                    return None
                dot += wt[i] * vec[i] * free_i
            room_norm = math.sqrt(sum(wt[i] * (cap[i] - use[i]) ** 2 for i in range(n)))
            return -dot / room_norm if room_norm > 0 else 0.0

        def placed(vec, dims):
            for i in dims:
                remaining[i] -= vec[i]
                room[i] -= vec[i]

        free = sorted(free, key=lambda it: (-sum(v * v * w for v, w in zip(it.vec, wt)), it.name))
        return self._greedy(free, hosts, score, each, placed)

    def _greedy(self, items, hosts, score, each=None, placed=None):
        """Each item in turn to the eligible host (constraints, anti-affinity) of the lowest
        ``score(vec, dims, host, best)`` (None: it does not fit there, or cannot beat ``best``,
        the (score, name) of the best host so far; ties: the host's name); returns
        the items that fit nowhere. ``each(j)`` before the j-th item, ``placed(vec, dims)`` after
        a placement. Items with equal constraints and resources share their eligibility check."""
        elig_cache, left = {}, []
        for j, item in enumerate(items):
            if each is not None:
                each(j)
            vec = item.vec
            dims = [i for i, v in enumerate(vec) if v]
            key = (item.backends, item.networks, item.bridges, tuple(dims))
            elig = elig_cache.get(key)
            if elig is None:
                elig = elig_cache[key] = [h for h in hosts if _eligible(item, h) is None]
            best, best_key = None, None
            for h in elig:
                if item.anti and item.anti & h["anti"]:
                    continue
                k = score(vec, dims, h, best_key)
                if k is not None and (best_key is None or (k, h["name"]) < best_key):
                    best, best_key = h, (k, h["name"])
            if best is None:
                left.append(item)
            else:
                self._put(item, best, vec)
                if placed is not None:
                    placed(vec, dims)
        return left

    def _take(self, host, movable):
        """Take the movable guests off ``host``; returns them."""
        out = [it for it in host["items"] if id(it) in movable]
        for it in out:
            for i, v in enumerate(it.vec):
                host["use"][i] -= v
            it.host = None
        if out:
            host["items"] = [it for it in host["items"] if id(it) not in movable]
            host["anti"] = set(a for it in host["items"] for a in it.anti)
        return out

    @staticmethod
    def _save(hosts):
        return [(h, h["use"][:], set(h["anti"]), h["items"][:]) for h in hosts]

    @staticmethod
    def _restore(saved, loose):
        for h, use, anti, items in saved:
            h["use"], h["anti"], h["items"] = use, anti, items
            for it in items:
                it.host = h["name"]
        for it in loose:
            it.host = None

    def _repack(self, left, opened, movable, mean):
        """Local search for left-over guests: take the movable guests off the ``t`` hosts with
        the most room in each resource (t = 1, 2, 3, 4, 6), fill them again together with the
        left-over guests, keep it when less is left over (by size), repeat while it helps."""
        n = len(self.res)

        def size(items):
            return sum(v / m for it in items for v, m in zip(it.vec, mean))

        for _round in range(_REPACK_ROUNDS):
            if not left:
                break
            orders = [sorted(opened, key=lambda h, i=i: (-(h["cap"][i] - h["use"][i]) / mean[i], h["name"]))
                      for i in range(n)]
            better = False
            for t in _REPACK_SIZES:
                group = []
                for order in orders:
                    group.extend(h for h in order[:t] if h not in group)
                if len(group) < 2:
                    continue
                saved = self._save(group)
                pool = [it for h in group for it in self._take(h, movable)] + left
                new_left = self._fill(pool, group)
                if size(new_left) < size(left) - _EPS:
                    left, better = new_left, True
                    break
                self._restore(saved, left)
            if not better:
                break
        return left

    def _close(self, opened, movable, mean):
        """Try to empty the least loaded hosts: their movable guests to the other opened hosts
        (the dot-product fill, then ``_repack``); keep it only when every guest found a place."""
        def load(h):
            return (sum(u / m for u, m in zip(h["use"], mean)), h["name"])

        for h in sorted(opened, key=load):
            if not h["items"] or any(id(it) not in movable for it in h["items"]):
                continue
            others = [o for o in opened if o is not h and o["items"]]
            if not others:
                continue
            saved = self._save([h] + others)
            if self._repack(self._fill(self._take(h, movable), others), others, movable, mean):
                self._restore(saved, [])
                break

    def _spread(self, free, hosts):
        """Largest first, each to the host where it leaves the lowest peak load; between hosts
        of equal peak, the one whose free room (as shares of its capacity) lines up best with
        the guest's demand (the cosine, as in pack's fill), not the one of the lower sum of
        loads: on hosts of mixed shapes that sends memory-heavy guests to memory-rich hosts,
        which lowers the peak all the guests reach (by 0.4-1.5 % of the ideal on the benchmark
        fleets)."""
        n = len(self.res)
        mean = [sum(h["cap"][i] for h in hosts) / len(hosts) or 1.0 for i in range(n)]
        free = sorted(free, key=lambda it: (-max(v / m for v, m in zip(it.vec, mean)), it.name))
        invs = {h["name"]: [1.0 / c if c else 0.0 for c in h["cap"]] for h in hosts}

        def score(vec, dims, h, best):
            cap, use, inv = h["cap"], h["use"], invs[h["name"]]
            peak, dot, norm = 0.0, 0.0, 0.0
            for i in dims:
                u = use[i] + vec[i]
                if u > cap[i] + _EPS:
                    return None
                x = u * inv[i]
                if x > peak:
                    peak = x
                dot += vec[i] * (cap[i] - use[i]) * inv[i] * inv[i]
            for i in range(n):
                if inv[i] and i not in dims and use[i] * inv[i] > peak:
                    peak = use[i] * inv[i]
            if best is not None and peak > best[0][0]:
                return None  # cannot beat the best host so far: no need for the tie-break
            for i in range(n):
                if inv[i]:
                    room = 1.0 - use[i] * inv[i]
                    norm += room * room
            return (peak, -dot / math.sqrt(norm) if norm > 0 else 0.0)

        return self._greedy(free, hosts, score)

    # -- errors -------------------------------------------------------------------------
    def _infeasible(self, item):
        """The error for an item that fits nowhere: the resource and the best host's shortfall."""
        why, best = {}, None
        for h in self.hosts:
            reason = _eligible(item, h)
            if reason is not None:
                why[reason] = why.get(reason, 0) + 1
                continue
            if item.anti & h["anti"]:
                why["anti_affinity"] = why.get("anti_affinity", 0) + 1
                continue
            vec = self._vec_on(item, h)
            short = [(max(0.0, h["use"][i] + v - h["cap"][i]) / (h["cap"][i] or 1.0), i,
                      h["use"][i] + v - h["cap"][i]) for i, v in enumerate(vec) if v]
            worst = max(short)
            key = (sum(s[0] for s in short), h["name"])
            if best is None or key < best[0]:
                best = (key, h, worst)
        guest = item.guests[0]["name"]
        if best is None:
            reason = sorted(why.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            field = {"backend": "backend", "networks": "networks", "bridges": "bridges",
                     "anti_affinity": "anti_affinity"}.get(reason, reason)
            what = {"backend": "no host runs its backend %s" % ", ".join(sorted(item.backends)),
                    "networks": "no host has its networks %s" % ", ".join(sorted(item.networks)),
                    "bridges": "no host has its bridges %s" % ", ".join(sorted(item.bridges)),
                    "anti_affinity": "every host that could take it already has a guest of anti_affinity group %s"
                                     % ", ".join(sorted(item.anti))}.get(reason, "no host offers %s" % reason)
            raise PlacementError("fits nowhere%s: %s" % (_group(item), what), guest, field, resource=reason,
                                 best_host=None, shortfall=None)
        _key, h, (_rel, i, short) = best
        res = self.res[i]
        vec = self._vec_on(item, h)
        free = h["cap"][i] - h["use"][i]
        raise PlacementError(
            "fits nowhere%s; the best host, %s, has %s free of %s (capacity after the ratios), it needs %s: "
            "short by %s" % (
                _group(item), h["name"], show(res, max(free, 0)), show(res, h["cap"][i]), show(res, vec[i]),
                show(res, short)),
            guest, res, resource=res, best_host=h["name"], shortfall=short)

    # -- solve --------------------------------------------------------------------------
    def solve(self):
        items = self._items()
        self._setup(items)
        fixed, free = [], []
        for item in items:
            if item.host:
                fixed.append((item, self.by_name[item.host], True))
            elif item.current and not self.rebalance:
                fixed.append((item, self.by_name[item.current], False))
            else:
                free.append(item)
        overcommitted = []
        for item, host, pinned in fixed:
            reason = _eligible(item, host)
            if pinned and item.current != host["name"] and reason is not None:
                raise SpecError("pinned to host %s, which cannot run it (%s)" % (host["name"], reason),
                                item.guests[0]["name"], "host")
            vec = self._vec_on(item, host)
            if not self._fits(vec, host):
                if pinned and item.current != host["name"]:
                    self._infeasible_on(item, host, vec)
                overcommitted.append(host["name"])
            if item.anti & host["anti"]:
                if pinned and item.current != host["name"]:
                    raise SpecError("pinned to host %s, which already has a guest of its anti_affinity group"
                                    % host["name"], item.guests[0]["name"], "anti_affinity")
            self._put(item, host, vec)
        left = (self._pack if self.policy == "pack" else self._spread)(free, self.hosts)
        if left:
            left.sort(key=lambda it: (-max(v / (max(h["cap"][i] for h in self.hosts) or 1.0)
                                           for i, v in enumerate(it.vec)), it.name))
            self._infeasible(left[0])
        return self._result(items, overcommitted)

    def _infeasible_on(self, item, host, vec):
        for i, v in enumerate(vec):
            if v and host["use"][i] + v > host["cap"][i] + _EPS:
                res = self.res[i]
                short = host["use"][i] + v - host["cap"][i]
                raise PlacementError("pinned to host %s, which has %s free of %s and it needs %s: short by %s" % (
                    host["name"], show(res, max(host["cap"][i] - host["use"][i], 0)), show(res, host["cap"][i]),
                    show(res, v), show(res, short)), item.guests[0]["name"], res, resource=res,
                    best_host=host["name"], shortfall=short)

    def _result(self, items, overcommitted):
        assignment, moved, placed = {}, [], []
        for item in items:
            for g in item.guests:
                assignment[g["name"]] = item.host
                if g["current"] and g["current"] != item.host:
                    moved.append({"guest": g["name"], "from": g["current"], "to": item.host})
                elif not g["current"] and not g["host"]:
                    placed.append(g["name"])
        hosts = {}
        for h in sorted(self.hosts, key=lambda x: x["name"]):
            use = {r: h["use"][i] for i, r in enumerate(self.res) if h["cap"][i] or h["use"][i]}
            cap = {r: h["cap"][i] for i, r in enumerate(self.res) if h["cap"][i] and h["cap"][i] < UNKNOWN_POOL}
            hosts[h["name"]] = {
                "guests": sorted(g["name"] for it in h["items"] for g in it.guests),
                "capacity": cap, "used": use,
                "free": {r: cap[r] - use.get(r, 0) for r in cap},
                "load": {r: round(use.get(r, 0) / cap[r], 4) for r in cap},
                "peak_load": round(max([use.get(r, 0) / cap[r] for r in cap] or [0]), 4),
                "ratios": h["ratios"], "reserved_memory_mib": h["reserved_memory_mib"],
                "overcommitted": h["name"] in overcommitted,
            }
        used_hosts = sorted(n for n, h in hosts.items() if h["guests"])
        return {"policy": self.policy, "assignment": dict(sorted(assignment.items())),
                "placed": sorted(placed), "moved": sorted(moved, key=lambda m: m["guest"]),
                "hosts": hosts, "hosts_used": len(used_hosts),
                "peak_load": max([h["peak_load"] for h in hosts.values()] or [0]),
                "overcommitted": sorted(set(overcommitted))}


def place(hosts, guests, policy="pack", rebalance=False, defaults=None):
    """Assign every guest to a host; raises SpecError (bad input) or PlacementError."""
    return Placement(hosts, guests, policy, rebalance, defaults).solve()


# -- bounds, for tests and the benchmark ----------------------------------------------------
def lower_bound_hosts(hosts, guests, defaults=None):
    """Fewest hosts any placement needs: per resource, the fewest of the largest hosts whose
    capacity covers the total demand; the max over resources (and over anti-affinity groups)."""
    caps = [host_capacity(h, defaults)["capacity"] for h in hosts]
    demand = {}
    groups = {}
    for g in (guest_demand(x) for x in guests):
        for r, v in list(g["demand"].items()) + list(g["disk"].items()):
            demand[r] = demand.get(r, 0) + v
        if g["anti_affinity"]:
            groups[g["anti_affinity"]] = groups.get(g["anti_affinity"], 0) + 1
    bound = max(groups.values() or [0])
    for r, total in demand.items():
        sizes = sorted((c.get(r, 0) for c in caps), reverse=True)
        acc, k = 0.0, 0
        while acc + _EPS < total and k < len(sizes):
            acc += sizes[k]
            k += 1
        bound = max(bound, k)
    return bound


def ideal_peak(hosts, guests, defaults=None):
    """The lowest conceivable peak load: max over resources of total demand / total capacity."""
    caps = [host_capacity(h, defaults)["capacity"] for h in hosts]
    demand = {}
    for g in (guest_demand(x) for x in guests):
        for r, v in list(g["demand"].items()) + list(g["disk"].items()):
            demand[r] = demand.get(r, 0) + v
    return max(total / (sum(c.get(r, 0) for c in caps) or 1.0) for r, total in demand.items())


def first_fit_decreasing(hosts, guests, defaults=None):
    """The baseline: guests by decreasing largest normalised demand, each to the first host
    (largest first) where it fits, anti-affinity kept. Returns the number of hosts used and
    the peak load, or None for a guest that found no host."""
    hs = [host_capacity(h, defaults) for h in hosts]
    res = sorted({r for h in hs for r in h["capacity"]})
    mean = [sum(h["capacity"].get(r, 0) for h in hs) / len(hs) or 1.0 for r in res]
    for h in hs:
        h["cap"] = [h["capacity"].get(r, 0.0) for r in res]
        h["use"] = [h["used"].get(r, 0.0) for r in res]
        h["anti"] = set()
    hs.sort(key=lambda h: (-sum(c / m for c, m in zip(h["cap"], mean)), h["name"]))
    gs = []
    for g in (guest_demand(x) for x in guests):
        vec = [g["demand"].get(r, 0) + g["disk"].get(r, 0) for r in res]
        gs.append((-max(v / m for v, m in zip(vec, mean)), g["name"], vec, g["anti_affinity"]))
    gs.sort()
    for _s, _n, vec, anti in gs:
        for h in hs:
            if anti and anti in h["anti"]:
                continue
            if all(not v or h["use"][i] + v <= h["cap"][i] + _EPS for i, v in enumerate(vec)):
                for i, v in enumerate(vec):
                    h["use"][i] += v
                if anti:
                    h["anti"].add(anti)
                break
        else:
            return None
    used = [h for h in hs if any(h["use"])]
    peak = max(max(u / c for u, c in zip(h["use"], h["cap"]) if c) for h in used)
    return {"hosts_used": len(used), "peak_load": peak}


# -- from the fleet's declarations and host_facts ----------------------------------------
def guest_from_spec(raw, host=None):
    """The engine's guest from a guest spec as the guest modules take it (``memory: 2GiB``,
    disks with volume/pool/size, interfaces with network/bridge) plus the placement keys
    ``host``, ``affinity``, ``anti_affinity``, ``hugepage_size``; ``host``: declared there."""
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import parse_mib, parse_size
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise SpecError("a guest must be a mapping with a name, got %r" % (raw,), None, "guests")
    name = raw["name"]
    out = {"name": name, "vcpus": raw.get("vcpus") or 1, "backend": raw.get("backend"),
           "host": host or raw.get("host"), "affinity": raw.get("affinity"),
           "anti_affinity": raw.get("anti_affinity"), "hugepages": bool(raw.get("hugepages")),
           "hugepage_size": raw.get("hugepage_size")}
    try:
        out["memory_mib"] = parse_mib(raw["memory"]) if raw.get("memory") is not None else 512
    except ValueError as e:
        raise SpecError(str(e), name, "memory")
    disks = {}
    for i, d in enumerate(raw.get("disks") or []):
        if isinstance(d, dict) and d.get("volume") and d.get("size") is not None:
            try:
                size = parse_size(d["size"])
            except ValueError as e:
                raise SpecError(str(e), name, "disks[%d].size" % i)
            pool = d.get("pool") or "default"
            disks[pool] = disks.get(pool, 0) + size
    out["disks"] = disks
    nics = [n for n in raw.get("interfaces") or [] if isinstance(n, dict)]
    out["networks"] = sorted({n["network"] for n in nics if n.get("network")})
    out["bridges"] = sorted({n["bridge"] for n in nics if n.get("bridge")})
    return out


def host_from_facts(name, facts, known=(), backends=None, networks=(), bridges=(), pools=(), ratios=None):
    """The engine's host from the ``virtfleet_host`` fact of host_facts. ``known``: names of
    the guests being placed (their current use is left out of the base use: the engine counts
    their declared demand). ``networks``/``bridges``/``pools``: what the host declares and
    will have after the converge, on top of what it has now."""
    facts = facts or {}
    if not facts.get("cpu") or not facts.get("memory"):
        raise SpecError("no host_facts (cpu, memory) for this host: gather them first", name, "facts", kind="host")
    xen = (facts.get("toolstacks") or {}).get("xen") or {}
    memory = xen.get("total_memory_mib") if xen.get("dom0") and xen.get("total_memory_mib") else \
        facts["memory"].get("total_mib")
    host = {"name": name, "cpus": facts["cpu"].get("count"), "memory_mib": memory}
    host.update({k: v for k, v in (ratios or {}).items() if v is not None})
    hp, used = {}, {}
    for size, v in sorted((facts.get("hugepages") or {}).items()):
        if size in PAGE_KIB and v.get("total"):
            hp[size] = {"total": v["total"]}
            if v.get("free") is not None and v["total"] - v["free"] > 0:
                used["hugepages_" + size] = v["total"] - v["free"]
    host["hugepages"] = hp
    host["pools"] = {}
    for p in facts.get("pools") or []:
        if p.get("active") and p.get("capacity_bytes"):
            host["pools"][p["name"]] = p["capacity_bytes"]
            if p.get("allocation_bytes"):
                used["disk_" + p["name"]] = p["allocation_bytes"]
    known = set(known)
    for g in facts.get("guests") or []:
        if g["name"] in known:
            if g.get("hugepages") and g.get("state") in ("running", "paused") and "hugepages_2M" in used:
                used["hugepages_2M"] = max(0, used["hugepages_2M"] - int(pages_for(g.get("memory_mib"), PAGE_KIB["2M"])))
            continue
        used["vcpus"] = used.get("vcpus", 0) + (g.get("vcpus") or 0)
        if not g.get("hugepages"):
            used["memory_mib"] = used.get("memory_mib", 0) + (g.get("memory_mib") or 0)
    host["used"] = used
    host["backends"] = list(backends or [])
    host["networks"] = sorted({n["name"] for n in facts.get("networks") or []} | set(networks))
    host["bridges"] = sorted({b["name"] for b in facts.get("bridges") or []}
                             | {n["bridge"] for n in facts.get("networks") or [] if n.get("bridge")} | set(bridges))
    for pool in pools:  # declared, not created yet: its size is not known, so it is not checked
        host["pools"].setdefault(pool, UNKNOWN_POOL)
    return host


def current_hosts(hosts_facts, fleet=None):
    """{guest name: host} of the guests found on the hosts (of ``fleet`` when given)."""
    out = {}
    for name, facts in sorted(hosts_facts.items()):
        for g in (facts or {}).get("guests") or []:
            if fleet is None or g.get("fleet") in (None, fleet):
                out.setdefault(g["name"], name)
    return out


# -- admission on one host (the guest pipeline, _core) ----------------------------------
def admit(host, others, demand, ratios=None):
    """Whether one host takes a guest's ``demand`` on top of ``others`` (what the other
    running guests use, and what the pools hold), within its ratios. ``host``: {cpus,
    memory_mib, hugepages: {size: {total}}, pools: {name: capacity bytes}, free_memory_mib
    (optional: a hypervisor that never overcommits, Xen; the guest's own memory included when
    it grows)} as the backend reads it; ``others`` and ``demand``: {vcpus, memory_mib, hugepages_<size>, disk_<pool>}. Returns
    (ok, report, refusal): report per resource {capacity, used, requested}; refusal the message
    naming the first resource past its capacity, or None."""
    ratios = dict(DEFAULTS, **{k: v for k, v in (ratios or {}).items() if v is not None})
    try:
        cap = host_capacity({"name": "this host", "cpus": host["cpus"], "memory_mib": host["memory_mib"],
                             "hugepages": host.get("hugepages") or {},
                             "pools": {k: v for k, v in (host.get("pools") or {}).items() if v}}, ratios)["capacity"]
    except SpecError as e:  # a host too small for its reserve: every growth is refused, saying why
        return False, {}, "%s: %s" % (e.field, e.msg)
    free = host.get("free_memory_mib")
    if free is not None and "memory_mib" in cap:  # Xen: never past what the hypervisor has free
        cap["memory_mib"] = min(cap["memory_mib"], others.get("memory_mib", 0) + max(free, 0))
    report, refusal = {}, None
    for res in sorted(set(demand) | set(cap)):
        want = demand.get(res, 0)
        if not want and res not in others:
            continue
        used = others.get(res, 0)
        capacity = cap.get(res, 0)
        report[res] = {"capacity": capacity, "used": used, "requested": want}
        if res == "memory_mib" and free is not None:
            report[res]["hypervisor_free"] = free
        if want and used + want > capacity + _EPS and refusal is None:
            if res.startswith("disk_"):
                refusal = ("%s: pool %s has %s left of %s (%s allocated; capacity after disk_ratio %s) and the "
                           "guest's new volumes need %s" % (
                               res, res[len("disk_"):], show(res, max(capacity - used, 0)), show(res, capacity),
                               show(res, used), _num(ratios["disk_ratio"]), show(res, want)))
                continue
            refusal = ("%s: the host has %s of %s left (%s used by the other running guests; capacity after "
                       "cpu_ratio %s, memory_ratio %s, reserved_memory_mib %s%s) and the guest needs %s"
                       % (res, show(res, max(capacity - used, 0)), show(res, capacity), show(res, used),
                          _num(ratios["cpu_ratio"]), _num(ratios["memory_ratio"]),
                          _num(ratios["reserved_memory_mib"]),
                          ", and no more than the %s the hypervisor has free" % show(res, free)
                          if res == "memory_mib" and free is not None else "", show(res, want)))
    return refusal is None, report, refusal


def guest_use(vcpus, memory_mib, hugepages=False, size="2M"):
    """{resource: amount} a guest uses while it runs."""
    out = {"vcpus": float(vcpus or 0)}
    if hugepages:
        out["hugepages_" + size] = pages_for(memory_mib, PAGE_KIB[size])
    elif memory_mib:
        out["memory_mib"] = float(memory_mib)
    return out
