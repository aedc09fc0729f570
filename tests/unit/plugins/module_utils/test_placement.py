"""The capacity engine (_placement) on small fleets whose optimum is known by hand."""

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement as pl
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError

GIB = 1024 ** 3


def host(name, cpus=4, mem=8192 + 512, **kw):
    return dict({"name": name, "cpus": cpus, "memory_mib": mem}, **kw)


def guest(name, vcpus=1, mem=1024, **kw):
    return dict({"name": name, "vcpus": vcpus, "memory_mib": mem}, **kw)


def test_capacity_uses_nova_ratios_and_reserved_memory():
    cap = pl.host_capacity(host("h1", cpus=8, mem=16384))["capacity"]
    assert cap == {"vcpus": 32.0, "memory_mib": 16384 - 512}
    cap = pl.host_capacity(host("h1", cpus=8, mem=16384, cpu_ratio=1.0, reserved_memory_mib=0,
                                hugepages={"2M": {"total": 1024}}, pools={"default": 100 * GIB}, disk_ratio=2.0))
    assert cap["capacity"] == {"vcpus": 8.0, "memory_mib": 16384 - 2048, "hugepages_2M": 1024,
                               "disk_default": 200.0 * GIB}


def test_pack_known_optimum_two_hosts():
    # 4 guests of 4 GiB on hosts of 8 GiB usable: the optimum is 2 hosts, 2 guests each
    hosts = [host("h%d" % i) for i in range(4)]
    guests = [guest("g%d" % i, mem=4096) for i in range(4)]
    r = pl.place(hosts, guests, "pack")
    assert r["hosts_used"] == 2 == pl.lower_bound_hosts(hosts, guests)
    assert all(len(h["guests"]) in (0, 2) for h in r["hosts"].values())


def test_pack_vector_complementary_guests():
    # a CPU-heavy and a memory-heavy guest share a host: 2 hosts, not 4
    hosts = [host("h%d" % i, cpus=2) for i in range(4)]  # 8 vCPUs, 8 GiB each
    guests = [guest("cpu%d" % i, vcpus=6, mem=1024) for i in range(2)] + \
        [guest("mem%d" % i, vcpus=1, mem=7000) for i in range(2)]
    r = pl.place(hosts, guests, "pack")
    assert r["hosts_used"] == 2
    for h in r["hosts"].values():
        if h["guests"]:
            assert sorted(g[:3] for g in h["guests"]) == ["cpu", "mem"]


def test_spread_balances_to_the_ideal():
    hosts = [host("h%d" % i) for i in range(4)]
    guests = [guest("g%d" % i, mem=2048) for i in range(8)]
    r = pl.place(hosts, guests, "spread")
    assert [len(h["guests"]) for h in r["hosts"].values()] == [2, 2, 2, 2]
    assert r["peak_load"] == pytest.approx(pl.ideal_peak(hosts, guests), abs=1e-4)


def test_stable_existing_guests_stay_and_adding_moves_nobody():
    hosts = [host("h%d" % i) for i in range(3)]
    guests = [guest("g%d" % i, mem=2048) for i in range(5)]
    first = pl.place(hosts, guests, "spread")
    placed = [dict(g, current=first["assignment"][g["name"]]) for g in guests]
    again = pl.place(hosts, placed + [guest("new", mem=4096)], "pack")
    assert {k: v for k, v in again["assignment"].items() if k != "new"} == first["assignment"]
    assert again["placed"] == ["new"] and again["moved"] == []
    assert pl.place(hosts, guests, "spread") == first  # deterministic


def test_rebalance_may_move():
    hosts = [host("h0"), host("h1")]
    guests = [guest("a", mem=2048, current="h0"), guest("b", mem=2048, current="h1")]
    assert pl.place(hosts, guests, "pack")["moved"] == []
    r = pl.place(hosts, guests, "pack", rebalance=True)
    assert r["hosts_used"] == 1 and len(r["moved"]) == 1


