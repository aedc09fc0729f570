"""Day-2 operations as tables: the pure snapshot planner (create / describe / delete / revert /
keep retention / refusals), the saved-state transitions of the guest planner, libvirt's
snapshot refusals and snapshot XML, LXC snapshot directories and lxc-info, and xl save /
restore against a scripted xl."""

import os
import stat

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _snapshot as sn
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _guest_info as gi
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import libvirt as lvb
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import lxc as lxb
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    BackendError, SpecError, UnsupportedChange)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan

from test_xl_backend import FakeXl, backend as xl_backend, spec as xl_spec  # noqa: F401 (fixtures below)
from test_xl_backend import xl_bin, confdir  # noqa: F401  pylint: disable=unused-import


def s(name, created, managed=True, memory=False, **kw):
    return dict({"name": name, "description": "", "managed": managed, "memory": memory, "created": created,
                 "current": False, "revert_refused": None}, **kw)


def current(snaps=(), state="running", **refused):
    return {"guest_state": state, "snapshots": list(snaps),
            "refused": dict({"create": None, "memory": None, "disk_only": None}, **refused)}


def spec(name="s", **kw):
    return sn.snapshot_from_params(dict({"guest": "g", "name": name}, **kw))


# -- the snapshot planner -------------------------------------------------------------------
def test_create_with_memory_when_running_disk_only_when_stopped():
    p = sn.plan_snapshot(spec(), current())
    assert p["action"] == "create" and p["actions"] == ["create s (disks and memory)"] and p["desired"]["memory"]
    p = sn.plan_snapshot(spec(), current(state="stopped"))
    assert p["actions"] == ["create s (disk-only)"] and p["desired"]["memory"] is False


def test_existing_snapshot_is_no_change_and_description_is_set():
    cur = current([s("s", 1, description="old")])
    assert not sn.plan_snapshot(spec(), cur)["changed"]
    assert not sn.plan_snapshot(spec(description="old"), cur)["changed"]
    p = sn.plan_snapshot(spec(description="new"), cur)
    assert p["actions"] == ["set the description of s"] and p["ops"][0][0] == "describe"


def test_keep_deletes_only_the_oldest_marked_ones():
    snaps = [s("a", 1), s("hand", 0, managed=False), s("b", 2), s("c", 3)]
    p = sn.plan_snapshot(spec("d", keep=2), current(snaps))
    assert p["report"]["deleted"] == ["a", "b"]
    assert p["actions"] == ["create d (disks and memory)", "delete a (keep 2)", "delete b (keep 2)"]
    # already there and within the limit: nothing
    assert not sn.plan_snapshot(spec("c", keep=3), current(snaps))["changed"]
    # the named one is foreign: it is not counted
    p = sn.plan_snapshot(spec("hand", keep=1), current(snaps))
    assert p["report"]["deleted"] == ["a", "b"]
    # the same creation second: the backend's order (LXC snapN) breaks the tie
    p = sn.plan_snapshot(spec("z", keep=1), current([s("y", 5, order=2), s("x", 5, order=1)]))
    assert p["report"]["deleted"] == ["x", "y"]


def test_absent_and_current():
    cur = current([s("s", 1, state="running")])
    assert sn.plan_snapshot(spec(state="absent"), cur)["actions"] == ["delete s"]
    assert not sn.plan_snapshot(spec("other", state="absent"), cur)["changed"]
    assert not sn.plan_snapshot(spec(state="absent"), None)["changed"]
    p = sn.plan_snapshot(spec(state="current"), cur)
    assert p["actions"] == ["revert to s"] and p["report"]["state_after"] == "running"


