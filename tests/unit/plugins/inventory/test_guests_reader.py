"""The guests inventory plugin's readers (plugins/module_utils/_inventory.py), replayed on
what the real libvirtd, LXC and xl answered (tests/unit/fixtures/inventory-record.py,
lxc-record.py, xl-record.py)."""

import json
import os
import time

import libvirt
import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _inventory as inv

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


class Refused(libvirt.libvirtError):
    def __init__(self, msg, code):  # pylint: disable=super-init-not-called
        self.msg, self.code = msg, code

    def get_error_message(self):
        return self.msg

    def get_error_code(self):
        return self.code


class Dom:
    def __init__(self, rec, d, calls):
        self.rec, self.d, self.calls = rec, d, calls

    def name(self):
        return self.d["name"]

    def UUIDString(self):  # noqa: N802 - libvirt's name
        return self.d["uuid"]

    def XMLDesc(self, flags):  # noqa: N802
        self.calls.append(("XMLDesc", self.name(), flags))
        return self.rec["xml"][self.d["uuid"]][str(flags)]

    def interfaceAddresses(self, source, _flags):  # noqa: N802
        self.calls.append(("interfaceAddresses", self.name(), source))
        kind = "arp" if source == libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP else "agent"
        answer = self.rec[kind][self.d["uuid"]]
        if "error" in answer:
            raise Refused(answer["error"], answer["code"])
        return answer["ok"]


class Net:
    def __init__(self, leases):
        self.leases = leases

    def DHCPLeases(self):  # noqa: N802
        return self.leases


class Conn:
    """Replays a recorded libvirtd; counts calls."""

    def __init__(self, rec, leases=None):
        self.rec, self.calls = rec, []
        self.doms = [Dom(rec, d, self.calls) for d in rec["domains"]]
        self.leases = leases

    def listAllDomains(self, flags):  # noqa: N802
        self.calls.append(("listAllDomains", flags))
        if flags == libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT:
            return [d for d in self.doms if d.UUIDString() in self.rec["persistent"]]
        if flags == libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART:
            return [d for d in self.doms if d.UUIDString() in self.rec["autostart"]]
        if flags == libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE:
            return [d for d in self.doms if d.UUIDString() in self.rec.get("saved", ())]
        return list(self.doms)

    def getAllDomainStats(self, stats, flags):  # noqa: N802
        self.calls.append(("getAllDomainStats", stats, flags))
        by_uuid = {d.UUIDString(): d for d in self.doms}
        return [(by_uuid[u], s) for u, s in self.rec["stats"]]

    def listAllNetworks(self, _flags):  # noqa: N802
        self.calls.append(("listAllNetworks",))
        if self.leases is not None:
            return [Net(self.leases)]
        return [Net(v) for v in self.rec["networks"].values()]


@pytest.fixture(name="rec")
def recorded():
    return json.loads(fixture("inventory-libvirt.json"))


def by_name(records):
    return {r["name"]: r for r in records}


def test_recorded_host_lists_every_guest_with_state_fleet_and_the_modules_fields(rec):
    conn = Conn(rec)
    guests = by_name(inv.read_libvirt(conn, libvirt, "kvm01", "qemu:///system"))
    assert sorted(guests) == ["vftest-invrec-foreign", "vftest-invrec-run", "vftest-invrec-stop",
                              "vftest-invrec-transient"]
    run, stop = guests["vftest-invrec-run"], guests["vftest-invrec-stop"]
    assert (run["state"], run["managed"], run["fleet"], run["autostart"], run["persistent"]) == \
        ("running", True, "blue", True, True)
    assert (stop["state"], stop["managed"], stop["fleet"], stop["autostart"]) == ("stopped", True, "green", False)
    assert stop["spec"]["memory"] == 32 and stop["spec"]["max_memory"] == 64
    assert [(d["path"], d["device"], d["readonly"]) for d in stop["spec"]["disks"]] == [("/dev/null", "cdrom", True)]
    assert run["spec"]["interfaces"][0]["network"] == "vftest-invrec-net"
    foreign = guests["vftest-invrec-foreign"]
    assert (foreign["managed"], foreign["fleet"], foreign["state"]) == (False, None, "stopped")
    transient = guests["vftest-invrec-transient"]
    assert (transient["persistent"], transient["state"]) == (False, "running")
    assert all(g["hypervisor"] == "kvm01" and g["backend"] == "libvirt" for g in guests.values())
    # the agent channel of vftest-invrec-run exists but is disconnected: never asked
    assert run["agent"] is False
    assert not [c for c in conn.calls if c[0] == "interfaceAddresses" and c[2] ==
                libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT]
    assert run["addresses"] == [] and run["ansible_host"] is None


