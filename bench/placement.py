"""Benchmark: placement quality and time of virtfleet.hypervisor's capacity engine
(plugins/module_utils/_placement.py) on generated fleets, against the lower bound and a
first-fit-decreasing (FFD) baseline. Pure Python, no libvirt: runs in a second or so per case.

    .venv/bin/python bench/placement.py [--hosts 100] [--guests 5000] [--seeds 1 2 3 4 5]

Fleet: hosts of mixed sizes (16/32/64 CPUs, 64/128/256/512 GiB, one 2 TiB pool, ratios
4.0/1.0/1.0, 512 MiB reserved), guests drawn from mixed flavors (1-16 vCPUs, 1-64 GiB, 10-200
GiB disks); a tenth of the guests are in anti-affinity groups of 2-8. The guest count is
scaled to about 85 % of the fleet's tightest resource, so every seed is feasible but tight.

FFD "fails" when it leaves a guest with no host although one exists (ours placed all).
Reported per seed: pack: hosts used by ours and by FFD against the lower bound (max over the
resources of the fewest largest hosts covering the demand, and the largest anti-affinity
group); spread: the peak host load (max over hosts and resources of used / capacity) of
ours and of FFD against total demand / total capacity. Goals: pack within 5 % of the bound,
spread within 5 % of the ideal peak, each under 2 s.
"""

import argparse
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".venv", "collections"))

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement as pl  # noqa: E402

GIB = 1024 ** 3
HOST_SHAPES = [(32, 128), (32, 256), (48, 192), (64, 256), (64, 512), (96, 384)]  # CPUs, GiB
# (vCPUs, GiB, weight): mostly small guests, a few large ones
FLAVORS = [(1, 0.5, 10), (1, 1, 15), (1, 2, 15), (2, 2, 10), (2, 4, 15), (4, 4, 8), (4, 8, 10), (8, 8, 4),
           (8, 16, 4), (16, 32, 1), (16, 64, 1)]


def fleet(seed, n_hosts, n_guests):
    rng = random.Random(seed)
    hosts = []
    for i in range(n_hosts):
        cpus, gib = rng.choice(HOST_SHAPES)
        hosts.append({"name": "h%03d" % i, "cpus": cpus, "memory_mib": gib * 1024 + 512,
                      "pools": {"default": 4096 * GIB}, "backends": ["libvirt"]})
    guests = []
    anti_left, group, gid = 0, None, 0
    for i in range(n_guests):
        vcpus, gib, _w = rng.choices(FLAVORS, weights=[f[2] for f in FLAVORS])[0]
        g = {"name": "g%05d" % i, "vcpus": vcpus, "memory_mib": int(gib * 1024),
             "disks": {"default": rng.choice((10, 20, 20, 40, 80)) * GIB}}
        if anti_left == 0 and rng.random() < 0.1 / 4:
            anti_left, group, gid = rng.randint(2, 8), "grp%d" % gid, gid + 1
        if anti_left:
            g["anti_affinity"] = group
            anti_left -= 1
        guests.append(g)
    return hosts, _scale(hosts, guests)


def _scale(hosts, guests, target=0.85):
    """Keep guests until the tightest resource reaches ``target`` of the fleet's capacity."""
    caps = [pl.host_capacity(h)["capacity"] for h in hosts]
    total = {r: sum(c.get(r, 0) for c in caps) for r in caps[0]}
    acc, out = {}, []
    for g in guests:
        d = pl.guest_demand(g)
        vec = dict(d["demand"], **d["disk"])
        if any((acc.get(r, 0) + v) / total[r] > target for r, v in vec.items()):
            break
        for r, v in vec.items():
            acc[r] = acc.get(r, 0) + v
        out.append(g)
    return out


def run(seed, n_hosts, n_guests):
    hosts, guests = fleet(seed, n_hosts, n_guests)
    row = {"seed": seed, "hosts": len(hosts), "guests": len(guests)}
    row["bound"] = pl.lower_bound_hosts(hosts, guests)
    row["ideal"] = pl.ideal_peak(hosts, guests)
    t = time.perf_counter()
    ffd = pl.first_fit_decreasing(hosts, guests)
    row["ffd_s"] = time.perf_counter() - t
    row["ffd_hosts"] = ffd["hosts_used"] if ffd else None
    row["ffd_peak"] = ffd["peak_load"] if ffd else None
    for policy in ("pack", "spread"):
        t = time.perf_counter()
        r = pl.place(hosts, guests, policy=policy)
        row[policy + "_s"] = time.perf_counter() - t
        row[policy + "_hosts"] = r["hosts_used"]
        row[policy + "_peak"] = r["peak_load"]
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--guests", type=int, default=5000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = ap.parse_args(argv)
    print("| seed | hosts | guests | bound | pack | FFD | pack/bound | pack s | ideal peak | spread peak "
          "| FFD peak | spread/ideal | spread s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for seed in args.seeds:
        r = run(seed, args.hosts, args.guests)
        pack_gap = r["pack_hosts"] / float(r["bound"])
        spread_gap = r["spread_peak"] / r["ideal"]
        ok = ok and pack_gap <= 1.05 and spread_gap <= 1.05 and r["pack_s"] < 2 and r["spread_s"] < 2
        print("| %d | %d | %d | %d | %d | %s | %.3f | %.2f | %.3f | %.3f | %s | %.3f | %.2f |" % (
            seed, r["hosts"], r["guests"], r["bound"], r["pack_hosts"], r["ffd_hosts"] or "fails", pack_gap,
            r["pack_s"],
            r["ideal"], r["spread_peak"], "%.3f" % r["ffd_peak"] if r["ffd_peak"] else "-", spread_gap,
            r["spread_s"]))
    print("goals (pack <= 1.05 x bound, spread <= 1.05 x ideal, < 2 s each): %s" % ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
