"""molecule xen_host: the non-dom0 path (the lab VM boots Linux directly)."""

import json
import re


def test_not_a_dom0_and_says_so(host):
    f = json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)
    assert f["xen_host_dom0"] is False and f["xen_host_reboot_required"] is True
    assert f["xen_host_xl_info"] == {}
    assert not host.file("/proc/xen/capabilities").exists


def test_xen_installed(host):
    assert host.package("xen-system-amd64").is_installed
    assert host.package("libvirt-daemon-driver-xen").is_installed
    assert host.service("libvirtd").is_enabled


def test_grub_dropin(host):
    dropin = host.file("/etc/default/grub.d/60-virtfleet-xen.cfg").content_string
    assert 'GRUB_CMDLINE_XEN_DEFAULT="dom0_mem=1024M,max:1024M dom0_max_vcpus=1"' in dropin
    assert "XEN_OVERRIDE_GRUB_DEFAULT=1" in dropin
    # Debian's own drop-in (sourced after ours) turns the override into GRUB_DEFAULT
    assert host.file("/etc/default/grub.d/xen.cfg").exists


def test_grub_boots_xen_by_default(host):
    """update-grub made a Xen entry (multiboot2, the role's dom0 options) and the default."""
    cfg = host.file("/boot/grub/grub.cfg").content_string
    xen_entries = [e for e in cfg.split("menuentry ")[1:] if "multiboot2" in e]
    assert xen_entries, "no multiboot2 (Xen) entry in grub.cfg"
    assert any("dom0_mem=1024M,max:1024M dom0_max_vcpus=1" in e and "module2" in e for e in xen_entries)
    # the default GRUB boots (`set default="<title>"`, not the saved/next entry) is a Xen entry
    defaults = re.findall(r'^\s*set default="([^"$]+)"', cfg, re.M)
    titles = re.findall(r"^\s*(?:menuentry|submenu) '([^']+)'", cfg, re.M)
    assert defaults and defaults[-1] in titles, (defaults, titles)
    assert defaults[-1].endswith("with Xen hypervisor")


def test_status_says_not_a_dom0_yet(host):
    f = json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)
    assert "NOT a Xen dom0 yet" in f["xen_host_status"]
    assert "reboot" in f["xen_host_status"]
    assert "GRUB entry for Xen" in f["xen_host_status"]