def test_bulk_calls_once_per_host_and_one_definition_read_per_stopped_guest(rec):
    conn = Conn(rec)
    inv.read_libvirt(conn, libvirt, "kvm01", "qemu:///system")
    names = [c[0] for c in conn.calls]
    assert names.count("listAllDomains") == 4  # all, persistent, autostart, managed save
    assert names.count("getAllDomainStats") == 1
    assert names.count("listAllNetworks") == 1
    per_guest = {}
    for c in conn.calls:
        if c[0] in ("XMLDesc", "interfaceAddresses"):
            per_guest.setdefault(c[1], []).append(c[0])
    assert per_guest["vftest-invrec-stop"] == ["XMLDesc"]
    assert per_guest["vftest-invrec-foreign"] == ["XMLDesc"]
    # running: definition + live XML (MACs, agent channel) + the ARP table (no lease named it)
    assert per_guest["vftest-invrec-run"] == ["XMLDesc", "XMLDesc", "interfaceAddresses"]


def test_lease_then_arp_then_agent(rec):
    run_uuid = [d["uuid"] for d in rec["domains"] if d["name"] == "vftest-invrec-run"][0]
    mac = inv._live_info(rec["xml"][run_uuid]["0"])[0][0]  # pylint: disable=protected-access
    lease = {"mac": mac, "ipaddr": "192.0.2.10", "iface": "vftestinv0", "type": 0}
    guests = by_name(inv.read_libvirt(Conn(rec, leases=[lease]), libvirt, "h", "qemu:///system"))
    assert guests["vftest-invrec-run"]["ansible_host"] == "192.0.2.10"
    assert guests["vftest-invrec-run"]["addresses"][0]["source"] == "lease"
    # no lease: the ARP answer (recorded as a refusal here) -> nothing, and no agent asked
    rec["arp"][run_uuid] = {"ok": {"vnet0": {"hwaddr": mac, "addrs": [{"addr": "192.0.2.11", "prefix": 0, "type": 0}]}}}
    guests = by_name(inv.read_libvirt(Conn(rec), libvirt, "h", "qemu:///system"))
    assert guests["vftest-invrec-run"]["ansible_host"] == "192.0.2.11"
    assert guests["vftest-invrec-run"]["addresses"][0]["source"] == "arp"


