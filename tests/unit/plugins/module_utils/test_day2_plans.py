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
                "capacity_check": True, "cpu_ratio": None, "memory_ratio": None, "disk_ratio": None,
                "reserved_memory_mib": None}, **kw)
    return migrate_validate(raw)


def guest(state="running", uuid="u1", **cfg):
    config = dict({"max_memory": 512, "memory": 512, "max_vcpus": 2, "vcpus": 2, "interfaces": [], "disks": []}, **cfg)
    return {"uuid": uuid, "state": state, "persistent": True, "autostart": False, "managed_save": False,
            "snapshots": 0, "config": config, "xml": "<domain/>"}


def facts(**kw):
    """A destination with 4 CPUs (16 vCPUs at cpu_ratio 4) and 4096 MiB (3584 after the 512
    reserved), one guest of 2 vCPUs and 1024 MiB running there; the guest moving uses 2 vCPUs and
    512 MiB."""
    return dict({"host_uuid": "h2", "source_host_uuid": "h1", "host": {"cpus": 4, "memory_mib": 4096, "hugepages": {}},
                 "running": {"other": {"vcpus": 2.0, "memory_mib": 1024.0}}, "demand": {"vcpus": 2.0, "memory_mib": 512.0},
                 "networks": {}, "bridges": {}, "pools": {}, "volumes": {}}, **kw)


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
    (guest(), None, {"demand": {"vcpus": 1.0, "memory_mib": 3000.0}}, {}, "memory_mib",
     "the host has 2560 MiB of 3584 MiB left (1024 MiB used by the other running guests; capacity after cpu_ratio 4, "
     "memory_ratio 1, reserved_memory_mib 512) and the guest needs 3000 MiB: short by 440 MiB (nothing moved"),
    (guest(), None, {"demand": {"vcpus": 15.0}}, {}, "vcpus", "the guest needs 15 vCPUs: short by 1 vCPUs"),
    (guest(), None, {"demand": {"vcpus": 3.0}}, {"cpu_ratio": 1.0}, "vcpus", "the host has 2 vCPUs of 4 vCPUs left"),
    (guest(), None, {}, {"reserved_memory_mib": 3000}, "memory_mib", "short by 440 MiB"),
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
    p = plan_migration(mspec(offline=True), cur(guest("stopped", max_memory=10 ** 6), demand=None, running={},
                                                host={"cpus": 1, "memory_mib": 64}))
    assert p["mode"] == "offline" and p["actions"][0] == "define on %s" % DST


def test_capacity_refusal_is_placements_and_names_the_shortfall():
    """The refusal is _placement's: a PlacementError with resource, host and shortfall."""
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._placement import PlacementError
    with pytest.raises(PlacementError) as e:
        plan_migration(mspec(memory_ratio=0.5), cur(guest(), demand={"vcpus": 2.0, "memory_mib": 1024.0}))
    assert e.value.details == {"resource": "memory_mib", "best_host": DST, "shortfall": 1024 + 1024 - 1792}
    assert "on the destination %s the host has 768 MiB of 1792 MiB left" % DST in str(e.value)


def test_capacity_check_false_and_a_wider_ratio_let_it_through():
    big = cur(guest(), demand={"vcpus": 1.0, "memory_mib": 3000.0})
    assert plan_migration(mspec(capacity_check=False), big)["mode"] == "live"
    assert plan_migration(mspec(memory_ratio=1.5), big)["mode"] == "live"
    assert plan_migration(mspec(), cur(guest(), demand={"vcpus": 14.0}))["mode"] == "live"


GIB = 1024 ** 3


