# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe the ``virtfleet.hypervisor.guests`` inventory plugin runs on an LXC or xl host:
sent as text to the host's ``python3 -`` (over ssh, or locally), standard library only
(Python 3.6+), read-only. It prints one JSON document with what the controller parses with
the backends' own readers (``_inventory.read_probe``): one round trip per host.

lxc: ``lxc-ls --fancy`` (NAME,STATE,AUTOSTART,PID), each container's ``config`` and
``virtfleet.json`` marker, the IPv4 addresses of running ones (``lxc-ls`` IPV4 column) and
the cgroup version. xl: every ``<dir>/*.cfg`` with whether ``<dir>/auto/`` links it, ``xl list``, and
the guests saved with ``xl save`` (``<xl_save_dir>/<name>.save``).
"""

import json
import os
import subprocess
import sys


def _run(argv):
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), (proc.stderr or "").strip()[-300:]))
    return proc.stdout


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def _cgroup_version():
    for line in (_read("/proc/mounts") or "").splitlines():
        f = line.split()
        if len(f) >= 4 and f[2] == "cgroup" and "memory" in f[3].split(","):
            return 1
    return 2


def lxc(opts):
    path = opts.get("lxc_path") or _run(["lxc-config", "lxc.lxcpath"]).strip()
    base = ["lxc-ls", "-P", path, "--fancy", "--fancy-format"]
    listing = _run(base + ["NAME,STATE,AUTOSTART,PID"]) if os.path.isdir(path) else "NAME STATE AUTOSTART PID\n"
    containers = {}
    ips = {}
    if os.path.isdir(path):
        for line in _run(base + ["NAME,IPV4"]).splitlines()[1:]:
            f = line.split(None, 1)
            if len(f) == 2 and f[1].strip() != "-":
                ips[f[0]] = [a.strip() for a in f[1].split(",") if a.strip()]
    for line in listing.splitlines()[1:]:
        f = line.split()
        if not f:
            continue
        name = f[0]
        marker = _read(os.path.join(path, name, "virtfleet.json"))
        try:
            marker = json.loads(marker) if marker else None
        except ValueError:
            marker = None
        containers[name] = {"config": _read(os.path.join(path, name, "config")), "marker": marker,
                            "ipv4": ips.get(name, [])}
    return {"listing": listing, "containers": containers, "cgroup": _cgroup_version(), "path": path}


def xl(opts):
    cfg_dir = opts.get("xl_config_dir") or "/etc/xen"
    configs = {}
    try:
        entries = sorted(os.listdir(cfg_dir))
    except OSError:
        entries = []
    for entry in entries:
        path = os.path.join(cfg_dir, entry)
        if not entry.endswith(".cfg") or not os.path.isfile(path) or os.path.islink(path):
            continue
        text = _read(path)
        if text is not None:
            configs[entry[:-4]] = {"text": text, "auto": os.path.lexists(os.path.join(cfg_dir, "auto", entry))}
    save_dir = opts.get("xl_save_dir")
    try:
        saved = sorted(e[:-5] for e in os.listdir(save_dir) if e.endswith(".save")) if save_dir else []
    except OSError:
        saved = []
    return {"configs": configs, "list": _run(["xl", "list"]), "config_dir": cfg_dir, "saved": saved}


def main(options):
    opts = json.loads(options)
    try:
        doc = lxc(opts) if opts["backend"] == "lxc" else xl(opts)
        doc["backend"] = opts["backend"]
    except Exception as e:  # reported to the controller as this host's error
        doc = {"error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(doc))
