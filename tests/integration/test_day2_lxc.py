"""Day-2 operations on real LXC containers: guest_info (the config as LXC holds it, the model,
lxc-info stats), snapshot with lxc-snapshot (take, revert with a file written after the
snapshot gone, delete, keep retention that spares a hand-made snapshot, refusals) and the
refusal of state=saved. busybox containers named vftest-*, removed after each test."""

import os

import pytest

import lxchelpers as lx
from vfhelpers import PREFIX, run_module

C = PREFIX + "d2c"


@pytest.fixture(scope="module", autouse=True)
def _lxc_session():
    lx.purge()
    yield
    lx.purge()


@pytest.fixture(autouse=True)
def _clean():
    yield
    lx.purge()


def spec(**kw):
    return dict({"name": C, "template": "busybox", "memory": 64, "state": "stopped", "backend": "lxc"}, **kw)


def snap(name, **kw):
    return dict({"guest": C, "name": name, "backend": "lxc"}, **kw)


def rootfs(*parts):
    return os.path.join(lx.lxc_path(), C, "rootfs", *parts)


def snaps_dir():
    d = os.path.join(lx.lxc_path(), C, "snaps")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@pytest.fixture
def container():
    r = run_module("guest", spec())
    assert r["rc"] == 0, r
    return spec()


def test_guest_info_lxc(container):
    r = run_module("guest_info", {"backend": "lxc", "name": C}, check=True)
    assert r["rc"] == 0 and not r["changed"], r
    g = r["guest"]
    assert g["format"] == "lxc" and g["definition"] == lx.config_text(C)
    assert g["model"]["memory"] == 64 and g["state"] == "stopped" and g["managed"]
    assert g["snapshots"] == [] and g["stats"]["cpu_time_ns"] is None
    assert g["rootfs"] == rootfs()
    everything = run_module("guest_info", {"backend": "lxc"})
    assert C in [x["name"] for x in everything["guests"]]


def test_snapshot_revert_delete(container):
    before = lx.state_hash()
    r1 = run_module("snapshot", snap("base", description="clean"), check=True)
    assert r1["rc"] == 0 and r1["changed"] and lx.state_hash() == before and snaps_dir() == []
    r2 = run_module("snapshot", snap("base", description="clean"))
    assert r2["rc"] == 0 and r2["actions"] == r1["actions"] == ["create base (disk-only)"], r2
    assert snaps_dir() == ["snap0"]
    assert not run_module("snapshot", snap("base", description="clean"))["changed"]
    info = run_module("guest_info", {"backend": "lxc", "name": C})["guest"]["snapshots"]
    assert [(s["name"], s["id"], s["managed"], s["description"]) for s in info] == [("base", "snap0", True, "clean")]
    # written after the snapshot: gone after the revert; the container stays managed
    with open(rootfs("after-snapshot.txt"), "w") as f:
        f.write("written after the snapshot\n")
    r = run_module("snapshot", snap("base", state="current"))
    assert r["rc"] == 0 and r["changed"] and r["actions"] == ["revert to base"], r
    assert not os.path.exists(rootfs("after-snapshot.txt"))
    assert os.path.exists(os.path.join(lx.lxc_path(), C, "virtfleet.json"))
    again = run_module("guest", spec())
    assert again["rc"] == 0 and not again["changed"], again
    r = run_module("snapshot", snap("base", state="absent"))
    assert r["rc"] == 0 and r["changed"] and snaps_dir() == []
    assert not run_module("snapshot", snap("base", state="absent"))["changed"]


def test_keep_spares_a_hand_made_snapshot(container):
    lx.lxc("lxc-snapshot", "-n", C)  # snap0, an operator's
    for name in ("k1", "k2"):
        assert run_module("snapshot", snap(name, keep=1))["rc"] == 0
    names = [s["name"] for s in run_module("guest_info", {"backend": "lxc", "name": C})["guest"]["snapshots"]]
    assert names == ["snap0", "k2"]


def test_refusals(container):
    r = run_module("snapshot", snap("m", memory=True))
    assert r["rc"] != 0 and "snapshot 'm': memory: LXC keeps no container memory" in r["msg"], r
    r = run_module("guest", spec(state="saved"))
    assert r["rc"] != 0 and "state: saved is not supported by backend lxc (only libvirt, xl)" in r["msg"], r
    r = run_module("guest", spec(state="running"))
    assert r["rc"] == 0, r
    before = lx.state_hash()
    r = run_module("snapshot", snap("live"))
    assert r["rc"] != 0 and "only consistent while it is stopped" in r["msg"], r
    assert lx.state_hash() == before and snaps_dir() == []
    r = run_module("snapshot", {"guest": C, "name": "x", "backend": "xl"})
    assert r["rc"] != 0 and "backend xl has no snapshots" in r["msg"], r