def copying(pool="images", path=None, size=8 * GIB, pool_space=(20 * GIB, 10 * GIB)):
    """A running guest with one qcow2 disk the destination lacks, copied with copy_storage
    into ``pool`` there (None: no pool there holds the disk's directory)."""
    disk = {"device": "disk", "readonly": False, "volume": None if path else "vm1.qcow2",
            "pool": None if path else "images", "path": path}
    key = path or "images/vm1.qcow2"
    kw = {"volumes": {key: False}, "pools": {} if path else {"images": True},
          "copies": {"disks": [{"index": 0, "key": key, "pool": pool, "bytes": size}],
                     "pools": {pool: list(pool_space)} if pool else {}}}
    return cur(guest(disks=[disk]), **kw)


def test_copy_storage_admits_the_copies_against_the_destination_pool():
    """copy_storage: the disks libvirt creates on the destination count against their pool's
    capacity x disk_ratio, what it holds being its allocation (capacity_check's disk rule)."""
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._placement import PlacementError
    assert plan_migration(mspec(copy_storage=True), copying())["mode"] == "live"
    with pytest.raises(PlacementError) as e:
        plan_migration(mspec(copy_storage=True), copying(size=12 * GIB))
    assert e.value.field == "disk_images" and e.value.details["shortfall"] == 2 * GIB
    assert "on the destination %s pool images has 10.0 GiB left of 20.0 GiB" % DST in str(e.value)
    with pytest.raises(PlacementError):
        plan_migration(mspec(copy_storage=True, disk_ratio=0.75), copying())
    assert plan_migration(mspec(copy_storage=True, capacity_check=False), copying(size=12 * GIB))["mode"] == "live"
    assert plan_migration(mspec(copy_storage=True), copying(size=None))["mode"] == "live"  # size unknown: not counted


def test_copy_storage_of_a_path_disk_needs_a_pool_for_its_directory_there():
    with pytest.raises(SpecError) as e:
        plan_migration(mspec(copy_storage=True), copying(pool=None, path="/srv/vm/vm1.qcow2"))
    assert e.value.field == "disks[0].path" and "no active storage pool on the destination has the directory " \
        "/srv/vm" in e.value.msg
    assert plan_migration(mspec(copy_storage=True), copying(path="/srv/vm/vm1.qcow2"))["mode"] == "live"


@pytest.mark.parametrize("kw,field", [({"dest_uri": SRC}, "dest_uri"), ({"postcopy": True}, "postcopy"),
                                      ({"postcopy": True, "timeout": 5, "tunnelled": True}, "postcopy"),
                                      ({"timeout": -1}, "timeout"), ({"name": "bad name"}, "name"),
                                      ({"cpu_ratio": 0}, "cpu_ratio"), ({"memory_ratio": -1.0}, "memory_ratio"),
                                      ({"reserved_memory_mib": -1}, "reserved_memory_mib")])
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


# -- evacuation placement (_placement's engine) ------------------------------------------
def target(mib=8192, cpus=4, guests=()):
    """A target's host_facts: CPUs, total memory, its own guests."""
    return {"cpu": {"count": cpus}, "memory": {"total_mib": mib}, "guests": list(guests)}


def g(name, mem, state="running", vcpus=1, backend="libvirt"):
    return {"name": name, "backend": backend, "state": state, "vcpus": vcpus, "max_vcpus": vcpus,
            "memory_mib": mem, "max_memory_mib": mem}


def test_spread_largest_first_onto_the_least_loaded_target():
    """spread: b (largest) to h2 (less loaded: a stopped guest of its own on h3, 1 vCPU and
    1 GiB), then a to h3 (h2 now the more loaded); the stopped c goes where the engine puts it
    (both targets tie on peak load then: the engine's tie-break, not this test's business).
    Running guests first in the moves, stopped ones last."""
    out = _evacuate.plan([g("a", 1024), g("b", 2048), g("c", 512, "stopped")],
                         {"h2": target(), "h3": target(guests=[g("own", 1024, "stopped")])})
    assert [(m["guest"], m["to"], m["mode"]) for m in out["moves"]][:2] == [("b", "h2", "live"), ("a", "h3", "live")]
    c = out["moves"][2]
    assert (c["guest"], c["mode"]) == ("c", "offline") and c["to"] in ("h2", "h3")
    assert out["unplaced"] == [] and "c" in out["targets"][c["to"]]["guests"]
    # the target's own stopped guest is committed use, and so is the moved stopped c
    assert out["targets"]["h3"]["free"]["memory_mib"] == 7680 - 2048 - (512 if c["to"] == "h3" else 0)


