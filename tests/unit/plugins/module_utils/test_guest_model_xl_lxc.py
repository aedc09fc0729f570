"""Issue 16 on xl and lxc: the keys of docs/guest-model.md where the toolstack has a meaning for
them (rendered, read back, compared by meaning, live / restart / config), refused by name
where it has none, before anything changes."""

import json
import os
import stat

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_lxc as RL
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_xl as RX
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import lxc as lxc_backend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import LxcBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params, view
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan

from test_lxc_render import converge_fake, fake  # noqa: F401 pylint: disable=unused-import
from test_xl_backend import FakeXl, backend as xl_backend, confdir, xl_bin  # noqa: F401 pylint: disable=unused-import

HVM = {"name": "vftest-h", "xen_type": "hvm", "memory": 96, "vcpus": 2, "state": "stopped",
       "boot": ["cdrom", "hd"], "firmware": "bios", "serial": True,
       "graphics": {"type": "vnc", "password": "s3cret"}, "vcpu_pins": {0: "1", 1: "0-1"},
       "title": "web", "description": "two\nlines", "tags": ["b", "a"]}


# -- xl: render <-> parse ---------------------------------------------------------------------
def test_xl_hvm_keys_render_as_xl_spells_them_and_read_back():
    g = guest_from_params(dict(HVM), "xl")
    text = RX.render_cfg(dict(g, disks=[], interfaces=[]))
    cfg = RX.parse_cfg(text)
    assert (cfg["boot"], cfg["bios"], cfg["serial"]) == ("dc", "seabios", "pty")
    assert (cfg["vnc"], cfg["vnclisten"], cfg["vncpasswd"], cfg["vncunused"]) == (1, "127.0.0.1", "s3cret", 1)
    assert "vncdisplay" not in cfg
    assert cfg["cpus"] == ["1", "0-1"]
    assert cfg["virtfleet_tags"] == ["a", "b"] and cfg["virtfleet_description"] == "two\nlines"
    back = RX.parse_cfg_model(text)
    for key in ("boot", "firmware", "graphics", "serial", "vcpu_pins", "title", "description", "tags"):
        assert back[key] == g[key], key
    assert view(back)["graphics"]["password"] == "********"


def test_xl_fixed_port_uefi_none_and_removals():
    g = guest_from_params(dict(HVM, graphics={"type": "vnc", "port": 5907, "listen": "0.0.0.0"}, firmware="uefi",
                               vcpu_pins={2: "1"}, vcpus=3), "xl")
    cfg = RX.parse_cfg(RX.render_cfg(dict(g, disks=[], interfaces=[])))
    assert (cfg["bios"], cfg["vncdisplay"], cfg["vncunused"], cfg["vnclisten"]) == ("ovmf", 7, 0, "0.0.0.0")
    assert cfg["cpus"] == ["all", "all", "1"]  # vCPUs 0 and 1 are not pinned
    back = RX.parse_cfg_model(RX.render_cfg(dict(g, disks=[], interfaces=[])))
    assert back["graphics"]["port"] == 5907 and back["vcpu_pins"] == {2: "1"} and back["firmware"] == "uefi"
    # graphics none, serial false, no pins, no labels: the keys go
    off = guest_from_params(dict(HVM, graphics="none", serial=False, vcpu_pins={}, tags=[], title="",
                                 description=""), "xl")
    text = RX.render_cfg(dict(off, disks=[], interfaces=[]), RX.render_cfg(dict(g, disks=[], interfaces=[])))
    cfg = RX.parse_cfg(text)
    assert cfg["vnc"] == 0 and not {"vnclisten", "vncpasswd", "vncdisplay", "serial", "cpus", "virtfleet_tags",
                                    "virtfleet_title"} & set(cfg)
    back = RX.parse_cfg_model(text)
    assert (back["graphics"]["type"], back["serial"], back["vcpu_pins"], back["tags"]) == ("none", False, {}, [])


def test_xl_undeclared_keys_stay_as_the_file_has_them():
    mine = 'name = "vftest-h"\ntype = "hvm"\nvnc = 1\nvncdisplay = 3\nvncunused = 0\nboot = "n"\ncpus = "0"\n'
    g = guest_from_params({"name": "vftest-h", "xen_type": "hvm", "state": "stopped"}, "xl")
    cfg = RX.parse_cfg(RX.render_cfg(dict(g, disks=[], interfaces=[]), mine))
    assert (cfg["vnc"], cfg["vncdisplay"], cfg["boot"], cfg["cpus"]) == (1, 3, "n", "0")