def test_connected_agent_is_asked_with_a_deadline_and_a_hung_one_is_left_out(rec):
    run_uuid = [d["uuid"] for d in rec["domains"] if d["name"] == "vftest-invrec-run"][0]
    live = rec["xml"][run_uuid]["0"]
    rec["xml"][run_uuid]["0"] = live.replace("state='disconnected'", "state='connected'")
    rec["agent"][run_uuid] = {"ok": {"lo": {"hwaddr": "00:00:00:00:00:00", "addrs": [{"addr": "127.0.0.1"}]},
                                     "eth0": {"hwaddr": "52:54:00:aa:bb:cc",
                                              "addrs": [{"addr": "fe80::1"}, {"addr": "2001:db8::5"},
                                                        {"addr": "198.51.100.7"}]}}}
    guests = by_name(inv.read_libvirt(Conn(rec), libvirt, "h", "qemu:///system"))
    run = guests["vftest-invrec-run"]
    assert run["agent"] is True
    assert run["ansible_host"] == "198.51.100.7"  # IPv4 first; loopback and link-local dropped
    assert [a["ip"] for a in run["addresses"]] == ["2001:db8::5", "198.51.100.7"]

    class Hung(Dom):
        def interfaceAddresses(self, source, _flags):  # noqa: N802
            if source == libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT:
                time.sleep(5)  # an agent that never answers
            return super().interfaceAddresses(source, _flags)
    conn = Conn(rec)
    conn.doms = [Hung(rec, d.d, conn.calls) if d.name() == "vftest-invrec-run" else d for d in conn.doms]
    t0 = time.monotonic()
    guests = by_name(inv.read_libvirt(conn, libvirt, "h", "qemu:///system", agent_timeout=0.3))
    assert time.monotonic() - t0 < 2
    assert guests["vftest-invrec-run"]["addresses"] == []


def test_check_uri():
    for good in ("qemu:///system", "qemu+ssh://root@kvm01/system", "qemu+ssh://root@kvm01:2222/system?keyfile=/k",
                 "qemu+unix:///system?socket=/run/vfns/h-01/run/libvirt-sock", "xen:///system", "lxc:///system"):
        assert inv.check_uri(good) is None, good
    assert "malformed" in inv.check_uri("kvm01")
    assert "malformed" in inv.check_uri("qemu:/system")
    assert "socket= must be an absolute path" in inv.check_uri("qemu+unix:///system?socket=rel/sock")
    assert "needs a host" in inv.check_uri("qemu+ssh:///system")


def test_collect_reports_a_failing_and_a_hanging_host_and_keeps_the_others():
    def boom():
        raise inv.HostError("cannot connect: no such socket")
    t0 = time.monotonic()
    results, errors = inv.collect([("a", lambda: [1]), ("b", boom), ("c", lambda: time.sleep(5))], timeout=0.5)
    assert time.monotonic() - t0 < 2
    assert results == {"a": [1]}
    assert errors["b"] == "cannot connect: no such socket"
    assert errors["c"].startswith("no answer after")


def test_lxc_probe_document_parsed_with_the_backend_readers():
    doc = {"backend": "lxc", "cgroup": 2, "listing": fixture("lxc-ls-fancy.txt"),
           "containers": {"vftest-rec-bb": {"config": fixture("lxc-busybox-managed.config"),
                                            "marker": json.loads(fixture("lxc-busybox-managed.json")),
                                            "ipv4": ["192.0.2.30"]},
                          "vftest-rec-stopped": {"config": fixture("lxc-busybox-created.config"), "marker": None,
                                                 "ipv4": []}}}
    guests = by_name(inv.read_probe(doc, "lxc01", "ssh://lxc01"))
    bb = guests["vftest-rec-bb"]
    assert (bb["backend"], bb["state"], bb["managed"], bb["ansible_host"]) == ("lxc", "running", True, "192.0.2.30")
    assert guests["vftest-rec-frozen"]["state"] == "paused"
    assert guests["vftest-rec-stopped"]["managed"] is False and guests["vftest-rec-stopped"]["state"] == "stopped"


def test_xl_probe_document_parsed_with_the_backend_readers():
    doc = {"backend": "xl", "list": fixture("xl-list.txt"),
           "configs": {"vftest-rec-pv": {"text": fixture("xl-rec-pv.cfg"), "auto": True},
                       "vftest-rec-off": {"text": fixture("xl-rec-pvh.cfg").replace("vftest-rec-pvh", "vftest-rec-off"),
                                          "auto": False}}}
    guests = by_name(inv.read_probe(doc, "xen01", "ssh://xen01"))
    assert "Domain-0" not in guests
    assert guests["vftest-rec-pv"]["state"] == "running" and guests["vftest-rec-pv"]["autostart"] is True
    assert guests["vftest-rec-pvh"]["state"] == "paused" and guests["vftest-rec-pvh"]["persistent"] is False
    assert guests["vftest-rec-off"]["state"] == "stopped"
    assert guests["vftest-rec-pv"]["spec"]["memory"]
    # a stopped guest with an xl save state file is saved, as the guest modules name it
    doc["saved"] = ["vftest-rec-off", "vftest-rec-pv"]
    guests = by_name(inv.read_probe(doc, "xen01", "ssh://xen01"))
    assert guests["vftest-rec-off"]["state"] == "saved" and guests["vftest-rec-pv"]["state"] == "running"


