"""Bad input, table-driven, across every module: wrong types, zero/negative/huge sizes, unit
typos, duplicate names, unknown pool/network/bridge, invalid MACs, hostile names, conflicting
keys, keys of another backend. Each case must fail before any change, with a message naming
the object and the field, and the host's state hashes (libvirt domains/volumes and LXC
containers of this suite) must be equal before and after. The roles' argument specs are
covered by tests/integration/test_bad_input_roles.py."""

import os

import pytest

import lxchelpers as lx
from vfhelpers import PREFIX, ROOT, run_module, state_hash

G = PREFIX + "bi1"          # a guest name no case creates
EXISTING = PREFIX + "bi-existing"  # a defined guest the cases must leave alone
LONG = "a" * 200
BACKUP = "/var/lib/virtfleet-test/bi-backups"  # guest_backup's dest; no case may create it
DEST = "qemu+unix:///system?socket=/run/vftest-bi-nohost/libvirt-sock"  # never reached: refused before
FACTS = {"cpu": {"count": 8}, "memory": {"total_mib": 16384}}  # host_facts of a small host


def _guest(**kw):
    spec = {"name": G, "state": "stopped", "virt_type": "qemu", "memory": 64}
    spec.update(kw)
    return {k: v for k, v in spec.items() if v is not None}


