"""Benchmark: converge N guests (defined, stopped) with virtfleet.hypervisor.guests and with
the equivalent community.libvirt.virt loop, then the no-op re-run of each; whole
ansible-playbook runs, wall clock. Prints a table of seconds and ratios.

    .venv/bin/python bench/guests.py [N ...] [--no-anchor] [--model-keys] [--repeat R]
                                     [--ab DIR]     (default: 50 100 200)

--no-anchor measures virtfleet only (the community.libvirt loop costs ~1 s per guest and
run: ~40 min at N=1000). --model-keys gives every virtfleet guest the keys of issue 16 a
virt-install user writes (boot order, empty cdrom, serial, VNC, guest agent, rng, watchdog,
CPU topology, labels); the anchor keeps its minimal guests. --repeat R measures each N R times
and prints the median (and every run). --ab DIR measures, alternating run by run, this
checkout and the collection checked out in DIR (e.g. `git worktree add /tmp/vf-main main`):
A/B pairs back to back, so a load change on a shared machine hits both alike.

community.libvirt comes from the `ansible` package on PyPI (only that collection is
unpacked, into the cache). Every guest is named vfbench-* and removed afterwards."""

import os
import shutil
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


def collections_of(checkout):
    """A collections path whose virtfleet.hypervisor is ``checkout`` (this one: its .venv link)."""
    if os.path.realpath(checkout) == os.path.realpath(ROOT):
        return os.path.join(ROOT, ".venv", "collections")
    path = os.path.join(tempfile.gettempdir(), "vfbench-coll-%d" % os.getpid())
    link = os.path.join(path, "ansible_collections", "virtfleet", "hypervisor")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        os.symlink(os.path.realpath(checkout), link)
    return path


def run_playbook(text, checkout=ROOT):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(text)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([collections_of(checkout), BENCH_COLL]),
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


def libvirtd_cpu():
    """CPU seconds the QEMU driver's daemon (libvirtd, or virtqemud) has used so far; None when
    neither runs on this machine. The create run's share shows libvirtd's floor beside ours."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if comm in ("libvirtd", "virtqemud"):
            return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    return None


def measure(conn, make, names, checkout=ROOT):
    """(create s, no-op s, no-op changed=0, libvirtd CPU s during the create run or None)."""
    purge(conn)
    cpu0 = libvirtd_cpu()
    create, _recap1 = run_playbook(make(names), checkout)
    cpu1 = libvirtd_cpu()
    noop, recap2 = run_playbook(make(names), checkout)
    defined = sum(1 for d in conn.listAllDomains(0) if d.name().startswith(PREFIX))
    purge(conn)
    assert defined == len(names), "expected %d guests, found %d" % (len(names), defined)
    daemon = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return create, noop, "changed=0" in recap2, daemon


def _option(args, name, default=None):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return default


def _median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def ab_main(conn, sizes, extra, repeat, other):
    """This checkout (B) against ``other`` (A), alternating A, B, A, B ... per N."""
    rows = []
    for n in sizes:
        names = ["%s%04d" % (PREFIX, i) for i in range(n)]
        runs = {"A": [], "B": []}
        for _i in range(repeat):
            for side, checkout in (("A", other), ("B", ROOT)):
                runs[side].append(measure(conn, lambda ns: playbook_virtfleet(ns, extra), names, checkout))
        rows.append((n, runs))
        print("N=%d done" % n, file=sys.stderr, flush=True)
    print("A = %s, B = %s; median of %d runs each, alternating A, B" % (other, ROOT, repeat))
    print()
    print("| N | A create s | A no-op s | B create s | B no-op s | no-op changed=0 (all runs) |")
    print("|---|---|---|---|---|---|")
    for n, runs in rows:
        med = {s: (_median([r[0] for r in runs[s]]), _median([r[1] for r in runs[s]])) for s in runs}
        ok = all(r[2] for s in runs for r in runs[s])
        print("| %d | %.2f | %.2f | %.2f | %.2f | %s |" % (n, med["A"][0], med["A"][1], med["B"][0], med["B"][1], ok))
    print()
    for n, runs in rows:
        for side in ("A", "B"):
            print(runs_line("N=%d %s" % (n, side), runs[side]))


def main():
    args = sys.argv[1:]
    repeat = int(_option(args, "--repeat", "1"))
    other = _option(args, "--ab")
    anchor = "--no-anchor" not in args and other is None
    extra = MODEL_KEYS if "--model-keys" in args else ""
    sizes = [int(a) for a in args if not a.startswith("--")] or [50, 100, 200]
    if anchor:
        community_collection("libvirt")
    conn = libvirt.open("qemu:///system")
    rows = []
    try:
        if other is not None:
            ab_main(conn, sizes, extra, repeat, other)
            return
        for n in sizes:
            names = ["%s%04d" % (PREFIX, i) for i in range(n)]
            runs = [measure(conn, lambda ns: playbook_virtfleet(ns, extra), names) for _i in range(repeat)]
            vf = (_median([r[0] for r in runs]), _median([r[1] for r in runs]), all(r[2] for r in runs))
            cl = measure(conn, playbook_community, names) if anchor else None
            rows.append((n, vf, cl, runs))
            print("N=%d done" % n, file=sys.stderr, flush=True)
    finally:
        purge(conn)
        conn.close()
        shutil.rmtree(os.path.join(tempfile.gettempdir(), "vfbench-coll-%d" % os.getpid()), ignore_errors=True)
    if not anchor:
        print("| N | virtfleet create s | virtfleet no-op s | no-op changed=0 |")
        print("|---|---|---|---|")
        for n, (vc, vn, vok), _anchor, _runs in rows:
            print("| %d | %.2f | %.2f | %s |" % (n, vc, vn, vok))
        print_runs(rows)
        return
    print("| N | virtfleet create s | virtfleet no-op s | no-op changed=0 | community.libvirt create s "
          "| community.libvirt no-op s | no-op changed=0 | create ratio | no-op ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, (vc, vn, vok), (cc, cn, cok, _daemon), _runs in rows:
        print("| %d | %.2f | %.2f | %s | %.1f | %.1f | %s | %.0fx | %.0fx |"
              % (n, vc, vn, vok, cc, cn, cok, cc / vc, cn / vn))
    print_runs(rows)


def print_runs(rows):
    print()
    for n, _vf, _anchor, runs in rows:
        print(runs_line("N=%d" % n, runs))


def runs_line(label, runs):
    """Every run's seconds, and libvirtd's CPU time in each create run."""
    daemon = ", ".join("-" if r[3] is None else "%.2f" % r[3] for r in runs)
    return "%s create: %s; no-op: %s; libvirtd CPU in create: %s" % (
        label, ", ".join("%.2f" % r[0] for r in runs), ", ".join("%.2f" % r[1] for r in runs), daemon)


if __name__ == "__main__":
    main()
