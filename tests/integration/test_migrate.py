"""virtfleet.hypervisor.migrate between libvirt hosts made on this machine (tests/nshosts.py:
each a libvirtd in its own namespaces, reached by its unix socket; peer-to-peer tunnelled
migration, as /work/shared/LAB.md measured): a running TCG guest moves live and keeps
running on the destination, the source is left clean, a second run changes nothing; a
destination that lacks room or a network is refused before anything moves; a stopped
guest's definition moves with offline: true; a timeout aborts and leaves the guest running
on the source; the way back works too. A client-managed migration (p2p: false) moves a guest
as well; post-copy, which this lab's QEMU cannot do as libvirt-qemu (QEMU 7.2 without
vm.unprivileged_userfaultfd), is refused naming postcopy with nothing moved, and switches after
the timeout on a destination whose QEMU runs as root."""

import os
import shutil
import signal
import threading
import time

import libvirt
import pytest

import nshosts
from vfhelpers import PREFIX, run_module

HOSTS = "vfmig"
IMAGE = os.path.expanduser("~/.cache/virtfleet/images/bookworm")
KERNEL_DIR = "/var/lib/virtfleet-test/mig"


def domain_xml(name, mib=64, nic_network=None, kernel=False):
    """An OS-less TCG guest (its memory is almost all zero pages: it migrates in about a
    second) or, with ``kernel``, one booting the lab kernel and initrd, whose ~45 MiB of
    memory at 1 MiB/s keep a migration busy long enough to abort it or kill a host."""
    nic = ("<interface type='network'><source network='%s'/><model type='virtio'/></interface>" % nic_network
           if nic_network else "")
    boot = ("<kernel>%s/vmlinuz</kernel><initrd>%s/initrd.img</initrd><cmdline>console=ttyS0</cmdline>"
            % (KERNEL_DIR, KERNEL_DIR) if kernel else "")
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>%d</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type>%s</os><devices><serial type='pty'/>%s</devices></domain>"
            % (name, mib, boot, nic))


@pytest.fixture(scope="module")
def kernel():
    """The lab image's kernel and initrd where QEMU (not root) can read them."""
    os.makedirs(KERNEL_DIR, exist_ok=True)
    for d in ("/var/lib/virtfleet-test", KERNEL_DIR):
        os.chmod(d, 0o755)
    for f in ("vmlinuz", "initrd.img"):
        shutil.copy(os.path.join(IMAGE, f), KERNEL_DIR)
        os.chmod(os.path.join(KERNEL_DIR, f), 0o644)
    yield
    shutil.rmtree(KERNEL_DIR, ignore_errors=True)


def start_slow(conn, name):
    dom = conn.defineXML(domain_xml(name, mib=128, kernel=True))
    dom.create()
    time.sleep(1)  # the initrd is in guest memory once the firmware has loaded it
    return dom


@pytest.fixture(scope="module")
def hosts():
    with nshosts.hosts(2, prefix=HOSTS) as fleet:
        conns = [libvirt.open(h.uri) for h in fleet]
        yield list(zip(fleet, conns))
        for c in conns:
            c.close()


@pytest.fixture(autouse=True)
def _clean(hosts):
    yield
    for _h, c in hosts:
        for dom in c.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                if dom.isActive():
                    dom.destroy()
                if dom.isPersistent():
                    dom.undefine()


def names(conn):
    return sorted((d.name(), "running" if d.isActive() else "stopped", bool(d.isPersistent()))
                  for d in conn.listAllDomains(0))


def args(name, src, dst, **kw):
    return dict({"name": name, "uri": src.uri, "dest_uri": dst.uri, "tunnelled": True}, **kw)


