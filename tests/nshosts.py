"""Simulated libvirt hosts on this machine: each one its own libvirtd (and virtlogd) in a
private mount + UTS namespace, reached from the ordinary namespace by its unix socket
(recipe: /work/shared/LAB.md, "Several libvirt hosts on one machine").

    .venv/bin/python tests/nshosts.py start N [--prefix vfhost]   # prints one URI per host
    .venv/bin/python tests/nshosts.py stop [--prefix vfhost]      # daemons, guests, dirs
    .venv/bin/python tests/nshosts.py list [--prefix vfhost]

From Python (tests, bench/fleet.py):

    with nshosts.hosts(5) as fleet:          # stopped and removed on exit, also on failure
        for h in fleet: h.name, h.uri         # qemu+unix:///system?socket=.../libvirt-sock

Layout: BASE/<prefix>-NN/{run,lib,cache,log,etc} are bind-mounted inside that host's
namespace over /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and
/etc/libvirt. The system libvirtd is untouched: every socket, pid file and state dir of a
simulated host lives under its private directory (no shared /run/*.pid), its /etc/libvirt
has no networks (no bridge or dnsmasq is started on the shared network namespace), and it
has its own host_uuid and hostname. The system's QEMU capabilities cache is copied in, so a
new host does not re-probe QEMU (seconds under TCG). Needs root, `unshare`, libvirtd.

stop() only ends processes whose pid files it wrote and whose /proc comm still matches."""

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

BASE = os.environ.get("VIRTFLEET_NSHOSTS_BASE", "/run/vfns")
PREFIX = "vfhost"
BINDS = (("run", "/run/libvirt"), ("lib", "/var/lib/libvirt"), ("cache", "/var/cache/libvirt"),
         ("log", "/var/log/libvirt"), ("etc", "/etc/libvirt"))
DAEMONS = ("libvirtd", "virtlogd")  # stop order: libvirtd first, it talks to virtlogd
ENV = dict(os.environ, LC_ALL="C")


class NsHost:
    def __init__(self, root):
        self.root = root
        self.name = os.path.basename(root)
        self.socket = os.path.join(root, "run", "libvirt-sock")
        self.uri = "qemu+unix:///system?socket=" + self.socket

    def pidfile(self, daemon):
        return os.path.join(self.root, "run", daemon + ".pid")

    def host_uuid(self):
        with open(os.path.join(self.root, "etc", "libvirtd.conf")) as f:
            for line in f:
                if line.startswith("host_uuid"):
                    return line.split("=", 1)[1].strip().strip('"')
        return None

    def as_dict(self):
        return {"name": self.name, "uri": self.uri, "socket": self.socket, "root": self.root,
                "host_uuid": self.host_uuid()}

    def __repr__(self):
        return "NsHost(%s)" % self.name


def _host_roots(prefix, base):
    return sorted(d for d in glob.glob(os.path.join(base, prefix + "-[0-9][0-9]")) if os.path.isdir(d))


def _prepare(root):
    """Private dirs: /etc/libvirt's *.conf and nwfilter (no networks, no guests), a fresh
    host_uuid, and the system's QEMU capabilities cache."""
    for sub, _target in BINDS:
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    etc = os.path.join(root, "etc")
    for path in glob.glob("/etc/libvirt/*.conf"):
        shutil.copy2(path, etc)
    if os.path.isdir("/etc/libvirt/nwfilter"):
        shutil.copytree("/etc/libvirt/nwfilter", os.path.join(etc, "nwfilter"), dirs_exist_ok=True)
    with open(os.path.join(etc, "libvirtd.conf"), "a") as f:
        f.write('\n# simulated host (tests/nshosts.py)\nhost_uuid = "%s"\n' % uuid.uuid4())
    caps = "/var/cache/libvirt/qemu/capabilities"
    if os.path.isdir(caps):
        shutil.copytree(caps, os.path.join(root, "cache", "qemu", "capabilities"), dirs_exist_ok=True)
    os.chmod(os.path.join(root, "log"), 0o700)


def _inside(root, hostname):
    """Runs as the first process of the new namespaces (via unshare): bind the private dirs,
    set the hostname, start virtlogd and libvirtd as daemons (they keep the namespace)."""
    for sub, target in BINDS:
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount", "--bind", os.path.join(root, sub), target], check=True, env=ENV)
    socket.sethostname(hostname)
    for daemon in reversed(DAEMONS):  # virtlogd before libvirtd
        subprocess.run([daemon, "-d", "--pid-file", "/run/libvirt/%s.pid" % daemon], check=True, env=ENV)


def _pid(host, daemon):
    try:
        with open(host.pidfile(daemon)) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == daemon else None


