"""The pure planners of migrate, guest_backup and the evacuation placement, as tables."""

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _evacuate
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt_backup import (
    plan_backup, validate as backup_validate)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt_migrate import (
    plan_migration, validate as migrate_validate)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError

SRC, DST = "qemu:///system", "qemu+ssh://hv2/system"


def mspec(**kw):
    raw = dict({"name": "vm1", "uri": SRC, "dest_uri": DST, "live": True, "offline": False, "copy_storage": False,
                "bandwidth": None, "timeout": None, "postcopy": False, "p2p": True, "tunnelled": False,
                "reserve_memory": 256}, **kw)
    return migrate_validate(raw)


def guest(state="running", uuid="u1", **cfg):
    config = dict({"max_memory": 512, "memory": 512, "max_vcpus": 2, "vcpus": 2, "interfaces": [], "disks": []}, **cfg)
    return {"uuid": uuid, "state": state, "persistent": True, "autostart": False, "managed_save": False,
            "snapshots": 0, "config": config, "xml": "<domain/>"}


def facts(**kw):
    return dict({"host_uuid": "h2", "source_host_uuid": "h1", "available_mib": 4096, "cpus": 4, "networks": {},
                 "bridges": {}, "pools": {}, "volumes": {}}, **kw)


def cur(source=None, dest=None, **kw):
    return {"source": source, "dest": dest, "facts": facts(**kw)}


def test_running_guest_moves_live():
    p = plan_migration(mspec(), cur(guest()))
    assert (p["changed"], p["mode"], p["state_after"]) == (True, "live", "running")
    assert p["actions"] == ["migrate to %s (live, peer-to-peer)" % DST, "undefine on the source"]


def test_guest_already_on_destination_is_ok():
    p = plan_migration(mspec(), cur(None, guest()))
    assert (p["changed"], p["mode"], p["state_after"]) == (False, "none", "running")


def test_leftover_source_definition_is_undefined():
    p = plan_migration(mspec(), cur(guest("stopped"), guest("running")))
    assert p["changed"] and p["mode"] == "cleanup"


@pytest.mark.parametrize("source,dest,kw,spec,field,text", [
    (guest(max_memory=8192), None, {}, {}, "memory", "4096 MiB available"),
    (guest(max_vcpus=8), None, {}, {}, "vcpus", "only 4 CPUs"),
    (guest(interfaces=[{"network": "lan", "bridge": None}]), None, {}, {}, "interfaces[0].network", "does not exist"),
    (guest(interfaces=[{"network": "lan", "bridge": None}]), None, {"networks": {"lan": False}}, {},
     "interfaces[0].network", "not active"),
    (guest(interfaces=[{"network": None, "bridge": "br0"}]), None, {"bridges": {"br0": False}}, {},
     "interfaces[0].bridge", "not a bridge"),
    (guest(disks=[{"volume": "d", "pool": "p", "path": None, "device": "disk", "readonly": False}]), None, {}, {},
     "disks[0].pool", "storage pool 'p'"),
    (guest(disks=[{"volume": "d", "pool": "p", "path": None, "device": "disk", "readonly": False}]), None,
     {"pools": {"p": True}}, {}, "disks[0]", "not on the destination's storage"),
    (guest("stopped"), None, {}, {}, "offline", "is stopped"),
    (guest("stopped"), None, {}, {"offline": True, "copy_storage": True}, "copy_storage", "definition only"),
    (guest(), guest(uuid="other"), {}, {}, "dest_uri", "different guest"),
    (guest(), None, {"host_uuid": "h1"}, {}, "dest_uri", "source host itself"),
    (None, None, {}, {}, "name", "no guest of this name"),
])
def test_refusals_name_the_field(source, dest, kw, spec, field, text):
    with pytest.raises(SpecError) as e:
        plan_migration(mspec(**spec), cur(source, dest, **kw))
    assert e.value.field == field and text in str(e.value)


def test_copy_storage_lets_a_missing_volume_be_created():
    g = guest(disks=[{"volume": "d", "pool": "p", "path": None, "device": "disk", "readonly": False}])
    p = plan_migration(mspec(copy_storage=True), cur(g, pools={"p": True}))
    assert "copying storage" in p["actions"][0]


def test_offline_move_needs_no_memory():
    p = plan_migration(mspec(offline=True), cur(guest("stopped", max_memory=10 ** 6)))
    assert p["mode"] == "offline" and p["actions"][0] == "define on %s" % DST


@pytest.mark.parametrize("kw,field", [({"dest_uri": SRC}, "dest_uri"), ({"postcopy": True}, "postcopy"),
                                      ({"timeout": -1}, "timeout"), ({"name": "bad name"}, "name")])
def test_migrate_bad_input(kw, field):
    with pytest.raises(SpecError) as e:
        mspec(**kw)
    assert e.value.field == field


# -- guest_backup --------------------------------------------------------------------------
XML = ("<domain type='qemu'><name>vm1</name><uuid>u1</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
       "<os><type arch='x86_64'>hvm</type></os></domain>")


def bspec(**kw):
    return backup_validate(dict({"name": "vm1", "uri": SRC, "dest": "/b", "label": "l", "state": "present",
                                 "disks": True, "refresh": False, "backend": "libvirt"}, **kw))


