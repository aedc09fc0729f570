# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hypervisor host offers and what its guests commit, read-only.

Gathered for ``virtfleet.hypervisor.host_facts`` under one fact, ``virtfleet_host``. Every
reader takes the host's paths as arguments (``root``) and its commands through ``run``
(argv -> (rc, stdout, stderr)), so the parsing is tested on recorded files. A toolstack that
is not installed is reported ``present: false``; one installed but not answering carries an
``error`` string; neither fails the gathering.

The guests' readings reuse the backends: libvirt domains are parsed with
``_render_libvirt.parse_domain`` (one ``listAllDomains`` and one ``XMLDesc`` per domain),
containers with ``LxcBackend`` (``lxc-ls`` and each config), Xen guests with ``XlBackend``
(``xl list``, ``xl list -l`` and the cfg files).
"""

from __future__ import annotations

import fcntl
import os
import re
import sys

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_libvirt as render_lv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _units as units
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import VirtfleetError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._render_xl import parse_xl_info

TOOLSTACKS = ("libvirt", "lxc", "xen")
SUBSETS = ("toolstacks", "cpu", "memory", "hugepages", "security", "bridges", "pools", "networks", "guests")
FACT = "virtfleet_host"

ARGSPEC = {
    "uri": {"type": "str", "default": "qemu:///system"},
    "toolstacks": {"type": "list", "elements": "str", "choices": list(TOOLSTACKS)},
    "gather": {"type": "list", "elements": "str", "choices": ["all"] + list(SUBSETS), "default": ["all"]},
    "lxc_path": {"type": "path"},
    "xl_config_dir": {"type": "path", "default": "/etc/xen"},
    "cpu_ratio": {"type": "float", "default": 4.0},
    "memory_ratio": {"type": "float", "default": 1.0},
    "disk_ratio": {"type": "float", "default": 1.0},
    "reserved_memory_mib": {"type": "int", "default": 512},
}

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin", "/usr/local/bin")
_LIBVIRT_DAEMONS = ("libvirtd", "virtqemud", "virtlxcd", "virtxend")
_STATES = {0: "stopped", 1: "running", 2: "running", 3: "paused", 4: "stopped", 5: "stopped",
           6: "crashed", 7: "paused"}


# -- small helpers -------------------------------------------------------------------------
def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _p(root, path):
    return os.path.join(root, path.lstrip("/")) if root and root != "/" else path


def which(prog, root="/"):
    """Path of ``prog`` in PATH or the sbin directories (modules often run without sbin in PATH)."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d] + list(_SBIN)
    for d in dirs:
        p = _p(root, os.path.join(d, prog))
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.join(d, prog)
    return None


# -- host ----------------------------------------------------------------------------------
def parse_cpuinfo(text):
    """count, model, vt_flag (vmx | svm | None) and whether the CPU runs under a hypervisor."""
    count, model, flags = 0, None, set()
    for line in (text or "").splitlines():
        key, _sep, val = line.partition(":")
        key = key.strip()
        if key == "processor":
            count += 1
        elif key == "model name" and model is None:
            model = val.strip()
        elif key == "flags" and not flags:
            flags = set(val.split())
    vt = "vmx" if "vmx" in flags else ("svm" if "svm" in flags else None)
    return {"count": count, "model": model, "vt_flag": vt, "running_nested": "hypervisor" in flags}