def _wait_socket(host, timeout):
    import libvirt
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if os.path.exists(host.socket):
            try:
                conn = libvirt.open(host.uri)
                try:
                    conn.getVersion()
                    return
                finally:
                    conn.close()
            except libvirt.libvirtError as exc:
                last = exc
        time.sleep(0.1)
    raise RuntimeError("simulated host %s: libvirtd does not answer on %s after %d s (%s)"
                       % (host.name, host.socket, timeout, last))


def start(n, prefix=PREFIX, base=BASE, timeout=60):
    """Start n hosts <prefix>-01..; any left over from an earlier run are stopped first.
    Returns the NsHost list; on any failure every host of this prefix is stopped."""
    if n < 1 or n > 99:
        raise ValueError("nshosts: n must be 1..99, got %r" % n)
    stop(prefix, base)
    os.makedirs(base, exist_ok=True)
    fleet = []
    try:
        for i in range(1, n + 1):
            host = NsHost(os.path.join(base, "%s-%02d" % (prefix, i)))
            _prepare(host.root)
            proc = subprocess.run(
                ["unshare", "--mount", "--uts", "--propagation", "private", "--",
                 sys.executable, os.path.abspath(__file__), "_inside", host.root, host.name],
                capture_output=True, text=True, env=ENV, check=False)
            if proc.returncode != 0:
                raise RuntimeError("simulated host %s did not start (rc %d): %s"
                                   % (host.name, proc.returncode, proc.stderr.strip()))
            fleet.append(host)
        for host in fleet:
            _wait_socket(host, timeout)
        with open(os.path.join(base, prefix + ".json"), "w") as f:
            json.dump([h.as_dict() for h in fleet], f, indent=1)
    except BaseException:
        stop(prefix, base)
        raise
    return fleet


def _destroy_guests(host):
    """Running guests of a simulated host are its qemu processes: end them through its
    libvirtd (which would leave them running on exit). Definitions go with the dirs."""
    import libvirt
    if _pid(host, "libvirtd") is None or not os.path.exists(host.socket):
        return
    try:
        conn = libvirt.open(host.uri)
    except libvirt.libvirtError:
        return
    try:
        for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass
    finally:
        conn.close()


def stop(prefix=PREFIX, base=BASE, timeout=30):
    """Stop every host <prefix>-NN under base (running guests destroyed, libvirtd then
    virtlogd ended by their pid files) and remove their directories."""
    for root in _host_roots(prefix, base):
        host = NsHost(root)
        _destroy_guests(host)
        for daemon in DAEMONS:
            pid = _pid(host, daemon)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if os.path.exists("/proc/%d" % pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root)
    try:
        os.unlink(os.path.join(base, prefix + ".json"))
    except FileNotFoundError:
        pass
    try:
        os.rmdir(base)
    except OSError:
        pass


def kill_libvirtd(host):
    """SIGKILL the host's libvirtd (a crash): its guests and virtlogd, which holds the
    namespace, live on."""
    pid = _pid(host, "libvirtd")
    os.kill(pid, signal.SIGKILL)
    while os.path.exists("/proc/%d" % pid):
        time.sleep(0.02)


def restart_libvirtd(host, timeout=60):
    """Start the host's libvirtd again inside its namespaces (entered through virtlogd's)."""
    subprocess.run(["nsenter", "--target", str(_pid(host, "virtlogd")), "--mount", "--uts", "--",
                    "libvirtd", "-d", "--pid-file", "/run/libvirt/libvirtd.pid"], check=True, env=ENV)
    _wait_socket(host, timeout)


def running(prefix=PREFIX, base=BASE):
    """The hosts of this prefix whose libvirtd is alive."""
    return [h for h in map(NsHost, _host_roots(prefix, base)) if _pid(h, "libvirtd")]


class hosts:  # noqa: N801 - used as a context manager: `with nshosts.hosts(3) as fleet`
    def __init__(self, n, prefix=PREFIX, base=BASE):
        self.n, self.prefix, self.base = n, prefix, base

    def __enter__(self):
        return start(self.n, self.prefix, self.base)

    def __exit__(self, *exc):
        stop(self.prefix, self.base)
        return False


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_inside"]:
        _inside(argv[1], argv[2])
        return 0
    ap = argparse.ArgumentParser(description="simulated libvirt hosts in namespaces")
    ap.add_argument("action", choices=("start", "stop", "list"))
    ap.add_argument("n", nargs="?", type=int, default=1)
    ap.add_argument("--prefix", default=PREFIX)
    ap.add_argument("--base", default=BASE)
    args = ap.parse_args(argv)
    if args.action == "start":
        for h in start(args.n, args.prefix, args.base):
            print(h.name, h.uri)
    elif args.action == "stop":
        stop(args.prefix, args.base)
    else:
        for h in running(args.prefix, args.base):
            print(h.name, h.uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
