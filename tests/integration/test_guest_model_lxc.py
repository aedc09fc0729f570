"""Issue 16 on real LXC: cpuset pinning (live through the cgroup), nesting (lxc.include
nesting.conf), labels in the marker, bind mounts as disks, the AppArmor profile, unprivileged
containers with an id map; the VM-only keys refused by name before anything changes. Busybox
containers, vftest-*, removed after each test."""

import json
import os

import pytest

import lxchelpers as lx
from vfhelpers import PREFIX, run_module

C = PREFIX + "gm1"
IDMAP = [{"container": 0, "host": 100000, "count": 65536}]


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
    # id maps (unprivileged containers)
    ({"idmap": [{"container": 0, "host": 100000, "count": 0}]}, "idmap[0].count", "must be at least 1"),
    ({"idmap": [{"container": 0, "host": -5, "count": 10}]}, "idmap[0].host", "must be at least 0"),
    ({"idmap": [{"container": 1, "host": 100000, "count": 10}]}, "idmap", "no range maps the container's root uid 0"),
    ({"idmap": [{"container": 0, "host": 100000, "count": 65536},
                {"kind": "uid", "container": 1000, "host": 300000, "count": 10}]}, "idmap[1]", "overlaps idmap[0]"),
    ({"idmap": [{"container": 0, "host": 0, "count": 65536}]}, "idmap[0].host", "maps host id 0"),
]


def test_vm_only_keys_and_bad_id_maps_refused_by_name_before_any_change():
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


def apparmor_on():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip().upper().startswith("Y")
    except OSError:
        return False


def test_apparmor_profile_restart_and_refusals():
    args = {"name": C, "template": "busybox", "state": "running", "apparmor_profile": "unconfined"}
    check = run(args, check=True)
    r = run(args)
    assert r["rc"] == 0 and r["changed"], r.get("msg")
    assert (r["actions"], r["fields"]) == (check["actions"], check["fields"])
    lines = lx.config_text(C).splitlines()
    assert [ln for ln in lines if ln.startswith("lxc.apparmor.profile")] == ["lxc.apparmor.profile = unconfined"]
    assert not run(args)["changed"]

    # generated with nesting: the generated profile replaces nesting.conf's, so it must allow nesting
    pid = lx.pid(C)
    change = dict(args, apparmor_profile="generated", nesting=True)
    check = run(change, check=True)
    r = run(change)
    assert {f["field"]: f["apply"] for f in r["fields"]} == {
        "apparmor_profile": "restart", "apparmor_allow_nesting": "restart", "nesting": "restart"} == \
        {f["field"]: f["apply"] for f in check["fields"]}
    assert r["diff"]["before"]["apparmor_profile"] == "unconfined"
    assert r["diff"]["after"]["apparmor_profile"] == "generated"
    assert lx.pid(C) == pid and r["restart_required"]
    text = lx.config_text(C)
    assert text.index("nesting.conf") < text.index("lxc.apparmor.profile = generated")  # the later line wins
    assert "lxc.apparmor.allow_nesting = 1" in text
    pending = run(change)
    assert not pending["changed"] and sorted(pending["restart_fields"]) == [
        "apparmor_allow_nesting", "apparmor_profile", "nesting"]
    assert run(dict(change, restart="if_needed"))["changed"] and lx.pid(C) != pid
    assert lx.attach(C, "ls", "/dev/.lxc/proc/self").returncode == 0
    assert not run(change)["changed"]

    settled = lx.state_hash()
    named = run(dict(change, apparmor_profile="vftest-no-such-profile"))
    assert named["failed"] and "guest '%s': apparmor_profile: " % C in named["msg"], named["msg"]
    assert ("not loaded" if apparmor_on() else "this host has no AppArmor") in named["msg"]
    raw = run(dict(args, config={"lxc.apparmor.profile": "unconfined"}))
    assert raw["failed"] and "config.lxc.apparmor.profile: managed by virtfleet: use the 'apparmor_profile'" \
        in raw["msg"], raw["msg"]
    clash = run(dict(change, apparmor_allow_nesting=False))
    assert clash["failed"] and "guest '%s': apparmor_allow_nesting: " % C in clash["msg"], clash["msg"]
    assert lx.state_hash() == settled


