"""network(s), pool and volume(s) against the real libvirtd: create / no-op / update / delete,
check mode mutates nothing. Networks are isolated, with TEST-NET-3 addresses (203.0.113.0/24, the demo uses TEST-NET-2)
or none: nothing here can carry traffic off the host."""

import os
import stat
import subprocess

import pytest

from vfhelpers import PREFIX, run_module, state_hash

NET = PREFIX + "n1"


def cycle(module, args, conn):
    """check -> apply -> check -> apply: changed/changed/not/not; check mode mutates nothing."""
    before = state_hash(conn)
    r1 = run_module(module, args, check=True)
    assert r1["rc"] == 0, r1.get("msg")
    assert state_hash(conn) == before, "check mode changed something"
    r2 = run_module(module, args)
    assert r2["rc"] == 0, r2.get("msg")
    assert r1["changed"] and r2["changed"] and r1["actions"] == r2["actions"], (r1, r2)
    r3, r4 = run_module(module, args, check=True), run_module(module, args)
    assert not r3["changed"] and not r4["changed"], (r3, r4)
    return r2


@pytest.fixture
def net_cleanup(conn):
    yield
    for net in conn.listAllNetworks(0):
        if net.name().startswith(PREFIX + "n"):
            if net.isActive():
                net.destroy()
            net.undefine()


def isolated(**kw):
    args = {"name": NET, "forward": "isolated", "bridge": "vftestbr9", "ip": "203.0.113.1", "netmask": "24",
            "dhcp": {"start": "203.0.113.100", "end": "203.0.113.150",
                     "hosts": [{"mac": "52:54:00:00:00:10", "ip": "203.0.113.10", "name": "a"}]}}
    args.update(kw)
    return args


def test_network_lifecycle_and_live_dhcp(conn, net_cleanup):
    r = cycle("network", isolated(), conn)
    assert r["action"] == "create" and r["diff"]["after"]["forward"] == "isolated"
    n = conn.networkLookupByName(NET)
    assert n.isActive() and n.autostart()
    addr = subprocess.run(["ip", "-4", "addr", "show", "vftestbr9"], capture_output=True, check=True).stdout
    assert b"203.0.113.1" in addr
    # a guest on the network: DHCP changes are live and leave its tap in place
    run_module("guest", {"name": PREFIX + "ng", "virt_type": "qemu", "memory": 32, "interfaces": [{"network": NET}]})
    taps_before = os.listdir("/sys/class/net/vftestbr9/brif")
    new_dhcp = {"start": "203.0.113.120", "end": "203.0.113.200",
                "hosts": [{"mac": "52:54:00:00:00:11", "ip": "203.0.113.11", "name": "b"}]}
    r = cycle("network", isolated(dhcp=new_dhcp), conn)
    assert r["fields"] == [{"field": "dhcp", "apply": "live"}] and r["actions"] == ["update dhcp live"]
    assert os.listdir("/sys/class/net/vftestbr9/brif") == taps_before
    live = n.XMLDesc(0)
    assert "203.0.113.200" in live and "52:54:00:00:00:11" in live and "52:54:00:00:00:10" not in live
    assert "203.0.113.200" in n.XMLDesc(1)  # persistent too
    # a rebuild while a guest uses it is refused, naming the guest; recreate allows it
    r = run_module("network", isolated(dhcp=new_dhcp, ip="203.0.113.2"))
    assert r["failed"] and "network '%s': ip:" % NET in r["msg"] and PREFIX + "ng" in r["msg"]
    assert "203.0.113.1'" in n.XMLDesc(0)
    r = run_module("network", isolated(dhcp=new_dhcp, ip="203.0.113.2", recreate=True))
    assert r["changed"] and {"field": "ip", "apply": "rebuild"} in r["fields"]
    r = cycle("network", {"name": NET, "state": "absent"}, conn)
    assert r["actions"] == ["destroy", "undefine"]


