# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only probe of the bridge role (virtfleet.hypervisor), run by ansible.builtin.script.

Prints one JSON object: links with their addresses (`ip -j -d addr show`), the IPv4 and
IPv6 default routes, the interface of the route back to the Ansible controller (from
SSH_CONNECTION), which network stacks are present, whether systemd runs, the IPv4
forwarding switch and whether the NAT rules file given as argument exists. One script
instead of ten module runs (each costs seconds on a small or emulated host). Changes nothing.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys


def _ip(*args):
    try:
        proc = subprocess.Popen(["ip", "-j"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, LC_ALL="C"))
        out, _err = proc.communicate()
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(out.decode("utf-8") or "[]")
    except ValueError:
        return None


def _read(path):
    try:
        with open(path, "r") as fh:
            return fh.read().strip()
    except (IOError, OSError):
        return None


def _running(comm):
    """Whether a process whose name (/proc/PID/comm, 15 characters at most) is comm runs."""
    for pid in os.listdir("/proc"):
        if pid.isdigit() and _read("/proc/%s/comm" % pid) == comm[:15]:
            return True
    return False


def main():
    links = _ip("-d", "addr", "show")
    if links is None:
        raise SystemExit("bridge_probe: `ip -j -d addr show` failed: iproute2 with JSON output is needed")
    systemd = os.path.isdir("/run/systemd/system")
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    ssh_dev = None
    if ssh:
        route = _ip("route", "get", ssh[0]) or []
        ssh_dev = route[0].get("dev") if route else None
    print(json.dumps({
        "links": links,
        "routes4": _ip("route", "show", "default") or [],
        "routes6": _ip("-6", "route", "show", "default") or [],
        "ssh_client": ssh[0] if ssh else None,
        "ssh_dev": ssh_dev,
        # /run/systemd/netif/ exists whenever systemd does (tmpfiles): ask for the daemon
        "networkd": systemd and _running("systemd-networkd"),
        "ifupdown": os.path.exists("/sbin/ifup"),
        "systemd": systemd,
        "ip_forward": _read("/proc/sys/net/ipv4/ip_forward"),
        "nat_rules_exists": len(sys.argv) > 1 and os.path.exists(sys.argv[1]),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