def test_live_migration_check_apply_and_second_run(hosts):
    (a, ca), (b, cb) = hosts
    name = PREFIX + "mig-live"
    dom = ca.defineXML(domain_xml(name))
    dom.setAutostart(1)
    dom.create()
    uuid = dom.UUIDString()
    before = (names(ca), names(cb))

    r = run_module("migrate", args(name, a, b), check=True)
    assert r["rc"] == 0 and r["changed"] and r["mode"] == "live", r
    assert r["actions"][0].startswith("migrate to " + b.uri + " (live, peer-to-peer, tunnelled)")
    assert r["diff"] == {"before": {"host": a.uri, "state": "running"}, "after": {"host": b.uri, "state": "running"}}
    assert (names(ca), names(cb)) == before, "check mode moved something"

    r = run_module("migrate", args(name, a, b))
    assert r["rc"] == 0 and r["changed"] and r["state"] == "running" and r["location"] == b.uri, r
    assert r["duration"] > 0
    assert names(ca) == [], "the source still has the guest"
    moved = cb.lookupByName(name)
    assert (moved.isActive(), moved.isPersistent(), moved.autostart(), moved.UUIDString()) == (1, 1, 1, uuid)

    r = run_module("migrate", args(name, a, b))
    assert r["rc"] == 0 and not r["changed"] and r["mode"] == "none" and r["state"] == "running", r

    # the way back: the second host's libvirtd reaches the first by its socket
    r = run_module("migrate", args(name, b, a))
    assert r["rc"] == 0 and r["changed"], r
    assert names(cb) == [] and names(ca) == [(name, "running", True)]


def test_refused_before_anything_moves(hosts):
    (a, ca), (b, cb) = hosts
    run = PREFIX + "mig-big"
    ca.defineXML(domain_xml(run)).create()
    off = PREFIX + "mig-net"
    ca.defineXML(domain_xml(off, nic_network=PREFIX + "only-on-source"))
    before = (names(ca), names(cb))

    # capacity as capacity_check counts it: 0.1 % of the machine's memory (after the 512 MiB
    # reserved) is less than the 64 MiB guest
    r = run_module("migrate", args(run, a, b, memory_ratio=0.001))
    assert r["rc"] != 0 and not r["changed"], r
    assert "migrate '%s': memory_mib: refused, on the destination %s the host has" % (run, b.uri) in r["msg"], r
    assert "and the guest needs 64 MiB: short by" in r["msg"], r
    r = run_module("migrate", args(run, a, b, memory_ratio=0.001, capacity_check=False), check=True)
    assert r["rc"] == 0 and r["changed"], r

    r = run_module("migrate", args(off, a, b))
    assert r["rc"] != 0 and "migrate '%s': offline: is stopped" % off in r["msg"], r

    r = run_module("migrate", args(off, a, b, offline=True), check=True)
    assert r["rc"] != 0 and "interfaces[0].network: network 'vftest-only-on-source' does not exist on the " \
        "destination" in r["msg"], r

    r = run_module("migrate", args(PREFIX + "nowhere", a, b))
    assert r["rc"] != 0 and "name: no guest of this name on the source" in r["msg"], r
    r = run_module("migrate", args(run, a, a))
    assert r["rc"] != 0 and "dest_uri: is the source uri itself" in r["msg"], r
    assert (names(ca), names(cb)) == before, "a refused move changed something"


def test_offline_move_of_a_stopped_guest(hosts):
    (a, ca), (b, cb) = hosts
    name = PREFIX + "mig-off"
    dom = ca.defineXML(domain_xml(name))
    dom.setAutostart(1)
    r = run_module("migrate", args(name, a, b, offline=True), check=True)
    assert r["changed"] and r["mode"] == "offline" and names(cb) == [], r
    r = run_module("migrate", args(name, a, b, offline=True))
    assert r["rc"] == 0 and r["changed"] and r["state"] == "stopped", r
    assert names(ca) == [] and names(cb) == [(name, "stopped", True)]
    assert cb.lookupByName(name).autostart() == 1
    r = run_module("migrate", args(name, a, b, offline=True))
    assert r["rc"] == 0 and not r["changed"], r


def test_client_managed_migration_without_p2p(hosts):
    """p2p: false: the module's own connections drive the migration (migrate3 to the
    destination's connection); QEMU streams straight to the destination's QEMU (migration_host,
    since the simulated hosts' hostnames do not resolve)."""
    (a, ca), (b, cb) = hosts
    name = PREFIX + "mig-nop2p"
    ca.defineXML(domain_xml(name)).create()
    kw = {"p2p": False, "tunnelled": False, "migration_host": "127.0.0.1"}
    r = run_module("migrate", args(name, a, b, **kw), check=True)
    assert r["rc"] == 0 and r["changed"] and r["actions"][0] == "migrate to %s (live)" % b.uri, r
    r = run_module("migrate", args(name, a, b, **kw))
    assert r["rc"] == 0 and r["changed"] and r["state"] == "running" and r["location"] == b.uri, r
    assert names(ca) == [] and names(cb) == [(name, "running", True)]
    r = run_module("migrate", args(name, a, b, **kw))
    assert r["rc"] == 0 and not r["changed"], r