@pytest.mark.parametrize("cur, sp, err, field, text", [
    (None, {}, SpecError, "guest", "guest 'g' does not exist"),
    (current(), {"state": "current"}, SpecError, "name", "has no snapshot 's'"),
    (current([s("s", 1, revert_refused="needs 9.9")]), {"state": "current"}, UnsupportedChange, "state", "needs 9.9"),
    (current(create="UEFI"), {}, UnsupportedChange, "state", "UEFI"),
    (current(disk_only="external"), {"memory": False}, UnsupportedChange, "memory", "external"),
    (current(state="stopped"), {"memory": True}, SpecError, "memory", "needs it running"),
    (current(state="stopped", memory="LXC keeps none"), {"memory": True}, UnsupportedChange, "memory", "LXC"),
])
def test_refusals_name_the_field(cur, sp, err, field, text):
    with pytest.raises(err) as e:
        sn.plan_snapshot(spec(**sp), cur)
    assert e.value.field == field and text in str(e.value) and str(e.value).startswith("snapshot 's': ")


@pytest.mark.parametrize("raw, field", [
    ({"name": "a b"}, "name"), ({"guest": "../x"}, "guest"), ({"state": "reverted"}, "state"),
    ({"keep": 0}, "keep"), ({"keep": True}, "keep"), ({"memory": "yes"}, "memory"),
    ({"state": "absent", "keep": 2}, "keep"), ({"description": "x\n" + sn.MARK}, "description"),
])
def test_bad_specs(raw, field):
    with pytest.raises(SpecError) as e:
        sn.snapshot_from_params(dict({"guest": "g", "name": "s"}, **raw))
    assert e.value.field == field


def test_marker_round_trip():
    assert sn.split_description(sn.mark_description("two\nlines")) == ("two\nlines", True)
    assert sn.split_description(sn.mark_description("")) == ("", True)
    assert sn.split_description("by hand") == ("by hand", False)


# -- saved on the guest planner -------------------------------------------------------------
def _cur(state, live=None, **config):
    base = guest_from_params({"name": "g", "memory": 64, "vcpus": 1, "virt_type": "qemu"}, "libvirt")
    cfg = dict(base, max_vcpus=4, max_memory=64, cpu_mode="default", hugepages=False, machine="pc", managed=True,
               **config)
    return {"config": cfg, "live": live, "state": state, "autostart": False, "managed": True}


def _want(state, **kw):
    return guest_from_params(dict({"name": "g", "memory": 64, "vcpus": 1, "virt_type": "qemu", "state": state,
                                   "machine": "pc"}, **kw), "libvirt")


@pytest.mark.parametrize("have, want, action", [
    ("running", "saved", "save"), ("paused", "saved", "save"), ("saved", "running", "restore"),
    ("saved", "paused", "restore paused"), ("saved", "stopped", "discard saved state"),
])
def test_saved_transitions(have, want, action):
    cur = _cur(have)
    if have != "saved":
        cur["live"] = dict(cur["config"])
    p = plan(_want(want), cur, lvb.LibvirtBackend.caps)
    assert p["actions"] == [action] and (p["state_from"], p["state_to"]) == (have, want)
    again = plan(_want(want), dict(cur, state=want, live=cur["config"] if want != "stopped" else None),
                 lvb.LibvirtBackend.caps)
    assert not again["changed"]


def test_saved_refused_for_stopped_or_missing_and_on_lxc():
    with pytest.raises(UnsupportedChange, match="no running state to save"):
        plan(_want("saved"), _cur("stopped"), lvb.LibvirtBackend.caps)
    with pytest.raises(UnsupportedChange, match="does not exist"):
        plan(_want("saved"), None, lvb.LibvirtBackend.caps)
    with pytest.raises(SpecError, match=r"saved is not supported by backend lxc \(only libvirt, xl\)"):
        guest_from_params({"name": "c", "state": "saved"}, "lxc")


def test_change_while_saved_waits_for_a_fresh_boot():
    saved_def = _cur("saved")["config"]
    p = plan(_want("saved", vcpus=2), _cur("saved", live=saved_def), lvb.LibvirtBackend.caps, restart="if_needed")
    assert p["actions"] == ["redefine"] and p["restart_required"] and p["restart_fields"] == ["vcpus"]
    assert "restart" not in p  # a saved state is never thrown away to apply a change
    # the definition already changed, the saved one not: still pending, nothing to do
    p = plan(_want("running", vcpus=2), _cur("saved", live=saved_def, vcpus=2), lvb.LibvirtBackend.caps)
    assert p["actions"] == ["restore"] and p["restart_fields"] == ["vcpus"]
    assert p["fields"] == []


