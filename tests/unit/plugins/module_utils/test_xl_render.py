"""The xl cfg renderer/parser and the parsers of xl's output, on text recorded from the real
Xen 4.17 dom0 of the lab (fixtures/xl-*, made by fixtures/xl-record.py; see its docstring)."""

import json
import os

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_xl as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


PV_CFG = fixture("xl-rec-pv.cfg")
PVH_CFG = fixture("xl-rec-pvh.cfg")
LIST_L = fixture("xl-list-l.json")


def declared(**kw):
    raw = {"name": "g1", "xen_type": "pv", "memory": 300, "max_memory": 512, "vcpus": 1, "max_vcpus": 2,
           "cpu_shares": 512, "kernel": "/boot/vmlinuz", "ramdisk": "/boot/initrd.img",
           "extra": "console=hvc0 root=/dev/xvda1", "on_crash": "restart",
           "disks": [{"path": "/srv/g1.img"}, {"path": "/srv/g1.iso", "device": "cdrom", "bus": "ide"}],
           "interfaces": [{"bridge": "br0", "mac": "00:16:3E:00:00:01"},
                          {"bridge": "br1", "model": "e1000", "mac": "00:16:3e:00:00:02"}]}
    raw.update(kw)
    g = guest_from_params(raw, "xl")
    for d in g["disks"]:
        d["format"] = "raw"
    return g


COMPARED = ("name", "xen_type", "memory", "max_memory", "vcpus", "max_vcpus", "cpu_shares", "kernel",
            "ramdisk", "extra", "on_crash", "fleet")


def _disk_keys(disks):
    return [(d["device"], d["bus"], d["path"], d["readonly"]) for d in disks]


def _nic_keys(nics):
    return [(n["bridge"], n["model"], n["mac"]) for n in nics]


def same_meaning(model, guest):
    for k in COMPARED:
        assert model[k] == guest[k], k
    assert _disk_keys(model["disks"]) == _disk_keys(guest["disks"])
    assert _nic_keys(model["interfaces"]) == _nic_keys(guest["interfaces"])


# --- render <-> parse -------------------------------------------------------------------

def test_render_then_parse_is_the_same_guest():
    g = declared()
    text = render.render_cfg(g)
    model = render.parse_cfg_model(text)
    same_meaning(model, g)
    assert model["managed"] and model["fleet"] == "default"
    for line in ('type = "pv"', "memory = 300", "maxmem = 512", "vcpus = 1", "maxvcpus = 2", "weight = 512",
                 'on_crash = "restart"', '"format=raw, vdev=xvda, access=rw, target=/srv/g1.img"',
                 '"format=raw, vdev=hda, access=ro, devtype=cdrom, target=/srv/g1.iso"',
                 '"mac=00:16:3e:00:00:01, bridge=br0"', '"mac=00:16:3e:00:00:02, bridge=br1, model=e1000"',
                 'virtfleet_fleet = "default"'):
        assert line in text, line


def test_rendering_the_current_file_again_changes_nothing():
    text = render.render_cfg(declared())
    assert render.render_cfg(declared(), text) == text


def test_recorded_cfgs_parse_to_what_was_declared():
    """xl-record.py declared these two guests (after the PV one's live update)."""
    pv = render.parse_cfg_model(PV_CFG)
    assert (pv["name"], pv["xen_type"], pv["memory"], pv["max_memory"], pv["vcpus"], pv["max_vcpus"],
            pv["cpu_shares"], pv["on_crash"]) == ("vftest-rec-pv", "pv", 112, 128, 2, 2, 512, "restart")
    assert pv["ramdisk"] == "/var/lib/virtfleet-lab/guest-initrd.img" and pv["kernel"].startswith("/boot/vmlinuz-")
    assert _disk_keys(pv["disks"]) == [("disk", "virtio", "/var/lib/virtfleet-test/rec.img", False)]
    assert pv["interfaces"][0]["bridge"] == "vftestbr0" and pv["interfaces"][0]["mac"].startswith("00:16:3e:")
    assert pv["managed"] and pv["fleet"] == "default"
    pvh = render.parse_cfg_model(PVH_CFG)
    assert (pvh["xen_type"], pvh["memory"], pvh["max_memory"], pvh["disks"], pvh["interfaces"]) == (
        "pvh", 96, None, [], [])


