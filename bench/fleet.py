"""Benchmark: fleet scale. H simulated libvirt hosts (tests/nshosts.py: each its own libvirtd
in a private mount + UTS namespace, reached by its unix socket), an inventory of those hosts
with G guests each (stopped TCG guests without an OS, as bench/guests.py makes), and ONE play
with forks = H that calls virtfleet.hypervisor.guests once per host. Whole ansible-playbook
runs, wall clock: the create run, then the no-op re-run (which must report changed=0 on
every host). Prints a markdown table.

    flock /tmp/virtfleet-heavy.lock .venv/bin/python bench/fleet.py [H ...] [--guests G]
        (default: 1 5 10 hosts, 100 guests each)

Goal (issue 13): 10 hosts take at most 2x the time of one host. Hosts are started before
and removed after each size (their guests and dirs go with them), also on failure."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import libvirt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import nshosts  # noqa: E402

HOST_PREFIX = "vfbfleet"
GUEST_PREFIX = "vfbench-"
VENV_BIN = os.path.join(ROOT, ".venv", "bin")

PLAYBOOK = """- name: Converge the guests of every host, one batch call per host
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Guests
      virtfleet.hypervisor.guests:
        uri: "{{ virtfleet_uri }}"
        guests: "{{ virtfleet_guests }}"
"""


def write_inventory(tmp, fleet, guests):
    """hosts.yml (group fleet, local connection, virtfleet_uri per host) and one
    host_vars/<host>.yml per host declaring its guests by name."""
    lines = ["all:", "  children:", "    fleet:", "      hosts:"]
    for h in fleet:
        lines += ["        %s:" % h.name,
                  "          ansible_connection: local",
                  "          ansible_python_interpreter: %s" % os.path.join(VENV_BIN, "python"),
                  '          virtfleet_uri: "%s"' % h.uri]
    with open(os.path.join(tmp, "hosts.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.makedirs(os.path.join(tmp, "host_vars"), exist_ok=True)
    for h in fleet:
        with open(os.path.join(tmp, "host_vars", h.name + ".yml"), "w") as f:
            f.write("virtfleet_guests:\n")
            for name in guest_names(h, guests):
                f.write("  - {name: %s, state: stopped, virt_type: qemu, memory: 32}\n" % name)
    with open(os.path.join(tmp, "fleet.yml"), "w") as f:
        f.write(PLAYBOOK)


def guest_names(host, guests):
    return ["%s%s-%03d" % (GUEST_PREFIX, host.name, i) for i in range(guests)]


def run_playbook(tmp, forks):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".venv", "collections"),
               ANSIBLE_FORKS=str(forks))
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", os.path.join(tmp, "hosts.yml"),
            "--forks", str(forks), os.path.join(tmp, "fleet.yml")]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit("playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    recap = {}
    for line in proc.stdout.splitlines():
        if line.startswith(HOST_PREFIX) and ":" in line and "ok=" in line:
            host, rest = line.split(":", 1)
            recap[host.strip()] = dict(kv.split("=") for kv in rest.split())
    return elapsed, recap


def count_guests(fleet, guests):
    """Guests each host's libvirtd really has, read back through its own socket."""
    missing = []
    for h in fleet:
        conn = libvirt.open(h.uri)
        try:
            have = {d.name() for d in conn.listAllDomains(0)}
        finally:
            conn.close()
        want = set(guest_names(h, guests))
        if not want <= have:
            missing.append("%s lacks %d of %d guests" % (h.name, len(want - have), len(want)))
    return missing


def measure(n_hosts, guests):
    with nshosts.hosts(n_hosts, prefix=HOST_PREFIX) as fleet, tempfile.TemporaryDirectory() as tmp:
        write_inventory(tmp, fleet, guests)
        create, recap1 = run_playbook(tmp, n_hosts)
        problems = count_guests(fleet, guests)
        problems += ["%s: create run reported changed=%s" % (h, r.get("changed"))
                     for h, r in recap1.items() if r.get("changed") != "1"]
        noop, recap2 = run_playbook(tmp, n_hosts)
        problems += ["%s: no-op run reported changed=%s" % (h, r.get("changed"))
                     for h, r in recap2.items() if r.get("changed") != "0"]
        if len(recap2) != n_hosts:
            problems.append("recap lists %d hosts, expected %d" % (len(recap2), n_hosts))
    if problems:
        sys.exit("fleet bench, %d hosts: %s" % (n_hosts, "; ".join(problems)))
    return create, noop


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("hosts", nargs="*", type=int, default=[1, 5, 10])
    ap.add_argument("--guests", type=int, default=100, help="guests per host")
    args = ap.parse_args()
    kvm_before = os.stat("/dev/kvm") if os.path.exists("/dev/kvm") else None
    rows = []
    try:
        for n in args.hosts:
            rows.append((n,) + measure(n, args.guests))
            print("%d hosts done" % n, file=sys.stderr, flush=True)
    finally:
        nshosts.stop(HOST_PREFIX)
    if kvm_before is not None:
        after = os.stat("/dev/kvm")
        assert (after.st_gid, after.st_mode) == (kvm_before.st_gid, kvm_before.st_mode), \
            "/dev/kvm ownership or mode changed during the fleet bench"
    base = dict((n, (c, o)) for n, c, o in rows).get(1)
    print("| hosts | guests per host | guests total | create s | no-op s | no-op changed=0 "
          "| create / 1 host | no-op / 1 host |")
    print("|---|---|---|---|---|---|---|---|")
    for n, create, noop in rows:
        rel = ("%.2fx" % (create / base[0]), "%.2fx" % (noop / base[1])) if base else ("-", "-")
        print("| %d | %d | %d | %.2f | %.2f | True | %s | %s |"
              % (n, args.guests, n * args.guests, create, noop, rel[0], rel[1]))


if __name__ == "__main__":
    main()
