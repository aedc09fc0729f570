"""tests/nshosts.py, the simulated libvirt hosts the fleet bench, inventory and migration tests
stand on: each is a separate host as libvirt sees it, and stop() leaves nothing behind."""

import os

import libvirt

import nshosts

PREFIX = "vftesthost"
DOMAIN = ("<domain type='qemu'><name>vftest-nshost</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
          "<os><type arch='x86_64'>hvm</type></os></domain>")


def test_two_hosts_are_separate_libvirt_hosts_and_stop_leaves_nothing(conn):
    kvm = os.stat("/dev/kvm") if os.path.exists("/dev/kvm") else None
    with nshosts.hosts(2, prefix=PREFIX) as fleet:
        roots = [h.root for h in fleet]
        pids = [nshosts._pid(h, d) for h in fleet for d in nshosts.DAEMONS]
        assert all(pids), pids
        conns = [libvirt.open(h.uri) for h in fleet]
        try:
            names = [c.getHostname() for c in conns]
            assert names == [h.name for h in fleet]
            uuids = {c.getCapabilities().split("<uuid>")[1].split("<")[0] for c in conns}
            uuids.add(conn.getCapabilities().split("<uuid>")[1].split("<")[0])
            assert len(uuids) == 3, "each simulated host must have its own host UUID"
            conns[0].defineXML(DOMAIN)
            assert [d.name() for d in conns[0].listAllDomains(0)] == ["vftest-nshost"]
            assert conns[1].listAllDomains(0) == []
            assert "vftest-nshost" not in [d.name() for d in conn.listAllDomains(0)]
            assert not os.path.exists("/etc/libvirt/qemu/vftest-nshost.xml")
        finally:
            for c in conns:
                c.close()
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid), "daemon %d survived stop()" % pid
    assert not any(os.path.exists(r) for r in roots)
    assert nshosts.running(PREFIX) == []
    assert conn.getVersion()  # the system libvirtd is untouched
    if kvm is not None:
        after = os.stat("/dev/kvm")
        assert (after.st_gid, after.st_mode) == (kvm.st_gid, kvm.st_mode)
