"""LibvirtBackend's reads for prune (managed_names) and capacity_check (running_use) against a
recording fake connection: every state from one getAllDomainStats (no per-guest state call),
each definition read once per run (a guest current() has read is not read again), the answers
the same as one read per guest would give, and a guest undefined since it was listed left out."""

import threading

import libvirt
import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError

RUNNING, PAUSED, SHUTOFF = libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_SHUTOFF
MARK = "<metadata><virtfleet:guest xmlns:virtfleet='https://virtfleet.dev/xmlns/guest/1'>%s</virtfleet:guest></metadata>"


def domain_xml(name, vcpus=1, mib=32, fleet=None):
    mark = MARK % ('{"fleet": "%s"}' % fleet) if fleet else ""
    return ("<domain type='qemu'><name>%s</name><memory unit='KiB'>%d</memory>"
            "<currentMemory unit='KiB'>%d</currentMemory><vcpu>%d</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os>%s</domain>" % (name, mib * 1024, mib * 1024, vcpus, mark))


class Dom(object):
    def __init__(self, conn, name, code, fleet=None, vcpus=1, mib=32):
        self.conn, self._name, self.code = conn, name, code
        self.xml = domain_xml(name, vcpus, mib, fleet)

    def _rec(self, *call):
        with self.conn.lock:
            self.conn.calls.append(call)

    def name(self):
        return self._name

    def XMLDesc(self, flags):
        self._rec("XMLDesc", self._name, "inactive" if flags & libvirt.VIR_DOMAIN_XML_INACTIVE else "live")
        if self._name in self.conn.gone:
            raise _no_domain(self._name)
        return self.xml

    def state(self):
        self._rec("state", self._name)
        return [self.code, 1]

    def hasManagedSaveImage(self, flags):
        self._rec("hasManagedSaveImage", self._name)
        return 0

    def autostart(self):
        self._rec("autostart", self._name)
        return 0


def _no_domain(name):
    err = libvirt.libvirtError("Domain not found: no domain with matching name '%s'" % name)
    err.get_error_code = lambda: libvirt.VIR_ERR_NO_DOMAIN
    return err


class Conn(object):
    def __init__(self):
        self.calls, self.gone, self.lock = [], set(), threading.Lock()
        self.doms = [Dom(self, "a", RUNNING, "f1", vcpus=2, mib=64), Dom(self, "b", SHUTOFF, "f1"),
                     Dom(self, "c", PAUSED, "f2", vcpus=3), Dom(self, "d", RUNNING),  # d: not virtfleet's
                     Dom(self, "e", SHUTOFF, "f1"), Dom(self, "f", RUNNING, "f1", vcpus=4)]

    def listAllDomains(self, flags):
        self.calls.append(("listAllDomains", flags))
        return list(self.doms)

    def getAllDomainStats(self, stats, flags):
        self.calls.append(("getAllDomainStats", stats, flags))
        return [(d, {"state.state": d.code}) for d in self.doms if d.name() not in self.gone]


@pytest.fixture()
def backend():
    be = LibvirtBackend({"uri": "qemu:///system"})
    be._conn = Conn()
    return be


def reads(be, kind):
    return sorted(c[1] for c in be._conn.calls if c[0] == "XMLDesc" and c[2] == kind)


def test_managed_names_reads_each_definition_once_and_matches_the_fleet(backend):
    assert backend.managed_names("f1") == ["a", "b", "e", "f"]
    assert backend.managed_names("f2") == ["c"]
    assert reads(backend, "inactive") == ["a", "b", "c", "d", "e", "f"]


def test_managed_names_does_not_read_again_what_current_read(backend):
    for name in ("a", "b"):
        assert backend.current(name)["managed"]
    backend._conn.calls.clear()
    assert backend.managed_names("f1") == ["a", "b", "e", "f"]
    assert reads(backend, "inactive") == ["c", "d", "e", "f"]


def test_managed_names_leaves_out_a_guest_undefined_since_it_was_listed(backend):
    backend.domains()
    backend._conn.gone.add("e")
    assert backend.managed_names("f1") == ["a", "b", "f"]


def test_managed_names_names_the_guest_it_could_not_read(backend):
    backend.domains()

    def reset(flags):
        raise libvirt.libvirtError("connection reset")

    backend._conn.doms[2].XMLDesc = reset
    with pytest.raises(BackendError) as e:
        backend.managed_names("f1")
    assert e.value.obj == "c" and "connection reset" in str(e.value)


def test_running_use_one_state_read_and_live_definitions_of_active_guests_only(backend):
    use = backend.running_use()
    assert use == {"a": (2, 64, False), "c": (3, 32, False), "d": (1, 32, False), "f": (4, 32, False)}
    calls = backend._conn.calls
    assert [c[0] for c in calls].count("getAllDomainStats") == 1 and not [c for c in calls if c[0] == "state"]
    assert reads(backend, "live") == ["a", "c", "d", "f"]


def test_running_use_reuses_the_live_definitions_current_read(backend):
    backend.current("a")
    backend._conn.calls.clear()
    assert backend.running_use()["a"] == (2, 64, False)
    assert reads(backend, "live") == ["c", "d", "f"]


def test_running_use_leaves_out_a_guest_gone_since_it_was_listed(backend):
    backend.domains()
    backend._conn.gone.add("f")
    assert sorted(backend.running_use()) == ["a", "c", "d"]
