"""Benchmark: the guests inventory plugin. H simulated libvirt hosts (tests/nshosts.py) with G
guests each (stopped TCG guests without an OS, carrying virtfleet's marker, defined directly
through libvirt), listed with `ansible-inventory --list`, wall clock:

* virtfleet.hypervisor.guests: one config naming the H URIs;
* the anchor, community.libvirt's `libvirt` inventory plugin: one config per host (it takes
  one `uri`), all H in one directory given to -i, on the same hosts in the same run;
* the floor: `ansible-inventory --list` of a one-host static inventory (start-up cost).

Each is run R times (default 3); the table shows the median and the fastest. Both listings
must name every guest (checked).

    flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/inventory.py [--hosts 10] [--guests 100] [--runs 3]

Goal (issue 14): 1,000 guests over 10 hosts in at most 3 s. community.libvirt comes from the
`ansible` package on PyPI, as for bench/guests.py (bench-only collections path). Hosts are
removed afterwards, also on failure."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import libvirt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import nshosts  # noqa: E402
from guests import BENCH_COLL, community_collection  # noqa: E402

HOST_PREFIX = "vfbinv"
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
MARK = ("<metadata><virtfleet:guest xmlns:virtfleet='https://virtfleet.dev/xmlns/guest/1'>"
        '{"fleet": "bench", "managed_by": "virtfleet.hypervisor", "version": 1}</virtfleet:guest></metadata>')


def domain_xml(name, i):
    return ("<domain type='qemu'><name>%s</name>%s<memory unit='MiB'>32</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices><interface type='bridge'>"
            "<mac address='52:54:00:%02x:%02x:%02x'/><source bridge='vfbinv0'/><model type='virtio'/></interface>"
            "</devices></domain>" % (name, MARK, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff))


def define_guests(fleet, guests):
    """G guests on every host, the hosts in parallel (one connection each)."""
    errors = []

    def one(idx, host):
        try:
            conn = libvirt.open(host.uri)
            try:
                for j in range(guests):
                    conn.defineXML(domain_xml("vfbench-%s-%03d" % (host.name, j), idx * 1000 + j))
            finally:
                conn.close()
        except libvirt.libvirtError as e:
            errors.append("%s: %s" % (host.name, e))
    threads = [threading.Thread(target=one, args=(i, h)) for i, h in enumerate(fleet)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("defining guests failed: " + "; ".join(errors))


def list_inventory(source, env):
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list"],
                          capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit("ansible-inventory -i %s failed:\n%s" % (source, proc.stderr[-3000:]))
    return elapsed, json.loads(proc.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--guests", type=int, default=100, help="guests per host")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    community_collection("libvirt")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.path.join(ROOT, ".venv", "collections"), BENCH_COLL]),
               ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    total = args.hosts * args.guests
    times = {"floor": [], "virtfleet": [], "community": []}
    with nshosts.hosts(args.hosts, prefix=HOST_PREFIX) as fleet, tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        define_guests(fleet, args.guests)
        print("%d guests defined in %.1f s" % (total, time.monotonic() - t0), file=sys.stderr, flush=True)
        ours = os.path.join(tmp, "bench.virtfleet_guests.yml")
        with open(ours, "w") as f:
            f.write("plugin: virtfleet.hypervisor.guests\nuris:\n" + "".join('  - "%s"\n' % h.uri for h in fleet))
        theirs = os.path.join(tmp, "community")
        os.mkdir(theirs)
        for h in fleet:
            with open(os.path.join(theirs, "%s.libvirt.yml" % h.name), "w") as f:
                f.write('plugin: community.libvirt.libvirt\nuri: "%s"\n' % h.uri)
        floor = os.path.join(tmp, "floor.yml")
        with open(floor, "w") as f:
            f.write("all:\n  hosts:\n    one:\n")
        for _ in range(args.runs):
            for key, source in (("floor", floor), ("virtfleet", ours), ("community", theirs)):
                elapsed, doc = list_inventory(source, env)
                if key != "floor":
                    listed = [h for h in doc["_meta"]["hostvars"] if h.startswith("vfbench-")]
                    if len(listed) != total:
                        sys.exit("%s listed %d guests, expected %d" % (key, len(listed), total))
                times[key].append(elapsed)
    print("| lister | hosts | guests | median s | fastest s | runs |")
    print("|---|---|---|---|---|---|")
    names = {"floor": "ansible-inventory start-up (1 static host)",
             "virtfleet": "virtfleet.hypervisor.guests (1 config, %d URIs)" % args.hosts,
             "community": "community.libvirt.libvirt (%d configs, 1 per host)" % args.hosts}
    for key in ("floor", "virtfleet", "community"):
        print("| %s | %d | %d | %.2f | %.2f | %d |" % (
            names[key], 0 if key == "floor" else args.hosts, 0 if key == "floor" else total,
            statistics.median(times[key]), min(times[key]), len(times[key])))
    ratio = statistics.median(times["community"]) / statistics.median(times["virtfleet"])
    print("\ncommunity.libvirt / virtfleet (median): %.1fx" % ratio)


if __name__ == "__main__":
    main()
