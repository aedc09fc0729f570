"""LibvirtBackend against a recording fake connection: the exact arguments each libvirt call
gets (memory in KiB), the shared power state machine on libvirt's primitives, and libvirt's
exceptions turned into BackendErrors naming the guest and the operation."""

import xml.etree.ElementTree as ET

import libvirt
import pytest
from vfhelpers import fixture

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import plan
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._render_libvirt import parse_domain

NAME = "vftest-rec-full"
CONFIG_XML = fixture("domain-running-inactive.xml")
LIVE_XML = fixture("domain-running-live.xml")
STATE = {"running": libvirt.VIR_DOMAIN_RUNNING, "paused": libvirt.VIR_DOMAIN_PAUSED,
         "stopped": libvirt.VIR_DOMAIN_SHUTOFF}


class FakeDom(object):
    """Records every call; ``fail``: {method: libvirtError} to raise."""

    def __init__(self, calls, state="running", stops=True, fail=None):
        self.calls, self.now, self.stops, self.fail = calls, state, stops, fail or {}

    def _rec(self, method, *args):
        self.calls.append((method,) + args)
        if method in self.fail:
            raise self.fail[method]

    def name(self):
        return NAME

    def state(self):
        self._rec("state")
        return [STATE[self.now], 1]

    def isActive(self):
        self._rec("isActive")
        return self.now != "stopped"

    def XMLDesc(self, flags):
        return CONFIG_XML if flags & libvirt.VIR_DOMAIN_XML_INACTIVE else LIVE_XML

    def autostart(self):
        return 0

    def setMemoryFlags(self, kib, flags):
        self._rec("setMemoryFlags", kib, flags)

    def setVcpusFlags(self, n, flags):
        self._rec("setVcpusFlags", n, flags)

    def setSchedulerParametersFlags(self, params, flags):
        self._rec("setSchedulerParametersFlags", params, flags)

    def create(self):
        self._rec("create")
        self.now = "running"

    def shutdown(self):
        self._rec("shutdown")
        if self.stops:
            self.now = "stopped"

    def destroy(self):
        self._rec("destroy")
        self.now = "stopped"

    def resume(self):
        self._rec("resume")
        self.now = "running"


class FakeConn(object):
    def __init__(self, dom):
        self.dom, self.defined = dom, []

    def listAllDomains(self, flags):
        return [self.dom]

    def lookupByName(self, name):
        return self.dom

    def defineXML(self, xml):
        self.defined.append(xml)
        return self.dom


def backend(dom):
    be = LibvirtBackend({"uri": "qemu:///system"}, sleep=lambda s: None)
    be._conn = FakeConn(dom)
    return be


def declared(**kw):
    spec = {"name": NAME, "virt_type": "qemu", "memory": 64, "max_memory": 128, "vcpus": 1, "max_vcpus": 2,
            "cpu_shares": 1024, "state": "running", "interfaces": [{"network": "vftest-rec-net"}],
            "disks": [{"path": "/dev/null", "device": "cdrom"}]}
    spec.update(kw)
    g = guest_from_params(spec)
    g["disks"][0]["format"] = "raw"
    return g


def converge(be, desired):
    cur = be.current(NAME)
    p = plan(desired, cur, be.caps)
    be.apply(p, cur)
    return p


def test_live_memory_and_vcpus_reach_libvirt_in_kib_and_count():
    calls = []
    be = backend(FakeDom(calls))
    p = converge(be, declared(memory="96MiB", vcpus=2, cpu_shares=512))
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"memory": "live", "vcpus": "live", "cpu_shares": "live"}
    live = libvirt.VIR_DOMAIN_AFFECT_LIVE
    assert ("setMemoryFlags", 96 * 1024, live) in calls, calls
    assert ("setVcpusFlags", 2, live) in calls
    assert ("setSchedulerParametersFlags", {"cpu_shares": 512}, live) in calls
    root = ET.fromstring(be._conn.defined[-1])
    assert root.find("currentMemory").get("unit") == "KiB" and root.findtext("currentMemory") == str(96 * 1024)
    assert root.findtext("memory") == str(128 * 1024)


def test_recorded_memory_reads_back_in_mib():
    assert parse_domain(CONFIG_XML)["memory"] == 64 and parse_domain(CONFIG_XML)["max_memory"] == 128
    odd = CONFIG_XML.replace("<memory unit='KiB'>131072</memory>", "<memory unit='GiB'>1</memory>")
    assert parse_domain(odd)["max_memory"] == 1024
    bad = CONFIG_XML.replace("<memory unit='KiB'>131072</memory>", "<memory unit='pages'>32768</memory>")
    with pytest.raises(ValueError, match="unknown unit 'pages'"):
        parse_domain(bad)


def test_unreadable_unit_is_a_backend_error_naming_the_guest():
    dom = FakeDom([])
    dom.XMLDesc = lambda flags: CONFIG_XML.replace("unit='KiB'>131072", "unit='pages'>32768")
    with pytest.raises(BackendError) as e:
        backend(dom).current(NAME)
    assert e.value.obj == NAME and "read failed: unknown unit 'pages'" in str(e.value)


@pytest.mark.parametrize("stops, force, expected", [
    (True, False, ["state", "shutdown", "isActive"]),
    (False, True, ["state", "shutdown", "isActive", "destroy"]),
])
def test_stop_goes_through_the_shared_state_machine(stops, force, expected):
    calls = []
    be = backend(FakeDom(calls, stops=stops))
    converge(be, declared(state="stopped", shutdown_timeout=0, force_stop=force))
    assert [c[0] for c in calls if c[0] in ("state", "shutdown", "isActive", "destroy")][-len(expected):] == expected


def test_stop_without_force_stop_names_guest_and_field():
    be = backend(FakeDom([], stops=False))
    with pytest.raises(BackendError) as e:
        converge(be, declared(state="stopped", shutdown_timeout=0))
    assert (e.value.obj, e.value.field) == (NAME, "state")
    assert "shutdown_timeout=0s" in str(e.value) and "force_stop: true to power it off" in str(e.value)


def test_libvirt_error_in_a_live_call_names_guest_and_operation():
    err = libvirt.libvirtError("internal error: unable to execute QEMU command 'balloon'")
    be = backend(FakeDom([], fail={"setMemoryFlags": err}))
    with pytest.raises(BackendError) as e:
        converge(be, declared(memory=96))
    assert e.value.obj == NAME and str(e.value).startswith("guest '%s': set memory failed: internal error" % NAME)


def test_raw_libvirt_error_outside_call_is_still_a_backend_error():
    """isActive raising (the domain went away mid-apply) must not escape as a libvirtError."""
    err = libvirt.libvirtError("Domain not found: no domain with matching name")
    be = backend(FakeDom([], fail={"isActive": err}))
    with pytest.raises(BackendError) as e:
        converge(be, declared(state="absent"))
    assert e.value.obj == NAME and "Domain not found" in str(e.value)


def test_plans_touching_host_files_are_applied_alone():
    """Two guests of one batch may name the same disk file: creating, growing or removing
    storage is never done at the same time as other plans (_core applies those one by one)."""
    be = LibvirtBackend({"uri": "qemu:///system"})
    assert be.apply_workers > 1
    assert not be.apply_alone({"action": "create", "desired": {"remove_storage": False}})
    assert be.apply_alone({"action": "create", "disk_files": [0], "desired": {}})
    assert be.apply_alone({"action": "prune", "desired": {"remove_storage": True}})
    assert be.apply_alone({"action": "delete", "desired": {"remove_storage": True}})
    assert not be.apply_alone({"action": "delete", "desired": {"remove_storage": False}})
