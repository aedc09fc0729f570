"""Benchmark: the day-2 operations of issue 15 on libvirt (docs/migration-backup.md).

- guest_backup of a running guest with a 1 GiB qcow2 disk full of random data (the guest
  paused for the copy), its no-op re-run (digests checked), and the restore of that disk
  after the guest and disk are gone (real libvirtd, qemu:///system);
- live migration of a 256 MiB TCG guest booting the lab kernel (its initrd in guest memory)
  between two simulated hosts (tests/nshosts.py), peer-to-peer tunnelled, and back;
- playbooks/evacuate.yml draining three OS-less guests (two running, one stopped) from one
  simulated host onto two others: one ansible-playbook run, wall clock.

    flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/migrate_backup.py

Each figure is one run on a loaded 2-core machine: read them as orders of magnitude."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import libvirt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import nshosts  # noqa: E402
from vfhelpers import run_module  # noqa: E402

NAME = "vfbench-day2"
IMAGE = os.path.expanduser("~/.cache/virtfleet/images/bookworm")
KDIR = "/var/lib/virtfleet-bench-day2"


def timed(fn, *a, **kw):
    t = time.monotonic()
    out = fn(*a, **kw)
    return out, time.monotonic() - t


def bench_backup(rows, tmp):
    conn = libvirt.open("qemu:///system")
    disk = os.path.join(KDIR, NAME + ".qcow2")
    raw = os.path.join(tmp, "seed.raw")
    with open(raw, "wb") as f:
        for _mib in range(1024):
            f.write(os.urandom(1 << 20))
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, disk], check=True)
    os.unlink(raw)
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>"
           "hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
           "<target dev='vda' bus='virtio'/></disk></devices></domain>" % (NAME, disk))
    dom = conn.defineXML(xml)
    dom.create()
    args = {"name": NAME, "dest": os.path.join(tmp, "backups"), "label": "bench"}
    try:
        r, t = timed(run_module, "guest_backup", args)
        assert r["rc"] == 0 and r["changed"], r
        rows.append(("guest_backup, running guest, 1 GiB random-data qcow2 disk", t))
        r, t = timed(run_module, "guest_backup", args)
        assert r["rc"] == 0 and not r["changed"], r
        rows.append(("guest_backup re-run (no change; every sha256 checked)", t))
        dom.destroy()
        dom.undefine()
        os.unlink(disk)
        r, t = timed(run_module, "guest_backup", dict(args, state="restored"))
        assert r["rc"] == 0 and r["changed"], r
        rows.append(("guest_backup state=restored (define + copy the 1 GiB disk back)", t))
    finally:
        try:
            d = conn.lookupByName(NAME)
            if d.isActive():
                d.destroy()
            d.undefine()
        except libvirt.libvirtError:
            pass
        if os.path.exists(disk):
            os.unlink(disk)
        conn.close()


def bench_migrate(rows):
    xml = ("<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64'>"
           "hvm</type><kernel>%s/vmlinuz</kernel><initrd>%s/initrd.img</initrd><cmdline>console=ttyS0</cmdline></os>"
           "<devices><serial type='pty'/></devices></domain>" % (NAME, KDIR, KDIR))
    with nshosts.hosts(2, prefix="vfbday2") as (a, b):
        ca = libvirt.open(a.uri)
        ca.defineXML(xml).create()
        time.sleep(5)
        for src, dst, label in ((a, b, "there"), (b, a, "back")):
            r, t = timed(run_module, "migrate", {"name": NAME, "uri": src.uri, "dest_uri": dst.uri, "tunnelled": True})
            assert r["rc"] == 0 and r["changed"], r
            rows.append(("migrate live, 256 MiB guest booting a kernel, p2p tunnelled, %s (module %.1f s)"
                         % (label, r["duration"]), t))
        ca.close()


def bench_evacuate(rows, tmp):
    with nshosts.hosts(3, prefix="vfbevac") as hosts:
        inv = os.path.join(tmp, "hosts.yml")
        with open(inv, "w") as f:
            f.write("all:\n  vars:\n    ansible_connection: local\n"
                    "    ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n"
                    "  children:\n    kvm_hosts:\n      hosts:\n")
            for h in hosts:
                f.write("        %s:\n          virtfleet_uri: \"%s\"\n          virtfleet_migration_uri: \"%s\"\n"
                        % (h.name, h.uri, h.uri))
        c = libvirt.open(hosts[0].uri)
        for i, state in enumerate(("running", "running", "stopped")):
            d = c.defineXML("<domain type='qemu'><name>%s-%d</name><memory unit='MiB'>1024</memory><vcpu>1</vcpu>"
                            "<currentMemory unit='MiB'>64</currentMemory><os><type arch='x86_64'>hvm</type></os>"
                            "</domain>" % (NAME, i))
            if state == "running":
                d.create()
        env = dict(os.environ, ANSIBLE_NOCOLOR="1")
        env.pop("ANSIBLE_CONFIG", None)
        argv = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inv, "playbooks/evacuate.yml",
                "-e", "evacuate_host=" + hosts[0].name, "-e", "evacuate_tunnelled=true"]
        for extra, label in ((["--check"], "evacuate.yml --check (plan, 3 guests, 2 targets)"),
                             ([], "evacuate.yml: 3 guests (2 live, 1 definition) onto 2 hosts")):
            p, t = timed(subprocess.run, argv + extra, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            assert p.returncode == 0, p.stdout[-3000:]
            rows.append((label, t))
        assert c.listAllDomains(0) == []
        c.close()


def main():
    os.makedirs(KDIR, exist_ok=True)
    os.chmod(KDIR, 0o755)
    for f in ("vmlinuz", "initrd.img"):
        shutil.copy(os.path.join(IMAGE, f), KDIR)
        os.chmod(os.path.join(KDIR, f), 0o644)
    rows = []
    tmp = tempfile.mkdtemp(prefix="vfbench-day2-")
    try:
        bench_backup(rows, tmp)
        bench_migrate(rows)
        bench_evacuate(rows, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(KDIR, ignore_errors=True)
    print("| operation | wall clock |\n|---|---|")
    for label, t in rows:
        print("| %s | %.1f s |" % (label, t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
