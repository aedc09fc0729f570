"""LXC config parse/render and planning on output recorded from real LXC 5.0 tools
(tests/unit/fixtures/lxc-record.py says how each lxc-* fixture was made)."""

import json
import os
import shutil

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_lxc as R
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import (
    LxcBackend, cgroup_version, liblxc_error, parse_listing)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError, SpecError, UnsupportedChange
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import MIB

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
NAME = "vftest-rec-bb"


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


CREATED = fixture("lxc-busybox-created.config")
MANAGED = fixture("lxc-busybox-managed.config")
MARK = json.loads(fixture("lxc-busybox-managed.json"))
BACKEND = LxcBackend({"lxc_path": "/nonexistent"})


def declared(**kw):
    """The spec lxc-record.py converged, resolved the way the backend resolves it."""
    spec = {"name": NAME, "template": "busybox", "memory": 64, "vcpus": 1, "cpu_shares": 512,
            "autostart": True, "state": "running", "config": {"lxc.tty.max": 2}, "fleet": "default"}
    spec.update(kw)
    g = guest_from_params(spec, "lxc")
    for key in ("cpu_mode", "hugepages", "virt_type", "machine", "max_vcpus", "max_memory"):
        g[key] = None
    for disk in g["disks"]:
        disk["kind"] = "dir"
    if g.get("config") is not None:
        g["config"] = R.normalize_config(NAME, g["config"], len(g["interfaces"]))
    return g


def current(text=MANAGED, state="running", live_text=None, want=("lxc.tty.max",), mark=None, live_limits=None):
    mark = MARK if mark is None else mark
    lines = R.parse(text)
    config = R.to_model(lines, 1, mark.get("config_keys", ()), want)
    config.update(name=NAME, fleet=mark.get("fleet"))
    live = None
    if state != "stopped":
        live = R.to_model(R.parse(live_text or text), 1, mark.get("config_keys", ()), want)
        live.update(live_limits or {})
    return {"config": config, "live": live, "state": state, "autostart": config["autostart"], "managed": True,
            "text": text, "lines": lines, "pid": 1}


def lxc_plan(desired, cur, restart="never"):
    return plan(desired, cur, BACKEND.caps, restart)


# -- parsing -------------------------------------------------------------------------------
def test_parse_reads_values_as_liblxc_does():
    lines = R.parse('# c\n\n  # indented\nlxc.uts.name = "a b"\nlxc.tty.max=5  \nnot a key\nlxc.env = X=1 # kept\n')
    assert R.entries(lines) == [("lxc.uts.name", "a b"), ("lxc.tty.max", "5"), ("lxc.env", "X=1 # kept")]
    assert len(lines) == 7


def test_meaning_ignores_order_comments_spacing_and_quotes():
    a = "lxc.tty.max = 5\nlxc.cap.drop = sys_time\nlxc.cap.drop = sys_module\n"
    b = "# reordered\nlxc.cap.drop=sys_time\n\nlxc.cap.drop =   'sys_module'\nlxc.tty.max = \"5\"\n"
    assert R.meaning(R.parse(a)) == R.meaning(R.parse(b))
    c = "lxc.cap.drop = sys_module\nlxc.cap.drop = sys_time\nlxc.tty.max = 5\n"
    assert R.meaning(R.parse(a)) != R.meaning(R.parse(c)), "the order of one key's values is meaning"


def test_recorded_template_config_model():
    g = R.to_model(R.parse(CREATED), 1)
    # the seed's keys, read back through the template's output
    assert (g["autostart"], g["memory"], g["vcpus"], g["cpu_shares"]) == (True, 64, 1, None)
    assert g["interfaces"] == [] and g["disks"] == [], "busybox's ro,bind mounts of /lib are not disks"


def test_recorded_managed_config_is_what_was_declared():
    g = R.to_model(R.parse(MANAGED), 1, MARK["config_keys"])
    assert (g["autostart"], g["memory"], g["vcpus"], g["cpu_shares"]) == (True, 64, 1, 512)
    assert g["config"] == {"lxc.tty.max": ["2"]}
    assert MARK["fleet"] == "default" and MARK["origin"] == {"template": "busybox", "template_options": []}
    assert R.meaning(R.parse(MANAGED))["lxc.rootfs.path"] == ["dir:/var/lib/lxc/%s/rootfs" % NAME]