def init_ids(name):
    """(uid_map lines, host uids of the container's processes) of a running container."""
    pid = lx.pid(name)
    with open("/proc/%d/uid_map" % pid) as f:
        uid_map = [ln.split() for ln in f.read().splitlines()]
    uids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/status" % entry) as f:
                    status = f.read()
                with open("/proc/%s/uid_map" % entry) as f:
                    if [ln.split() for ln in f.read().splitlines()] != uid_map:
                        continue
            except OSError:
                continue
            uids.add(int([ln for ln in status.splitlines() if ln.startswith("Uid:")][0].split()[1]))
    return uid_map, uids


def test_unprivileged_container_with_idmap():
    spec = {"name": C, "template": "busybox", "state": "running", "idmap": IDMAP}
    args = {"guests": [spec]}
    check = run(args, check=True, module="guests")
    assert check["changed"] and not lx.names()
    r = run(args, module="guests")
    assert r["rc"] == 0 and r["changed"], r.get("msg")
    assert r["results"] == check["results"], "check mode must report the run"
    assert r["results"][0]["actions"] == ["define", "start"]
    assert lx.state(C) == "RUNNING"
    uid_map, uids = init_ids(C)
    assert uid_map == [["0", "100000", "65536"]]
    assert uids and all(100000 <= u < 165536 for u in uids), uids  # init, syslogd, getty as host uid 100000
    rootfs = os.path.join(lx.lxc_path(), C, "rootfs")
    assert (os.stat(rootfs).st_uid, os.stat(os.path.join(rootfs, "bin")).st_gid) == (100000, 100000)
    assert [ln for ln in lx.config_text(C).splitlines() if ln.startswith("lxc.idmap")] == [
        "lxc.idmap = u 0 100000 65536", "lxc.idmap = g 0 100000 65536"]
    again = run(args, module="guests")
    assert not again["changed"] and not again["pending_restart"], again["results"]

    # another map (or none) would leave a rootfs the container cannot use: refused, nothing changes
    settled = lx.state_hash()
    for other in ([{"container": 0, "host": 200000, "count": 65536}], []):
        bad = run({"guests": [dict(spec, idmap=other)]}, module="guests")
        assert bad["failed"] and "guest '%s': idmap: the container exists with id map" % C in bad["msg"], bad["msg"]
    assert lx.state_hash() == settled and os.stat(rootfs).st_uid == 100000
    assert not run({"guests": [{"name": C, "state": "running"}]}, module="guests")["changed"]


def test_unprivileged_container_from_a_rootfs_directory(tmp_path):
    """A rootfs copied as host root gets the mapped owners (setuid bits kept, hard links once)."""
    src = PREFIX + "gmsrc"
    lx.lxc("lxc-create", "-n", src, "-t", "busybox")
    root = os.path.join(lx.lxc_path(), src, "rootfs")
    os.chmod(os.path.join(root, "bin", "busybox"), 0o4755)
    os.chown(os.path.join(root, "tmp"), 0, 5)  # gid 5 inside -> 100005
    os.link(os.path.join(root, "bin", "busybox"), os.path.join(root, "bin", "hardlink"))
    spec = {"name": C, "rootfs": root, "state": "running", "idmap": IDMAP,
            "config": {"lxc.signal.halt": "SIGUSR1", "lxc.mount.auto": "proc:mixed sys:ro"}}
    check = run({"guests": [spec]}, check=True, module="guests")
    r = run({"guests": [spec]}, module="guests")
    assert r["rc"] == 0 and r["results"] == check["results"], r.get("msg")
    assert lx.state(C) == "RUNNING" and init_ids(C)[0] == [["0", "100000", "65536"]]
    dest = os.path.join(lx.lxc_path(), C, "rootfs")
    busybox = os.stat(os.path.join(dest, "bin", "busybox"))
    assert (busybox.st_uid, busybox.st_mode & 0o7777) == (100000, 0o4755)
    assert os.stat(os.path.join(dest, "tmp")).st_gid == 100005
    assert os.stat(root).st_uid == 0, "the source is left as it was"
    assert not run({"guests": [spec]}, module="guests")["changed"]
