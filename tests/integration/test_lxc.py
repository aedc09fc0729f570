"""guest/guests with backend=lxc on real LXC containers: check -> apply -> check -> apply with
the state hashed around check mode, live cgroup limits read back, execution inside
(lxc-attach), restart-only changes, state transitions, absent, prune safety, batch partial
failure and bad input. Every container, bridge and archive is vftest-* and removed after each
test, failure or not."""

import json
import os

import pytest

import lxchelpers as lx
from vfhelpers import PREFIX, run_module

C = PREFIX + "c1"
BRIDGE = PREFIX + "lxbr0"
MIB = 1024 * 1024


@pytest.fixture(scope="module", autouse=True)
def _lxc_session():
    lx.purge()
    yield
    lx.purge()
    lx.drop_bridge(BRIDGE)


@pytest.fixture(autouse=True)
def _clean_containers():
    yield
    lx.purge()


@pytest.fixture(scope="module")
def bridge():
    return lx.make_bridge(BRIDGE)


@pytest.fixture(scope="module")
def tarball():
    return lx.rootfs_tarball()


@pytest.fixture
def hostdir(tmp_path):
    d = tmp_path / "share"
    d.mkdir()
    (d / "hello.txt").write_text("from the host\n")
    return str(d)


def spec(**kw):
    args = {"name": C, "template": "busybox", "memory": 64, "state": "stopped"}
    args.update(kw)
    return {k: v for k, v in args.items() if v is not None}


def run_guest(args, check=False):
    return run_module("guest", dict(args, backend="lxc"), check=check)


def run_guests(call, check=False):
    return run_module("guests", dict(call, backend="lxc"), check=check)


def converge_twice(args, module="guest"):
    """check -> apply -> check -> apply: changed/changed/not/not; check mode changes nothing."""
    before = lx.state_hash()
    run = run_guest if module == "guest" else run_guests
    r1 = run(args, check=True)
    assert r1["rc"] == 0, r1
    assert lx.state_hash() == before, "check mode changed something"
    r2 = run(args)
    assert r2["rc"] == 0, r2.get("msg", r2)
    assert r1["changed"] and r2["changed"]
    if module == "guest":
        assert r1["actions"] == r2["actions"] and r1["fields"] == r2["fields"], "check mode must report the run"
    settled = lx.state_hash()
    r3 = run(args, check=True)
    assert lx.state_hash() == settled
    r4 = run(args)
    assert r3["rc"] == 0 and r4["rc"] == 0, (r3, r4)
    assert not r3["changed"] and not r4["changed"], (r3, r4)
    assert lx.state_hash() == settled, "a no-op run changed something"
    return r2, r4


def converge(args, module="guest"):
    return converge_twice(args, module)[0]


def test_busybox_create_running_is_idempotent(bridge, hostdir):
    args = spec(state="running", vcpus=1, memory=64, cpu_shares=512, autostart=True,
                interfaces=[{"bridge": bridge, "mac": "00:16:3E:00:AA:01"}],
                disks=[{"path": hostdir, "readonly": True}], config={"lxc.tty.max": 2})
    r, again = converge_twice(args)
    assert r["actions"] == ["define", "autostart on", "start"] and r["state"] == "running"
    assert r["diff"]["before"] == {} and r["diff"]["after"]["memory"] == 64
    assert again["actions"] == [] and again["state"] == "running"
    assert lx.state(C) == "RUNNING"
    assert lx.cgroup(C, "memory.limit_in_bytes") == str(64 * MIB)
    assert (lx.cgroup(C, "cpu.cfs_quota_us"), lx.cgroup(C, "cpu.shares")) == ("100000", "512")
    path = os.path.join(lx.lxc_path(), C)
    assert oct(os.stat(os.path.join(path, "config")).st_mode & 0o777) == "0o640"
    with open(os.path.join(path, "virtfleet.json")) as f:
        mark = json.load(f)
    assert mark["fleet"] == "default" and mark["origin"]["template"] == "busybox"
    # inside: the bind mount is there and read-only, the NIC has the declared MAC
    assert lx.attach(C, "cat", hostdir + "/hello.txt").stdout == "from the host\n"
    assert lx.attach(C, "touch", hostdir + "/new").returncode != 0
    assert lx.attach(C, "cat", "/sys/class/net/eth0/address").stdout.strip() == "00:16:3e:00:aa:01"
    assert len(os.listdir("/sys/class/net/%s/brif" % bridge)) == 1