def test_constraints_backend_networks_pin_affinity():
    hosts = [host("kvm1", backends=["libvirt"], networks=["backend"]), host("lxc1", backends=["lxc"]),
             host("kvm2", backends=["libvirt"], bridges=["br0"])]
    guests = [guest("ct", backend="lxc"), guest("net", backend="libvirt", networks=["backend"]),
              guest("br", bridges=["br0"]), guest("pin", host="kvm2"),
              guest("a1", affinity="pair"), guest("a2", affinity="pair", bridges=["br0"]),
              guest("x1", anti_affinity="ha"), guest("x2", anti_affinity="ha"), guest("x3", anti_affinity="ha")]
    r = pl.place(hosts, guests, "pack")["assignment"]
    assert r["ct"] == "lxc1" and r["net"] == "kvm1" and r["br"] == "kvm2" and r["pin"] == "kvm2"
    assert r["a1"] == r["a2"] == "kvm2"
    assert sorted(r[x] for x in ("x1", "x2", "x3")) == ["kvm1", "kvm2", "lxc1"]


def test_hugepages_and_pools():
    hosts = [host("h0", mem=16384, hugepages={"2M": {"total": 512}}), host("h1", mem=16384, pools={"fast": 50 * GIB})]
    r = pl.place(hosts, [guest("hp", mem=1024, hugepages=True), guest("d", disks={"fast": 40 * GIB})], "spread")
    assert r["assignment"] == {"d": "h1", "hp": "h0"}
    assert r["hosts"]["h0"]["used"]["hugepages_2M"] == 512


def test_infeasible_names_guest_resource_and_best_host_shortfall():
    hosts = [host("h0"), host("h1", mem=4096 + 512)]
    with pytest.raises(pl.PlacementError) as e:
        pl.place(hosts, [guest("big", mem=10240)], "pack")
    msg = str(e.value)
    assert e.value.obj == "big" and e.value.field == "memory_mib"
    assert "best host, h0" in msg and "short by 2048 MiB" in msg


def test_infeasible_after_others_fill_the_fleet():
    hosts = [host("h0"), host("h1")]
    with pytest.raises(pl.PlacementError, match=r"guest .g4.: memory_mib: fits nowhere"):
        pl.place(hosts, [guest("g%d" % i, mem=4096) for i in range(5)], "pack")


@pytest.mark.parametrize("hosts,guests,field,text", [
    ([host("h0", cpus=0)], [], "cpus", "greater than zero"),
    ([host("h0", mem=-1)], [], "memory_mib", "greater than zero"),
    ([host("h0", cpu_ratio=0)], [], "cpu_ratio", "greater than zero"),
    ([host("h0", memory_ratio=-1.5)], [], "memory_ratio", "greater than zero"),
    ([host("h0"), host("h1")], [guest("a", anti_affinity="g"), guest("b", anti_affinity="g"),
                                guest("c", anti_affinity="g")], "anti_affinity", "only 2 hosts"),
    ([host("h0")], [guest("a", host="nowhere")], "host", "not in the fleet"),
    ([host("h0")], [guest("a", vcpus=-2)], "vcpus", "greater than zero"),
])
def test_bad_input_is_named(hosts, guests, field, text):
    with pytest.raises(SpecError) as e:
        pl.place(hosts, guests)
    assert e.value.field == field and text in str(e.value)


def test_ffd_baseline_and_bounds():
    hosts = [host("h%d" % i) for i in range(3)]
    guests = [guest("g%d" % i, mem=4096) for i in range(4)]
    assert pl.first_fit_decreasing(hosts, guests)["hosts_used"] == 2
    assert pl.ideal_peak(hosts, guests) == pytest.approx(16384 / (3 * 8192.0))


def facts(cpus=4, mem=8704, guests=(), pools=(), networks=(), bridges=(), hugepages=None):
    return {"cpu": {"count": cpus}, "memory": {"total_mib": mem}, "hugepages": hugepages or {},
            "pools": list(pools), "networks": list(networks), "bridges": list(bridges), "guests": list(guests)}


def test_host_from_facts_counts_other_guests_and_pools():
    f = facts(guests=[{"name": "old", "vcpus": 2, "memory_mib": 1024, "state": "stopped"},
                      {"name": "mine", "vcpus": 4, "memory_mib": 4096, "state": "running"}],
              pools=[{"name": "default", "active": True, "capacity_bytes": 100 * GIB, "allocation_bytes": 10 * GIB}],
              networks=[{"name": "backend", "bridge": "virbr1"}], bridges=[{"name": "br0"}],
              hugepages={"2M": {"total": 256, "free": 200}})
    h = pl.host_from_facts("kvm1", f, known={"mine"}, backends=["libvirt"], pools=["later"])
    assert h["used"] == {"vcpus": 2, "memory_mib": 1024, "disk_default": 10 * GIB, "hugepages_2M": 56}
    assert h["networks"] == ["backend"] and h["bridges"] == ["br0", "virbr1"]
    assert h["pools"] == {"default": 100 * GIB, "later": pl.UNKNOWN_POOL}


