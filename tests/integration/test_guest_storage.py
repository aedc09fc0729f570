"""Guests that declare their storage: disks created when missing, cloud-init seeds attached."""

from vfhelpers import PREFIX, run_module, state_hash

G = PREFIX + "st"


def test_disks_are_created_when_missing_and_grown_never_shrunk(conn, pool, volume):
    volume(PREFIX + "base", mib=24)
    args = {"name": G, "virt_type": "qemu", "memory": 32, "state": "stopped",
            "disks": [{"volume": PREFIX + "st-root", "pool": pool, "backing": PREFIX + "base"},
                      {"volume": PREFIX + "st-data", "pool": pool, "size": "8MiB"}]}
    before = state_hash(conn)
    chk = run_module("guest", args, check=True)
    assert chk["rc"] == 0 and chk["changed"] and state_hash(conn) == before, chk.get("msg")
    r = run_module("guest", args)
    assert r["rc"] == 0, r.get("msg")
    assert r["actions"] == chk["actions"] == [
        "volume %s/%sst-root: create" % (pool, PREFIX), "volume %s/%sst-data: create" % (pool, PREFIX), "define"]
    p = conn.storagePoolLookupByName(pool)
    root = p.storageVolLookupByName(PREFIX + "st-root")
    assert PREFIX + "base" in root.XMLDesc(0) and root.info()[1] == 24 * 1024 ** 2
    assert "type='qcow2'" in conn.lookupByName(G).XMLDesc(2)
    assert not run_module("guest", args)["changed"]
    grown = dict(args, disks=[args["disks"][0], dict(args["disks"][1], size="16MiB")])
    r = run_module("guest", grown)
    assert r["actions"] == ["volume %s/%sst-data: grow to %d" % (pool, PREFIX, 16 * 1024 ** 2)]
    assert p.storageVolLookupByName(PREFIX + "st-data").info()[1] == 16 * 1024 ** 2
    r = run_module("guest", args)
    assert r["failed"] and "guest '%s': disks[1].size: shrinking is refused" % G in r["msg"]
    run_module("guest", dict(args, state="absent", remove_storage=True))
    assert sorted(v for v in p.listVolumes() if v.startswith(PREFIX + "st")) == []


def test_cloud_init_seed_is_built_and_attached(conn, pool):
    args = {"name": G, "virt_type": "qemu", "memory": 32, "state": "running",
            "cloud_init": {"pool": pool, "meta_data": {"local-hostname": "seeded"},
                           "user_data": {"runcmd": [["true"]]}}}
    r = run_module("guest", args)
    assert r["rc"] == 0, r.get("msg")
    assert r["actions"][0] == "cloud_init %s/%s-cidata: build seed" % (pool, G)
    xml = conn.lookupByName(G).XMLDesc(2)
    assert "volume='%s-cidata'" % G in xml and "device='cdrom'" in xml and "bus='sata'" in xml
    assert not run_module("guest", args)["changed"]
    changed = dict(args, cloud_init=dict(args["cloud_init"], meta_data={"local-hostname": "renamed"}))
    r = run_module("guest", changed)
    assert r["changed"] and r["restart_required"] and "cloud_init" in r["restart_fields"]
    assert not run_module("guest", changed)["changed"]
    run_module("guest", dict(args, state="absent"))
    run_module("cloud_init", {"name": G + "-cidata", "pool": pool, "state": "absent"})