def test_running_limits_change_live(bridge):
    args = spec(state="running", vcpus=1, memory=64, cpu_shares=512)
    converge_twice(args)
    first = lx.pid(C)
    r = converge(dict(args, memory=96, vcpus=2, cpu_shares=256))
    assert {f["field"]: f["apply"] for f in r["fields"]} == {"vcpus": "live", "memory": "live", "cpu_shares": "live"}
    assert r["actions"] == ["redefine", "set_vcpus 2", "set_memory 96", "set_cpu_shares 256"]
    assert not r["restart_required"] and lx.pid(C) == first, "not restarted"
    assert lx.cgroup(C, "memory.limit_in_bytes") == str(96 * MIB)
    assert (lx.cgroup(C, "cpu.cfs_quota_us"), lx.cgroup(C, "cpu.shares")) == ("200000", "256")
    with open("/proc/%d/cgroup" % first) as f:
        memcg = [line.split(":", 2)[2].strip() for line in f if ":memory:" in line][0]
    with open("/sys/fs/cgroup/memory%s/memory.limit_in_bytes" % memcg) as f:
        assert f.read().strip() == str(96 * MIB), "the kernel holds the new limit"
    assert "lxc.cgroup.memory.limit_in_bytes = %d" % (96 * MIB) in lx.config_text(C)
    assert lx.attach(C, "sh", "-c", "echo alive").stdout == "alive\n"


def test_debootstrap_rootfs_runs_python_inside(tarball, tmp_path):
    args = spec(template=None, rootfs=tarball, state="running",
                config={"lxc.mount.auto": "proc:mixed sys:ro cgroup:mixed", "lxc.autodev": True})
    r = converge(args)
    assert r["state"] == "running" and "start" in r["actions"]
    out = lx.attach(C, "python3", "-c", "import sys; print(sys.version_info[0] * 14)")
    assert out.returncode == 0 and out.stdout == "42\n", out
    assert lx.attach(C, "cat", "/proc/1/cmdline").stdout.startswith("/bin/sh"), "our init is PID 1"
    # the way a container was made never changes: no re-create, an error naming the field
    before = lx.state_hash()
    bad = run_guest(spec(state="running", config=args["config"]))
    assert bad["failed"] and "template: " in bad["msg"] and "never re-creates" in bad["msg"], bad["msg"]
    assert lx.state_hash() == before
    # a directory rootfs is copied in
    unpacked = tmp_path / "rootfs"
    unpacked.mkdir()
    lx.lxc("tar", "-C", str(unpacked), "-xzf", tarball)
    r = run_guest(spec(name=PREFIX + "dir", template=None, rootfs=str(unpacked)))
    assert r["rc"] == 0 and r["state"] == "stopped", r
    assert os.path.exists(os.path.join(lx.lxc_path(), PREFIX + "dir", "rootfs", "usr", "bin", "python3"))


def test_config_is_compared_by_meaning():
    args = spec(config={"lxc.tty.max": 2, "lxc.cap.drop": ["sys_module", "sys_time"]})
    converge_twice(args)
    path = os.path.join(lx.lxc_path(), C, "config")
    groups = {}
    for line in lx.config_text(C).splitlines():
        if line.strip() and not line.startswith("#"):
            key, _sep, value = line.partition("=")
            value = value.strip() if value.strip().startswith(("'", '"')) else "'%s'" % value.strip()
            groups.setdefault(key.strip(), []).append("%s  =  %s" % (key.strip(), value))
    # keys in reverse order (one key's values keep theirs), quoted, spaced, commented
    edited = "# reordered by hand\n" + "\n\n# -\n".join("\n".join(groups[k]) for k in sorted(groups, reverse=True)) + "\n"
    with open(path, "w") as f:
        f.write(edited)
    os.chmod(path, 0o640)
    r = run_guest(args)
    assert r["rc"] == 0 and not r["changed"], r
    assert lx.config_text(C) == edited, "a config that means the same is not rewritten"
    r = converge(dict(args, config={"lxc.tty.max": 2}))
    assert [f["field"] for f in r["fields"]] == ["config"]
    assert r["diff"]["before"]["config"]["lxc.cap.drop"] == ["sys_module", "sys_time"]
    assert "lxc.cap.drop" not in lx.config_text(C)


