"""Benchmark: N busybox LXC containers created and started with one virtfleet.hypervisor.guests
task (backend: lxc), then the no-op re-run and a check-mode re-run; and, in the same run, the
anchor: a community.general.lxc_container loop over the same containers (same template,
memory and CPU limits), create+start and no-op. Whole ansible-playbook runs, wall clock.
Prints a table.

    flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/containers.py [N ...]   (default: 50)
        --no-anchor   virtfleet only

The anchor needs community.general (unpacked from the `ansible` wheel into the bench-only
collections path, as bench/guests.py does for community.libvirt) and the `lxc` Python binding,
which only exists as the Debian package python3-lxc for the system Python: the bench installs
it with apt-get when missing and runs the anchor's tasks with
ansible_python_interpreter=/usr/bin/python3 (the virtfleet task keeps the .venv Python).

Every container is named vfbench-* and removed before and after (also on failure)."""

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import lxchelpers as lx  # noqa: E402
from guests import BENCH_COLL, community_collection  # noqa: E402  (bench/guests.py)

PREFIX = "vfbench-"
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
SYSTEM_PY = "/usr/bin/python3"


def ensure_python3_lxc():
    """lxc_container imports `lxc`: Debian's python3-lxc, for the system Python only."""
    probe = [SYSTEM_PY, "-c", "import lxc"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return
    print("bench: installing python3-lxc (the lxc binding community.general.lxc_container needs)",
          file=sys.stderr, flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                    "-o", "DPkg::Lock::Timeout=600", "python3-lxc"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), stdout=subprocess.DEVNULL)
    subprocess.run(probe, check=True)


def cgroup_version():
    return 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1


def playbook_anchor(names, seed):
    """The same containers as playbook(): busybox, 64 MiB, one CPU (100 ms per 100 ms), no
    network (`seed`: the lxc-create -f file, as virtfleet passes its own; lxc's default.conf
    would ask for lxcbr0, which this host does not run)."""
    if cgroup_version() == 1:
        config = ["lxc.cgroup.memory.limit_in_bytes = %d" % (64 << 20),
                  "lxc.cgroup.cpu.cfs_period_us = 100000", "lxc.cgroup.cpu.cfs_quota_us = 100000"]
    else:
        config = ["lxc.cgroup2.memory.max = %d" % (64 << 20), "lxc.cgroup2.cpu.max = 100000 100000"]
    items = "\n".join("        - %s" % n for n in names)
    return """- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: %s
  tasks:
    - community.general.lxc_container:
        name: "{{ item }}"
        template: busybox
        config: %s
        state: started
        container_config:
%s
      loop:
%s
""" % (SYSTEM_PY, seed, "\n".join("          - \"%s\"" % c for c in config), items)


def playbook(names):
    guests = "\n".join("          - {name: %s, template: busybox, state: running, memory: 64, vcpus: 1}" % n
                       for n in names)
    return """- hosts: localhost
  gather_facts: false
  tasks:
    - virtfleet.hypervisor.guests:
        backend: lxc
        fleet: vfbench
        guests:
%s
""" % guests


def run_playbook(text, check=False):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(text)
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.path.join(ROOT, ".venv", "collections"), BENCH_COLL]),
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(VENV_BIN, "python"))
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", f.name]
    t0 = time.monotonic()
    proc = subprocess.run(argv + (["--check"] if check else []), capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    os.unlink(f.name)
    if proc.returncode != 0:
        sys.exit("playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost")]
    return elapsed, "changed=0" in (recap[-1] if recap else "")


def main():
    args = sys.argv[1:]
    anchor = "--no-anchor" not in args
    sizes = [int(a) for a in args if a != "--no-anchor"] or [50]
    if anchor:
        community_collection("general")
        ensure_python3_lxc()
    rows = []
    seed = tempfile.NamedTemporaryFile("w", prefix="vfbench-seed-", suffix=".conf", delete=False)
    seed.write("lxc.net.0.type = empty\n")
    seed.close()
    try:
        for n in sizes:
            lx.purge(PREFIX)
            names = ["%s%03d" % (PREFIX, i) for i in range(n)]
            create = run_playbook(playbook(names))[0]
            running = sum(1 for name in names if lx.state(name) == "RUNNING")
            noop, noop_ok = run_playbook(playbook(names))
            check, check_ok = run_playbook(playbook(names), check=True)
            lx.purge(PREFIX)
            row = [n, create, running, noop, noop_ok, check, check_ok]
            if anchor:
                a_create = run_playbook(playbook_anchor(names, seed.name))[0]
                a_running = sum(1 for name in names if lx.state(name) == "RUNNING")
                a_noop, a_noop_ok = run_playbook(playbook_anchor(names, seed.name))
                lx.purge(PREFIX)
                row += [a_create, a_running, a_noop, a_noop_ok]
            rows.append(row)
            print("N=%d done" % n, file=sys.stderr, flush=True)
    finally:
        lx.purge(PREFIX)
        os.unlink(seed.name)
    print("| N | create+start s | per container s | running after | no-op s | no-op changed=0 "
          "| check-mode no-op s | check changed=0 |"
          + (" lxc_container create+start s | running after | lxc_container no-op s | no-op changed=0 "
             "| create ratio | no-op ratio |" if anchor else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|---|---|---|---|---|" if anchor else ""))
    for row in rows:
        n, create, running, noop, noop_ok, check, check_ok = row[:7]
        line = ("| %d | %.1f | %.2f | %d/%d | %.2f | %s | %.2f | %s |"
                % (n, create, create / n, running, n, noop, noop_ok, check, check_ok))
        if anchor:
            a_create, a_running, a_noop, a_noop_ok = row[7:]
            line += (" %.1f | %d/%d | %.1f | %s | %.1fx | %.1fx |"
                     % (a_create, a_running, n, a_noop, a_noop_ok, a_create / create, a_noop / noop))
        print(line)


if __name__ == "__main__":
    main()
