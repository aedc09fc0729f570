"""The keys of issue 16, rendered and compared by meaning with what virt-install (the oracle)
prints for the same request (fixtures/oracle-virt-install.json, recorded by
fixtures/record_oracle.py), and with what the real libvirtd wrote back for a guest defined by
the guest module (fixtures/domain-model-*.xml, recorded by fixtures/record.py)."""

import json
import os
import subprocess
import tempfile

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params, view
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._render_libvirt import parse_domain, render_domain

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
with open(os.path.join(FIX, "oracle-virt-install.json")) as _f:
    ORACLE = json.load(_f)
CAPS = LibvirtBackend.caps


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def resolved(spec):
    """guest_from_params + what the backend's resolve fills in for the renderer."""
    g = guest_from_params(dict({"virt_type": "qemu", "memory": 64}, **spec))
    for d in g["disks"]:
        if d["path"]:
            d["format"] = d["format"] or "raw"
            d["is_block"] = d["path"].startswith("/dev/")
    return g


def same_meaning(key, want, oracle):
    if key == "disks":
        return mdev.same_disks(want, oracle)
    if key == "interfaces":
        return mdev.same_nics(want, oracle)
    if key == "graphics":
        return {k: v for k, v in want.items() if k != "port"} == {k: v for k, v in oracle.items() if k != "port"}
    return want == oracle


@pytest.mark.parametrize("case", ORACLE["cases"], ids=[c["name"] for c in ORACLE["cases"]])
def test_rendered_means_what_virt_install_prints(case):
    spec = dict(case["spec"], name=case["argv"][1])
    g = resolved(spec)
    ours, oracle = parse_domain(render_domain(g)), parse_domain(case["xml"])
    for key in case["spec"]:
        if key in ("hugepages",):
            continue
        assert same_meaning(key, ours[key], oracle[key]), (key, ours[key], oracle[key])
        assert same_meaning(key, g[key], oracle[key]) or key in ("machine",), (key, g[key], oracle[key])