def test_comments_order_quoting_and_spelling_do_not_count():
    g = declared()
    hand = """# hand-written, same meaning
name='g1'; type = 'pv'
vif = [ 'bridge=br1,model=e1000,mac=00:16:3E:00:00:02', ]
vif = [ 'mac=00:16:3e:00:00:01,bridge=br0',   # the first one
        'bridge=br1,model=e1000,mac=00:16:3E:00:00:02' ]
memory=0x12c
maxmem = 512 ; vcpus=1 ; maxvcpus=2
weight = 512
kernel="/boot/vmlinuz"
ramdisk = "/boot/initrd.img"
cmdline = "console=hvc0 root=/dev/xvda1"
on_crash = 'restart'
disk=['phy:/srv/g1.img,xvda,w', '/srv/g1.iso,raw,hda:cdrom,r']
virtfleet_fleet='default'
"""
    same_meaning(render.parse_cfg_model(hand), g)


def test_unmanaged_keys_are_kept_verbatim_and_undeclared_keys_left_alone():
    old = render.render_cfg(declared()) + "vfb = [ 'vnc=1, vnclisten=127.0.0.1' ]\non_poweroff='destroy'\n"
    g = declared(memory=256)
    g["cpu_shares"] = g["on_crash"] = None  # not declared: what the file says stays
    text = render.render_cfg(g, old)
    assert "vfb = [ 'vnc=1, vnclisten=127.0.0.1' ]" in text and "on_poweroff='destroy'" in text
    model = render.parse_cfg_model(text)
    assert (model["memory"], model["cpu_shares"], model["on_crash"]) == (256, 512, "restart")


def test_strings_are_escaped_both_ways():
    extra = 'console=hvc0 msg="a \\ b" \'q\'\ttab'
    text = render.render_cfg(declared(extra=extra))
    assert render.parse_cfg_model(text)["extra"] == extra


@pytest.mark.parametrize("spec, want", [
    ("format=raw, vdev=xvda, access=rw, target=/a,b.img", ("/a,b.img", "raw", "xvda", "rw", None)),
    ("phy:/dev/vg/x,xvdb,w", ("/dev/vg/x", None, "xvdb", "w", None)),
    ("file:/srv/x.img,xvda,r", ("/srv/x.img", None, "xvda", "r", None)),
    ("tap:qcow2:/srv/x.qcow2,xvdc,w", ("/srv/x.qcow2", "qcow2", "xvdc", "w", None)),
    ("/srv/x.iso,raw,hdc:cdrom,r", ("/srv/x.iso", "raw", "hdc", "r", "cdrom")),
    ("/srv/x.qcow2,qcow2,xvda,rw", ("/srv/x.qcow2", "qcow2", "xvda", "rw", None)),
    ("vdev=hdc, access=ro, devtype=cdrom, target=/srv/y.iso", ("/srv/y.iso", None, "hdc", "ro", "cdrom")),
    ("vdev=sda, cdrom, target=/srv/z.iso", ("/srv/z.iso", None, "sda", None, "cdrom")),
])
def test_disk_specs(spec, want):
    d = render.parse_disk_spec(spec)
    assert (d["target"], d["format"], d["vdev"], d["access"], d["devtype"]) == want


def test_vdev_lettering_and_bus():
    assert _model.disk_letters(0) == "a" and _model.disk_letters(25) == "z" and _model.disk_letters(26) == "aa"
    assert [render.bus_of_vdev(v) for v in ("xvdb", "hdc", "sdaa", "vda")] == ["virtio", "ide", "scsi", None]