def test_no_room_is_unplaced_with_placements_reason():
    """Committed use against capacity after the ratios, not the kernel's available memory: the
    target's stopped guest counts; the message names guest, resource, best host, shortfall."""
    out = _evacuate.plan([g("big", 6000)], {"h2": target(guests=[g("own", 2048, "stopped")])})
    assert out["moves"] == [] and len(out["unplaced"]) == 1
    u = out["unplaced"][0]
    assert (u["guest"], u["resource"], u["best_host"], u["shortfall"]) == ("big", "memory_mib", "h2", 368)
    assert "fits nowhere; the best host, h2, has 5632 MiB free of 7680 MiB (capacity after the ratios), it " \
        "needs 6000 MiB: short by 368 MiB" in u["reason"]


def test_ratios_and_other_backends():
    guests = [g("a", 64, vcpus=2), g("ct", 64, backend="lxc"), g("off", 64, "stopped")]
    tgt = {"h2": target(cpus=2, guests=[g("own", 64, vcpus=6)])}
    out = _evacuate.plan(guests, tgt, move_stopped=False)
    assert [m["guest"] for m in out["moves"]] == ["a"]  # 6 + 2 within 2 CPUs x 4.0
    assert sorted(s["guest"] for s in out["skipped"]) == ["ct", "off"]
    out = _evacuate.plan(guests, tgt, {"cpu_ratio": 4.0}, move_stopped=True)  # the stopped one counts: 6 + 2 + 1 > 8
    assert (out["unplaced"][0]["guest"], out["unplaced"][0]["resource"], out["moves"]) == ("off", "vcpus", [])
    out = _evacuate.plan([g("a", 64)], tgt, {"cpu_ratio": 2.0})
    assert "has 0 vCPUs free of 4 vCPUs" in out["unplaced"][0]["reason"]


def test_a_guest_already_on_a_target_stays_there():
    """A move that stopped halfway (the definition already on h3) is finished there."""
    out = _evacuate.plan([g("a", 1024)], {"h2": target(), "h3": target(guests=[g("a", 1024, "stopped")])})
    assert [(m["guest"], m["to"]) for m in out["moves"]] == [("a", "h3")]


def test_pack_and_bad_ratios():
    out = _evacuate.plan([g("a", 512), g("b", 512)], {"h2": target(), "h3": target()}, policy="pack")
    assert {m["to"] for m in out["moves"]} == {"h2"}
    with pytest.raises(SpecError) as e:
        _evacuate.plan([g("a", 512)], {"h2": target()}, {"reserved_memory_mib": 10 ** 6})
    assert e.value.obj == "h2" and e.value.field == "memory_mib"


def test_the_filter_passes_ratios_and_names_what_is_wrong():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.virtfleet.hypervisor.plugins.filter.evacuation import evacuation_plan
    out = evacuation_plan([g("a", 4096)], {"h2": target()}, memory_ratio="0.5", reserved_memory_mib=None)
    assert out["unplaced"][0]["shortfall"] == 4096 - 3840
    with pytest.raises(AnsibleFilterError, match=r"evacuation_plan: host 'h2': cpu_ratio: must be greater than zero"):
        evacuation_plan([g("a", 64)], {"h2": target()}, cpu_ratio=0)
    with pytest.raises(AnsibleFilterError, match="expects a list of guests and a dict of target facts"):
        evacuation_plan("a", {})
    with pytest.raises(AnsibleFilterError, match="policy: expected one of pack|spread"):
        evacuation_plan([g("a", 64)], {"h2": target()}, policy="random")