@pytest.mark.parametrize("case", ORACLE["cases"], ids=[c["name"] for c in ORACLE["cases"]])
def test_rendered_xml_passes_the_libvirt_schema(case):
    xml = render_domain(resolved(dict(case["spec"], name=case["argv"][1])))
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
        f.write(xml)
        f.flush()
        proc = subprocess.run(["virt-xml-validate", f.name, "domain"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr + xml


def test_oracle_and_libvirt_agree_on_the_whole_install_case():
    """The oracle's XML, read as the current definition, plans as unchanged: ours means the same."""
    case = ORACLE["cases"][0]
    g = resolved(dict(case["spec"], name=case["argv"][1]))
    config = parse_domain(case["xml"])
    p = plan(g, {"config": config, "config_xml": case["xml"], "live": None, "state": "stopped",
                 "autostart": False, "managed": True}, CAPS)
    changed = {f["field"] for f in p["fields"]} - {"fleet", "cpu_mode", "machine", "disks[0].size"}
    assert not changed, p["fields"]


def test_recorded_definition_round_trips():
    """What libvirtd wrote back for a guest with every key is parsed to the declared model,
    and re-rendering it changes nothing."""
    xml = fixture("domain-model-inactive.xml")
    spec = json.loads(fixture("domain-model-spec.json"))
    g = resolved(spec)
    current = parse_domain(xml)
    p = plan(g, {"config": current, "config_xml": xml, "live": None, "state": "stopped", "autostart": False,
                 "managed": True}, CAPS)
    assert not p["changed"], p["fields"]
    again = parse_domain(render_domain(p["desired"], xml))
    for key in mdev.GUEST_KEYS:
        assert again[key] == current[key], key


def test_recorded_running_guest_is_unchanged_and_live_rules():
    xml, live_xml = fixture("domain-model-inactive.xml"), fixture("domain-model-live.xml")
    spec = json.loads(fixture("domain-model-spec.json"))
    spec["state"] = "running"
    config = parse_domain(xml)
    cur = {"config": config, "config_xml": xml, "live": parse_domain(live_xml, config=config), "state": "running",
           "autostart": False, "managed": True}
    p = plan(resolved(spec), cur, CAPS)
    assert not p["changed"] and not p["restart_fields"], (p["fields"], p["restart_fields"])
    disks = [dict(d) for d in spec["disks"]]
    disks[0]["iotune"] = {"read_iops_sec": 7}
    nics = [dict(n, link="down") for n in spec["interfaces"]]
    p = plan(resolved(dict(spec, disks=disks, interfaces=nics, boot=["hd"], tags=["x"])), cur, CAPS)
    kinds = {f["field"]: f["apply"] for f in p["fields"]}
    assert kinds == {"disks": "live", "interfaces": "live", "boot": "restart", "tags": "config"}, kinds
    assert [op[0] for op in p["live_ops"]] == ["set_iotune", "set_link"]
    disks = [dict(d) for d in spec["disks"]]
    disks[0]["cache"] = "writeback"
    p = plan(resolved(dict(spec, disks=disks)), cur, CAPS)
    assert p["restart_fields"] == ["disks"]


def test_password_is_masked_in_views():
    g = resolved({"name": "v", "graphics": {"type": "vnc", "password": "hunter2"}})
    assert "hunter2" not in json.dumps(view(g)) and g["graphics"]["password"] == "hunter2"


@pytest.mark.parametrize("spec, field", [
    ({"firmware": "bios", "secure_boot": True}, "secure_boot"),
    ({"disks": [{"path": "/x", "readonly": True, "size": "1G"}]}, "disks[0].size"),
    ({"disks": [{"device": "cdrom", "size": "1G"}]}, "disks[0].size"),
    ({"watchdog": {"action": "explode"}}, "watchdog.action"),
    ({"hostdevs": ["00:1f"]}, "hostdevs[0]"),
    ({"hostdevs": [{"pci": "0000:00:1f.9"}]}, "hostdevs[0].pci"),
    ({"boot": ["hd", "floppy"]}, "boot[1]"),
    ({"boot": ["hd", "hd"]}, "boot"),
    ({"graphics": {"type": "vnc", "password": "longer-than-8"}}, "graphics.password"),
    ({"graphics": {"type": "vnc", "port": 22}}, "graphics.port"),
    ({"cpu_topology": {"sockets": 2, "cores": 2}}, "cpu_topology"),
    ({"vcpu_pins": {3: "0"}}, "vcpu_pins"),
    ({"vcpu_pins": {0: "0-a"}}, "vcpu_pins.0"),
    ({"cpu_features": {"sse2": "maybe"}}, "cpu_features.sse2"),
    ({"cpu_features": ["sse2"]}, "cpu_features[0]"),
    ({"cpu_model": "qemu64", "cpu_mode": "host-model"}, "cpu_model"),
    ({"hugepage_size": "2M"}, "hugepage_size"),
    ({"interfaces": [{"network": "n", "vlan": 5000}]}, "interfaces[0].vlan"),
    ({"interfaces": [{"network": "n", "mode": "vepa"}]}, "interfaces[0].mode"),
    ({"interfaces": [{"network": "n", "bandwidth": {"inbound": {"peak": 5}}}]},
     "interfaces[0].bandwidth.inbound.average"),
    ({"interfaces": [{"network": "n", "direct": "eth0"}]}, "interfaces[0]"),
    ({"disks": [{"path": "/x", "target": "sda"}]}, "disks[0].target"),
    ({"disks": [{"path": "/x", "iotune": {"total_iops_sec": 5, "read_iops_sec": 5}}]}, "disks[0].iotune"),
    ({"disks": [{"path": "/x", "format": "qcow2"}]}, "disks[0].format"),
    ({"tags": ["ok", "not ok"]}, "tags[1]"),
    ({"numatune": {"mode": "strict"}}, "numatune.nodeset"),
])
def test_bad_input_names_guest_and_field(spec, field):
    with pytest.raises(SpecError) as e:
        resolved(dict(spec, name="g1"))
    assert "guest 'g1': %s:" % field in str(e.value), str(e.value)


@pytest.mark.parametrize("backend, spec, field", [
    ("xl", {"video": "vga"}, "video"),
    ("xl", {"tpm": True}, "tpm"),
    ("lxc", {"tpm": True}, "tpm"),
    ("lxc", {"disks": [{"path": "/srv", "cache": "none"}]}, "disks[0].cache"),
    ("xl", {"interfaces": [{"bridge": "xenbr0", "vlan": 3}]}, "interfaces[0].vlan"),
    ("lxc", {"disks": [{"path": "/x.img", "size": "1G"}]}, "disks[0].size"),
])
def test_other_backends_refuse_by_name(backend, spec, field):
    with pytest.raises(SpecError) as e:
        guest_from_params(dict(spec, name="g1"), backend)
    assert "guest 'g1': %s:" % field in str(e.value) and backend in str(e.value)
