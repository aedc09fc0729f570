# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only virtualization probe of the virt_host_check role (virtfleet.hypervisor).

Run on the managed host by ansible.builtin.script; prints one JSON object: CPU flags,
/dev/kvm and whether the KVM API really answers on it (KVM_GET_API_VERSION, KVM_CREATE_VM),
the KVM vendor modules and their ``nested`` parameter, IOMMU groups, whether the host is
itself a guest, Xen (dom0 or not) and the namespaces and cgroups LXC needs.
It changes nothing. Collection roles cannot ship modules, hence a script.
"""

from __future__ import absolute_import, division, print_function

import fcntl
import json
import os
import platform
import stat

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12
FLAGS_OF_INTEREST = ("vmx", "svm", "hypervisor", "pdpe1gb", "pse", "ept", "npt")
NAMESPACES = ("mnt", "uts", "ipc", "pid", "net", "user", "cgroup")


def _read(path, default=None):
    try:
        with open(path, "r") as fh:
            return fh.read()
    except (IOError, OSError):
        return default


def _cpu():
    arch = platform.machine()
    info = {"arch": arch, "vendor": None, "model": None, "flags": {}, "vt_flag": None}
    flags = set()
    for line in (_read("/proc/cpuinfo", "") or "").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "vendor_id" and info["vendor"] is None:
            info["vendor"] = value.strip()
        elif key == "model name" and info["model"] is None:
            info["model"] = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    info["flags"] = dict((f, f in flags) for f in FLAGS_OF_INTEREST)
    if "vmx" in flags:
        info["vt_flag"] = "vmx"
    elif "svm" in flags:
        info["vt_flag"] = "svm"
    return info


def _module_state(name):
    """loaded (module), builtin (no initstate), or absent."""
    base = "/sys/module/%s" % name
    if not os.path.isdir(base):
        return "absent"
    state = _read(base + "/initstate")
    if state is None:
        return "builtin"
    return "loaded" if state.strip() == "live" else state.strip()


def _kvm():
    info = {
        "device": os.path.exists("/dev/kvm"),
        "char_device": False,
        "api_version": None,
        "create_vm": False,
        "usable": False,
        "error": None,
        "modules": {},
        "vendor_module": None,
        "nested": None,
    }
    try:
        info["char_device"] = stat.S_ISCHR(os.stat("/dev/kvm").st_mode)
    except (IOError, OSError):
        pass
    names = ["kvm"]
    try:
        names += sorted(n for n in os.listdir("/sys/module") if n.startswith("kvm_"))
    except OSError:
        pass
    for name in names:
        info["modules"][name] = _module_state(name)
    for vendor in ("kvm_intel", "kvm_amd", "kvm_pvm"):
        if info["modules"].get(vendor, "absent") != "absent":
            info["vendor_module"] = vendor
            nested = _read("/sys/module/%s/parameters/nested" % vendor)
            if nested is not None:
                info["nested"] = nested.strip() in ("Y", "1")
            break
    if info["char_device"]:
        fd = None
        try:
            fd = os.open("/dev/kvm", os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
            info["api_version"] = fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
            vm_fd = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
            os.close(vm_fd)
            info["create_vm"] = True
        except (IOError, OSError) as e:
            info["error"] = "%s" % e
        finally:
            if fd is not None:
                os.close(fd)
    info["usable"] = info["api_version"] == KVM_API_VERSION and info["create_vm"]
    return info


def _iommu(cmdline):
    groups = 0
    try:
        groups = len(os.listdir("/sys/kernel/iommu_groups"))
    except OSError:
        pass
    units = []
    try:
        units = sorted(os.listdir("/sys/class/iommu"))
    except OSError:
        pass
    params = [t for t in cmdline.split() if t.split("=")[0] in ("intel_iommu", "amd_iommu", "iommu")]
    return {"enabled": groups > 0, "groups": groups, "units": units, "cmdline": params}


def _hypervisor(cpu):
    htype = (_read("/sys/hypervisor/type") or "").strip() or None
    dmi = dict((k, (_read("/sys/class/dmi/id/" + k) or "").strip() or None)
               for k in ("sys_vendor", "product_name"))
    return {
        "running_nested": bool(cpu["flags"].get("hypervisor")) or htype is not None,
        "type": htype,
        "dmi": dmi,
    }


def _xen():
    caps = _read("/proc/xen/capabilities")
    htype = (_read("/sys/hypervisor/type") or "").strip()
    return {
        "present": htype == "xen" or caps is not None,
        "dom0": caps is not None and "control_d" in caps,
        "capabilities": caps.strip() if caps else None,
    }


def _lxc():
    ns = dict((n, os.path.exists("/proc/self/ns/" + n)) for n in NAMESPACES)
    controllers = (_read("/sys/fs/cgroup/cgroup.controllers") or "").split()
    v1 = []
    v2 = False
    for line in (_read("/proc/mounts", "") or "").splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[2] == "cgroup":
            v1.append(os.path.basename(fields[1]))
        elif len(fields) > 3 and fields[2] == "cgroup2":
            v2 = True
    if v2:
        layout = "hybrid" if v1 else "v2"
    elif v1:
        layout = "v1"
    else:
        layout = "none"
    userns_clone = _read("/proc/sys/kernel/unprivileged_userns_clone")
    return {
        "namespaces": ns,
        "cgroup": layout,
        "cgroup_v2_controllers": controllers,
        "cgroup_v1_hierarchies": sorted(v1),
        "unprivileged_userns_clone": None if userns_clone is None else userns_clone.strip() == "1",
    }


def main():
    cmdline = (_read("/proc/cmdline", "") or "").strip()
    cpu = _cpu()
    result = dict(
        cpu=cpu,
        kvm=_kvm(),
        iommu=_iommu(cmdline),
        hypervisor=_hypervisor(cpu),
        xen=_xen(),
        lxc=_lxc(),
        kernel={"release": platform.release(), "cmdline": cmdline},
    )
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