def test_probe_argv_is_batch_ssh_or_local_python():
    argv = inv.probe_argv("lxc01", user="root", port=2222, key="/k", timeout=7)
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=7"]
    assert argv[-4:] == ["--", "lxc01", "python3", "-"] and ["-l", "root"] == argv[argv.index("-l"):argv.index("-l") + 2]
    assert inv.probe_argv("x", python="/usr/bin/python3", local=True) == ["/usr/bin/python3", "-"]


def test_a_definition_the_modules_reader_refuses_is_listed_bare(rec):
    stop = [d["uuid"] for d in rec["domains"] if d["name"] == "vftest-invrec-stop"][0]
    flags = str(libvirt.VIR_DOMAIN_XML_INACTIVE)
    rec["xml"][stop][flags] = rec["xml"][stop][flags].replace("unit='KiB'", "unit='parsecs'", 1)
    guests = by_name(inv.read_libvirt(Conn(rec), libvirt, "h", "qemu:///system"))
    assert len(guests) == 4
    assert guests["vftest-invrec-stop"]["spec"] == {} and guests["vftest-invrec-stop"]["state"] == "stopped"


def test_labels_read_back_from_each_backend(rec):
    """title, description and tags, as the guest modules keep them: libvirt metadata, lxc marker, xl cfg."""
    uuid = [d["uuid"] for d in rec["domains"] if d["name"] == "vftest-invrec-stop"][0]
    for key, xml in rec["xml"][uuid].items():
        xml = xml.replace('"fleet": "green",', '"fleet": "green", "tags": ["web", "env=prod"],')
        rec["xml"][uuid][key] = xml.replace("</uuid>", "</uuid>\n  <title>Stop</title>\n  <description>two\nlines"
                                            "</description>", 1)
    guests = by_name(inv.read_libvirt(Conn(rec), libvirt, "kvm01", "qemu:///system"))
    stop = guests["vftest-invrec-stop"]
    assert (stop["tags"], stop["title"], stop["description"]) == (["env=prod", "web"], "Stop", "two\nlines")
    assert (guests["vftest-invrec-run"]["tags"], guests["vftest-invrec-run"]["title"]) == ([], "")

    mark = json.loads(fixture("lxc-busybox-managed.json"))
    mark["labels"] = {"title": "bb", "tags": ["db", "ci"]}
    doc = {"backend": "lxc", "cgroup": 2, "listing": fixture("lxc-ls-fancy.txt"),
           "containers": {"vftest-rec-bb": {"config": fixture("lxc-busybox-managed.config"), "marker": mark,
                                            "ipv4": []}}}
    bb = by_name(inv.read_probe(doc, "lxc01", "ssh://lxc01"))["vftest-rec-bb"]
    assert (bb["tags"], bb["title"], bb["description"]) == (["ci", "db"], "bb", "")

    cfg = fixture("xl-rec-pv.cfg") + 'virtfleet_tags = [ "xen", "pv" ]\nvirtfleet_title = "PV"\n'
    doc = {"backend": "xl", "list": fixture("xl-list.txt"), "configs": {"vftest-rec-pv": {"text": cfg, "auto": True}}}
    pv = by_name(inv.read_probe(doc, "xen01", "ssh://xen01"))["vftest-rec-pv"]
    assert (pv["tags"], pv["title"]) == (["pv", "xen"], "PV")
