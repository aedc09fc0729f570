"""Benchmark: N busybox LXC containers created and started with one virtfleet.hypervisor.guests
task (backend: lxc), then the no-op re-run and a check-mode re-run; whole ansible-playbook
runs, wall clock. Prints a table.

    flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/containers.py [N ...]   (default: 50)

Every container is named vfbench-* and removed before and after (also on failure)."""

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import lxchelpers as lx  # noqa: E402

PREFIX = "vfbench-"
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


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
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".venv", "collections"),
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
    sizes = [int(a) for a in sys.argv[1:]] or [50]
    rows = []
    try:
        for n in sizes:
            lx.purge(PREFIX)
            names = ["%s%03d" % (PREFIX, i) for i in range(n)]
            create = run_playbook(playbook(names))[0]
            running = sum(1 for name in names if lx.state(name) == "RUNNING")
            noop, noop_ok = run_playbook(playbook(names))
            check, check_ok = run_playbook(playbook(names), check=True)
            rows.append((n, create, running, noop, noop_ok, check, check_ok))
            lx.purge(PREFIX)
            print("N=%d done" % n, file=sys.stderr, flush=True)
    finally:
        lx.purge(PREFIX)
    print("| N | create+start s | per container s | running after | no-op s | no-op changed=0 "
          "| check-mode no-op s | check changed=0 |")
    print("|---|---|---|---|---|---|---|---|")
    for n, create, running, noop, noop_ok, check, check_ok in rows:
        print("| %d | %.1f | %.2f | %d/%d | %.2f | %s | %.2f | %s |"
              % (n, create, create / n, running, n, noop, noop_ok, check, check_ok))


if __name__ == "__main__":
    main()