def test_network_inactive_and_nat_definition(conn, net_cleanup):
    # a nat network is only defined, never started: it would route off the host
    r = cycle("network", {"name": NET, "forward": "nat", "ip": "203.0.113.1", "state": "inactive",
                          "autostart": False}, conn)
    n = conn.networkLookupByName(NET)
    assert not n.isActive() and "mode='nat'" in n.XMLDesc(0) and r["action"] == "create"
    r = cycle("network", {"name": NET, "forward": "route", "ip": "203.0.113.1", "state": "inactive",
                          "autostart": False, "mtu": 1400}, conn)
    assert sorted(f["field"] for f in r["fields"]) == ["forward", "mtu"]
    assert all(f["apply"] == "config" for f in r["fields"])


def test_networks_batch_partial_failure(conn, net_cleanup):
    r = run_module("networks", {"networks": [
        {"name": PREFIX + "n2", "forward": "isolated"},
        {"name": PREFIX + "n3", "forward": "bridge", "bridge": "vftestnobr"},
        {"name": PREFIX + "n4", "forward": "isolated", "ip": "203.0.113.1", "dhcp": {"start": "198.51.101.1", "end": "198.51.101.9"}},
    ]})
    assert r["failed"] and r["failed_networks"] == [PREFIX + "n3", PREFIX + "n4"]
    assert "network '%sn3': bridge:" % PREFIX in r["msg"] and "dhcp.start:" in r["msg"]
    assert [n.name() for n in conn.listAllNetworks(0) if n.name().startswith(PREFIX + "n")] == [PREFIX + "n2"]


def test_pool_lifecycle(conn, tmp_path):
    path = str(tmp_path / "pool")
    args = {"name": PREFIX + "p2", "path": path, "mode": "0750"}
    try:
        r = cycle("pool", args, conn)
        assert r["actions"] == ["define", "build", "start", "autostart on"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o750
        r = cycle("pool", dict(args, mode="0711"), conn)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o711 and r["fields"] == [{"field": "mode", "apply": "live"}]
        r = run_module("pool", dict(args, path=path + "-moved"))
        assert r["failed"] and "pool '%sp2': path:" % PREFIX in r["msg"]
        open(os.path.join(path, "keep.img"), "w").close()
        r = cycle("pool", dict(args, state="absent"), conn)
        assert os.path.exists(os.path.join(path, "keep.img")), "pool removal must keep its files"
    finally:
        run_module("pool", dict(args, state="absent"))


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_volume_create_grow_refuse_shrink_delete(conn, pool, fmt):
    args = {"pool": pool, "name": PREFIX + "v-" + fmt, "format": fmt, "size": "16MiB"}
    r = cycle("volume", args, conn)
    vol = conn.storagePoolLookupByName(pool).storageVolLookupByName(args["name"])
    assert vol.info()[1] == 16 * 1024 ** 2 and r["action"] == "create"
    r = cycle("volume", dict(args, size="32M"), conn)
    assert vol.info()[1] == 32 * 1024 ** 2 and r["fields"] == [{"field": "size", "apply": "live"}]
    before = state_hash(conn)
    r = run_module("volume", dict(args, size="8MiB"))
    assert r["failed"] and "volume '%s': size: shrinking is refused" % args["name"] in r["msg"]
    assert state_hash(conn) == before
    r = run_module("volume", dict(args, format="raw" if fmt == "qcow2" else "qcow2"))
    assert r["failed"] and "format:" in r["msg"]
    cycle("volume", dict(args, state="absent"), conn)
    assert args["name"] not in conn.storagePoolLookupByName(pool).listVolumes()


def test_volume_overlay_and_source_copy(conn, pool, tmp_path):
    base = {"pool": pool, "name": PREFIX + "base", "size": "24MiB"}
    cycle("volume", base, conn)
    overlay = {"pool": pool, "name": PREFIX + "overlay", "backing": PREFIX + "base"}
    cycle("volume", overlay, conn)
    info = subprocess.run(["qemu-img", "info", "--output=json", "-U",
                           conn.storagePoolLookupByName(pool).storageVolLookupByName(PREFIX + "overlay").path()],
                          capture_output=True, text=True, check=True).stdout
    assert '"backing-filename"' in info and PREFIX + "base" in info and '"virtual-size": 25165824' in info
    src = tmp_path / "image.raw"
    src.write_bytes(b"virtfleet" * 1000 + b"\0" * (1024 * 1024 - 9000))
    copy = {"pool": pool, "name": PREFIX + "copy", "source": str(src), "format": "qcow2", "size": "2MiB"}
    r = cycle("volume", copy, conn)
    vol = conn.storagePoolLookupByName(pool).storageVolLookupByName(PREFIX + "copy")
    assert r["actions"] == ["convert %s" % src, "grow to %d" % (2 * 1024 ** 2)]
    assert vol.info()[1] == 2 * 1024 ** 2
    raw = tmp_path / "back.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", vol.path(), str(raw)], check=True)
    assert raw.read_bytes()[:9000] == b"virtfleet" * 1000
    for name in ("copy", "overlay", "base"):
        run_module("volume", {"pool": pool, "name": PREFIX + name, "state": "absent"})