class _FakePower(host.Power):
    def __init__(self, state):
        super(_FakePower, self).__init__("g")
        self.st, self.calls = state, []

    def state(self):
        return self.st

    def save(self):
        self.calls.append("save")
        self.st = "saved"

    def restore(self, paused=False):
        self.calls.append("restore paused" if paused else "restore")
        self.st = "paused" if paused or self.saved_paused else "running"

    def resume(self):
        self.calls.append("resume")
        self.st = "running"

    def discard(self):
        self.calls.append("discard")
        self.st = "stopped"

    saved_paused = False


@pytest.mark.parametrize("have, want, paused, calls", [
    ("running", "saved", False, ["save"]), ("saved", "running", False, ["restore"]),
    ("saved", "running", True, ["restore", "resume"]), ("saved", "paused", False, ["restore paused"]),
    ("saved", "stopped", False, ["discard"]), ("saved", "saved", False, []),
])
def test_state_machine(have, want, paused, calls):
    power = _FakePower(have)
    power.saved_paused = paused
    host.to_state(power, {"name": "g"}, want)
    assert power.calls == calls and power.state() == want


# -- libvirt --------------------------------------------------------------------------------
DOM = """<domain type='qemu'><name>g</name><os{fw}><type>hvm</type>{loader}</os><devices>
<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/><source file='/i/g.img'/><target dev='vda'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/i/s.iso'/><target dev='sda'/>
<readonly/></disk></devices></domain>"""


def test_libvirt_refusals():
    ok = lvb.snapshot_refusals(DOM.format(fw="", loader="", fmt="qcow2"), 9000000)
    assert ok["create"] is None and ok["memory"] is None and "9.9 or later (this host: 9.0.0)" in ok["disk_only"]
    raw = lvb.snapshot_refusals(DOM.format(fw="", loader="", fmt="raw"), 9000000)["create"]
    assert "disk vda (/i/g.img) is raw" in raw
    pflash = DOM.format(fw="", loader="<loader type='pflash'>/x/OVMF_CODE.fd</loader>", fmt="qcow2")
    assert "UEFI" in lvb.snapshot_refusals(pflash, 9000000)["create"]
    assert lvb.snapshot_refusals(pflash, 10009000)["create"] is None
    efi = DOM.format(fw=" firmware='efi'", loader="", fmt="qcow2")
    assert "10.9" in lvb.snapshot_refusals(efi, 9000000)["create"]


def test_libvirt_snapshot_xml():
    xml = ("<domainsnapshot><name>s1</name><description>mine\n%s</description><state>running</state>"
           "<creationTime>1700000000</creationTime><memory snapshot='internal'/>"
           "<disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>" % sn.MARK)
    r = lvb.parse_snapshot(xml, 9000000)
    assert (r["name"], r["description"], r["managed"], r["memory"], r["created"], r["state"]) == \
        ("s1", "mine", True, True, 1700000000, "running")
    assert r["revert_refused"] is None
    ext = ("<domainsnapshot><name>e</name><state>disk-snapshot</state><memory snapshot='no'/>"
           "<disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>")
    r = lvb.parse_snapshot(ext, 9000000)
    assert not r["managed"] and not r["memory"] and r["state"] == "stopped" and "9.9" in r["revert_refused"]
    assert lvb.parse_snapshot(ext, 9009000)["revert_refused"] is None


# -- lxc ------------------------------------------------------------------------------------
def test_lxc_snapshot_dirs():
    ours = lxb.parse_snapshot_dir("snap3", lxb.SNAP_NAME + "base\nclean\n" + sn.MARK + "\n", "2026:12:02 05:38:04\n")
    assert (ours["name"], ours["id"], ours["description"], ours["managed"], ours["order"]) == \
        ("base", "snap3", "clean", True, 3)
    assert ours["created"] == 1796189884
    hand = lxb.parse_snapshot_dir("snap0", "an operator's note\n", None)
    assert (hand["name"], hand["description"], hand["managed"], hand["created"]) == \
        ("snap0", "an operator's note", False, None)