def test_render_keeps_template_keys_and_comments_and_is_stable():
    desired = declared()
    text = R.render(R.parse(CREATED), desired, 1)
    kept = [t for k, v, t in R.parse(CREATED) if k is None or not R._is_managed(k, v)]
    for line in kept:
        if line.strip() and not line.startswith("lxc.tty.max"):
            assert line in text.splitlines()
    assert text.count(R.HEADER) == 1
    again = R.render(R.parse(text), desired, 1, ("lxc.tty.max",))
    assert again == text, "rendering a rendered config changes nothing"
    assert R.meaning(R.parse(text)) == R.meaning(R.parse(MANAGED))


# -- planning on recorded state ------------------------------------------------------------
def test_recorded_container_is_unchanged():
    p = lxc_plan(declared(), current(live_limits={"memory": 64, "vcpus": 1, "cpu_shares": 512}))
    assert not p["changed"] and p["actions"] == [] and not p["restart_required"], p


def test_reordered_commented_config_is_unchanged():
    lines = [line for line in MANAGED.splitlines() if line.strip()]
    shuffled = "# edited by hand\n" + "\n".join(reversed(lines)).replace("= 512", "= '512'") + "\n"
    p = lxc_plan(declared(state="stopped"), current(shuffled, state="stopped"))
    assert not p["changed"], p


def test_limits_are_live_and_persistent_the_rest_waits_for_restart(tmp_path):
    cur = current(live_limits={"memory": 64, "vcpus": 1, "cpu_shares": 512})
    p = lxc_plan(declared(memory=96, vcpus=2, cpu_shares=1024, config={"lxc.tty.max": 3},
                          disks=[{"path": str(tmp_path), "readonly": True}]), cur)
    assert {f["field"]: f["apply"] for f in p["fields"]} == {
        "memory": "live", "vcpus": "live", "cpu_shares": "live", "config": "restart", "disks": "restart"}
    assert p["live_ops"] == [("set_vcpus", 2), ("set_memory", 96), ("set_cpu_shares", 1024)]
    assert p["define"] and p["restart_required"] and sorted(p["restart_fields"]) == ["config", "disks"]


def test_pending_restart_stays_until_the_container_restarts():
    desired = declared(config={"lxc.tty.max": 3})
    written = R.render(R.parse(MANAGED), desired, 1, ("lxc.tty.max",))
    limits = {"memory": 64, "vcpus": 1, "cpu_shares": 512}
    p = lxc_plan(desired, current(written, live_text=MANAGED, live_limits=limits))
    assert not p["changed"] and p["restart_required"] and p["restart_fields"] == ["config"]
    assert lxc_plan(desired, current(written, live_limits=limits), restart="if_needed")["actions"] == []


def test_raw_keys_set_before_are_removed_when_no_longer_declared():
    cur = current(want=())
    p = lxc_plan(declared(config={}), cur)
    assert [f["field"] for f in p["fields"]] == ["config"]
    text = R.render(cur["lines"], declared(config={}), 1, MARK["config_keys"])
    assert "lxc.tty.max" not in R.meaning(R.parse(text))
    assert not lxc_plan(declared(config=None), current(want=()))["changed"], "omitted config: left alone"


def test_config_list_values_and_removing_a_template_key():
    desired = declared(config={"lxc.cap.drop": ["sys_module", "sys_time"], "lxc.pty.max": [], "lxc.tty.max": 2})
    text = R.render(R.parse(CREATED), desired, 1)
    m = R.meaning(R.parse(text))
    assert m["lxc.cap.drop"] == ["sys_module", "sys_time"] and "lxc.pty.max" not in m
    model = R.to_model(R.parse(text), 1, (), desired["config"])
    assert model["config"] == desired["config"]


def test_fleet_and_autostart_changes():
    p = lxc_plan(declared(fleet="vftest-other", autostart=False, state="stopped"), current(state="stopped"))
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"fleet": "config", "autostart": "live"}
    assert p["autostart"] is False and p["actions"] == ["redefine", "autostart off"]


