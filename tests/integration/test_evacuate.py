"""playbooks/evacuate.yml against three libvirt hosts made on this machine (tests/nshosts.py),
with an inventory: the first host's three guests (two running, one stopped) are placed on
the other two; --check shows the plan and moves nothing; the run moves the running guests
live and the stopped one's definition, reports what went where, and leaves the first host
empty; a second run has nothing to move. A guest no target has room for (capacity after
the ratios, as the place module counts it) stops the play before anything moves. With
evacuate_max_concurrent 2, two guests move at once onto one target."""

import json
import os
import re
import subprocess

import libvirt
import pytest

import nshosts
from vfhelpers import PREFIX, ROOT

BIN = os.path.join(ROOT, ".venv", "bin")
HOSTS = "vfevac"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def domain_xml(name, mib=1024):
    """An OS-less TCG guest of 1 GiB (what placement counts: committed memory, not what QEMU
    touches). QEMU allocates its memory lazily, so it costs a few MiB."""
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>%d</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices><serial type='pty'/></devices></domain>" % (name, mib))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with nshosts.hosts(3, prefix=HOSTS) as hosts:
        inv = tmp_path_factory.mktemp("evac") / "hosts.yml"
        lines = ["all:", "  vars:", "    ansible_connection: local",
                 "    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"",
                 "  children:", "    kvm_hosts:", "      hosts:"]
        for h in hosts:
            lines += ["        %s:" % h.name, "          virtfleet_uri: \"%s\"" % h.uri,
                      "          virtfleet_migration_uri: \"%s\"" % h.uri]
        inv.write_text("\n".join(lines) + "\n")
        conns = [libvirt.open(h.uri) for h in hosts]
        yield hosts, conns, str(inv)
        for c in conns:
            c.close()


@pytest.fixture(autouse=True)
def _clean(fleet):
    """Every test starts with empty hosts."""
    yield
    for c in fleet[1]:
        for dom in c.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                if dom.isActive():
                    dom.destroy()
                dom.undefine()


def playbook(inv, source, *extra):
    """(proc, recap of the source host, the report file's content or None)."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.pop("ANSIBLE_CONFIG", None)
    report = os.path.join(os.path.dirname(inv), "report.json")
    if os.path.exists(report):
        os.unlink(report)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inv, "playbooks/evacuate.yml",
                           "-e", "evacuate_host=" + source, "-e", "evacuate_tunnelled=true",
                           "-e", "evacuate_report_file=" + report] + list(extra),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])} for m in RECAP.findall(proc.stdout)}
    data = None
    if os.path.exists(report):
        with open(report) as f:
            data = json.load(f)
    return proc, recap.get(source, {}), data


def where(conns):
    return {i: sorted((d.name(), "running" if d.isActive() else "stopped") for d in c.listAllDomains(0))
            for i, c in enumerate(conns)}


def test_evacuate_three_guests_onto_two_hosts(fleet):
    hosts, conns, inv = fleet
    src = conns[0]
    for n in ("a", "b"):
        src.defineXML(domain_xml(PREFIX + "evac-" + n)).create()
    stopped = src.defineXML(domain_xml(PREFIX + "evac-c"))
    stopped.setAutostart(1)
    before = where(conns)

    proc, stats, data = playbook(inv, hosts[0].name, "--check")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert data["check_mode"] and all(not r["moved"] for r in data["report"])
    plan = data["plan"]
    assert sorted((m["guest"], m["mode"]) for m in plan["moves"]) == [
        (PREFIX + "evac-a", "live"), (PREFIX + "evac-b", "live"), (PREFIX + "evac-c", "offline")]
    assert {m["to"] for m in plan["moves"] if m["mode"] == "live"} == {hosts[1].name, hosts[2].name}, \
        "the two running guests should be spread over the two targets"
    assert where(conns) == before, "--check moved something"

    proc, stats, data = playbook(inv, hosts[0].name)
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = data["report"]
    assert sorted((r["guest"], r["from"], r["moved"], r["state"]) for r in report) == [
        (PREFIX + "evac-a", hosts[0].name, True, "running"), (PREFIX + "evac-b", hosts[0].name, True, "running"),
        (PREFIX + "evac-c", hosts[0].name, True, "stopped")]
    after = where(conns)
    assert after[0] == []
    targets = {h.name: i for i, h in enumerate(hosts)}
    for r in report:
        assert (r["guest"], r["state"]) in after[targets[r["to"]]]
    c_host = conns[targets[[r["to"] for r in report if r["guest"] == PREFIX + "evac-c"][0]]]
    assert c_host.lookupByName(PREFIX + "evac-c").autostart() == 1

    proc, stats, data = playbook(inv, hosts[0].name)
    assert proc.returncode == 0 and stats["changed"] == 0, proc.stdout[-4000:]
    assert data["report"] == [] and data["plan"]["moves"] == []


def test_no_room_stops_before_anything_moves(fleet):
    hosts, conns, inv = fleet
    src = conns[1]
    src.defineXML(domain_xml(PREFIX + "evac-big")).create()
    before = where(conns)
    # 1 % of the machine's memory after the 512 MiB reserved (about 240 MiB here) is what a target
    # offers: the 1 GiB guest fits nowhere
    proc, stats, data = playbook(inv, hosts[1].name, "-e", "evacuate_memory_ratio=0.01")
    assert proc.returncode != 0 and stats["failed"] == 1 and data is None
    line = [x for x in proc.stdout.splitlines() if "nothing moved; no room for:" in x]
    assert line, proc.stdout[-4000:]
    assert re.search(r"guest '%sevac-big': memory_mib: fits nowhere; the best host, vfevac-0[13], has [\d.]+ MiB free "
                     r"of [\d.]+ MiB \(capacity after the ratios\), it needs 1024 MiB: short by [\d.]+ MiB" % PREFIX, line[0]), line[0]
    assert where(conns) == before


def test_two_guests_move_at_once(fleet):
    """evacuate_max_concurrent=2: both running guests of the first host go to the one target
    in one batch (two migrate jobs at once); both arrive running, the report says so, nothing is
    left on the source, and a second run has nothing to move."""
    hosts, conns, inv = fleet
    names = [PREFIX + "evac-p", PREFIX + "evac-q"]
    for n in names:
        conns[0].defineXML(domain_xml(n, mib=256)).create()
    target = hosts[1].name
    extra = ("-e", json.dumps({"evacuate_targets": [target], "evacuate_max_concurrent": 2}))
    proc, stats, data = playbook(inv, hosts[0].name, *extra)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "=> (item=%s, %s)" % tuple(names) in proc.stdout, "not one batch of two: " + proc.stdout[-4000:]
    assert sorted((r["guest"], r["from"], r["to"], r["mode"], r["moved"], r["state"]) for r in data["report"]) == [
        (n, hosts[0].name, target, "live", True, "running") for n in names]
    assert all(r["duration"] > 0 for r in data["report"])
    after = where(conns)
    assert after[0] == [] and after[1] == [(n, "running") for n in names] and after[2] == []
    assert all(conns[1].lookupByName(n).isPersistent() for n in names)

    proc, stats, data = playbook(inv, hosts[0].name, *extra)
    assert proc.returncode == 0 and stats["changed"] == 0 and data["plan"]["moves"] == [], proc.stdout[-4000:]