def bguest(uuid="u1", xml=XML, state="running"):
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt_backup import _model
    return {"uuid": uuid, "xml": xml, "model": _model(xml), "state": state, "autostart": False,
            "disks": [{"target": "vda", "source": "/p/vm1.qcow2", "format": "qcow2", "pool": None, "volume": None}]}


def backup(uuid="u1", damaged=(), with_disks=True):
    return {"uuid": uuid, "guest": "vm1", "xml": XML, "damaged": list(damaged), "with_disks": with_disks,
            "files": {"domain.xml": "a" * 64, "disks/vda.qcow2": "b" * 64}, "autostart": False,
            "disks": [{"target": "vda", "source": "/p/vm1.qcow2", "format": "qcow2", "file": "disks/vda.qcow2"}]}


def bcur(b=None, g=None, missing=()):
    return {"backup": b, "guest": g, "missing_disks": list(missing), "dir_exists": b is not None}


def test_backup_new_pauses_a_running_guest_for_the_copy():
    p = plan_backup(bspec(), bcur(None, bguest()))
    assert p["action"] == "create" and p["actions"][0] == "pause the guest" and p["actions"][2] == "resume the guest"
    assert p["files"] == ["domain.xml", "disks/vda.qcow2"]


def test_backup_that_matches_is_ok_unless_refresh():
    assert not plan_backup(bspec(), bcur(backup(), bguest()))["changed"]
    p = plan_backup(bspec(refresh=True), bcur(backup(), bguest()))
    assert p["changed"] and p["fields"] == [{"field": "refresh", "apply": "config"}]


@pytest.mark.parametrize("b,g,field", [
    (backup(damaged=["disks/vda.qcow2"]), bguest(), "files"),
    (backup(uuid="old"), bguest(), "uuid"),
    (backup(with_disks=False), bguest(), "disks"),
    (backup(), bguest(xml=XML.replace("64", "128")), "definition"),
])
def test_backup_that_differs_is_taken_again(b, g, field):
    p = plan_backup(bspec(), bcur(b, g))
    assert p["changed"] and p["fields"][0]["field"] == field


def test_restore_defines_and_copies_missing_disks():
    p = plan_backup(bspec(state="restored"), bcur(backup(), None, missing=["vda"]))
    assert p["action"] == "create" and p["restored_disks"] == ["vda"]
    assert p["actions"] == ["copy disks/vda.qcow2 back to /p/vm1.qcow2", "define the guest (UUID u1)"]
    assert not plan_backup(bspec(state="restored"), bcur(backup(), bguest()))["changed"]


@pytest.mark.parametrize("b,g,field,text", [
    (None, None, "label", "no complete backup"),
    (backup(damaged=["domain.xml"]), None, "label", "damaged"),
    (backup(), bguest(uuid="other"), "name", "different guest"),
    (backup(), bguest(xml=XML.replace("64", "128")), "name", "definition differs"),
])
def test_restore_refusals(b, g, field, text):
    with pytest.raises(SpecError) as e:
        plan_backup(bspec(state="restored"), bcur(b, g))
    assert e.value.field == field and text in str(e.value)


@pytest.mark.parametrize("kw,field", [({"dest": "rel"}, "dest"), ({"label": "../x"}, "label"),
                                      ({"label": ".hidden"}, "label"), ({"backend": "xl"}, "backend")])
def test_backup_bad_input(kw, field):
    with pytest.raises(SpecError) as e:
        bspec(**kw)
    assert e.value.field == field


# -- evacuation placement ------------------------------------------------------------------
def target(avail, cpus=4, running_vcpus=0):
    return {"memory": {"available_mib": avail}, "cpu": {"count": cpus}, "committed": {"running": {"vcpus": running_vcpus}}}


def g(name, mem, state="running", vcpus=1):
    return {"name": name, "backend": "libvirt", "state": state, "vcpus": vcpus, "max_vcpus": vcpus,
            "memory_mib": mem, "max_memory_mib": mem}


def test_largest_first_on_the_target_with_most_memory_left():
    out = _evacuate.plan([g("a", 1024), g("b", 2048), g("c", 512, "stopped")],
                         {"h2": target(3000), "h3": target(2800)}, reserve_mib=256)
    assert [(m["guest"], m["to"], m["mode"]) for m in out["moves"]] == [
        ("b", "h2", "live"), ("a", "h3", "live"), ("c", "h3", "offline")]
    assert out["unplaced"] == []


def test_no_room_is_unplaced_with_the_reason():
    out = _evacuate.plan([g("big", 8192), g("wide", 64, vcpus=8)], {"h2": target(4096)})
    assert [u["guest"] for u in out["unplaced"]] == ["big", "wide"]
    assert "h2: 3840 MiB left, needs 8192" in out["unplaced"][0]["reason"]
    assert "h2: 4 CPUs, needs 8 vCPUs" in out["unplaced"][1]["reason"]


def test_cpu_ratio_and_other_backends():
    out = _evacuate.plan([g("a", 64, vcpus=2), dict(g("ct", 64), backend="lxc")],
                         {"h2": target(4096, cpus=2, running_vcpus=7)}, cpu_ratio=4.0)
    assert out["unplaced"][0]["guest"] == "a" and "running vCPUs" in out["unplaced"][0]["reason"]
    assert out["skipped"][0]["guest"] == "ct"