# -- interfaces and disks ------------------------------------------------------------------
def test_interfaces_round_trip_and_generated_mac_is_carried():
    desired = declared(interfaces=[{"bridge": "vftest-br0", "mac": "00:16:3E:AA:BB:01"}, {"bridge": "vftest-br0"}])
    desired["interfaces"][1]["mac"] = "00:16:3e:00:00:02"  # what apply generates
    text = R.render(R.parse(MANAGED), desired, 1, ("lxc.tty.max",))
    model = R.to_model(R.parse(text), 1)
    assert model["interfaces"] == [
        {"network": None, "bridge": "vftest-br0", "model": "virtio", "mac": "00:16:3e:aa:bb:01"},
        {"network": None, "bridge": "vftest-br0", "model": "virtio", "mac": "00:16:3e:00:00:02"}]
    again = declared(interfaces=[{"bridge": "vftest-br0", "mac": "00:16:3E:AA:BB:01"}, {"bridge": "vftest-br0"}],
                     state="stopped")
    assert not lxc_plan(again, current(text, state="stopped"))["changed"]
    fewer = R.render(R.parse(text + "lxc.net.1.mtu = 1400\n"), declared(), 1, ("lxc.tty.max",))
    assert not any(k.startswith("lxc.net") for k in R.meaning(R.parse(fewer))), "settings of a removed NIC go too"


def test_mac_template_is_not_a_fixed_mac():
    model = R.to_model(R.parse("lxc.net.0.type = veth\nlxc.net.0.link = br0\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n"), 1)
    assert model["interfaces"][0]["mac"] is None


def test_disk_entries_round_trip_and_foreign_mounts_are_not_disks():
    for disk in ({"path": "/srv/data", "readonly": True, "kind": "dir"},
                 {"path": "/etc/hosts", "readonly": False, "kind": "file"}):
        parsed = R.disk_from_entry(R.disk_entry(disk))
        assert (parsed["path"], parsed["readonly"], parsed["kind"]) == (disk["path"], disk["readonly"], disk["kind"])
    for value in ("/lib lib none ro,bind 0 0", "/srv srv/x none bind,create=dir 0 0", "proc proc proc defaults 0 0",
                  "/srv srv none rbind,create=dir 0 0"):
        assert R.disk_from_entry(value) is None, value


# -- limits --------------------------------------------------------------------------------
def test_recorded_live_cgroup_values():
    values = json.loads(fixture("lxc-cgroup-v1.json"))
    assert R.limits(1, values.get) == {"memory": 64, "vcpus": 1, "cpu_shares": 512}


