"""Benchmark: the guests module alone (no ansible-playbook), as Ansible runs it
(`python -m ...modules.guests <args file>`), converging N stopped guests then the no-op,
for this checkout (B) and another checkout (A), alternating A, B run by run; prints medians.
It separates the module's own time from ansible-playbook's (templating, AnsiballZ,
result handling), which dominates the noise of whole runs on a shared machine.

    .venv/bin/python bench/guests_module.py OTHER_CHECKOUT [N] [--repeat R]     (N 1000, R 5)

Every guest is named vfbench-* and removed afterwards."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import libvirt

from guests import PREFIX, purge  # bench/guests.py: the same vfbench-* guests, removed the same way

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, ".venv", "bin", "python")
MODULE = "ansible_collections.virtfleet.hypervisor.plugins.modules.guests"


def collections_of(checkout, tmp):
    link = os.path.join(tmp, os.path.basename(checkout.rstrip("/")) + "-coll", "ansible_collections",
                        "virtfleet", "hypervisor")
    os.makedirs(os.path.dirname(link))
    os.symlink(os.path.realpath(checkout), link)
    return os.path.dirname(os.path.dirname(os.path.dirname(link)))


def main():
    args = sys.argv[1:]
    repeat = 5
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    other = args[0]
    n = int(args[1]) if len(args) > 1 else 1000
    tmp = tempfile.mkdtemp(prefix="vfbench-")
    sides = (("A", collections_of(other, tmp)), ("B", os.path.join(ROOT, ".venv", "collections")))
    guests = [{"name": "%s%04d" % (PREFIX, i), "state": "stopped", "virt_type": "qemu", "memory": 32} for i in range(n)]
    path = os.path.join(tmp, "args.json")
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": {"guests": guests, "_ansible_check_mode": False, "_ansible_diff": False}}, f)
    conn = libvirt.open("qemu:///system")
    times = {(s, phase): [] for s, _c in sides for phase in ("create", "no-op")}
    try:
        for _i in range(repeat):
            for side, coll in sides:
                purge(conn)
                for phase in ("create", "no-op"):
                    t0 = time.monotonic()
                    proc = subprocess.run([PY, "-m", MODULE, path], env=dict(os.environ, PYTHONPATH=coll),
                                          capture_output=True, text=True, check=False)
                    elapsed = time.monotonic() - t0
                    result = json.loads(proc.stdout)
                    if result.get("failed") or result["changed"] != (phase == "create"):
                        sys.exit("%s %s: unexpected result: %s" % (side, phase, result.get("msg")))
                    times[(side, phase)].append(elapsed)
    finally:
        purge(conn)
        conn.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("A = %s, B = %s; N = %d; median of %d runs each, alternating A, B" % (other, ROOT, n, repeat))
    print()
    print("| N | A create s | A no-op s | B create s | B no-op s |")
    print("|---|---|---|---|---|")
    medians = ["%.2f" % statistics.median(times[(s, p)]) for s in ("A", "B") for p in ("create", "no-op")]
    print("| %d | %s |" % (n, " | ".join(medians)))
    for key, values in sorted(times.items()):
        print("%s %s: %s" % (key[0], key[1], ", ".join("%.2f" % v for v in values)))


if __name__ == "__main__":
    main()