def test_place_module_solve_keeps_existing_and_pins_host_declared():
    from ansible_collections.virtfleet.hypervisor.plugins.modules import place
    hosts = [{"name": "a", "facts": facts(guests=[{"name": "web1", "vcpus": 1, "memory_mib": 1024,
                                                   "fleet": "f", "state": "running"}]),
              "backends": ["libvirt"], "networks": [], "bridges": [], "pools": [],
              "guests": [{"name": "db", "memory": "6GiB"}]},
             {"name": "b", "facts": facts(), "backends": ["libvirt"], "networks": [], "bridges": [], "pools": [],
              "guests": []}]
    params = {"hosts": hosts, "fleet": "f", "policy": "pack", "rebalance": False,
              "cpu_ratio": 4.0, "memory_ratio": 1.0, "disk_ratio": 1.0, "reserved_memory_mib": 512}
    guests = [{"name": "web1", "memory": "1GiB", "anti_affinity": "web"},
              {"name": "web2", "memory": "1GiB", "anti_affinity": "web"}]
    r = place.solve(params, guests)
    assert r["assignment"] == {"db": "a", "web1": "a", "web2": "b"}
    assert r["placed"] == ["web2"] and r["guests_by_host"] == {"a": ["web1"], "b": ["web2"]}
    with pytest.raises(pl.PlacementError, match="guest .big.: memory_mib: fits nowhere; the best host, b, .* short by 2048 MiB"):
        place.solve(params, guests + [{"name": "big", "memory": "9GiB"}])


def test_admit_within_ratios_and_a_host_too_small_for_its_reserve():
    ok, report, why = pl.admit({"cpus": 2, "memory_mib": 4608}, {"vcpus": 6}, {"vcpus": 2, "memory_mib": 4096})
    assert ok and why is None and report["vcpus"] == {"capacity": 8.0, "used": 6, "requested": 2}
    ok, _report, why = pl.admit({"cpus": 2, "memory_mib": 4608}, {"vcpus": 7}, {"vcpus": 2})
    assert not ok and why.startswith("vcpus: the host has 1 vCPUs of 8 vCPUs left")
    ok, _report, why = pl.admit({"cpus": 1, "memory_mib": 480}, {}, {"vcpus": 1, "memory_mib": 32})
    assert not ok and why.startswith("memory_mib: 480 MiB of memory leave nothing for guests after 512 MiB reserved")


def test_admit_pools_within_disk_ratio():
    host_ = {"cpus": 2, "memory_mib": 4608, "pools": {"vm": 10 * GIB}}
    ok, report, why = pl.admit(host_, {"disk_vm": 6 * GIB}, {"disk_vm": 2 * GIB}, {"disk_ratio": 1.0})
    assert ok and report["disk_vm"] == {"capacity": 10.0 * GIB, "used": 6 * GIB, "requested": 2 * GIB}
    ok, _report, why = pl.admit(host_, {"disk_vm": 6 * GIB}, {"disk_vm": 2 * GIB}, {"disk_ratio": 0.7})
    assert not ok and why == ("disk_vm: pool vm has 1.0 GiB left of 7.0 GiB (6.0 GiB allocated; capacity after "
                              "disk_ratio 0.70) and the guest's new volumes need 2.0 GiB")


def test_disk_demand_counts_created_and_grown_volumes_only():
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._core import _disk_demand

    def vol(action, size, current=None, pool="vm", kind="volume"):
        return (None, {"kind": kind, "changed": action != "none", "action": action,
                       "desired": {"pool": pool, "size": size}}, current)
    p = {"children": [vol("create", 3 * GIB), vol("update", 5 * GIB, {"size": 4 * GIB}),
                      vol("none", 9 * GIB, {"size": 9 * GIB}), vol("create", None),
                      vol("create", GIB, pool="other"), vol("create", GIB, kind="cloud_init")]}
    assert _disk_demand(p) == {"vm": 4 * GIB, "other": GIB}
    # no size: an overlay counts its backing's virtual size, which it is created with (on create only)
    overlay = (None, {"kind": "volume", "changed": True, "action": "create",
                      "desired": {"pool": "vm", "size": None, "backing": "/base.qcow2", "backing_size": GIB}}, None)
    updated = (None, {"kind": "volume", "changed": True, "action": "update",
                      "desired": {"pool": "vm", "size": None, "backing": "base", "backing_size": 8 * GIB}},
               {"size": GIB})
    assert _disk_demand({"children": [overlay, updated]}) == {"vm": GIB}


