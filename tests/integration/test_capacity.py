"""Capacity (issue 18) against real libvirt daemons: two simulated hosts (tests/nshosts.py, each
its own libvirtd reached by its socket URI, as a remote host is) in one fleet inventory.

* playbooks/site.yml places the guests of virtfleet_fleet_guests (no host declared) with
  virtfleet.hypervisor.place, run once on the controller over host_facts of both hosts: the
  anti-affinity pair lands on different hosts, the rest packs on one; a second run changes
  nothing; a guest added later is placed without moving the others.
* A fleet guest that fits nowhere fails the run before anything is made, naming the guest,
  the resource and the best host's shortfall.
* Admission: the guests module refuses a guest that would run past the host's CPU ratio,
  changing nothing, while another guest of the same call converges; check mode predicts it.
* The fleet report (playbooks/report.yml): rendered by headless Chromium (Debian's
  chromium), a screenshot taken, and the numbers in its DOM checked against host_facts; a
  drift made by hand shows on its host; the report changes nothing.

The guests are tiny and never started (32 MiB, state stopped) except where a start is what
is refused, so nothing boots."""

import json
import os
import subprocess

import libvirt
import pytest
from lxml import etree

import nshosts
from test_fleet_playbooks import playbook
from vfhelpers import COLLECTIONS, run_module

HOSTS = "vfcaphost"
FLEET = "vftest-cap"
TINY = {"state": "stopped", "virt_type": "qemu", "memory": 32}


@pytest.fixture(scope="module")
def fleet():
    with nshosts.hosts(2, prefix=HOSTS) as hs:
        conns = [libvirt.open(h.uri) for h in hs]
        try:
            yield hs, conns
        finally:
            for c in conns:
                c.close()


def names(conn):
    return sorted(d.name() for d in conn.listAllDomains(0) if d.name().startswith(FLEET))


def inventory(tmp_path, hs, fleet_guests, name="hosts.yml"):
    inv = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "virtfleet_prepare_host": False, "virtfleet_fleet": FLEET,
                 "virtfleet_fleet_guests": fleet_guests},
        "children": {"hypervisors": {"children": {"kvm_hosts": {"hosts": {
            "cap1": {"virtfleet_uri": hs[0].uri,
                     "virtfleet_guests": [dict(TINY, name=FLEET + "-pinned")]},
            "cap2": {"virtfleet_uri": hs[1].uri},
        }}}}}}}
    path = tmp_path / name
    path.write_text(json.dumps(inv))  # JSON is YAML
    return str(path)


ENV = {"ANSIBLE_COLLECTIONS_PATH": COLLECTIONS}


def test_site_places_fleet_guests_stably(fleet, tmp_path):
    hs, conns = fleet
    guests = [dict(TINY, name=FLEET + "-web1", anti_affinity="web"),
              dict(TINY, name=FLEET + "-web2", anti_affinity="web"),
              dict(TINY, name=FLEET + "-db", vcpus=2)]
    proc, recap = playbook(["-i", inventory(tmp_path, hs, guests), "playbooks/site.yml"], ENV)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    first = [names(c) for c in conns]
    webs = [FLEET + "-web1" in n for n in first] + [FLEET + "-web2" in n for n in first]
    assert webs.count(True) == 2 and (FLEET + "-web1" in first[0]) != (FLEET + "-web2" in first[0]), first
    assert FLEET + "-pinned" in first[0]
    # pack: db joins a host that is already in use (both are), and every guest is on exactly one host
    assert sorted(first[0] + first[1]) == sorted([FLEET + s for s in ("-db", "-pinned", "-web1", "-web2")])

    proc, recap = playbook(["-i", inventory(tmp_path, hs, guests), "playbooks/site.yml"], ENV)
    assert proc.returncode == 0 and recap["cap1"]["changed"] == 0 and recap["cap2"]["changed"] == 0, \
        (recap, proc.stdout[-4000:])

    # a new guest: the others stay where they are, even with a policy that would spread them
    more = guests + [dict(TINY, name=FLEET + "-new")]
    proc, recap = playbook(["-i", inventory(tmp_path, hs, more), "playbooks/site.yml",
                            "-e", "virtfleet_placement_policy=spread"], ENV)
    assert proc.returncode == 0, proc.stdout[-4000:]
    after = [names(c) for c in conns]
    for before, now in zip(first, after):
        assert set(before) <= set(now)
    assert sum(FLEET + "-new" in n for n in after) == 1