@pytest.mark.parametrize("values, expected", [
    ({"memory.limit_in_bytes": "9223372036854771712", "cpu.cfs_quota_us": "-1", "cpu.shares": "1024"},
     {"memory": None, "vcpus": None, "cpu_shares": 1024}),
    ({"memory.limit_in_bytes": "512M", "cpu.cfs_quota_us": "150000", "cpu.cfs_period_us": "100000"},
     {"memory": 512, "vcpus": 1.5, "cpu_shares": None}),
    ({"memory.limit_in_bytes": "1G", "cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "25000"},
     {"memory": 1024, "vcpus": 2, "cpu_shares": None}),
    ({"memory.limit_in_bytes": "100000000"}, {"memory": 95.367, "vcpus": None, "cpu_shares": None}),
])
def test_limits_v1(values, expected):
    assert R.limits(1, values.get) == expected


def test_limits_v2_render_and_read_back():
    settings = {}
    for field, value in (("memory", 256), ("vcpus", 2), ("cpu_shares", 1024)):
        settings.update(R.limit_settings(2, field, value))
    assert settings == {"memory.max": str(256 * MIB), "cpu.max": "200000 100000", "cpu.weight": "39"}
    assert R.limits(2, settings.get) == {"memory": 256, "vcpus": 2, "cpu_shares": R.weight_to_shares(39)}
    assert R.limits(2, {"memory.max": "max", "cpu.max": "max 100000"}.get) == {
        "memory": None, "vcpus": None, "cpu_shares": None}
    assert all(R.shares_to_weight(R.weight_to_shares(w)) == w for w in range(1, 10001))
    text = R.render([], declared(memory=256, vcpus=2, cpu_shares=1024), 2)
    assert "lxc.cgroup2.cpu.max = 200000 100000" in text and "lxc.cgroup." not in text


def test_v1_keys_are_replaced_on_a_v2_host():
    text = R.render(R.parse(MANAGED), declared(), 2, ("lxc.tty.max",))
    assert not any(k.startswith("lxc.cgroup.") for k in R.meaning(R.parse(text)))
    assert R.to_model(R.parse(text), 2)["memory"] == 64


def test_cgroup_version_detection():
    hybrid = ("cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
              "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
              "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n")
    unified = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
    assert cgroup_version(hybrid) == 1 and cgroup_version(unified) == 2


# -- raw config validation -----------------------------------------------------------------
def test_config_values_are_normalised():
    assert R.normalize_config("c", {"lxc.autodev": True, "lxc.tty.max": 4, "lxc.cap.drop": ["a", "'b'"],
                                    "lxc.net.0.mtu": 1400}, 1) == {
        "lxc.autodev": ["1"], "lxc.tty.max": ["4"], "lxc.cap.drop": ["a", "b"], "lxc.net.0.mtu": ["1400"]}


@pytest.mark.parametrize("raw, field, words", [
    ({"tty.max": 1}, "config.tty.max", "starting with 'lxc.'"),
    ({"lxc.nosuch.key": 1}, "config.lxc.nosuch.key", "unknown LXC config key namespace"),
    ({"lxc.start.auto": 1}, "config.lxc.start.auto", "'autostart'"),
    ({"lxc.cgroup.memory.limit_in_bytes": "1G"}, "config.lxc.cgroup.memory.limit_in_bytes", "'memory'"),
    ({"lxc.cgroup2.memory.max": "1G"}, "config.lxc.cgroup2.memory.max", "'memory'"),
    ({"lxc.cgroup.cpu.cfs_quota_us": 1}, "config.lxc.cgroup.cpu.cfs_quota_us", "'vcpus'"),
    ({"lxc.cgroup2.cpu.weight": 1}, "config.lxc.cgroup2.cpu.weight", "'cpu_shares'"),
    ({"lxc.net.0.link": "br0"}, "config.lxc.net.0.link", "'interfaces'"),
    ({"lxc.net.1.mtu": 1400}, "config.lxc.net.1.mtu", "not declared"),
    ({"lxc.rootfs.path": "/x"}, "config.lxc.rootfs.path", "never changed"),
    ({"lxc.tty.max": [[1]]}, "config.lxc.tty.max", "strings, integers or booleans"),
    ({"lxc.tty.max": 1.5}, "config.lxc.tty.max", "strings, integers or booleans"),
    ({"lxc.environment": "A=1\nB=2"}, "config.lxc.environment", "span lines"),
    ({"lxc.mount.entry": "/srv srv none bind,create=dir 0 0"}, "config.lxc.mount.entry", "'disks'"),
    ("lxc.tty.max=1", "config", "mapping"),
])
def test_bad_config_names_the_key(raw, field, words):
    with pytest.raises(SpecError) as e:
        R.normalize_config("c", raw, 1)
    assert e.value.field == field and words in str(e.value), str(e.value)


# -- recorded tool output ------------------------------------------------------------------
def test_recorded_listing():
    listing = parse_listing(fixture("lxc-ls-fancy.txt"))
    assert listing["vftest-rec-bb"]["state"] == "running" and listing["vftest-rec-bb"]["pid"] > 1
    assert listing["vftest-rec-bb"]["autostart"]
    assert listing["vftest-rec-frozen"]["state"] == "paused"
    assert listing["vftest-rec-stopped"] == {"state": "stopped", "autostart": True, "pid": None}


def test_recorded_liblxc_refusal():
    line, reason = liblxc_error(fixture("lxc-info-refused.log"))
    assert line == "lxc.cap.drop = nosuchcap" and reason == "Invalid capability specified"


# -- the backend against a fake lxc-* toolset ----------------------------------------------
class FakeLxc(object):
    """Just enough of the lxc-* tools for the backend: containers are directories under
    ``path``; a started container's init is this test process (a real PID with a start time)."""

    def __init__(self, path):
        self.path, self.calls, self.states, self.cgroups, self.refuse = path, [], {}, {}, None

    def __call__(self, argv, environ_update=None, expand_user_and_vars=True, handle_exceptions=True):
        assert environ_update == {"LC_ALL": "C"} and not expand_user_and_vars and not handle_exceptions
        self.calls.append(argv)
        tool, args = argv[0], argv[1:]
        name = args[args.index("-n") + 1] if "-n" in args else None
        cdir = os.path.join(self.path, name or "")
        if tool == "lxc-ls":
            rows = ["NAME STATE AUTOSTART PID"]
            rows += ["%s %s 0 %s" % (n, s, os.getpid() if s != "STOPPED" else "-") for n, s in sorted(self.states.items())]
            return 0, "\n".join(rows) + "\n", ""
        if tool == "lxc-create":
            with open(args[args.index("-f") + 1]) as f:
                seed = f.read()
            if args[args.index("-t") + 1] == "none":  # as LXC 5.0: the rootfs must exist, its path is written twice
                assert os.path.isdir(os.path.join(cdir, "rootfs")) and "lxc.rootfs.path" in seed
            else:
                os.makedirs(os.path.join(cdir, "rootfs"))
                seed = "# template\nlxc.tty.max = 5\n" + seed
            with open(os.path.join(cdir, "config"), "w") as f:
                f.write(seed + "lxc.rootfs.path = dir:%s/rootfs\n" % cdir)
            self.states[name] = "STOPPED"
        elif tool == "lxc-info" and "-P" in args and args[args.index("-P") + 1] != self.path:
            if self.refuse:  # liblxc's log of a scratch config it refused
                with open(args[args.index("-o") + 1], "w") as f:
                    f.write(self.refuse)
                return 1, "", "Failed to load config for check\n"
            return 0, "lxc.start.auto = 0\n", ""
        elif tool == "lxc-info":
            if name not in self.states:
                return 1, "", "not defined"
            return 0, (self.states[name] if "-sH" in args else str(os.getpid())) + "\n", ""
        elif tool in ("lxc-start", "lxc-unfreeze"):
            self.states[name] = "RUNNING"
        elif tool == "lxc-stop":
            self.states[name] = "STOPPED"
        elif tool == "lxc-freeze":
            self.states[name] = "FROZEN"
        elif tool == "lxc-cgroup":
            values = self.cgroups.setdefault(name, {})
            if len(args) == 6:
                values[args[4]] = args[5]
            return 0, values.get(args[4], "") + "\n", ""
        elif tool == "lxc-destroy":
            del self.states[name]
            shutil.rmtree(cdir)
        return 0, "", ""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.setattr("ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc.cgroup_version",
                        lambda text: 1)
    return FakeLxc(str(tmp_path))


def converge_fake(fake, raw, restart="never"):
    """validate -> resolve -> read -> plan -> apply, the runner's order, on a fresh backend."""
    backend = LxcBackend({"lxc_path": fake.path}, fake)
    guest = backend.resolve(guest_from_params(dict({"fleet": "default", "template": "busybox"}, **raw), "lxc"))
    cur = backend.current(guest["name"])
    p = plan(guest, cur, backend.caps, restart)
    if p["changed"]:
        backend.apply(p, cur)
    return p


def test_fake_create_start_then_noop(fake):
    p = converge_fake(fake, {"name": "c1", "memory": 64, "state": "running", "config": {"lxc.tty.max": 2}})
    assert p["actions"] == ["define", "start"]
    tools = [c[0] for c in fake.calls if c[0] != "lxc-ls"]
    assert tools == ["lxc-info", "lxc-create", "lxc-info", "lxc-start", "lxc-info"], tools
    cfg = os.path.join(fake.path, "c1", "config")
    assert oct(os.stat(cfg).st_mode & 0o777) == "0o640"
    with open(cfg) as f:
        assert R.meaning(R.parse(f.read()))["lxc.tty.max"] == ["2"], "the template's value is replaced"
    with open(os.path.join(fake.path, "c1", "virtfleet.json")) as f:
        mark = json.load(f)
    assert mark["running"]["pid"] == os.getpid() and mark["config_keys"] == ["lxc.tty.max"]
    fake.cgroups["c1"] = {"memory.limit_in_bytes": str(64 * MIB), "cpu.cfs_quota_us": "100000",
                          "cpu.cfs_period_us": "100000"}
    again = converge_fake(fake, {"name": "c1", "memory": 64, "state": "running", "config": {"lxc.tty.max": 2}})
    assert not again["changed"], again


def test_fake_restart_change_stays_pending_and_fleet_change_keeps_config(fake, tmp_path):
    spec = {"name": "c1", "memory": 64, "state": "running"}
    converge_fake(fake, spec)
    fake.cgroups["c1"] = {"memory.limit_in_bytes": str(64 * MIB), "cpu.cfs_quota_us": "100000"}
    p = converge_fake(fake, dict(spec, disks=[{"path": str(tmp_path)}], memory=96))
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"memory": "live", "disks": "restart"}
    assert fake.calls[-1] == ["lxc-cgroup", "-P", fake.path, "-n", "c1", "memory.limit_in_bytes", str(96 * MIB)]
    again = converge_fake(fake, dict(spec, disks=[{"path": str(tmp_path)}], memory=96))
    assert not again["changed"] and again["restart_required"] and again["restart_fields"] == ["disks"]
    cfg = os.path.join(fake.path, "c1", "config")
    before = os.stat(cfg)
    moved = converge_fake(fake, dict(spec, disks=[{"path": str(tmp_path)}], memory=96, fleet="other"))
    assert [f["field"] for f in moved["fields"]] == ["fleet"] and moved["restart_required"]
    assert os.stat(cfg).st_ino == before.st_ino, "same meaning: the config is not rewritten"