def test_xl_cpus_string_pins_every_vcpu():
    assert RX.pins_from("0-1", 2) == {0: "0-1", 1: "0-1"}
    assert RX.pins_from(["1", "all", " 0 "], 3) == {0: "1", 2: "0"}


def test_xl_live_fields_from_libxl_json():
    config = {"c_info": {"type": "hvm", "name": "vftest-h"},
              "b_info": {"max_vcpus": 2, "vcpu_hard_affinity": [[1], [0, 1, 2, 3, 4, 5, 6, 7]],
                         "type.hvm": {"bios": "ovmf", "boot": "dc", "serial": "pty",
                                      "vnc": {"enable": "True", "listen": "127.0.0.1", "findunused": "True"}}}}
    live = RX.model_from_domain_config(config)
    assert (live["boot"], live["firmware"], live["serial"]) == (["cdrom", "hd"], "uefi", True)
    assert live["graphics"] == {"type": "vnc", "listen": "127.0.0.1", "port": None, "password": None}
    assert RX.live_pins(live["vcpu_pins"], 2) == {0: "1"}  # vCPU 1 may run anywhere: not pinned
    pv = RX.model_from_domain_config({"c_info": {"type": "pv", "name": "p"}, "b_info": {}})
    assert (pv["boot"], pv["graphics"], pv["serial"], pv["vcpu_pins"]) == (None, None, None, {})
    # what guest_info shows of a pv guest feeds back into the guest module: no HVM-only key
    cfg = RX.parse_cfg_model('name = "p"\ntype = "pv"\nkernel = "/k"\n')
    assert (cfg["boot"], cfg["firmware"], cfg["graphics"], cfg["serial"]) == (None, None, None, None)


# -- xl: the backend ----------------------------------------------------------------------------
def test_xl_pv_guest_refuses_the_hvm_keys_by_name(tmp_path, xl_bin, confdir):
    be = xl_backend(confdir, FakeXl())
    kernel = tmp_path / "vmlinuz"
    kernel.write_text("k")
    for key, value in (("boot", ["hd"]), ("graphics", "vnc"), ("serial", True), ("firmware", "bios")):
        g = guest_from_params({"name": "vftest-p", "xen_type": "pv", "kernel": str(kernel), key: value}, "xl")
        with pytest.raises(SpecError) as e:
            be.resolve(g)
        assert str(e.value).startswith("guest 'vftest-p': %s: only for xen_type hvm on backend xl" % key)
    assert os.listdir(str(confdir)) == []


@pytest.mark.parametrize("raw, field, words", [
    ({"graphics": "spice"}, "graphics.type", "vnc or none"),
    ({"firmware": "uefi"}, "firmware", "OVMF is not installed"),
    ({"vcpus": 2, "vcpu_pins": {1: "0-5"}}, "vcpu_pins.1", "host CPU 2 does not exist (this dom0 has 2)"),
    ({"disks": [{"path": "/nonexistent-dir/x.img", "size": "1M"}]}, "disks[0].path", "directory"),
    ({"disks": [{"path": "/tmp/vftest-absent.img"}]}, "disks[0].path", "give size"),
])
def test_xl_refusals_name_guest_and_field(xl_bin, confdir, monkeypatch, raw, field, words):
    monkeypatch.setattr(RX, "OVMF", str(confdir / "no-ovmf.fd"))
    be = xl_backend(confdir, FakeXl())
    g = guest_from_params(dict({"name": "vftest-h", "xen_type": "hvm"}, **raw), "xl")
    with pytest.raises(SpecError) as e:
        be.resolve(g)
    assert str(e.value).startswith("guest 'vftest-h': %s: " % field) and words in str(e.value), str(e.value)
    assert os.listdir(str(confdir)) == []


def test_xl_qcow2_needs_qemu_img(tmp_path, xl_bin, confdir):
    be = xl_backend(confdir, FakeXl())  # PATH has xl and timeout only
    g = guest_from_params({"name": "vftest-h", "xen_type": "hvm",
                           "disks": [{"path": str(tmp_path / "d.qcow2"), "size": "1M", "format": "qcow2"}]}, "xl")
    with pytest.raises(SpecError) as e:
        be.resolve(g)
    assert "disks[0].format: a qcow2 file is made with qemu-img" in str(e.value)