def kvm_usable(dev="/dev/kvm"):
    """(usable, error): /dev/kvm answers KVM_GET_API_VERSION 12 and lets us create a VM."""
    if not os.path.exists(dev):
        return False, "%s is missing" % dev
    fd = None
    try:
        fd = os.open(dev, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        if fcntl.ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION:
            return False, "%s answers an unexpected KVM API version" % dev
        os.close(fcntl.ioctl(fd, KVM_CREATE_VM, 0))
        return True, None
    except (IOError, OSError) as e:
        return False, "%s: %s" % (dev, e)
    finally:
        if fd is not None:
            os.close(fd)


def cpu_facts(root="/", kvm_probe=kvm_usable):
    info = parse_cpuinfo(_read(_p(root, "/proc/cpuinfo")))
    usable, error = kvm_probe(_p(root, "/dev/kvm"))
    info.update(kvm_device=os.path.exists(_p(root, "/dev/kvm")), kvm_usable=usable, kvm_error=error,
                virtualization="hardware" if usable else "emulation-only")
    if not info["count"]:
        info["count"] = os.cpu_count()
    return info


def parse_meminfo(text):
    """total/free/available in MiB from /proc/meminfo (kB figures)."""
    vals = {}
    for line in (text or "").splitlines():
        m = re.match(r"^(\w+):\s+(\d+)", line)
        if m:
            vals[m.group(1)] = int(m.group(2))
    mib = {k: units.kib_to_mib(vals[k]) if k in vals else None for k in ("MemTotal", "MemFree", "MemAvailable")}
    return {"total_mib": mib["MemTotal"], "free_mib": mib["MemFree"], "available_mib": mib["MemAvailable"]}


def memory_facts(root="/"):
    return parse_meminfo(_read(_p(root, "/proc/meminfo")))


def hugepage_facts(root="/"):
    """{'2M': {size_kib, total, free, reserved, surplus}, '1G': ...} from /sys/kernel/mm/hugepages."""
    base = _p(root, "/sys/kernel/mm/hugepages")
    out = {}
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return out
    for entry in entries:
        m = re.match(r"^hugepages-(\d+)kB$", entry)
        if not m:
            continue
        kib = int(m.group(1))
        vals = {}
        for key, name in (("total", "nr_hugepages"), ("free", "free_hugepages"),
                          ("reserved", "resv_hugepages"), ("surplus", "surplus_hugepages")):
            text = _read(os.path.join(base, entry, name))
            vals[key] = int(text) if text and text.strip().isdigit() else None
        vals["size_kib"] = kib
        out[units.page_size_label(kib)] = vals
    return out


def security_facts(root="/", run=None):
    """SELinux: enforcing | permissive | disabled; AppArmor: enabled | disabled."""
    selinux = "disabled"
    enforce = _read(_p(root, "/sys/fs/selinux/enforce"))
    if enforce is not None:
        selinux = "enforcing" if enforce.strip() == "1" else "permissive"
    elif run is not None and which("getenforce", root):
        rc, out, _err = run([which("getenforce", root)])
        if rc == 0 and out.strip().lower() in ("enforcing", "permissive", "disabled"):
            selinux = out.strip().lower()
    aa = (_read(_p(root, "/sys/module/apparmor/parameters/enabled")) or "").strip()
    return {"selinux": selinux, "apparmor": "enabled" if aa == "Y" else "disabled"}


def bridge_facts(root="/"):
    """[{name, interfaces, stp}] of the kernel bridges (/sys/class/net/*/bridge)."""
    base = _p(root, "/sys/class/net")
    out = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return out
    for name in names:
        if not os.path.isdir(os.path.join(base, name, "bridge")):
            continue
        try:
            ports = sorted(os.listdir(os.path.join(base, name, "brif")))
        except OSError:
            ports = []
        stp = (_read(os.path.join(base, name, "bridge", "stp_state")) or "0").strip()
        out.append({"name": name, "interfaces": ports, "stp": stp not in ("", "0")})
    return out


# -- toolstacks ----------------------------------------------------------------------------
def _version_of(run, argv, pattern=r"(\d+(?:\.\d+)+)"):
    rc, out, err = run(argv)
    if rc != 0:
        return None, ((err or out or "").strip() or "rc %d" % rc)[-500:]
    m = re.search(pattern, out or "")
    return (m.group(1) if m else (out or "").strip() or None), None


def lxc_toolstack(run, root="/"):
    if not which("lxc-ls", root):
        return {"present": False}
    version, error = _version_of(run, [which("lxc-ls", root), "--version"])
    out = {"present": True, "version": version}
    if which("lxc-start", root):
        out["start_version"] = _version_of(run, [which("lxc-start", root), "--version"])[0]
    if error:
        out["error"] = "lxc-ls --version: %s" % error
    return out


def xen_toolstack(run, root="/"):
    caps = _read(_p(root, "/proc/xen/capabilities"))
    dom0 = caps is not None and "control_d" in caps
    xl = which("xl", root)
    if not xl:
        return {"present": False, "dom0": dom0}
    out = {"present": True, "dom0": dom0}
    if not dom0:
        out["error"] = "xl is installed but this host is not a Xen dom0 (boot it into Xen)"
        return out
    rc, text, err = run([xl, "info"])
    if rc != 0:
        out["error"] = "xl info failed (rc %d): %s" % (rc, (err or text or "").strip()[-500:])
        return out
    info = parse_xl_info(text)
    major, minor = info.get("xen_major"), info.get("xen_minor")
    out["version"] = info.get("xen_version") or (("%s.%s" % (major, minor)) if major else None)
    out["scheduler"] = info.get("xen_scheduler")
    out["free_memory_mib"] = int(info["free_memory"]) if info.get("free_memory", "").isdigit() else None
    out["total_memory_mib"] = int(info["total_memory"]) if info.get("total_memory", "").isdigit() else None
    return out


def libvirt_installed(root="/"):
    return any(which(d, root) for d in _LIBVIRT_DAEMONS) or bool(which("virsh", root))


def _libvirt_version(n):
    return "%d.%d.%d" % (n // 1000000, (n // 1000) % 1000, n % 1000) if n else None


class LibvirtReader(object):
    """One connection, opened read-only, closed by ``close()``."""

    def __init__(self, libvirt, uri):
        self.libvirt = libvirt
        self.uri = uri
        self.conn = libvirt.openReadOnly(uri)
        self._vols = None

    def close(self):
        try:
            self.conn.close()
        except self.libvirt.libvirtError:
            pass

    def toolstack(self):
        out = {"present": True, "uri": self.uri, "version": _libvirt_version(self.conn.getLibVersion()),
               "driver": self.conn.getType()}
        try:
            out["hypervisor_version"] = _libvirt_version(self.conn.getVersion())
        except self.libvirt.libvirtError:
            out["hypervisor_version"] = None
        return out

    def volumes(self):
        """{path: capacity} and {(pool, name): capacity} of every volume in an active pool."""
        if self._vols is None:
            by_path, by_name = {}, {}
            for pool in self.conn.listAllStoragePools(0):
                if not pool.isActive():
                    continue
                for vol in pool.listAllVolumes(0):
                    try:
                        cap = vol.info()[1]
                        by_path[vol.path()] = cap
                        by_name[(pool.name(), vol.name())] = cap
                    except self.libvirt.libvirtError:
                        continue
            self._vols = (by_path, by_name)
        return self._vols

    def pools(self):
        out = []
        for pool in sorted(self.conn.listAllStoragePools(0), key=lambda p: p.name()):
            _state, capacity, allocation, available = pool.info()
            active = bool(pool.isActive())
            xml = pool.XMLDesc(0)
            m = re.search(r"<target>\s*<path>([^<]+)</path>", xml)
            path = m.group(1) if m else None
            kind = re.search(r"<pool type=['\"](\w+)['\"]", xml)
            entry = {"name": pool.name(), "active": active, "autostart": bool(pool.autostart()),
                     "type": kind.group(1) if kind else None, "path": path,
                     "capacity_bytes": capacity if active else None,
                     "allocation_bytes": allocation if active else None,
                     "available_bytes": available if active else None,
                     "volumes": len(pool.listAllVolumes(0)) if active else None}
            entry["capacity"] = units.human(entry["capacity_bytes"])
            entry["available"] = units.human(entry["available_bytes"])
            out.append(entry)
        return out

    def networks(self):
        out = []
        for net in sorted(self.conn.listAllNetworks(0), key=lambda n: n.name()):
            try:
                bridge = net.bridgeName()
            except self.libvirt.libvirtError:
                bridge = None
            xml = net.XMLDesc(0)
            fwd = re.search(r"<forward[^>]*mode=['\"](\w+)['\"]", xml)
            out.append({"name": net.name(), "active": bool(net.isActive()), "autostart": bool(net.autostart()),
                        "bridge": bridge,
                        "forward": fwd.group(1) if fwd else ("nat" if "<forward" in xml else "isolated")})
        return out

    def _disk_bytes(self, disk):
        by_path, by_name = self.volumes()
        if disk.get("volume"):
            return by_name.get((disk.get("pool"), disk["volume"]))
        path = disk.get("path")
        if not path:
            return None
        if path in by_path:
            return by_path[path]
        return file_size(path)

    def guests(self):
        out = []
        for dom in self.conn.listAllDomains(0):
            g = render_lv.parse_domain(dom.XMLDesc(self.libvirt.VIR_DOMAIN_XML_INACTIVE))
            try:
                state = _STATES.get(dom.state()[0], "stopped")
            except self.libvirt.libvirtError:
                state = "unknown"
            disks = [d for d in g["disks"] if d["device"] == "disk"]
            sizes = [self._disk_bytes(d) for d in disks]
            out.append(guest_entry(g["name"], "libvirt", state, g["vcpus"], g["memory"],
                                   sum(s for s in sizes if s), len(disks), g["managed"], g["fleet"],
                                   autostart=bool(dom.autostart()), max_memory_mib=g["max_memory"],
                                   max_vcpus=g["max_vcpus"], hugepages=g["hugepages"]))
        return out


def file_size(path):
    """Bytes of a regular file or a block device; None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if os.path.isfile(path):
        return st.st_size
    try:
        with open(path, "rb") as f:
            return f.seek(0, os.SEEK_END)
    except (IOError, OSError):
        return None


def guest_entry(name, backend, state, vcpus, memory_mib, disk_bytes, disks, managed, fleet, **extra):
    g = {"name": name, "backend": backend, "state": state, "vcpus": vcpus, "memory_mib": memory_mib,
         "disk_bytes": disk_bytes, "disk": units.human(disk_bytes), "disks": disks, "managed": bool(managed),
         "fleet": fleet}
    g.update(extra)
    return g


def lxc_guests(backend):
    """Containers of one LXC path, read with the lxc backend (lxc-ls + each config)."""
    out = []
    for name in sorted(backend.listing()):
        cur = backend.current(name)
        cfg = cur["config"]
        mounts = [d for d in cfg.get("disks") or [] if d.get("path")]
        out.append(guest_entry(name, "lxc", cur["state"], cfg.get("vcpus"), cfg.get("memory"), None, len(mounts),
                               cur["managed"], cfg.get("fleet"), autostart=cur["autostart"],
                               rootfs=os.path.join(backend.lxc_path, name, "rootfs")))
    return out


def xen_guests(backend):
    """Xen guests: running domains (xl list) and the cfg files of xl_config_dir."""
    out = []
    for name in backend.guest_names():
        try:
            cur = backend.current(name)
        except VirtfleetError:
            continue  # a cfg that is not a guest (xl.conf, a bad name): not ours to judge
        if cur is None:
            continue
        view = cur["live"] or cur["config"]
        disks = [d for d in view.get("disks") or [] if d.get("device", "disk") == "disk"]
        sizes = [file_size(d["path"]) for d in disks if d.get("path")]
        out.append(guest_entry(name, "xen", cur["state"], view.get("vcpus"), view.get("memory"),
                               sum(s for s in sizes if s), len(disks), cur["managed"], cur["config"].get("fleet"),
                               autostart=cur["autostart"], xen_type=view.get("xen_type")))
    return out


def committed(guests):
    """Totals over all guests and over the running ones."""
    def total(gs):
        return {"guests": len(gs),
                "vcpus": sum(g["vcpus"] or 0 for g in gs),
                "memory_mib": sum(g["memory_mib"] or 0 for g in gs),
                "disk_bytes": sum(g["disk_bytes"] or 0 for g in gs)}
    out = {"all": total(guests), "running": total([g for g in guests if g["state"] in ("running", "paused")])}
    for v in out.values():
        v["disk"] = units.human(v["disk_bytes"])
    return out


def capacity(facts, params):
    """Committed against capacity, per resource, at the given ratios (the numbers the
    ``place`` module plans with and ``capacity_check`` admits with): ``capacity`` after the
    ratios, ``committed`` by all guests and by the running ones, ``free`` for new guests
    (capacity - committed by all), ``load`` (committed by all / capacity)."""
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _placement
    ratios = {k: params.get(k) for k in ("cpu_ratio", "memory_ratio", "disk_ratio", "reserved_memory_mib")}
    try:
        host = _placement.host_from_facts("this host", facts, ratios=ratios)
        cap = _placement.host_capacity(host)["capacity"]
    except VirtfleetError as e:
        return {"error": str(e)}
    running = {}
    for g in facts.get("guests") or []:
        if g["state"] in ("running", "paused"):
            for res, amount in _placement.guest_use(g.get("vcpus"), g.get("memory_mib"), g.get("hugepages")).items():
                running[res] = running.get(res, 0) + amount
    out = {"ratios": {k: v for k, v in ratios.items() if v is not None}, "resources": {}}
    for res in sorted(cap):
        used = host["used"].get(res, 0)
        out["resources"][res] = {"capacity": cap[res], "committed": used, "committed_running": running.get(res),
                                 "free": cap[res] - used, "load": round(used / cap[res], 4) if cap[res] else None}
    return out


def gather(params, run, libvirt_mod=None, libvirt_error=None, lxc_backend=None, xl_backend=None,
           root="/", kvm_probe=kvm_usable):
    """The ``virtfleet_host`` fact and the warnings to show.

    ``libvirt_mod``: the imported libvirt module (None when libvirt-python is missing, then
    ``libvirt_error`` says what to install). ``lxc_backend``/``xl_backend``: factories taking no
    argument, called only when that toolstack is gathered.
    """
    subsets = set(SUBSETS) if "all" in params["gather"] else set(params["gather"])
    asked = params.get("toolstacks")
    wanted = set(asked) if asked else set(TOOLSTACKS)
    warnings = []
    facts = {"gathered": sorted(subsets),
             "python": {"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3]}}
    needs_toolstacks = subsets & {"toolstacks", "pools", "networks", "guests"}

    tools = {}
    if needs_toolstacks:
        if "lxc" in wanted:
            tools["lxc"] = lxc_toolstack(run, root)
        if "xen" in wanted:
            tools["xen"] = xen_toolstack(run, root)
        if "libvirt" in wanted:
            tools["libvirt"] = {"present": libvirt_installed(root), "uri": params["uri"]}
    reader = None
    try:
        lv = tools.get("libvirt")
        if lv and (lv["present"] or asked):
            if libvirt_mod is None:
                lv["error"] = libvirt_error or "libvirt-python is missing"
            else:
                try:
                    reader = LibvirtReader(libvirt_mod, params["uri"])
                    lv.update(reader.toolstack())
                except libvirt_mod.libvirtError as e:
                    lv["error"] = "cannot connect to %s: %s" % (params["uri"], e)
            if lv.get("error") and lv["present"]:
                warnings.append("libvirt: %s" % lv["error"])
        if "toolstacks" in subsets:
            facts["toolstacks"] = tools
        if "cpu" in subsets:
            facts["cpu"] = cpu_facts(root, kvm_probe)
            facts["virtualization"] = facts["cpu"]["virtualization"]
        if "memory" in subsets:
            facts["memory"] = memory_facts(root)
        if "hugepages" in subsets:
            facts["hugepages"] = hugepage_facts(root)
        if "security" in subsets:
            facts["security"] = security_facts(root, run)
        if "bridges" in subsets:
            facts["bridges"] = bridge_facts(root)
        if "pools" in subsets:
            facts["pools"] = reader.pools() if reader else []
        if "networks" in subsets:
            facts["networks"] = reader.networks() if reader else []
        if "guests" in subsets:
            guests = list(reader.guests()) if reader else []
            lxc = tools.get("lxc") or {}
            if lxc.get("present") and lxc_backend is not None:
                try:
                    guests += lxc_guests(lxc_backend())
                except VirtfleetError as e:
                    lxc["error"] = str(e)
                    warnings.append("lxc: %s" % e)
            xen = tools.get("xen") or {}
            if xen.get("present") and xen.get("dom0") and not xen.get("error") and xl_backend is not None:
                try:
                    guests += xen_guests(xl_backend())
                except VirtfleetError as e:
                    xen["error"] = str(e)
                    warnings.append("xen: %s" % e)
            facts["guests"] = guests
            facts["committed"] = committed(guests)
        if {"cpu", "memory", "guests"} <= subsets:
            facts["capacity"] = capacity(facts, params)
    finally:
        if reader is not None:
            reader.close()
    return facts, warnings
