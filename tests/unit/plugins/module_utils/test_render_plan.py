"""Renderer and planner on domain XML recorded from the real libvirtd (fixtures/record.py)."""

import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend

CAPS = LibvirtBackend.caps
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._render_libvirt import (
    marker, parse_domain, render_domain)

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


CONFIG_XML = fixture("domain-running-inactive.xml")
LIVE_XML = fixture("domain-running-live.xml")
NET = "vftest-rec-net"


def declared(**kw):
    spec = {"name": "vftest-rec-full", "virt_type": "qemu", "memory": 64, "max_memory": 128,
            "vcpus": 1, "max_vcpus": 2, "cpu_shares": 1024, "state": "running",
            "interfaces": [{"network": NET}], "disks": [{"path": "/dev/null", "device": "cdrom"}]}
    spec.update(kw)
    return guest_from_params(spec)


def current(state="running"):
    config = parse_domain(CONFIG_XML)
    live = parse_domain(LIVE_XML, config_cpu_mode=config["cpu_mode"]) if state != "stopped" else None
    return {"config": config, "config_xml": CONFIG_XML, "live": live, "state": state,
            "autostart": False, "managed": config["managed"]}


def test_parse_ignores_libvirt_defaults():
    config, live = parse_domain(CONFIG_XML), parse_domain(LIVE_XML)
    assert config["managed"] and live["managed"]
    for key in ("vcpus", "max_vcpus", "max_memory", "cpu_shares", "disks", "machine"):
        assert config[key] == live[key], key
    # the live balloon size is what the (OS-less) guest reached, not the target
    assert (config["memory"], live["memory"]) == (64, 128)
    assert config["cpu_mode"] == "default"  # libvirt's expanded qemu64 model is the default
    assert config["interfaces"][0]["mac"].startswith("52:54:00:")


def test_recorded_guest_is_unchanged():
    p = plan(declared(), current(), CAPS)
    assert not p["changed"] and p["actions"] == [] and not p["restart_required"]


def test_generated_mac_is_carried_not_churned():
    p = plan(declared(), current(), CAPS)
    assert p["desired"]["interfaces"][0]["mac"] == parse_domain(CONFIG_XML)["interfaces"][0]["mac"]


@pytest.mark.parametrize("change, apply, op", [
    ({"memory": 100}, "live", "set_memory"),
    ({"memory": 200, "max_memory": 256}, "restart", None),
    ({"vcpus": 2}, "live", "set_vcpus"),
    ({"cpu_shares": 10}, "live", "set_cpu_shares"),
    ({"cpu_mode": "host-model"}, "restart", None),
    ({"hugepages": True}, "restart", None),
    ({"interfaces": []}, "live", "detach_interface"),
    ({"disks": []}, "restart", None),  # a sata cdrom cannot be hot-unplugged
])
def test_running_guest_classification(change, apply, op):
    p = plan(declared(**change), current(), CAPS)
    fields = {f["field"]: f["apply"] for f in p["fields"]}
    for field in change:
        if field in ("max_memory",):
            continue
        assert fields[field] == apply, p["fields"]
    assert p["changed"]
    if op:
        assert op in [live_op[0] for live_op in p["live_ops"]]
    assert p["restart_required"] == (apply == "restart")


def test_stopped_guest_changes_are_config():
    p = plan(declared(state="stopped", vcpus=2, cpu_mode="host-model"), current("stopped"), CAPS)
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"vcpus": "config", "cpu_mode": "config"}
    assert p["actions"] == ["redefine"] and not p["restart_required"]


def test_restart_if_needed_adds_restart():
    p = plan(declared(cpu_mode="host-model"), current(), CAPS, restart="if_needed")
    assert "restart" in p["actions"] and not p["restart_required"]


def test_render_keeps_unmanaged_devices_and_uuid():
    g = declared(memory=100)
    g["interfaces"][0]["mac"] = parse_domain(CONFIG_XML)["interfaces"][0]["mac"]
    out = ET.fromstring(render_domain(g, CONFIG_XML))
    src = ET.fromstring(CONFIG_XML)
    assert out.findtext("uuid") == src.findtext("uuid")
    assert len(out.findall("devices/controller")) == len(src.findall("devices/controller"))
    assert out.findtext("currentMemory") == str(100 * 1024)
    assert marker(out) is not None


def test_absent_and_create_plans():
    assert plan(declared(state="absent"), None, CAPS)["action"] == "none"
    p = plan(declared(state="absent", remove_storage=True), current(), CAPS)
    assert p["actions"] == ["destroy", "undefine", "remove storage"]
    p = plan(declared(state="paused", autostart=True), None, CAPS)
    assert p["actions"] == ["define", "autostart on", "start", "suspend"]
