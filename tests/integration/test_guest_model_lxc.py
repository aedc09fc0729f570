"""Issue 16 on real LXC: cpuset pinning (live through the cgroup), nesting (lxc.include
nesting.conf), labels in the marker, bind mounts as disks; the VM-only keys refused by name
before anything changes. One busybox container, vftest-*, removed after each test."""

import json
import os

import pytest

import lxchelpers as lx
from vfhelpers import PREFIX, run_module

C = PREFIX + "gm1"


@pytest.fixture(autouse=True)
def _clean():
    lx.purge()
    yield
    lx.purge()


def run(args, check=False, module="guest"):
    return run_module(module, dict(args, backend="lxc"), check=check)


def marker(name):
    with open(os.path.join(lx.lxc_path(), name, "virtfleet.json")) as f:
        return json.load(f)


def test_cpuset_live_nesting_restart_labels_config(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    args = {"name": C, "template": "busybox", "state": "running", "cpuset": "0", "nesting": True,
            "title": "db", "description": "a test\ncontainer", "tags": ["b", "a"],
            "disks": [{"path": str(share), "readonly": True}]}
    before = lx.state_hash()
    check = run(args, check=True)
    assert check["changed"] and lx.state_hash() == before
    r = run(args)
    assert r["rc"] == 0, r.get("msg")
    assert (r["actions"], r["fields"]) == (check["actions"], check["fields"]), "check mode must report the run"
    assert lx.state(C) == "RUNNING" and lx.cgroup(C, "cpuset.cpus") == "0"
    text = lx.config_text(C)
    assert "lxc.cgroup.cpuset.cpus = 0" in text and "lxc.include = /usr/share/lxc/config/nesting.conf" in text
    assert "lxc.mount.entry = %s %s none bind,create=dir,ro 0 0" % (share, str(share).lstrip("/")) in text
    assert marker(C)["labels"] == {"title": "db", "description": "a test\ncontainer", "tags": ["a", "b"]}
    # nesting.conf mounts /proc and /sys again under dev/.lxc for a nested container
    assert lx.attach(C, "ls", "/dev/.lxc/proc/self").returncode == 0
    again = run(args)
    assert not again["changed"] and not again["restart_required"], again

    pid = lx.pid(C)
    change = dict(args, cpuset="1", nesting=False, tags=["c"])
    settled = lx.state_hash()
    check = run(change, check=True)
    assert lx.state_hash() == settled
    r = run(change)
    assert {f["field"]: f["apply"] for f in r["fields"]} == {"cpuset": "live", "nesting": "restart",
                                                             "tags": "config"} == \
        {f["field"]: f["apply"] for f in check["fields"]}
    assert r["restart_required"] and r["restart_fields"] == ["nesting"]
    assert r["diff"]["before"]["cpuset"] == "0" and r["diff"]["after"]["cpuset"] == "1"
    assert lx.pid(C) == pid and lx.cgroup(C, "cpuset.cpus") == "1"  # live, no restart
    assert not [ln for ln in lx.config_text(C).splitlines() if ln.startswith("lxc.include")]
    assert marker(C)["labels"]["tags"] == ["c"]
    pending = run(change)
    assert not pending["changed"] and pending["restart_required"] and pending["restart_fields"] == ["nesting"]
    done = run(dict(change, restart="if_needed"))
    assert done["changed"] and lx.pid(C) != pid
    assert lx.attach(C, "ls", "/dev/.lxc/proc/self").returncode != 0
    final = run(change)
    assert not final["changed"] and not final["restart_required"], final
    # left out: not managed, the config keeps them
    bare = run({"name": C, "state": "running", "disks": args["disks"]})
    assert not bare["changed"], bare["fields"]
    assert "lxc.cgroup.cpuset.cpus = 1" in lx.config_text(C)


BAD = [
    ({"firmware": "uefi"}, "firmware", "not supported by backend lxc (only libvirt, xl)"),
    ({"boot": ["cdrom", "hd"]}, "boot", "not supported by backend lxc (only libvirt, xl)"),
    ({"graphics": "vnc"}, "graphics", "not supported by backend lxc (only libvirt, xl)"),
    ({"serial": True}, "serial", "not supported by backend lxc (only libvirt, xl)"),
    ({"tpm": True}, "tpm", "not supported by backend lxc (only libvirt)"),
    ({"watchdog": "reset"}, "watchdog", "not supported by backend lxc (only libvirt)"),
    ({"vcpu_pins": {0: "0"}}, "vcpu_pins", "not supported by backend lxc (only libvirt, xl)"),
    ({"disks": [{"path": "/srv", "iotune": {"total_iops_sec": 9}}]}, "disks[0].iotune",
     "not supported by backend lxc (only libvirt)"),
    ({"disks": [{"path": "/tmp/vftest-x.img", "size": "1M"}]}, "disks[0].size", "backend lxc"),
    ({"disks": [{"path": "/dev/null", "device": "cdrom"}]}, "disks[0].device", "a container has no cdrom"),
    ({"cpuset": "0-63"}, "cpuset", "does not exist"),
    ({"config": {"lxc.cgroup.cpuset.cpus": "0"}}, "config.lxc.cgroup.cpuset.cpus", "use the 'cpuset' option"),
]


def test_vm_only_keys_refused_by_name_before_any_change():
    """One guests call, one bad container per key: each fails alone, naming guest and field."""
    before = lx.state_hash()
    specs = [dict({"name": "%sbad%d" % (PREFIX, i), "template": "busybox", "state": "stopped"}, **bad)
             for i, (bad, _f, _w) in enumerate(BAD)]
    r = run({"guests": specs}, module="guests")
    assert r["failed"] and sorted(r["failed_guests"]) == sorted(s["name"] for s in specs), r.get("msg")
    for spec, (_bad, field, words) in zip(specs, BAD):
        line = [ln for ln in r["msg"].splitlines() if "guest '%s': " % spec["name"] in ln]
        assert line and ("guest '%s': %s: " % (spec["name"], field)) in line[0] and words in line[0], (field, line)
    assert lx.state_hash() == before and not [n for n in lx.names() if "bad" in n]
