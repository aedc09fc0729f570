"""Benchmark: converge N guests (defined, stopped) with virtfleet.hypervisor.guests and with
the equivalent community.libvirt.virt loop, then the no-op re-run of each; whole
ansible-playbook runs, wall clock. Prints a table of seconds and ratios.

    .venv/bin/python bench/guests.py [N ...] [--no-anchor] [--model-keys]     (default: 50 100 200)

--no-anchor measures virtfleet only (the community.libvirt loop costs ~1 s per guest and
run: ~40 min at N=1000). --model-keys gives every virtfleet guest the keys of issue 16 a
virt-install user writes (boot order, empty cdrom, serial, VNC, guest agent, rng, watchdog,
CPU topology, labels); the anchor keeps its minimal guests.

community.libvirt comes from the `ansible` package on PyPI (only that collection is
unpacked, into the cache). Every guest is named vfbench-* and removed afterwards."""

import os
import subprocess
import sys
import tempfile
import time
import zipfile

import libvirt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("VIRTFLEET_CACHE", os.path.expanduser("~/.cache/virtfleet"))
BENCH_COLL = os.path.join(CACHE, "bench", "collections")
ANSIBLE_WHEEL = "ansible==12.3.0"  # the community package matching ansible-core 2.19
PREFIX = "vfbench-"
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def community_collection(name="libvirt"):
    """Unpack community.<name> from the `ansible` wheel into the bench-only collections path
    (not .venv/collections: make test never sees it)."""
    target = os.path.join(BENCH_COLL, "ansible_collections", "community", name)
    if os.path.isdir(target):
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([os.path.join(VENV_BIN, "pip"), "download", "-q", "--no-deps", ANSIBLE_WHEEL,
                        "-d", tmp], check=True)
        wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
        with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
            prefix = "ansible_collections/community/%s/" % name
            z.extractall(BENCH_COLL, [m for m in z.namelist() if m.startswith(prefix)])


def purge(conn):
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX):
            if dom.isActive():
                dom.destroy()
            dom.undefine()


def domain_xml(name):
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os></domain>" % name)


MODEL_KEYS = (", vcpus: 2, boot: [cdrom, hd], serial: true, graphics: {type: vnc}, guest_agent: true, rng: true,"
              " watchdog: {action: poweroff}, cpu_topology: {sockets: 1, cores: 2, threads: 1},"
              " disks: [{device: cdrom}], title: bench guest, tags: [bench, web]")


def playbook_virtfleet(names, extra=""):
    line = "          - {name: %s, state: stopped, virt_type: qemu, memory: 32%s}"
    guests = "\n".join(line % (n, extra) for n in names)
    return """- hosts: localhost
  gather_facts: false
  tasks:
    - virtfleet.hypervisor.guests:
        guests:
%s
""" % guests


def playbook_community(names):
    items = "\n".join("        - %s" % n for n in names)
    return """- hosts: localhost
  gather_facts: false
  tasks:
    - community.libvirt.virt:
        command: define
        xml: "<domain type='qemu'><name>{{ item }}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
      loop:
%s
    - community.libvirt.virt:
        name: "{{ item }}"
        state: shutdown
      loop:
%s
""" % (items, items)


def run_playbook(text):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(text)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
        [os.path.join(ROOT, ".venv", "collections"), BENCH_COLL]),
        ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV_BIN, "python"))
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", f.name],
                          capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    os.unlink(f.name)
    if proc.returncode != 0:
        sys.exit("playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")]
    return elapsed, recap[-1] if recap else ""


def measure(conn, make, names):
    purge(conn)
    create, recap1 = run_playbook(make(names))
    noop, recap2 = run_playbook(make(names))
    defined = sum(1 for d in conn.listAllDomains(0) if d.name().startswith(PREFIX))
    purge(conn)
    assert defined == len(names), "expected %d guests, found %d" % (len(names), defined)
    return create, noop, "changed=0" in recap2


def main():
    args = sys.argv[1:]
    anchor = "--no-anchor" not in args
    extra = MODEL_KEYS if "--model-keys" in args else ""
    sizes = [int(a) for a in args if not a.startswith("--")] or [50, 100, 200]
    if anchor:
        community_collection("libvirt")
    conn = libvirt.open("qemu:///system")
    rows = []
    try:
        for n in sizes:
            names = ["%s%04d" % (PREFIX, i) for i in range(n)]
            vf = measure(conn, lambda ns: playbook_virtfleet(ns, extra), names)
            cl = measure(conn, playbook_community, names) if anchor else None
            rows.append((n, vf, cl))
            print("N=%d done" % n, file=sys.stderr, flush=True)
    finally:
        purge(conn)
        conn.close()
    if not anchor:
        print("| N | virtfleet create s | virtfleet no-op s | no-op changed=0 |")
        print("|---|---|---|---|")
        for n, (vc, vn, vok), _anchor in rows:
            print("| %d | %.2f | %.2f | %s |" % (n, vc, vn, vok))
        return
    print("| N | virtfleet create s | virtfleet no-op s | no-op changed=0 | community.libvirt create s "
          "| community.libvirt no-op s | no-op changed=0 | create ratio | no-op ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, (vc, vn, vok), (cc, cn, cok) in rows:
        print("| %d | %.2f | %.2f | %s | %.1f | %.1f | %s | %.0fx | %.0fx |"
              % (n, vc, vn, vok, cc, cn, cok, cc / vc, cn / vn))


if __name__ == "__main__":
    main()