# (id, module, args, object named in the message, field named in the message)
CASES = [
    # --- guest (libvirt): types, sizes, units
    ("vcpus-string", "guest", _guest(vcpus="two"), G, "vcpus"),
    ("vcpus-zero", "guest", _guest(vcpus=0), G, "vcpus"),
    ("vcpus-negative", "guest", _guest(vcpus=-4), G, "vcpus"),
    ("vcpus-huge", "guest", _guest(vcpus=100000), G, "vcpus"),
    ("memory-zero", "guest", _guest(memory=0), G, "memory"),
    ("memory-negative", "guest", _guest(memory="-1G"), G, "memory"),
    ("memory-unit-typo", "guest", _guest(memory="2 GiBs"), G, "memory"),
    ("memory-huge", "guest", _guest(memory="64P"), G, "memory"),
    ("memory-bool", "guest", _guest(memory=True), G, "memory"),
    ("max-memory-below", "guest", _guest(memory=256, max_memory=128), G, "max_memory"),
    ("max-vcpus-below", "guest", _guest(vcpus=4, max_vcpus=2), G, "max_vcpus"),
    ("cpu-shares-low", "guest", _guest(cpu_shares=1), G, "cpu_shares"),
    ("shutdown-timeout-negative", "guest", _guest(shutdown_timeout=-1), G, "shutdown_timeout"),
    ("state-typo", "guest", _guest(state="runing"), G, "state"),
    ("machine-unknown", "guest", _guest(machine="pc-q99"), G, "machine"),
    ("kernel-relative", "guest", _guest(kernel="vmlinuz"), G, "kernel"),
    ("kernel-missing", "guest", _guest(kernel="/nonexistent/vmlinuz"), G, "kernel"),
    # --- guest: names
    ("name-slash", "guest", _guest(name="a/b"), "a/b", "name"),
    ("name-dotdot", "guest", _guest(name=".."), "..", "name"),
    ("name-space", "guest", _guest(name="web 01"), "web 01", "name"),
    ("name-unicode", "guest", _guest(name="wéb01"), "wéb01", "name"),
    ("name-200", "guest", _guest(name=LONG), LONG, "name"),
    # --- guest: disks
    ("disk-unknown-pool", "guest", _guest(disks=[{"volume": "v1", "pool": PREFIX + "nopool"}]), G, "disks[0]"),
    ("disk-missing-volume", "guest", _guest(disks=[{"volume": PREFIX + "novol", "pool": "@pool"}]), G, "disks[0]"),
    ("disk-volume-and-path", "guest", _guest(disks=[{"volume": "v", "path": "/x.img"}]), G, "disks[0]"),
    ("disk-size-zero", "guest", _guest(disks=[{"volume": "v", "pool": "@pool", "size": 0}]), G, "disks[0].size"),
    ("disk-size-typo", "guest", _guest(disks=[{"volume": "v", "pool": "@pool", "size": "10 GiGs"}]), G,
     "disks[0].size"),
    # a path disk with a size is created since issue 16; a read-only one never is
    ("disk-size-on-readonly-path", "guest", _guest(disks=[{"path": "/x.img", "readonly": True, "size": "1G"}]), G,
     "disks[0].size"),
    ("disk-path-relative", "guest", _guest(disks=[{"path": "x.img"}]), G, "disks[0].path"),
    ("disk-path-missing", "guest", _guest(disks=[{"path": "/nonexistent/x.img"}]), G, "disks[0].path"),
    ("disk-volume-slash", "guest", _guest(disks=[{"volume": "../etc/passwd", "pool": "@pool"}]), G,
     "disks[0].volume"),
    ("cdrom-virtio", "guest", _guest(disks=[{"path": "/x.iso", "device": "cdrom", "bus": "virtio"}]), G,
     "disks[0].bus"),
    # --- guest: interfaces
    ("nic-unknown-network", "guest", _guest(interfaces=[{"network": PREFIX + "nonet"}]), G, "interfaces[0]"),
    ("nic-unknown-bridge", "guest", _guest(interfaces=[{"bridge": PREFIX + "nobr"}]), G, "interfaces[0]"),
    ("nic-mac-invalid", "guest", _guest(interfaces=[{"network": "default", "mac": "52:54:00:zz:00:01"}]), G,
     "interfaces[0].mac"),
    ("nic-mac-multicast", "guest", _guest(interfaces=[{"network": "default", "mac": "01:54:00:00:00:01"}]), G,
     "interfaces[0].mac"),
    ("nic-mac-twice", "guest", _guest(interfaces=[{"network": "default", "mac": "52:54:00:00:00:01"},
                                                  {"network": "default", "mac": "52:54:00:00:00:01"}]), G,
     "interfaces"),
    ("nic-network-and-bridge", "guest", _guest(interfaces=[{"network": "n", "bridge": "b"}]), G,
     "interfaces[0]"),
    # --- guest: conflicting keys, keys of another backend
    ("remove-storage-not-absent", "guest", _guest(remove_storage=True), G, "remove_storage"),
    ("xen-key-on-libvirt", "guest", _guest(xen_type="pvh"), G, "xen_type"),
    ("lxc-key-on-libvirt", "guest", _guest(template="busybox"), G, "template"),
    ("lxc-config-on-libvirt", "guest", _guest(config={"lxc.arch": "x86_64"}), G, "config"),
    ("libvirt-key-on-lxc", "guest", dict(_guest(virt_type=None), backend="lxc", template="busybox",
                                         max_memory=128), G, "max_memory"),
    ("cloud-init-on-lxc", "guest", dict(_guest(virt_type=None), backend="lxc", template="busybox",
                                        cloud_init={"user_data": {}}), G, "cloud_init"),
    ("lxc-config-unknown-key", "guest", dict(_guest(virt_type=None), backend="lxc", template="busybox",
                                             config={"lxc.colour": "red"}), G, "config"),
    # --- guests (batch)
    ("guests-duplicate", "guests", {"guests": [_guest(), _guest()]}, G, "guests"),
    ("guests-not-a-mapping", "guests", {"guests": ["web01"]}, None, "guests"),
    ("guests-unknown-key", "guests", {"guests": [_guest(colour="red")]}, G, "spec"),
    ("guests-prune-storage-without-prune", "guests", {"guests": [], "prune_storage": True}, None,
     "prune_storage"),
    # --- network(s)
    ("net-ip-invalid", "network", {"name": PREFIX + "binet", "ip": "198.51.100.300"}, PREFIX + "binet", "ip"),
    ("net-netmask-invalid", "network", {"name": PREFIX + "binet", "ip": "198.51.100.1", "netmask": "255.0.255.0"},
     PREFIX + "binet", "netmask"),
    ("net-dhcp-outside", "network", {"name": PREFIX + "binet", "ip": "198.51.100.1",
                                     "dhcp": {"start": "203.0.113.2", "end": "203.0.113.9"}},
     PREFIX + "binet", "dhcp.start"),
    ("net-dhcp-reversed", "network", {"name": PREFIX + "binet", "ip": "198.51.100.1",
                                      "dhcp": {"start": "198.51.100.9", "end": "198.51.100.2"}},
     PREFIX + "binet", "dhcp"),
    ("net-mtu-huge", "network", {"name": PREFIX + "binet", "mtu": 100000}, PREFIX + "binet", "mtu"),
    ("net-bridge-too-long", "network", {"name": PREFIX + "binet", "bridge": "b" * 16}, PREFIX + "binet", "bridge"),
    ("net-forward-bridge-with-ip", "network", {"name": PREFIX + "binet", "forward": "bridge", "bridge": "br0",
                                               "ip": "198.51.100.1"}, PREFIX + "binet", "ip"),
    ("net-name-slash", "network", {"name": "a/b"}, "a/b", "name"),
    ("networks-duplicate", "networks", {"networks": [{"name": PREFIX + "binet"}, {"name": PREFIX + "binet"}]},
     PREFIX + "binet", "networks"),
    # --- pool
    ("pool-path-relative", "pool", {"name": PREFIX + "bipool", "path": "pools/x"}, PREFIX + "bipool", "path"),
    ("pool-mode-invalid", "pool", {"name": PREFIX + "bipool", "path": "/tmp/x", "mode": "0999"},
     PREFIX + "bipool", "mode"),
    ("pool-name-unicode", "pool", {"name": "pööl", "path": "/tmp/x"}, "pööl", "name"),
    # --- volume(s)
    ("vol-size-zero", "volume", {"name": PREFIX + "bivol", "pool": "@pool", "size": 0}, PREFIX + "bivol", "size"),
    ("vol-size-negative", "volume", {"name": PREFIX + "bivol", "pool": "@pool", "size": "-1G"}, PREFIX + "bivol",
     "size"),
    ("vol-size-typo", "volume", {"name": PREFIX + "bivol", "pool": "@pool", "size": "1 Gibibyte"},
     PREFIX + "bivol", "size"),
    ("vol-size-huge", "volume", {"name": PREFIX + "bivol", "pool": "@pool", "size": "900P"}, PREFIX + "bivol",
     "size"),
    ("vol-no-size", "volume", {"name": PREFIX + "bivol", "pool": "@pool"}, PREFIX + "bivol", "size"),
    ("vol-unknown-pool", "volume", {"name": PREFIX + "bivol", "pool": PREFIX + "nopool", "size": "1M"},
     PREFIX + "bivol", "pool"),
    ("vol-backing-raw", "volume", {"name": PREFIX + "bivol", "pool": "@pool", "backing": "/x.qcow2",
                                   "format": "raw"}, PREFIX + "bivol", "format"),
    ("vol-backing-and-source", "volume", {"name": PREFIX + "bivol", "pool": "@pool", "backing": "/x",
                                          "source": "/y"}, PREFIX + "bivol", "backing"),
    ("vol-name-dotdot", "volume", {"name": "..", "pool": "@pool", "size": "1M"}, "..", "name"),
    ("volumes-duplicate", "volumes", {"volumes": [{"name": PREFIX + "bivol", "pool": "@pool", "size": "1M"}] * 2},
     PREFIX + "bivol", "volumes"),
    # --- cloud_init
    ("seed-user-data-type", "cloud_init", {"name": PREFIX + "biseed", "pool": "@pool", "user_data": 42},
     PREFIX + "biseed", "user_data"),
    ("seed-unknown-pool", "cloud_init", {"name": PREFIX + "biseed", "pool": PREFIX + "nopool", "user_data": {}},
     PREFIX + "biseed", "pool"),
    # --- guest_info, snapshot
    ("info-name-slash", "guest_info", {"name": "a/b"}, "a/b", "name"),
    ("snap-guest-missing", "snapshot", {"guest": PREFIX + "nosuch", "name": "s1"}, PREFIX + "nosuch", "guest"),
    ("snap-name-space", "snapshot", {"guest": EXISTING, "name": "before upgrade"}, "before upgrade", "name"),
    ("snap-keep-negative", "snapshot", {"guest": EXISTING, "name": "s1", "keep": -1}, "s1", "keep"),
    ("snap-state-typo", "snapshot", {"guest": EXISTING, "name": "s1", "state": "reverted"}, "s1", "state"),
    # --- place (controller side): capacity and ratios
    ("place-ratio-zero", "place", {"hosts": [{"name": "h1", "facts": FACTS}], "guests": [], "cpu_ratio": 0}, None,
     "cpu_ratio"),
    ("place-policy-typo", "place", {"hosts": [{"name": "h1", "facts": FACTS}], "guests": [], "policy": "stack"},
     None, "policy"),
    ("place-pin-unknown-host", "place", {"hosts": [{"name": "h1", "facts": FACTS}],
                                         "guests": [{"name": "g1", "host": "h9", "memory": 64}]}, "g1", "host"),
    # --- guest_backup: the backup directory (BACKUP, hashed too) must stay as it was
    ("backup-dest-relative", "guest_backup", {"name": EXISTING, "dest": "backups"}, EXISTING, "dest"),
    ("backup-label-dotdot", "guest_backup", {"name": EXISTING, "dest": BACKUP, "label": "../other"}, EXISTING,
     "label"),
    ("backup-label-hidden", "guest_backup", {"name": EXISTING, "dest": BACKUP, "label": ".partial"}, EXISTING,
     "label"),
    ("backup-label-space", "guest_backup", {"name": EXISTING, "dest": BACKUP, "label": "before upgrade"}, EXISTING,
     "label"),
    ("backup-name-slash", "guest_backup", {"name": "../etc", "dest": BACKUP}, "../etc", "name"),
    ("backup-xl-backend", "guest_backup", {"name": EXISTING, "dest": BACKUP, "backend": "xl"}, EXISTING,
     "backend"),
    ("backup-guest-missing", "guest_backup", {"name": PREFIX + "nosuch", "dest": BACKUP}, PREFIX + "nosuch",
     "name"),
    ("backup-restore-without-backup", "guest_backup", {"name": EXISTING, "dest": BACKUP, "state": "restored"},
     EXISTING, "label"),
    # --- migrate: refused before any connection to a destination is used
    ("migrate-dest-empty", "migrate", {"name": EXISTING, "dest_uri": ""}, EXISTING, "dest_uri"),
    ("migrate-dest-is-source", "migrate", {"name": EXISTING, "dest_uri": "qemu:///system"}, EXISTING, "dest_uri"),
    ("migrate-dest-same-host", "migrate", {"name": EXISTING,
                                           "dest_uri": "qemu+unix:///system?socket=/run/libvirt/libvirt-sock"},
     EXISTING, "dest_uri"),
    ("migrate-dest-unreachable", "migrate", {"name": EXISTING,
                                             "dest_uri": "qemu+unix:///system?socket=/nonexistent/libvirt-sock"},
     EXISTING, "dest_uri"),
    ("migrate-bandwidth-negative", "migrate", {"name": EXISTING, "dest_uri": DEST, "bandwidth": -1}, EXISTING,
     "bandwidth"),
    ("migrate-reserve-negative", "migrate", {"name": EXISTING, "dest_uri": DEST, "reserved_memory_mib": -256},
     EXISTING, "reserved_memory_mib"),
    ("migrate-postcopy-without-timeout", "migrate", {"name": EXISTING, "dest_uri": DEST, "postcopy": True},
     EXISTING, "postcopy"),
    ("migrate-postcopy-offline", "migrate", {"name": EXISTING, "dest_uri": DEST, "postcopy": True, "timeout": 30,
                                             "live": False}, EXISTING, "postcopy"),
    ("migrate-tunnelled-copy-storage", "migrate", {"name": EXISTING, "dest_uri": DEST, "tunnelled": True,
                                                   "copy_storage": True}, EXISTING, "copy_storage"),
    ("migrate-tunnelled-not-p2p", "migrate", {"name": EXISTING, "dest_uri": DEST, "tunnelled": True,
                                              "p2p": False}, EXISTING, "tunnelled"),
    ("migrate-tunnelled-host", "migrate", {"name": EXISTING, "dest_uri": DEST, "tunnelled": True,
                                           "migration_host": "192.0.2.1"}, EXISTING, "migration_host"),
    ("migrate-name-space", "migrate", {"name": "web 01", "dest_uri": DEST}, "web 01", "name"),
    # --- host_facts
    ("facts-unknown-toolstack", "host_facts", {"toolstacks": ["vmware"]}, None, "toolstacks"),
    ("facts-unknown-gather", "host_facts", {"gather": ["gpus"]}, None, "gather"),
]