def test_restart_fields_stay_pending_until_restart(hostdir):
    args = spec(state="running")
    converge_twice(args)
    first = lx.pid(C)
    changed = dict(args, disks=[{"path": hostdir}])
    r = run_guest(changed)
    assert r["changed"] and r["restart_required"] and r["restart_fields"] == ["disks"]
    assert lx.pid(C) == first and lx.attach(C, "test", "-e", hostdir + "/hello.txt").returncode != 0
    again = run_guest(changed)
    assert not again["changed"] and again["restart_required"], again
    done = run_guest(dict(changed, restart="if_needed"))
    assert done["changed"] and "restart" in done["actions"] and not done["restart_required"], done
    assert lx.pid(C) != first and lx.attach(C, "cat", hostdir + "/hello.txt").stdout == "from the host\n"
    final = run_guest(changed)
    assert not final["changed"] and not final["restart_required"]


def test_state_transitions():
    run_guest(spec(state="running"))
    r = converge(spec(state="paused"))
    assert r["actions"] == ["suspend"] and lx.state(C) == "FROZEN"
    r = converge(spec(state="running"))
    assert r["actions"] == ["resume"] and lx.state(C) == "RUNNING"
    lx.lxc("lxc-stop", "-k", "-n", C)  # stopped by hand: started again
    r = run_guest(spec(state="running"))
    assert r["changed"] and r["actions"] == ["start"] and r["state"] == "running"
    r = converge(spec(state="stopped", shutdown_timeout=10))
    assert r["actions"] == ["shutdown"] and lx.state(C) == "STOPPED"
    r = converge(spec(state="paused"))
    assert r["actions"] == ["start, suspend"] and lx.state(C) == "FROZEN"


def test_stop_waits_and_fails_without_force():
    # busybox init ignores SIGCONT: a halt signal that never stops it
    args = spec(state="running", config={"lxc.signal.halt": "SIGCONT"})
    run_guest(args)
    r = run_guest(dict(args, state="stopped", shutdown_timeout=1))
    assert r["rc"] != 0 and "guest '%s': state: " % C in r["msg"] and "force_stop" in r["msg"], r["msg"]
    assert lx.state(C) == "RUNNING"
    r = converge(dict(args, state="stopped", shutdown_timeout=1, force_stop=True))
    assert r["actions"] == ["shutdown"] and lx.state(C) == "STOPPED"


def test_absent_destroys_the_named_container_and_its_rootfs():
    run_guest(spec(state="running"))
    before = lx.state_hash()
    chk = run_guest(spec(state="absent"), check=True)
    assert chk["changed"] and lx.state_hash() == before
    r = run_guest(spec(state="absent"))
    assert r["changed"] and r["actions"] == ["destroy", "undefine"] and r["state"] == "absent"
    assert C not in lx.names() and not os.path.exists(os.path.join(lx.lxc_path(), C))
    assert not run_guest(spec(state="absent"))["changed"]


def test_prune_touches_only_its_fleets_managed_containers():
    foreign = PREFIX + "foreign"
    lx.lxc("lxc-create", "-n", foreign, "-t", "busybox")
    other = spec(name=PREFIX + "other")
    assert run_guests({"guests": [other], "fleet": "vftest-other"})["changed"]
    kept, pruned, dropped = spec(name=PREFIX + "kept"), spec(name=PREFIX + "pruned"), spec(name=PREFIX + "dropped")
    assert run_guests({"fleet": "vftest", "guests": [kept, pruned, dropped]})["rc"] == 0
    lx.lxc("lxc-start", "-n", pruned["name"])
    call = {"fleet": "vftest", "guests": [kept, dropped], "prune": True}
    before = lx.state_hash()
    chk = run_guests(call, check=True)
    assert lx.state_hash() == before
    r = run_guests(call)
    expected = [(kept["name"], "none"), (dropped["name"], "none"), (pruned["name"], "prune")]
    assert [(x["name"], x["action"]) for x in chk["results"]] == expected
    assert [(x["name"], x["action"]) for x in r["results"]] == expected and r["results"][2]["state"] == "absent"
    assert lx.names() == sorted([foreign, other["name"], kept["name"], dropped["name"]])
    archive = os.path.join(lx.lxc_path(), lx.ARCHIVE_DIR)
    moved = [e for e in os.listdir(archive) if e.startswith(pruned["name"] + ".")]
    assert len(moved) == 1 and os.path.isfile(os.path.join(archive, moved[0], "rootfs", "bin", "busybox")), \
        "pruned without prune_storage: the rootfs is kept"
    assert not run_guests(call)["changed"]
    r = run_guests(dict(call, guests=[kept], prune_storage=True))
    assert [(x["name"], x["action"]) for x in r["results"]] == [(kept["name"], "none"), (dropped["name"], "prune")]
    assert dropped["name"] not in lx.names() and not any(e.startswith(dropped["name"]) for e in os.listdir(archive))
    assert not os.path.exists(os.path.join(lx.lxc_path(), dropped["name"]))