def test_infeasible_fleet_guest_fails_before_anything_changes(fleet, tmp_path):
    hs, conns = fleet
    before = [names(c) for c in conns]
    guests = [dict(TINY, name=FLEET + "-small"), dict(TINY, name=FLEET + "-huge", memory="4TiB")]
    proc, _recap = playbook(["-i", inventory(tmp_path, hs, guests, "bad.yml"), "playbooks/site.yml"], ENV)
    out = proc.stdout
    assert proc.returncode != 0, out[-4000:]
    assert "guest '%s-huge': memory_mib: fits nowhere; the best host, cap" % FLEET in out, out[-4000:]
    assert "short by" in out
    assert [names(c) for c in conns] == before  # nothing made, not even the guest that fits


def test_admission_refuses_a_guest_past_the_cpu_ratio(fleet):
    hs, conns = fleet
    cpus = conns[1].getInfo()[2]
    big = {"name": FLEET + "-wide", "vcpus": cpus * 4 + 1, "virt_type": "qemu", "memory": 32, "state": "running"}
    ok = dict(TINY, name=FLEET + "-fine")
    args = {"uri": hs[1].uri, "fleet": FLEET, "guests": [big, ok]}
    checked = run_module("guests", args, check=True)
    assert checked["failed"] and checked["failed_guests"] == [FLEET + "-wide"], checked
    res = {r["name"]: r for r in checked["results"]}
    assert res[FLEET + "-wide"]["capacity"]["vcpus"]["capacity"] == cpus * 4.0
    assert ("guest '%s-wide': capacity_check: refused, vcpus: the host has" % FLEET) in res[FLEET + "-wide"]["msg"]
    before = names(conns[1])
    result = run_module("guests", args)
    assert result["failed"] and result["failed_guests"] == [FLEET + "-wide"], result
    now = names(conns[1])
    assert FLEET + "-wide" not in now and FLEET + "-fine" in now and set(before) <= set(now)
    # what the host reports: committed against capacity, the numbers place plans with
    facts = run_module("host_facts", {"uri": hs[1].uri, "toolstacks": ["libvirt"]})
    res = facts["ansible_facts"]["virtfleet_host"]["capacity"]["resources"]
    assert res["vcpus"]["capacity"] == os.cpu_count() * 4.0
    assert res["vcpus"]["committed"] == sum(d.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG)
                                            for d in conns[1].listAllDomains(0))
    # defined but stopped it holds nothing and is not refused (starting it is checked then)
    result = run_module("guests", dict(args, guests=[dict(big, state="stopped")]))
    assert not result.get("failed") and FLEET + "-wide" in names(conns[1]), result
    assert "capacity" not in result["results"][0]


def test_admission_refuses_volumes_past_the_disk_ratio(fleet, tmp_path):
    """A small dir pool (its capacity x disk_ratio leaves 2 GiB over what it holds): a guest
    whose new volume needs 30 GiB is refused, naming guest, pool and numbers, nothing of it
    made; a guest of the same call with a 64 MiB volume is created with its volume."""
    hs, conns = fleet
    conn = conns[1]
    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    pool = conn.storagePoolCreateXML("<pool type='dir'><name>%s-disk</name><target><path>%s</path></target></pool>"
                                     % (FLEET, pool_dir), 0)
    try:
        _state, capacity, allocation, _avail = pool.info()
        ratio = (allocation + 2.0 * 1024 ** 3) / capacity
        big = dict(TINY, name=FLEET + "-bigdisk",
                   disks=[{"volume": FLEET + "-bigdisk.qcow2", "pool": FLEET + "-disk", "size": "30GiB"}])
        small = dict(TINY, name=FLEET + "-smalldisk",
                     disks=[{"volume": FLEET + "-smalldisk.qcow2", "pool": FLEET + "-disk", "size": "64MiB"}])
        # overlays without a size: created with, and counted at, their backing file's virtual size
        for base, size in (("big", "30G"), ("small", "64M")):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / (base + ".qcow2")), size],
                           check=True)
        overlays = [dict(TINY, name=FLEET + "-ovl" + base, disks=[{
            "volume": FLEET + "-ovl%s.qcow2" % base, "pool": FLEET + "-disk", "backing": str(tmp_path / (base + ".qcow2"))}])
            for base in ("big", "small")]
        args = {"uri": hs[1].uri, "fleet": FLEET, "guests": [big, small] + overlays, "disk_ratio": ratio}
        result = run_module("guests", args)
        assert result["failed"] and result["failed_guests"] == [FLEET + "-bigdisk", FLEET + "-ovlbig"], result
        res = {r["name"]: r for r in result["results"]}
        msg = res[FLEET + "-bigdisk"]["msg"]
        assert ("guest '%s-bigdisk': capacity_check: refused, disk_%s-disk: pool %s-disk has" % (FLEET, FLEET, FLEET)
                in msg) and "the guest's new volumes need 30.0 GiB" in msg, msg
        report = res[FLEET + "-bigdisk"]["capacity"]["disk_%s-disk" % FLEET]
        assert report["requested"] == 30 * 1024 ** 3 and report["capacity"] == pytest.approx(capacity * ratio)
        assert res[FLEET + "-smalldisk"]["capacity"]["disk_%s-disk" % FLEET]["requested"] == 64 * 1024 ** 2
        assert "the guest's new volumes need 30.0 GiB" in res[FLEET + "-ovlbig"]["msg"], res[FLEET + "-ovlbig"]
        assert FLEET + "-bigdisk" not in names(conn) and FLEET + "-smalldisk" in names(conn)
        pool.refresh(0)
        assert sorted(pool.listVolumes()) == [FLEET + "-ovlsmall.qcow2", FLEET + "-smalldisk.qcow2"]
        assert pool.storageVolLookupByName(FLEET + "-ovlsmall.qcow2").info()[1] == 64 * 1024 ** 2
    finally:
        for name in (FLEET + "-smalldisk", FLEET + "-bigdisk", FLEET + "-ovlsmall", FLEET + "-ovlbig"):
            try:
                conn.lookupByName(name).undefine()
            except libvirt.libvirtError:
                pass
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()