# -- pack's invariants on generated fleets (bench/placement.py's generator, smaller) -----------
def _fleet(seed, n_hosts=12, n_guests=400):
    import random
    rng = random.Random(seed)
    shapes = [(32, 128), (32, 256), (48, 192), (64, 256), (64, 512), (96, 384)]
    flavors = [(1, 512), (1, 1024), (1, 2048), (2, 2048), (2, 4096), (4, 4096), (4, 8192), (8, 16384),
               (16, 32768), (16, 65536)]
    hosts = [host("h%02d" % i, cpus=c, mem=g * 1024 + 512, pools={"default": 4096 * GIB})
             for i, (c, g) in enumerate(rng.choice(shapes) for _i in range(n_hosts))]
    guests, total = [], 0
    budget = 0.85 * sum(h["memory_mib"] - 512 for h in hosts)
    for i in range(n_guests):
        v, m = rng.choice(flavors)
        if total + m > budget:
            break
        total += m
        g = guest("g%04d" % i, vcpus=v, mem=m, disks={"default": rng.choice((10, 20, 40)) * GIB})
        if i % 10 < 3:
            g["anti_affinity"] = "grp%d" % (i // 10 % 7)
        guests.append(g)
    return hosts, guests


def _check_fits(hosts, guests, r):
    by = {g["name"]: g for g in guests}
    for name, h in r["hosts"].items():
        for res, used in h["used"].items():
            assert used <= h["capacity"].get(res, float("inf")) + 1e-6, (name, res)
        groups = [by[g].get("anti_affinity") for g in h["guests"] if by[g].get("anti_affinity")]
        assert len(groups) == len(set(groups)), (name, groups)
    assert sorted(r["assignment"]) == sorted(by) and all(r["assignment"].values())


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_pack_never_worse_than_ffd_fits_and_keeps_anti_affinity(seed):
    hosts, guests = _fleet(seed)
    r = pl.place(hosts, guests, "pack")
    _check_fits(hosts, guests, r)
    ffd = pl.first_fit_decreasing(hosts, guests)
    assert pl.lower_bound_hosts(hosts, guests) <= r["hosts_used"]
    assert ffd is None or r["hosts_used"] <= ffd["hosts_used"]
    assert pl.place(hosts, list(reversed(guests)), "pack") == r  # deterministic, whatever the input order


def test_pack_stable_adding_guests_moves_nobody_rebalance_may():
    hosts, guests = _fleet(5)
    first = pl.place(hosts, guests[:-40], "pack")
    placed = [dict(g, current=first["assignment"][g["name"]]) for g in guests[:-40]]
    again = pl.place(hosts, placed + guests[-40:], "pack")
    _check_fits(hosts, guests, again)
    assert again["moved"] == [] and sorted(again["placed"]) == sorted(g["name"] for g in guests[-40:])
    assert all(again["assignment"][k] == v for k, v in first["assignment"].items())
    re = pl.place(hosts, placed + guests[-40:], "pack", rebalance=True)
    _check_fits(hosts, guests, re)
    assert re["hosts_used"] <= again["hosts_used"]


def test_pack_known_optimum_needs_shape_matching():
    # two host shapes (CPU-rich 16 vCPUs / 8 GiB, memory-rich 4 vCPUs / 32 GiB) and guests that
    # only fit in 2 hosts when the CPU-heavy ones go to the CPU-rich host
    hosts = [host("cpu%d" % i, cpus=4, mem=8192 + 512) for i in range(2)] + \
        [host("mem%d" % i, cpus=1, mem=32768 + 512) for i in range(2)]
    guests = [guest("c%d" % i, vcpus=2, mem=1024) for i in range(8)] + \
        [guest("m%d" % i, vcpus=1, mem=8192) for i in range(4)]
    r = pl.place(hosts, guests, "pack")
    assert r["hosts_used"] == 2 == pl.lower_bound_hosts(hosts, guests)
    _check_fits(hosts, guests, r)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_spread_fits_keeps_anti_affinity_and_stays_near_the_ideal(seed):
    hosts, guests = _fleet(seed)
    r = pl.place(hosts, guests, "spread")
    _check_fits(hosts, guests, r)
    assert r["peak_load"] <= 1.05 * pl.ideal_peak(hosts, guests)
    assert pl.place(hosts, list(reversed(guests)), "spread") == r