def test_xl_uefi_with_ovmf_installed(xl_bin, confdir, monkeypatch):
    ovmf = confdir / "OVMF.fd"
    ovmf.write_text("fw")
    monkeypatch.setattr(RX, "OVMF", str(ovmf))
    be = xl_backend(confdir, FakeXl())
    g = be.resolve(guest_from_params({"name": "vftest-h", "xen_type": "hvm", "firmware": "uefi",
                                      "state": "stopped"}, "xl"))
    be.apply(plan(g, None, be.caps), None)
    assert RX.parse_cfg((confdir / "vftest-h.cfg").read_text())["bios"] == "ovmf"


def test_xl_path_disk_with_size_is_created_once_and_never_shrunk(tmp_path, xl_bin, confdir):
    img = tmp_path / "vftest-h.img"
    declared = dict(HVM, disks=[{"path": str(img), "size": "3MiB"}])
    be = xl_backend(confdir, FakeXl())
    p = plan(be.resolve(guest_from_params(dict(declared), "xl")), None, be.caps)
    assert "create %s (raw, %d bytes)" % (img, 3 << 20) in p["actions"]
    assert {"field": "disks[0].size", "apply": "config"} in p["fields"]
    assert not img.exists()  # planning changes nothing
    be.apply(p, None)
    st = img.stat()
    assert st.st_size == 3 << 20 and stat.S_IMODE(st.st_mode) == 0o600 and st.st_blocks == 0  # sparse
    cfg = RX.parse_cfg((confdir / "vftest-h.cfg").read_text())
    assert cfg["disk"] == ["format=raw, vdev=xvda, access=rw, target=%s" % img]
    be = xl_backend(confdir, FakeXl())
    again = plan(be.resolve(guest_from_params(dict(declared), "xl")), be.current("vftest-h"), be.caps)
    assert not again["changed"], again
    # a smaller size later: the file is never shrunk (nor grown: xl creates, only)
    smaller = dict(declared, disks=[{"path": str(img), "size": "1MiB"}])
    be = xl_backend(confdir, FakeXl())
    p = plan(be.resolve(guest_from_params(smaller, "xl")), be.current("vftest-h"), be.caps)
    assert not p["changed"] and img.stat().st_size == 3 << 20


def test_xl_second_run_unchanged_and_restart_classes(tmp_path, xl_bin, confdir):
    be = xl_backend(confdir, FakeXl())
    be.apply(plan(be.resolve(guest_from_params(dict(HVM), "xl")), None, be.caps), None)
    be = xl_backend(confdir, FakeXl())
    cur = be.current("vftest-h")
    assert not plan(be.resolve(guest_from_params(dict(HVM), "xl")), cur, be.caps)["changed"]
    changed = dict(HVM, boot=["hd"], tags=["c"], vcpu_pins={0: "0"})
    p = plan(be.resolve(guest_from_params(changed, "xl")), cur, be.caps)
    assert {f["field"] for f in p["fields"]} == {"boot", "tags", "vcpu_pins"}
    # a running guest: labels are metadata (config), pins and boot wait for a restart
    live = dict(cur["config"], vcpu_pins={0: "1", 1: "0-1"})
    running = dict(cur, state="running", live=live)
    p = plan(be.resolve(guest_from_params(dict(changed, state="running"), "xl")), running, be.caps)
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"boot": "restart", "vcpu_pins": "restart",
                                                             "tags": "config"}
    assert p["restart_fields"] == ["boot", "vcpu_pins"]


# -- lxc ----------------------------------------------------------------------------------------
def _declared(**kw):
    g = {"autostart": False, "memory": None, "vcpus": None, "cpu_shares": None, "interfaces": [], "disks": []}
    g.update(kw)
    return g


def test_lxc_cpuset_and_nesting_render_and_read_back():
    text = RL.render([], _declared(cpuset="0", nesting=True), 1)
    vals = RL.meaning(RL.parse(text))
    assert vals["lxc.cgroup.cpuset.cpus"] == ["0"] and vals["lxc.include"] == [RL.NESTING_CONF]
    model = RL.to_model(RL.parse(text), 1)
    assert (model["cpuset"], model["nesting"]) == ("0", True)
    v2 = RL.meaning(RL.parse(RL.render([], _declared(cpuset="0-1"), 2)))
    assert v2["lxc.cgroup2.cpuset.cpus"] == ["0-1"]
    # left out: the lines stay; declared false / another set: replaced
    kept = RL.render(RL.parse(text), _declared(), 1)
    assert RL.meaning(RL.parse(kept))["lxc.cgroup.cpuset.cpus"] == ["0"] and RL.to_model(RL.parse(kept), 1)["nesting"]
    off = RL.to_model(RL.parse(RL.render(RL.parse(text), _declared(cpuset="1", nesting=False), 1)), 1)
    assert (off["cpuset"], off["nesting"]) == ("1", False)