@pytest.mark.parametrize("text", ["memory = ", "= 5", "disk = [ 'a', [ 'b' ] ]", "name = 'x' 'y'",
                                  "name = \"unterminated\n", "kernel = '/a' $"])
def test_bad_syntax_is_a_cfg_error(text):
    with pytest.raises(render.CfgError):
        render.parse_cfg(text)


def test_plus_equals_appends():
    cfg = render.parse_cfg("disk = ['a']\ndisk += ['b']\nextra = 'x'\nextra += ' y'\n")
    assert cfg == {"disk": ["a", "b"], "extra": "x y"}


def test_type_defaults_and_legacy_builder():
    assert render.parse_cfg_model("name='a'\n")["xen_type"] == "pv"  # xl's own default
    assert render.parse_cfg_model("builder='hvm'\n")["xen_type"] == "hvm"
    assert render.parse_cfg_model("type='PVH'\n")["xen_type"] == "pvh"


# --- xl output --------------------------------------------------------------------------

def test_xl_info():
    info = render.parse_xl_info(fixture("xl-info.txt"))
    assert info["xen_version"].startswith("4.17") and info["xen_scheduler"] == "credit2"
    assert int(info["total_memory"]) >= int(info["free_memory"]) > 0
    assert "hvm" in info["virt_caps"].split() and info["nr_cpus"] == "2"
    assert info["xen_commandline"].startswith("console=com1 dom0_mem=1024M")


def test_xl_list():
    doms = render.parse_xl_list(fixture("xl-list.txt"))
    assert doms["Domain-0"]["domid"] == 0 and doms["Domain-0"]["state"] == "running"
    assert doms["vftest-rec-pv"]["state"] == "running" and doms["vftest-rec-pv"]["memory"] == 112
    assert doms["vftest-rec-pvh"]["state"] == "paused" and "p" in doms["vftest-rec-pvh"]["flags"]
    assert render.parse_xl_list("Name ID Mem VCPUs State Time(s)\n") == {}


def test_xl_list_l_json_live_values():
    doms = render.parse_xl_list_json(LIST_L)
    assert set(doms) == {"Domain-0", "vftest-rec-pv", "vftest-rec-pvh"}
    pv = doms["vftest-rec-pv"]
    # the live memory target, vCPU availability and weight after mem-set/vcpu-set/sched-credit2
    assert (pv["memory"], pv["max_memory"], pv["vcpus"], pv["max_vcpus"], pv["cpu_shares"]) == (112, 128, 2, 2, 512)
    assert (pv["xen_type"], pv["sched"], pv["on_crash"]) == ("pv", "credit2", "restart")
    assert pv["extra"] == "console=hvc0 sysctl.kernel.poweroff_cmd=/bin/poweroff"
    assert _disk_keys(pv["disks"]) == [("disk", "virtio", "/var/lib/virtfleet-test/rec.img", False)]
    cfg = render.parse_cfg_model(PV_CFG)
    assert _nic_keys(pv["interfaces"]) == _nic_keys(cfg["interfaces"])
    for k in ("kernel", "ramdisk", "extra", "memory", "max_memory", "vcpus", "max_vcpus", "cpu_shares"):
        assert pv[k] == cfg[k], k  # what runs is what the file says
    pvh = doms["vftest-rec-pvh"]
    assert (pvh["xen_type"], pvh["memory"], pvh["on_crash"]) == ("pvh", 96, "destroy")  # libxl omits the default
    assert doms["Domain-0"]["domid"] == 0 and doms["Domain-0"]["memory"] == 1023


def test_xl_list_l_readonly_disk_without_readwrite_key():
    item = {"domid": 3, "config": {"c_info": {"type": "pv", "name": "x"}, "b_info": {},
                                   "disks": [{"pdev_path": "/a.img", "vdev": "xvdb", "format": "raw"}],
                                   "on_crash": "restart_rename"}}
    x = render.parse_xl_list_json(json.dumps([item]))["x"]
    assert x["disks"][0]["readonly"] and x["on_crash"] == "rename-restart"
