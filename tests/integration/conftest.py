"""Fixtures against the real libvirtd on qemu:///system.

Every object a test makes is named vftest-*; all of them are removed after each test
and at the start and end of the session, failure or not. A missing libvirtd fails the
tier loudly: it never skips."""

import os
import shutil

import pytest

from vfhelpers import PREFIX

import libvirt  # noqa: E402  (a missing binding fails the tier)

URI = "qemu:///system"
POOL_DIR = "/var/lib/virtfleet-test/pool"
POOL = PREFIX + "pool"
NET = PREFIX + "net"


def _purge(conn):
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX):
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                              | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                              | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def _purge_all(conn):
    _purge(conn)
    for net in conn.listAllNetworks(0):
        if net.name().startswith(PREFIX):
            if net.isActive():
                net.destroy()
            net.undefine()
    for pool in conn.listAllStoragePools(0):
        if pool.name().startswith(PREFIX):
            if pool.isActive():
                for vol in pool.listAllVolumes(0):
                    vol.delete(0)
                pool.destroy()
            pool.undefine()
    shutil.rmtree(POOL_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def conn():
    try:
        c = libvirt.open(URI)
    except libvirt.libvirtError as e:
        pytest.fail("libvirtd is not reachable on %s (run `make setup`): %s" % (URI, e))
    _purge_all(c)
    yield c
    _purge_all(c)
    c.close()


@pytest.fixture(autouse=True)
def _clean_guests(conn):
    yield
    _purge(conn)


@pytest.fixture(scope="session")
def net(conn):
    """An isolated network with no addresses: nothing can carry traffic off the host."""
    xml = ("<network><name>%s</name><bridge name='vftestbr0' stp='off'/></network>" % NET)
    n = conn.networkDefineXML(xml)
    n.create()
    return NET


@pytest.fixture(scope="session")
def pool(conn):
    os.makedirs(POOL_DIR, exist_ok=True)
    p = conn.storagePoolDefineXML(
        "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (POOL, POOL_DIR))
    p.create()
    return POOL


@pytest.fixture
def volume(conn, pool, request):
    """A fresh small qcow2 volume per test; make more with volume.make(name)."""
    made = []

    def make(name, fmt="qcow2", mib=16):
        p = conn.storagePoolLookupByName(pool)
        xml = ("<volume><name>%s</name><capacity unit='MiB'>%d</capacity>"
               "<target><format type='%s'/></target></volume>" % (name, mib, fmt))
        made.append(p.createXML(xml, 0))
        return name

    make.made = made
    yield make
    for v in made:
        try:
            v.delete(0)
        except libvirt.libvirtError:
            pass