def test_one_bad_container_does_not_stop_the_others(bridge):
    good = [spec(name=PREFIX + "good1", state="running"), spec(name=PREFIX + "good2")]
    bad_spec = spec(name=PREFIX + "badnet", interfaces=[{"network": "default"}])
    bad_bridge = spec(name=PREFIX + "badbr", interfaces=[{"bridge": PREFIX + "nobr"}])
    no_start = spec(name=PREFIX + "nostart", state="running", config={"lxc.init.cmd": "/nonexistent/init"})
    r = run_guests({"guests": [good[0], bad_spec, bad_bridge, no_start, good[1]]})
    assert r["rc"] != 0 and r["failed"]
    assert r["failed_guests"] == sorted([bad_spec["name"], bad_bridge["name"], no_start["name"]])
    assert "guest '%s': interfaces[0].network:" % bad_spec["name"] in r["msg"]
    assert "guest '%s': interfaces[0].bridge:" % bad_bridge["name"] in r["msg"]
    assert "guest '%s': state: lxc-start failed" % no_start["name"] in r["msg"], r["msg"]
    by_name = {x["name"]: x for x in r["results"]}
    assert by_name[no_start["name"]]["failed"] and by_name[good[0]["name"]]["state"] == "running"
    assert lx.state(good[0]["name"]) == "RUNNING" and lx.state(good[1]["name"]) == "STOPPED"
    assert bad_spec["name"] not in lx.names() and bad_bridge["name"] not in lx.names()


BAD = [
    ({"interfaces": [{"network": "default"}]}, "interfaces[0].network"),
    ({"interfaces": [{"bridge": PREFIX + "nobr"}]}, "interfaces[0].bridge"),
    ({"interfaces": [{"bridge": BRIDGE, "model": "e1000"}]}, "interfaces[0].model"),
    ({"disks": [{"volume": "v", "pool": "default"}]}, "disks[0].volume"),
    ({"disks": [{"path": "/nonexistent/dir"}]}, "disks[0].path"),
    ({"disks": [{"path": "/dev/null", "device": "cdrom"}]}, "disks[0].device"),
    ({"config": {"tty.max": 1}}, "config.tty.max"),
    ({"config": {"lxc.start.auto": 1}}, "config.lxc.start.auto"),
    ({"config": {"lxc.cap.drop": "nosuchcap"}}, "config.lxc.cap.drop"),
    ({"config": {"lxc.apparmor.nosuchkey": 1}}, "config.lxc.apparmor.nosuchkey"),
    ({"cpu_mode": "host-passthrough"}, "cpu_mode"),
    ({"hugepages": True}, "hugepages"),
    ({"max_memory": 128}, "max_memory"),
    ({"template": None}, "template"),
    ({"template": "../evil"}, "template"),
    ({"template": None, "rootfs": "/nonexistent.tar.gz"}, "rootfs"),
    ({"rootfs": "/etc"}, "rootfs"),
    ({"template": None, "rootfs": "/etc", "template_options": ["-x"]}, "template_options"),
    ({"memory": 0}, "memory"),
    ({"xen_type": "pvh"}, "xen_type"),
]


@pytest.mark.parametrize("bad, field", BAD, ids=["%s-%d" % (case[1], i) for i, case in enumerate(BAD)])
def test_bad_input_names_container_and_field_and_changes_nothing(bridge, bad, field):
    before = lx.state_hash()
    g = spec(name=PREFIX + "bad", **bad)
    r = run_guests({"guests": [g]})
    assert r["failed"] and r["rc"] != 0
    assert "guest '%s': %s: " % (g["name"], field) in r["msg"], r["msg"]
    assert lx.state_hash() == before and g["name"] not in lx.names()
