"""_facts: host readings from a recorded host tree; absent toolstacks reported, never errors."""

import os

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _facts

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
flags\t\t: fpu vme de pse msr vmx ept
processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
flags\t\t: fpu vme de pse msr vmx ept
"""
MEMINFO = "MemTotal:       16384000 kB\nMemFree:         8192000 kB\nMemAvailable:   12288000 kB\n"
XL_INFO = """host                   : dom0
total_memory           : 16383
free_memory            : 9000
xen_major              : 4
xen_minor              : 17
xen_version            : 4.17.3
xen_scheduler          : credit2
"""


def write(root, path, text):
    p = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    return p


def executable(root, path):
    p = write(root, path, "#!/bin/sh\n")
    os.chmod(p, 0o755)


@pytest.fixture
def host(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    write(tmp_path, "/proc/cpuinfo", CPUINFO)
    write(tmp_path, "/proc/meminfo", MEMINFO)
    for size, total, free in (("2048", "512", "500"), ("1048576", "2", "0")):
        base = "/sys/kernel/mm/hugepages/hugepages-%skB/" % size
        write(tmp_path, base + "nr_hugepages", total + "\n")
        write(tmp_path, base + "free_hugepages", free + "\n")
        write(tmp_path, base + "resv_hugepages", "0\n")
        write(tmp_path, base + "surplus_hugepages", "0\n")
    write(tmp_path, "/sys/class/net/br0/bridge/stp_state", "0\n")
    os.makedirs(str(tmp_path / "sys/class/net/br0/brif/eno2"))
    write(tmp_path, "/sys/class/net/eno1/operstate", "up\n")
    write(tmp_path, "/sys/module/apparmor/parameters/enabled", "Y\n")
    return tmp_path


def no_run(argv):
    raise AssertionError("no command expected: %r" % (argv,))


def params(**kw):
    p = {"uri": "qemu:///system", "toolstacks": None, "gather": ["all"], "lxc_path": None,
         "xl_config_dir": "/etc/xen"}
    p.update(kw)
    return p


def test_hardware_readings(host):
    facts, warnings = _facts.gather(params(), no_run, root=str(host), kvm_probe=lambda dev: (True, None))
    assert warnings == []
    assert facts["cpu"]["count"] == 2 and facts["cpu"]["vt_flag"] == "vmx"
    assert facts["virtualization"] == "hardware"
    assert facts["memory"] == {"total_mib": 16000, "free_mib": 8000, "available_mib": 12000}
    assert facts["hugepages"] == {"2M": {"size_kib": 2048, "total": 512, "free": 500, "reserved": 0, "surplus": 0},
                                  "1G": {"size_kib": 1048576, "total": 2, "free": 0, "reserved": 0, "surplus": 0}}
    assert facts["bridges"] == [{"name": "br0", "interfaces": ["eno2"], "stp": False}]
    assert facts["security"] == {"selinux": "disabled", "apparmor": "enabled"}


def test_no_toolstack_installed_is_reported_absent_not_failed(host):
    facts, warnings = _facts.gather(params(), no_run, root=str(host), kvm_probe=lambda dev: (False, "missing"))
    assert facts["virtualization"] == "emulation-only" and facts["cpu"]["kvm_error"] == "missing"
    assert facts["toolstacks"] == {"libvirt": {"present": False, "uri": "qemu:///system"},
                                   "lxc": {"present": False}, "xen": {"present": False, "dom0": False}}
    assert facts["guests"] == [] and facts["pools"] == [] and facts["networks"] == []
    assert facts["committed"]["all"] == {"guests": 0, "vcpus": 0, "memory_mib": 0, "disk_bytes": 0, "disk": "0 B"}
    assert warnings == []


def test_selinux_modes(host):
    write(host, "/sys/fs/selinux/enforce", "1")
    assert _facts.security_facts(str(host))["selinux"] == "enforcing"
    write(host, "/sys/fs/selinux/enforce", "0")
    assert _facts.security_facts(str(host))["selinux"] == "permissive"


def test_xen_dom0_and_lxc_versions(host):
    executable(host, "/usr/sbin/xl")
    executable(host, "/usr/bin/lxc-ls")
    executable(host, "/usr/bin/lxc-start")
    write(host, "/proc/xen/capabilities", "control_d\n")
    calls = []

    def run(argv):
        calls.append(argv)
        if argv == ["/usr/sbin/xl", "info"]:
            return 0, XL_INFO, ""
        if argv[1:] == ["--version"]:
            return 0, "5.0.2\n", ""
        raise AssertionError(argv)

    facts, _w = _facts.gather(params(gather=["toolstacks"]), run, root=str(host))
    assert facts["toolstacks"]["xen"] == {"present": True, "dom0": True, "version": "4.17.3", "scheduler": "credit2",
                                          "free_memory_mib": 9000, "total_memory_mib": 16383}
    assert facts["toolstacks"]["lxc"] == {"present": True, "version": "5.0.2", "start_version": "5.0.2"}
    assert "cpu" not in facts and facts["gathered"] == ["toolstacks"]


def test_xl_installed_but_not_dom0_is_an_error_string(host):
    executable(host, "/usr/sbin/xl")
    facts, _w = _facts.gather(params(gather=["toolstacks"], toolstacks=["xen"]), no_run, root=str(host))
    assert facts["toolstacks"] == {"xen": {"present": True, "dom0": False,
                                           "error": "xl is installed but this host is not a Xen dom0 (boot it into Xen)"}}


def test_libvirt_installed_without_binding_warns_with_the_package(host):
    executable(host, "/usr/sbin/libvirtd")
    facts, warnings = _facts.gather(params(gather=["toolstacks", "guests"]), no_run, root=str(host),
                                    libvirt_error="install python3-libvirt")
    assert facts["toolstacks"]["libvirt"] == {"present": True, "uri": "qemu:///system",
                                              "error": "install python3-libvirt"}
    assert warnings == ["libvirt: install python3-libvirt"] and facts["guests"] == []


def test_committed_counts_running_and_all():
    gs = [_facts.guest_entry("a", "libvirt", "running", 2, 1024, 10 << 30, 1, True, "default"),
          _facts.guest_entry("b", "lxc", "stopped", None, 512, None, 0, False, None),
          _facts.guest_entry("c", "xen", "paused", 1, 256, 1 << 20, 1, True, "f")]
    c = _facts.committed(gs)
    assert c["all"] == {"guests": 3, "vcpus": 3, "memory_mib": 1792, "disk_bytes": (10 << 30) + (1 << 20),
                        "disk": "10.0 GiB"}
    assert c["running"]["guests"] == 2 and c["running"]["memory_mib"] == 1280