def test_volume_in_use_by_running_guest_is_never_deleted(conn, pool):
    cycle("volume", {"pool": pool, "name": PREFIX + "busy", "size": "8MiB"}, conn)
    run_module("guest", {"name": PREFIX + "user", "virt_type": "qemu", "memory": 32,
                         "disks": [{"volume": PREFIX + "busy", "pool": pool}]})
    r = run_module("volumes", {"volumes": [{"pool": pool, "name": PREFIX + "busy", "state": "absent"}]})
    assert r["failed"] and "in use by running guest(s) %suser" % PREFIX in r["msg"]
    assert PREFIX + "busy" in conn.storagePoolLookupByName(pool).listVolumes()
    run_module("guest", {"name": PREFIX + "user", "state": "absent"})
    r = run_module("volumes", {"volumes": [{"pool": pool, "name": PREFIX + "busy", "state": "absent"}]})
    assert r["changed"] and not r.get("failed")


def test_cloud_init_seed_reads_back_and_rebuilds(conn, pool, tmp_path):
    import pycdlib  # the same library the module uses, reading the seed back
    args = {"pool": pool, "name": PREFIX + "seed", "meta_data": {"local-hostname": "vf-seeded"},
            "user_data": {"users": [{"name": "ops", "passwd": "secret-hash"}]},
            "network_config": {"version": 2, "ethernets": {"eth0": {"dhcp4": True}}}}
    r = cycle("cloud_init", args, conn)
    assert r["action"] == "create" and not r["restart_required"]
    assert "secret-hash" not in repr(r), "user_data must not leak into the result or diff"
    path = conn.storagePoolLookupByName(pool).storageVolLookupByName(PREFIX + "seed").path()
    iso = pycdlib.PyCdlib()
    iso.open(path)
    assert iso.pvd.volume_identifier.decode().strip() == "cidata"
    files = {}
    for name in ("user-data", "meta-data", "network-config"):
        out = tmp_path / name
        iso.get_file_from_iso(str(out), joliet_path="/" + name)
        files[name] = out.read_text()
    iso.close()
    assert files["user-data"].startswith("#cloud-config\n") and '"passwd": "secret-hash"' in files["user-data"]
    assert '"local-hostname": "vf-seeded"' in files["meta-data"] and '"instance-id": "iid-virtfleet-' in files["meta-data"]
    assert '"dhcp4": true' in files["network-config"]
    r = cycle("cloud_init", dict(args, meta_data={"local-hostname": "vf-renamed"}), conn)
    assert r["action"] == "update" and r["restart_required"]
    assert {f["field"] for f in r["fields"]} == {"meta-data"}
    cycle("cloud_init", {"pool": pool, "name": PREFIX + "seed", "state": "absent"}, conn)


def test_cloud_init_never_overwrites_a_volume_that_is_not_a_seed(conn, pool, volume):
    volume(PREFIX + "data")
    before = state_hash(conn)
    r = run_module("cloud_init", {"pool": pool, "name": PREFIX + "data", "meta_data": {"local-hostname": "x"}})
    assert r["failed"] and "is not a cidata seed" in r["msg"] and state_hash(conn) == before