def test_fake_prune_archives_and_named_absent_destroys(fake):
    converge_fake(fake, {"name": "c1", "state": "stopped"})
    converge_fake(fake, {"name": "c2"})
    backend = LxcBackend({"lxc_path": fake.path}, fake)
    assert backend.managed_names("default") == ["c1", "c2"] and backend.managed_names("other") == []
    p = plan({"name": "c1", "state": "absent", "remove_storage": False, "shutdown_timeout": 0, "force_stop": True},
             backend.current("c1"), backend.caps)
    backend.apply(dict(p, action="delete", pruned=True), backend.current("c1"))
    archived = os.listdir(os.path.join(fake.path, ".virtfleet-pruned"))
    assert len(archived) == 1 and archived[0].startswith("c1.")
    assert os.path.isdir(os.path.join(fake.path, ".virtfleet-pruned", archived[0], "rootfs"))
    p = converge_fake(fake, {"name": "c2", "state": "absent"})
    assert p["actions"] == ["destroy", "undefine"] and fake.calls[-2:] == [
        ["lxc-stop", "-P", fake.path, "-n", "c2", "-k"], ["lxc-destroy", "-P", fake.path, "-n", "c2"]]


def test_fake_template_change_of_an_existing_container_is_refused(fake):
    converge_fake(fake, {"name": "c1", "state": "stopped"})
    with pytest.raises(UnsupportedChange) as e:
        converge_fake(fake, {"name": "c1", "template": "download", "template_options": ["-d", "debian"]})
    assert e.value.field == "template" and "never re-creates" in str(e.value)
    assert not converge_fake(fake, {"name": "c1", "template": None, "state": "stopped"})["changed"], "left out: fine"
    with pytest.raises(SpecError) as e:
        converge_fake(fake, {"name": "c2", "template": None})
    assert e.value.field == "template" and "needs 'template'" in str(e.value)