@pytest.mark.parametrize("raw, field, words", [
    ({"lxc.cgroup.cpuset.cpus": "0"}, "config.lxc.cgroup.cpuset.cpus", "use the 'cpuset' option"),
    ({"lxc.include": RL.NESTING_CONF}, "config.lxc.include", "use the 'nesting' option"),
])
def test_lxc_raw_config_of_a_managed_key_is_refused(raw, field, words):
    with pytest.raises(SpecError) as e:
        RL.normalize_config("c1", raw, 0)
    assert e.value.field == field and words in str(e.value)


def test_lxc_cpuset_live_labels_in_the_marker_nesting_restart(fake, monkeypatch):
    monkeypatch.setattr(lxc_backend, "host_cpus", lambda: {0, 1})
    base = {"name": "c1", "state": "running", "cpuset": "0", "title": "db", "tags": ["x"]}
    converge_fake(fake, base)
    with open(os.path.join(fake.path, "c1", "virtfleet.json")) as f:
        assert json.load(f)["labels"] == {"title": "db", "tags": ["x"]}
    fake.cgroups["c1"] = {"cpuset.cpus": "0"}
    assert not converge_fake(fake, base)["changed"]
    n = len(fake.calls)
    p = converge_fake(fake, dict(base, cpuset="1", tags=["y"], nesting=True))
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"cpuset": "live", "nesting": "restart",
                                                             "tags": "config"}
    assert ["lxc-cgroup", "-P", fake.path, "-n", "c1", "cpuset.cpus", "1"] in fake.calls[n:]
    with open(os.path.join(fake.path, "c1", "virtfleet.json")) as f:
        assert json.load(f)["labels"] == {"title": "db", "tags": ["y"]}
    with open(os.path.join(fake.path, "c1", "config")) as f:
        vals = RL.meaning(RL.parse(f.read()))
    assert vals["lxc.cgroup.cpuset.cpus"] == ["1"] and vals["lxc.include"] == [RL.NESTING_CONF]


@pytest.mark.parametrize("raw, field, words", [
    ({"cpuset": "0-7"}, "cpuset", "host CPU 2 does not exist (this host has 0-1)"),
    ({"cpuset": "x"}, "cpuset", "expected a CPU list"),
    ({"firmware": "uefi"}, "firmware", "not supported by backend lxc (only libvirt, xl)"),
    ({"boot": ["hd"]}, "boot", "not supported by backend lxc (only libvirt, xl)"),
    ({"graphics": "vnc"}, "graphics", "not supported by backend lxc (only libvirt, xl)"),
    ({"tpm": True}, "tpm", "not supported by backend lxc (only libvirt)"),
    ({"vcpu_pins": {0: "0"}}, "vcpu_pins", "not supported by backend lxc (only libvirt, xl)"),
    ({"disks": [{"device": "cdrom", "path": "/srv"}]}, "disks[0].device", "a container has no cdrom"),
    ({"disks": [{"path": "/srv", "iotune": {"total_iops_sec": 5}}]}, "disks[0].iotune", "backend lxc"),
])
def test_lxc_refusals_name_guest_and_field(fake, monkeypatch, raw, field, words):
    monkeypatch.setattr(lxc_backend, "host_cpus", lambda: {0, 1})
    with pytest.raises(SpecError) as e:
        converge_fake(fake, dict({"name": "c1"}, **raw))
    assert str(e.value).startswith("guest 'c1': %s: " % field) and words in str(e.value), str(e.value)
    assert os.listdir(fake.path) == [] and fake.states == {}


def test_xl_refuses_container_keys_by_name():
    for key, value in (("cpuset", "0"), ("nesting", True)):
        with pytest.raises(SpecError) as e:
            guest_from_params({"name": "g1", key: value}, "xl")
        assert str(e.value) == "guest 'g1': %s: not supported by backend xl (only lxc)" % key
    assert LxcBackend.caps.live["cpuset"] == "any"


def test_xl_definition_shown_by_guest_info_masks_the_vnc_password():
    g = guest_from_params(dict(HVM), "xl")
    text = RX.render_cfg(dict(g, disks=[], interfaces=[]))
    masked = RX.mask_secrets(text)
    assert "s3cret" in text and "s3cret" not in masked and 'vncpasswd = "********"' in masked
    assert RX.parse_cfg(masked)["vnclisten"] == "127.0.0.1" and RX.mask_secrets("memory = 1\n") == "memory = 1\n"
    assert "s3cret" not in RX.mask_secrets('vncpasswd = "s3cret\n')  # not valid xl: hidden all the same