def test_lxc_info_parse_and_stats():
    info = gi.parse_lxc_info("Name: c1\nState: RUNNING\nPID: 42\nIP: 10.0.3.5\nIP: fd00::5\nCPU use: 1234\n"
                             "Memory use: 8388608\nLink: vethA\n TX bytes: 10\n RX bytes: 20\n")
    st = gi.lxc_stats(info, {"vcpus": None, "memory": 64,
                             "interfaces": [{"bridge": "br0", "mac": "00:16:3e:00:00:01"}]})
    assert st["cpu_time_ns"] == 1234 and st["pid"] == 42 and st["memory"] == {"current_mib": 8, "max_mib": 64}
    nic = st["interfaces"][0]
    assert nic["device"] == "vethA" and nic["rx_bytes"] == 20 and nic["tx_bytes"] == 10
    assert [a["type"] for a in nic["addresses"]] == ["ipv4", "ipv6"]


# -- xl save / restore ----------------------------------------------------------------------
def test_xl_save_restore_discard(tmp_path, xl_bin, confdir):  # noqa: F811
    running = ("Name  ID   Mem VCPUs\tState\tTime(s)\nDomain-0  0  1024  2  r-----  72.7\n"
               "vftest-u  3  96  1  -b----  1.5\n")
    state = {"running": False}

    def listing(_args):
        return 0, running if state["running"] else "Name ID Mem VCPUs State Time(s)\n", ""

    def save(args):
        open(args[2], "w").write("state")
        state["running"] = False
        return 0, "", ""

    def restore(_args):
        state["running"] = True
        return 0, "", ""

    fake = FakeXl({("list",): listing, ("save",): save, ("restore",): restore})
    save_dir = tmp_path / "save"
    be = xl_backend(confdir, fake)
    be.save_dir = str(save_dir)
    g = be.resolve(xl_spec(tmp_path, state="stopped"))
    be.apply(plan(g, None, be.caps), None)
    state["running"] = True  # started by hand
    be = xl_backend(confdir, fake)
    be.save_dir = str(save_dir)
    cur = be.current("vftest-u")
    assert cur["state"] == "running"
    p = plan(be.resolve(xl_spec(tmp_path, state="saved")), cur, be.caps)
    assert p["actions"] == ["save"]
    be.apply(p, cur)
    path = save_dir / "vftest-u.save"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(save_dir.stat().st_mode) == 0o700
    assert ("save", "vftest-u", str(path) + ".part") in [tuple(c) for c in fake.xl_calls()]
    cur = be.current("vftest-u")
    assert cur["state"] == "saved" and be.final_state("vftest-u") == "saved"
    assert gi.definition(be, "vftest-u")["format"] == "xl"
    p = plan(be.resolve(xl_spec(tmp_path, state="running")), cur, be.caps)
    assert p["actions"] == ["restore"]
    be.apply(p, cur)
    assert ("restore", str(confdir / "vftest-u.cfg"), str(path)) in [tuple(c) for c in fake.xl_calls()]
    assert not path.exists() and be.current("vftest-u")["state"] == "running"
    # saved -> stopped drops the file; saved -> absent too
    be.apply(plan(be.resolve(xl_spec(tmp_path, state="saved")), be.current("vftest-u"), be.caps),
             be.current("vftest-u"))
    p = plan(be.resolve(xl_spec(tmp_path, state="stopped")), be.current("vftest-u"), be.caps)
    assert p["actions"] == ["discard saved state"]
    be.apply(p, be.current("vftest-u"))
    assert not path.exists() and be.current("vftest-u")["state"] == "stopped"
    assert os.listdir(str(save_dir)) == []


def test_xl_snapshots_refused_by_name(xl_bin, confdir):  # noqa: F811
    be = xl_backend(confdir, FakeXl())
    with pytest.raises(UnsupportedChange, match="backend xl has no snapshots: the xl toolstack keeps none"):
        be.snapshot_read("g")
    assert isinstance(BackendError("x"), Exception)