def test_fake_raw_config_refused_by_liblxc_names_the_key(fake):
    fake.refuse = fixture("lxc-info-refused.log")
    with pytest.raises(SpecError) as e:
        converge_fake(fake, {"name": "c1", "config": {"lxc.tty.max": 2, "lxc.cap.drop": "nosuchcap"}})
    assert e.value.field == "config.lxc.cap.drop" and "Invalid capability specified" in str(e.value), str(e.value)
    assert fake.states == {}, "nothing was created"


def test_fake_rootfs_tarball_is_unpacked_into_a_new_container(fake, tmp_path):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(b"")
    p = converge_fake(fake, {"name": "c1", "template": None, "rootfs": str(tarball), "state": "stopped"})
    assert p["actions"] == ["define"]
    rootfs = os.path.join(fake.path, "c1", "rootfs")
    assert ["tar", "-x", "-p", "--numeric-owner", "-f", str(tarball), "-C", rootfs] in fake.calls
    with open(os.path.join(fake.path, "c1", "config")) as f:
        assert R.meaning(R.parse(f.read()))["lxc.rootfs.path"] == ["dir:" + rootfs]
    with open(os.path.join(fake.path, "c1", "virtfleet.json")) as f:
        assert json.load(f)["origin"] == {"rootfs": str(tarball)}
    with pytest.raises(SpecError) as e:
        converge_fake(fake, {"name": "c2", "template": None, "rootfs": str(tmp_path / "missing.tar")})
    assert e.value.field == "rootfs"