@pytest.fixture
def existing(conn):
    """A defined guest the bad input must leave alone (conftest purges vftest-* after each test)."""
    conn.defineXML("<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
                   "<os><type arch='x86_64'>hvm</type></os></domain>" % EXISTING)


def _fill(value, pool):
    if isinstance(value, dict):
        return {k: _fill(v, pool) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, pool) for v in value]
    return pool if value == "@pool" else value


def _hashes(conn):
    return state_hash(conn), lx.state_hash(), os.path.lexists(BACKUP)


@pytest.mark.parametrize("module, args, obj, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_fails_naming_object_and_field_and_changes_nothing(  # pylint: disable=too-many-arguments
        conn, pool, existing, module, args, obj, field):
    args = _fill(args, pool)
    before = _hashes(conn)
    for check in (True, False):
        res = run_module(module, args, check=check)
        assert res.get("failed"), res
        msg = res["msg"]
        assert field in msg, "field %r not named: %s" % (field, msg)
        if obj is not None:
            assert obj in msg, "object %r not named: %s" % (obj, msg)
        assert "Traceback" not in msg
        assert _hashes(conn) == before, "the failed run changed the host"
    assert conn.lookupByName(EXISTING)


def test_the_table_is_wide():
    modules = {c[1] for c in CASES}
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)
    # every module of the collection: a new module without bad-input cases fails here
    shipped = {f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules")) if f.endswith(".py")}
    assert modules == shipped, sorted(shipped - modules)