def _userfaultfd_for_qemu():
    with open("/proc/sys/vm/unprivileged_userfaultfd") as f:
        return f.read().strip() == "1"


def test_postcopy_refused_when_the_destination_cannot_do_it(hosts):
    """Post-copy needs userfaultfd in the destination's QEMU; QEMU 7.2 running as libvirt-qemu
    gets it only with vm.unprivileged_userfaultfd=1 (0 here, a kernel-wide setting this test does
    not change). QEMU refuses at the start of the migration: the module fails naming postcopy,
    the guest runs on the source, the destination has nothing. A tunnelled post-copy is refused
    before libvirt is asked."""
    (a, ca), (b, cb) = hosts
    if _userfaultfd_for_qemu():
        pytest.skip("vm.unprivileged_userfaultfd=1: this destination can do post-copy")
    name = PREFIX + "mig-postcopy"
    ca.defineXML(domain_xml(name)).create()
    r = run_module("migrate", args(name, a, b, postcopy=True, timeout=30))
    assert r["rc"] != 0 and "migrate '%s': postcopy: libvirt cannot switch a tunnelled migration" % name in r["msg"], r
    r = run_module("migrate", args(name, a, b, tunnelled=False, migration_host="127.0.0.1", postcopy=True, timeout=30))
    assert r["rc"] != 0 and r["failed"], r
    assert "migrate '%s': postcopy: refused by the destination: its QEMU cannot do post-copy" % name in r["msg"], r
    assert "nothing moved, the guest is running on the source" in r["msg"], r
    assert not any(a.startswith("switched to post-copy") for a in r["actions"]), r
    assert names(ca) == [(name, "running", True)] and names(cb) == []


def test_postcopy_switches_on_a_destination_whose_qemu_can(kernel):
    """The same lab with the destination's QEMU running as root (user/group "+0" in that
    simulated host's own qemu.conf: root has userfaultfd without the sysctl): a kernel-booting
    guest at 1 MiB/s is still copying after timeout=2, the module switches to post-copy, the
    guest runs on the destination (persistent), the source is empty."""
    with nshosts.hosts(2, prefix=HOSTS + "p") as (a, b):
        with open(os.path.join(b.root, "etc", "qemu.conf"), "a") as f:
            # root needs no relabelling; with it, the destination libvirtd would chown the kernel file
            # the source's QEMU (libvirt-qemu) holds, and libvirt refuses that ("Setting different DAC
            # user or group on .../vmlinuz which is already in use")
            f.write('\nuser = "+0"\ngroup = "+0"\ndynamic_ownership = 0\n')
        nshosts.kill_libvirtd(b)
        nshosts.restart_libvirtd(b)
        ca, cb = libvirt.open(a.uri), libvirt.open(b.uri)
        name = PREFIX + "mig-pc"
        try:
            start_slow(ca, name)
            r = run_module("migrate", args(name, a, b, tunnelled=False, migration_host="127.0.0.1", postcopy=True,
                                           timeout=2, bandwidth=1))
            assert r["rc"] == 0 and r["changed"] and r["state"] == "running", (r.get("msg"), r.get("actions"))
            assert any(x.startswith("switched to post-copy after ") for x in r["actions"]), r
            assert names(ca) == [] and names(cb) == [(name, "running", True)]
        finally:
            for c in (ca, cb):
                for d in c.listAllDomains(0):
                    if d.isActive():
                        d.destroy()
                    if d.isPersistent():
                        d.undefine()
                c.close()


def test_timeout_aborts_and_the_guest_stays_on_the_source(hosts, kernel):
    (a, ca), (b, cb) = hosts
    name = PREFIX + "mig-slow"
    start_slow(ca, name)
    r = run_module("migrate", args(name, a, b, bandwidth=1, timeout=2))
    assert r["rc"] != 0 and r["failed"], r
    assert "timeout: did not complete within timeout=2s; the migration was aborted" in r["msg"], r
    assert "running on the source" in r["msg"]
    assert names(ca) == [(name, "running", True)] and names(cb) == []