# -- cgroup v2 key names, and the exact values handed to lxc-cgroup for a live change -------
def test_cgroup_v2_config_fixture_reads_as_the_v1_recording():
    v1 = R.to_model(R.parse(MANAGED), 1, ("lxc.tty.max",))
    v2 = R.to_model(R.parse(fixture("lxc-busybox-managed-v2.config")), 2, ("lxc.tty.max",))
    assert v2["memory"] == v1["memory"] == 64 and v2["vcpus"] == v1["vcpus"] == 1
    assert v2["cpu_shares"] == R.weight_to_shares(20) and R.shares_to_weight(v1["cpu_shares"]) == 20
    assert v2["config"] == v1["config"] == {"lxc.tty.max": ["2"]}


def test_cgroup_v2_live_values_fixture():
    values = json.loads(fixture("lxc-cgroup-v2.json"))
    assert R.limits(2, values.get) == {"memory": 64, "vcpus": 1, "cpu_shares": R.weight_to_shares(20)}
    assert R.limits(2, dict(values, **{"memory.max": "max", "cpu.max": "max 100000"}).get)["memory"] is None


def test_cgroup_v2_render_replaces_only_the_limit_keys():
    text = R.render(R.parse(fixture("lxc-busybox-managed-v2.config")), declared(memory=96, vcpus=2), 2,
                    ("lxc.tty.max",))
    vals = R.meaning(R.parse(text))
    assert vals["lxc.cgroup2.memory.max"] == [str(96 * MIB)] and vals["lxc.cgroup2.cpu.max"] == ["200000 100000"]
    assert vals["lxc.cgroup2.cpu.weight"] == ["20"] and not any(k.startswith("lxc.cgroup.") for k in vals)


def test_memory_with_an_unknown_unit_in_the_config_is_an_error_naming_the_container(fake):
    converge_fake(fake, {"name": "c1", "state": "stopped"})
    cfg = os.path.join(fake.path, "c1", "config")
    with open(cfg, "a") as f:
        f.write("lxc.cgroup.memory.limit_in_bytes = 64MB\n")
    with pytest.raises(BackendError) as e:
        LxcBackend({"lxc_path": fake.path}, fake).current("c1")
    assert (e.value.obj, e.value.field) == ("c1", "memory") and "'64MB'" in str(e.value)


@pytest.mark.parametrize("version, expected", [
    (1, [["memory.limit_in_bytes", str(96 * 1024 * 1024)],
         ["cpu.cfs_period_us", "100000"], ["cpu.cfs_quota_us", "200000"],
         ["cpu.shares", "1024"]]),
    (2, [["memory.max", str(96 * 1024 * 1024)], ["cpu.max", "200000 100000"], ["cpu.weight", "39"]]),
])
def test_live_limits_hand_lxc_cgroup_bytes_and_the_keys_of_the_hosts_cgroup_version(
        fake, monkeypatch, version, expected):
    monkeypatch.setattr("ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc.cgroup_version",
                        lambda text: version)
    spec = {"name": "c1", "memory": 64, "vcpus": 1, "cpu_shares": 512, "state": "running"}
    converge_fake(fake, spec)
    with open(os.path.join(fake.path, "c1", "config")) as f:
        keys = {k for k in R.meaning(R.parse(f.read())) if k.startswith("lxc.cgroup")}
    assert keys == {R.CGROUP_PREFIX[version] + f for field, files in R.LIMIT_FILES[version].items() for f in files
                    if field != "cpuset"}  # cpuset left out: not managed
    fake.cgroups["c1"] = dict(R.limit_settings(version, "memory", 64) + R.limit_settings(version, "vcpus", 1)
                              + R.limit_settings(version, "cpu_shares", 512))
    n = len(fake.calls)
    p = converge_fake(fake, dict(spec, memory="96MiB", vcpus=2, cpu_shares=1024))
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"memory": "live", "vcpus": "live", "cpu_shares": "live"}
    sets = [c[5:] for c in fake.calls[n:] if c[0] == "lxc-cgroup" and len(c) == 7]
    assert sorted(sets) == sorted(expected)  # in the planner's field order
    assert all(c[:5] == ["lxc-cgroup", "-P", fake.path, "-n", "c1"] for c in fake.calls[n:] if c[0] == "lxc-cgroup")
