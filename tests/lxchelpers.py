"""Helpers for tests and benchmarks on real LXC containers (the lxc-* tools, as root).

Every container, bridge and archive a test makes is named vftest-* (benchmarks: vfbench-*);
``purge`` removes them whatever state they are in."""

import fcntl
import hashlib
import os
import subprocess
import tempfile
import time

from vfhelpers import PREFIX

ENV = dict(os.environ, LC_ALL="C")
CACHE = os.environ.get("VIRTFLEET_CACHE", os.path.expanduser("~/.cache/virtfleet"))
MIRROR = os.environ.get("VIRTFLEET_MIRROR", "http://deb.debian.org/debian")
ROOTFS_RECIPE = "virtfleet-lxc-rootfs rev=1 suite=bookworm variant=minbase include=python3 init=sh-trap"
ROOTFS_TARBALL = os.path.join(CACHE, "lxc-rootfs", "bookworm-python3.tar.gz")
ARCHIVE_DIR = ".virtfleet-pruned"
# PID 1 of the debootstrap rootfs: minbase has no init; lxc-stop sends SIGPWR (lxc.signal.halt)
INIT_SCRIPT = """#!/bin/sh
# virtfleet test init: idle until lxc-stop asks for a shutdown (SIGPWR) or SIGTERM
trap 'exit 0' PWR TERM INT
while :; do sleep 3600 & wait $!; done
"""


def lxc(*argv, check=True):
    proc = subprocess.run(list(argv), capture_output=True, text=True, env=ENV, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (rc %d): %s" % (" ".join(argv), proc.returncode, proc.stderr))
    return proc.stdout


def lxc_path():
    return lxc("lxc-config", "lxc.lxcpath").strip()


def names(prefix=PREFIX):
    return sorted(n for n in lxc("lxc-ls", "-1").split() if n.startswith(prefix))


def state(name):
    return lxc("lxc-info", "-n", name, "-sH").strip()


def pid(name):
    out = lxc("lxc-info", "-n", name, "-pH", check=False).strip()
    return int(out) if out.isdigit() else None


def cgroup(name, cg_file):
    return lxc("lxc-cgroup", "-n", name, cg_file).strip()


def attach(name, *argv):
    """Run argv inside the container; returns the CompletedProcess."""
    return subprocess.run(["lxc-attach", "-n", name, "--"] + list(argv), capture_output=True, text=True,
                          env=ENV, check=False, timeout=60)


def config_text(name):
    with open(os.path.join(lxc_path(), name, "config")) as f:
        return f.read()


def purge(prefix=PREFIX):
    """Destroy every container named prefix*, leftovers of half-made ones and pruned archives."""
    base = lxc_path()
    for name in names(prefix):
        lxc("lxc-unfreeze", "-n", name, check=False)
        lxc("lxc-stop", "-k", "-n", name, check=False)
        lxc("lxc-destroy", "-f", "-n", name, check=False)
    for parent in (base, os.path.join(base, ARCHIVE_DIR)):
        if os.path.isdir(parent):
            for entry in os.listdir(parent):
                if entry.startswith(prefix):
                    subprocess.run(["rm", "-rf", "--one-file-system", os.path.join(parent, entry)], check=False)
    archive = os.path.join(base, ARCHIVE_DIR)
    if os.path.isdir(archive) and not os.listdir(archive):
        os.rmdir(archive)


def state_hash(prefix=PREFIX):
    """A digest of every prefix* container: config and marker bytes and modes, run state, init
    pid, live cgroup limits, and the pruned archives. Equal before/after means nothing changed."""
    h = hashlib.sha256()
    base = lxc_path()
    for name in sorted(os.listdir(base)):
        if not name.startswith(prefix):
            continue
        for f in ("config", "virtfleet.json"):
            path = os.path.join(base, name, f)
            if os.path.exists(path):
                with open(path, "rb") as fh:
                    h.update(fh.read())
                h.update(oct(os.stat(path).st_mode).encode())
        st = lxc("lxc-info", "-n", name, "-sH", check=False).strip()
        h.update(("%s %s %s" % (name, st, pid(name))).encode())
        if st in ("RUNNING", "FROZEN"):
            for f in ("memory.limit_in_bytes", "cpu.cfs_quota_us", "cpu.shares", "cpuset.cpus"):
                h.update(lxc("lxc-cgroup", "-n", name, f, check=False).encode())
    archive = os.path.join(base, ARCHIVE_DIR)
    if os.path.isdir(archive):
        h.update(repr(sorted(e for e in os.listdir(archive) if e.startswith(prefix))).encode())
    return h.hexdigest()


def make_bridge(name):
    """A bridge with no address: veths on it reach nothing off the host."""
    if not os.path.isdir("/sys/class/net/%s" % name):
        lxc("ip", "link", "add", name, "type", "bridge")
    lxc("ip", "link", "set", name, "up")
    return name


def drop_bridge(name):
    lxc("ip", "link", "del", name, check=False)


def _umount_below(path):
    real = os.path.realpath(path) + "/"
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(real)]
    for m in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", m], check=False)


def rootfs_tarball():
    """The cached Debian 12 minbase + python3 rootfs tarball; built once with debootstrap
    (a few minutes), then reused while its recipe stamp matches."""
    stamp = ROOTFS_TARBALL + ".stamp"

    def fresh():
        if not (os.path.exists(ROOTFS_TARBALL) and os.path.exists(stamp)):
            return False
        with open(stamp) as f:
            return f.read().strip() == ROOTFS_RECIPE

    os.makedirs(os.path.dirname(ROOTFS_TARBALL), exist_ok=True)
    with open(ROOTFS_TARBALL + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if fresh():
            return ROOTFS_TARBALL
        work = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(ROOTFS_TARBALL))
        try:
            root = os.path.join(work, "rootfs")
            debs = os.path.join(CACHE, "debootstrap-debs")
            os.makedirs(debs, exist_ok=True)
            t0 = time.monotonic()
            proc = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3", "--cache-dir=" + debs,
                                   "bookworm", root, MIRROR], capture_output=True, text=True, check=False)
            _umount_below(root)
            if proc.returncode != 0:
                raise AssertionError("debootstrap failed:\n" + (proc.stdout + proc.stderr)[-3000:])
            init = os.path.join(root, "usr", "sbin", "init")  # /sbin -> usr/sbin (merged /usr)
            if not os.path.realpath(init).startswith(os.path.realpath(root) + "/"):
                raise AssertionError("refusing to write %s outside the rootfs" % init)
            with open(init, "w") as f:
                f.write(INIT_SCRIPT)
            os.chmod(init, 0o755)
            archives = os.path.join(root, "var", "cache", "apt", "archives")
            for deb in os.listdir(archives):
                if deb.endswith(".deb"):
                    os.unlink(os.path.join(archives, deb))
            tmp = os.path.join(work, "rootfs.tar.gz")
            lxc("tar", "-C", root, "--numeric-owner", "-czf", tmp, ".")
            os.rename(tmp, ROOTFS_TARBALL)
            with open(stamp, "w") as f:
                f.write(ROOTFS_RECIPE + "\n")
            print("built %s in %.0f s" % (ROOTFS_TARBALL, time.monotonic() - t0))
        finally:
            _umount_below(work)
            subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)
    return ROOTFS_TARBALL