def chromium(*args):
    """Debian's chromium, headless (as root it needs --no-sandbox); returns stdout."""
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1200,1400"] + list(args), capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_report_page_shows_what_host_facts_reads(fleet, tmp_path):
    hs, conns = fleet
    guests = [dict(TINY, name=FLEET + "-web1", anti_affinity="web"),
              dict(TINY, name=FLEET + "-web2", anti_affinity="web"),
              dict(TINY, name=FLEET + "-db", vcpus=2), dict(TINY, name=FLEET + "-new")]
    # drift made by hand: db gets 1 vCPU in its definition
    where = next(i for i, c in enumerate(conns) if FLEET + "-db" in names(c))
    conns[where].lookupByName(FLEET + "-db").setVcpusFlags(1, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    out_dir = tmp_path / "report"
    before = [names(c) for c in conns]
    proc, _recap = playbook(["-i", inventory(tmp_path, hs, guests), "playbooks/report.yml",
                            "-e", "virtfleet_report_dir=%s" % out_dir], ENV)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    # a report changes nothing (check mode; its "changed" counts are the drift and the files written)
    assert [names(c) for c in conns] == before
    assert conns[where].lookupByName(FLEET + "-db").vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG) == 1
    data = json.loads((out_dir / "report.json").read_text())
    assert [h["name"] for h in data["hosts"]] == ["cap1", "cap2"]

    page = out_dir / "report.html"
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html  # self-contained
    shot = tmp_path / "report.png"
    chromium("--screenshot=%s" % shot, page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10000
    dom = etree.HTML(chromium("--dump-dom", page.as_uri()))
    for i, h in enumerate(hs):
        name = "cap%d" % (i + 1)
        facts = run_module("host_facts", {"uri": h.uri, "toolstacks": ["libvirt"]})["ansible_facts"]["virtfleet_host"]
        section = dom.xpath("//section[@data-host='%s']" % name)[0]
        rows = {tr.get("data-resource"): tr for tr in section.xpath(".//tr[@class='res']")}
        assert set(rows) == set(facts["capacity"]["resources"])
        for res, r in facts["capacity"]["resources"].items():
            assert float(rows[res].get("data-committed")) == r["committed"], (name, res)
            assert float(rows[res].get("data-capacity")) == r["capacity"], (name, res)
        cpu = rows["vcpus"].xpath("string(td[2])")
        committed = facts["capacity"]["resources"]["vcpus"]["committed"]
        capacity = ("%.1f" % (facts["cpu"]["count"] * 4.0)).rstrip("0").rstrip(".")
        assert cpu == "%s vCPUs / %s vCPUs" % (committed, capacity), cpu
        ours = [g for g in facts["guests"] if g["backend"] == "libvirt"]
        shown = section.xpath(".//tr[@data-backend='libvirt']/td[@data-state='all']")
        assert int(shown[0].text) == len(ours)
        stopped = section.xpath(".//tr[@data-backend='libvirt']/td[@data-state='stopped']")[0]
        assert int(stopped.text) == sum(g["state"] == "stopped" for g in ours)
        drift = section.xpath(".//div[@class='drift']")[0]
        if i == where:
            assert drift.get("data-drift") == "1"
            assert "guest %s-db update (vcpus)" % FLEET in drift.xpath("string(.//li)")
        else:
            assert drift.get("data-drift") == "0"