def test_destination_killed_during_migration_leaves_the_guest_on_the_source(kernel):
    """The destination's libvirtd dies (SIGKILL) mid-migration: the run fails with the reason
    and the guest still runs on the source."""
    with nshosts.hosts(2, prefix=HOSTS + "f") as (a, b):
        ca = libvirt.open(a.uri)
        name = PREFIX + "mig-fault"
        try:
            start_slow(ca, name)
            out = {}
            worker = threading.Thread(target=lambda: out.update(r=run_module("migrate", args(name, a, b, bandwidth=1))))
            worker.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not os.path.exists(os.path.join(b.root, "run", "qemu", name + ".pid")):
                time.sleep(0.2)  # the incoming QEMU has started on the destination
            time.sleep(1)
            os.kill(nshosts._pid(b, "libvirtd"), signal.SIGKILL)
            worker.join(120)
            r = out["r"]
            assert r["rc"] != 0 and r["failed"], r
            assert "migration to %s failed" % b.uri in r["msg"] and "running on the source" in r["msg"], r["msg"]
            dom = ca.lookupByName(name)
            assert dom.isActive() and dom.isPersistent()
        finally:
            _kill_incoming_qemu(b, name)
            ca.close()


def _kill_incoming_qemu(host, name):
    """The destination's QEMU outlives its killed libvirtd: end it by its pid file."""
    try:
        with open(os.path.join(host.root, "run", "qemu", name + ".pid")) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/comm" % pid) as f:
            if not f.read().startswith("qemu"):
                return
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def test_copy_storage_moves_the_disk_between_hosts_without_shared_storage(hosts, tmp_path):
    """Each simulated host has its own /var/lib/libvirt: a pool there is not shared. The disk
    (random data) is copied during the live migration (NBD, non-tunnelled, over 127.0.0.1)."""
    import subprocess
    (a, ca), (b, cb) = hosts
    pool_xml = ("<pool type='dir'><name>%spool</name><target><path>/var/lib/libvirt/images</path></target></pool>"
                % PREFIX)
    for c in (ca, cb):
        p = c.storagePoolDefineXML(pool_xml)
        p.build(0)
        p.create(0)
    name = PREFIX + "mig-disk"
    raw = tmp_path / "seed.raw"
    raw.write_bytes(os.urandom(8 << 20))
    src_file = os.path.join(a.root, "lib", "images", name + ".qcow2")
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), src_file], check=True)
    ca.storagePoolLookupByName(PREFIX + "pool").refresh(0)
    xml = domain_xml(name).replace("<serial type='pty'/>", (
        "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='%spool' volume='%s.qcow2'/>"
        "<target dev='vda' bus='virtio'/></disk><serial type='pty'/>") % (PREFIX, name))
    ca.defineXML(xml).create()
    try:
        r = run_module("migrate", args(name, a, b))
        assert r["rc"] != 0 and "disks[0]: %spool/%s.qcow2 is not on the destination's storage" % (PREFIX, name) \
            in r["msg"], r
        # the 8 MiB copy against the destination pool's disk_ratio (capacity_check's disk rule)
        _s, capacity, allocation, _a = cb.storagePoolLookupByName(PREFIX + "pool").info()
        r = run_module("migrate", args(name, a, b, tunnelled=False, copy_storage=True, migration_host="127.0.0.1",
                                       disk_ratio=(allocation + (1 << 20)) / capacity))
        assert r["rc"] != 0 and "disk_%spool: refused, on the destination %s pool %spool has 1.0 MiB left" % (
            PREFIX, b.uri, PREFIX) in r["msg"] and "need 8.0 MiB: short by 7.0 MiB" in r["msg"], r
        assert names(ca) == [(name, "running", True)] and names(cb) == []
        r = run_module("migrate", args(name, a, b, tunnelled=False, copy_storage=True, migration_host="127.0.0.1"))
        assert r["rc"] == 0 and r["changed"] and r["state"] == "running", r
        assert names(ca) == [] and names(cb) == [(name, "running", True)]
        dst_file = os.path.join(b.root, "lib", "images", name + ".qcow2")
        cmp = subprocess.run(["qemu-img", "compare", "-U", src_file, dst_file], capture_output=True, text=True, check=False)
        assert cmp.returncode == 0, cmp.stdout + cmp.stderr
    finally:
        for c in (ca, cb):
            for d in c.listAllDomains(0):
                if d.isActive():
                    d.destroy()
            p = c.storagePoolLookupByName(PREFIX + "pool")
            for v in p.listAllVolumes(0):
                v.delete(0)
            p.destroy()
            p.undefine()
