"""Benchmark: the guests inventory plugin. H simulated libvirt hosts (tests/nshosts.py) with G
guests each (stopped TCG guests without an OS, carrying virtfleet's marker, defined directly
through libvirt), listed with `ansible-inventory --list`, wall clock:

* virtfleet.hypervisor.guests: one config naming the H URIs;
* the anchor, community.libvirt's `libvirt` inventory plugin: one config per host (it takes
  one `uri`), all H in one directory given to -i, on the same hosts in the same run;
* the floor: `ansible-inventory --list` of a one-host static inventory (start-up cost).

Each is run R times (default 3); the table shows the median and the fastest. Both listings
must name every guest (checked).

The hosts are reached over local unix sockets, where a libvirt round trip costs ~0.1 ms and
per-guest calls are nearly free. To see what a network costs, every size is also measured
through a relay per host (a unix socket that forwards each read after --latency-ms, default
1 ms round trip: a LAN with ssh); both plugins go through it.

    flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/inventory.py [--hosts 10] [--guests 100] [--runs 3]

Goal (issue 14): 1,000 guests over 10 hosts in at most 3 s. community.libvirt comes from the
`ansible` package on PyPI, as for bench/guests.py (bench-only collections path). Hosts are
removed afterwards, also on failure."""

import argparse
import json
import os
import socket
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


class Relay:
    """A unix socket that forwards to ``target`` (both ways), each chunk after ``delay`` s: half
    the round trip each way. Threads, one pair per connection; stops with the process."""

    def __init__(self, path, target, delay):
        self.path, self.target, self.delay = path, target, delay
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _addr = self.sock.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.target)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    def pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


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
    ap.add_argument("--latency-ms", type=float, default=1.0, help="round trip added by the relay (0: no relay run)")
    args = ap.parse_args()
    community_collection("libvirt")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.path.join(ROOT, ".venv", "collections"), BENCH_COLL]),
               ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    total = args.hosts * args.guests
    times = {}
    with nshosts.hosts(args.hosts, prefix=HOST_PREFIX) as fleet, tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        define_guests(fleet, args.guests)
        print("%d guests defined in %.1f s" % (total, time.monotonic() - t0), file=sys.stderr, flush=True)
        floor = os.path.join(tmp, "floor.yml")
        with open(floor, "w") as f:
            f.write("all:\n  hosts:\n    one:\n")
        relays = []
        try:
            for latency in sorted({0.0, args.latency_ms}):
                uris = [h.uri for h in fleet]
                if latency:
                    for h in fleet:
                        path = os.path.join(tmp, "relay-%s.sock" % h.name)
                        relays.append(Relay(path, h.socket, latency / 2000.0))
                    uris = ["qemu+unix:///system?socket=" + r.path for r in relays]
                d = os.path.join(tmp, "lat%g" % latency)
                os.makedirs(os.path.join(d, "community"))
                ours = os.path.join(d, "bench.virtfleet_guests.yml")
                with open(ours, "w") as f:
                    f.write("plugin: virtfleet.hypervisor.guests\nuris:\n" + "".join('  - "%s"\n' % u for u in uris))
                for h, u in zip(fleet, uris):
                    with open(os.path.join(d, "community", "%s.libvirt.yml" % h.name), "w") as f:
                        f.write('plugin: community.libvirt.libvirt\nuri: "%s"\n' % u)
                for _run in range(args.runs):
                    for key, source in (("floor", floor), ("virtfleet", ours),
                                        ("community", os.path.join(d, "community"))):
                        if key == "floor" and latency:
                            continue
                        elapsed, doc = list_inventory(source, env)
                        if key != "floor":
                            listed = [x for x in doc["_meta"]["hostvars"] if x.startswith("vfbench-")]
                            if len(listed) != total:
                                sys.exit("%s listed %d guests, expected %d" % (key, len(listed), total))
                        times.setdefault((key, latency), []).append(elapsed)
                print("latency %g ms done" % latency, file=sys.stderr, flush=True)
        finally:
            for r in relays:
                r.close()
    print("| lister | hosts | guests | round trip | median s | fastest s | runs |")
    print("|---|---|---|---|---|---|---|")
    names = {"floor": "ansible-inventory start-up (1 static host)",
             "virtfleet": "virtfleet.hypervisor.guests (1 config, %d URIs)" % args.hosts,
             "community": "community.libvirt.libvirt (%d configs, 1 per host)" % args.hosts}
    for (key, latency), vals in times.items():
        print("| %s | %d | %d | %s | %.2f | %.2f | %d |" % (
            names[key], 0 if key == "floor" else args.hosts, 0 if key == "floor" else total,
            "unix socket" if not latency else "+%g ms relay" % latency,
            statistics.median(vals), min(vals), len(vals)))
    for latency in sorted({0.0, args.latency_ms}):
        ratio = statistics.median(times[("community", latency)]) / statistics.median(times[("virtfleet", latency)])
        print("\ncommunity.libvirt / virtfleet (median, %s): %.1fx"
              % ("unix socket" if not latency else "+%g ms" % latency, ratio))


if __name__ == "__main__":
    main()
