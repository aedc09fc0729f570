"""Day-2 operation times (issue 15): one module run each, as Ansible runs a module (a Python
process reading ANSIBLE_MODULE_ARGS; no ansible-playbook overhead), median of ``--runs``.

libvirt: a running 64 MiB OS-less TCG guest with one qcow2 volume of ``--disk-mib`` -
guest_info (one guest, all guests), snapshot with memory, revert to it, delete it,
state=saved (managed save) and back to running (restore). LXC: a stopped busybox container -
lxc-snapshot, revert, delete. Objects are named vfbench-* and removed at the end.

Run under the heavy-run lock: flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/day2.py
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import libvirt  # noqa: E402

import lxchelpers as lx  # noqa: E402
import vfhelpers  # noqa: E402

PREFIX = "vfbench-"
G, C, POOL = PREFIX + "d2", PREFIX + "d2c", PREFIX + "d2pool"
POOL_DIR = "/var/lib/virtfleet-bench/d2pool"


def timed(module, args):
    t0 = time.monotonic()
    r = vfhelpers.run_module(module, args)
    took = time.monotonic() - t0
    if r["rc"] != 0:
        raise SystemExit("%s %s failed: %s" % (module, json.dumps(args), r.get("msg")))
    return took


def cleanup(conn):
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX):
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    for pool in conn.listAllStoragePools(0):
        if pool.name() == POOL:
            if pool.isActive():
                for vol in pool.listAllVolumes(0):
                    vol.delete(0)
                pool.destroy()
            pool.undefine()
    subprocess.run(["rm", "-rf", POOL_DIR], check=False)
    lx.purge(PREFIX)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--disk-mib", type=int, default=1024)
    a = ap.parse_args()
    conn = libvirt.open("qemu:///system")
    cleanup(conn)
    times = {}
    try:
        os.makedirs(POOL_DIR, exist_ok=True)
        timed("pool", {"name": POOL, "path": POOL_DIR})
        spec = {"name": G, "virt_type": "qemu", "memory": 64, "state": "running",
                "disks": [{"volume": G + "-root", "pool": POOL, "size": "%dMiB" % a.disk_mib}]}
        timed("guest", spec)
        for i in range(a.runs):
            times.setdefault("guest_info, one guest", []).append(timed("guest_info", {"name": G}))
            times.setdefault("guest_info, all guests", []).append(timed("guest_info", {}))
            times.setdefault("snapshot with memory (create)", []).append(
                timed("snapshot", {"guest": G, "name": "b%d" % i}))
            times.setdefault("snapshot revert (state=current)", []).append(
                timed("snapshot", {"guest": G, "name": "b%d" % i, "state": "current"}))
            times.setdefault("snapshot delete", []).append(
                timed("snapshot", {"guest": G, "name": "b%d" % i, "state": "absent"}))
            times.setdefault("state=saved (managed save)", []).append(timed("guest", dict(spec, state="saved")))
            times.setdefault("saved -> running (restore)", []).append(timed("guest", spec))
        timed("guest", {"name": C, "template": "busybox", "state": "stopped", "backend": "lxc"})
        for i in range(a.runs):
            base = {"guest": C, "name": "b%d" % i, "backend": "lxc"}
            times.setdefault("lxc-snapshot (busybox, create)", []).append(timed("snapshot", base))
            times.setdefault("lxc-snapshot revert", []).append(timed("snapshot", dict(base, state="current")))
            times.setdefault("lxc-snapshot delete", []).append(timed("snapshot", dict(base, state="absent")))
    finally:
        cleanup(conn)
        conn.close()
    print("| operation | median s | runs |")
    print("|---|---|---|")
    for k, v in times.items():
        print("| %s | %.2f | %s |" % (k, statistics.median(v), ", ".join("%.2f" % x for x in v)))


if __name__ == "__main__":
    main()
