"""molecule xen_dom0: xen_host on a running Xen dom0."""

import json


def facts(host):
    return json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)


def test_recognised_and_verified_as_dom0(host):
    f = facts(host)
    assert f["xen_host_dom0"] is True
    assert f["virtfleet_xen_dom0"] is True
    assert f["xen_version"].startswith("4.17")
    assert "dom0_mem=1024M,max:1024M" in f["xen_commandline"].split()
    assert f["xen_host_reboot_required"] is False
    assert f["xen_host_status"] == "xen_host: this host is a Xen dom0."


def test_xl_sees_domain0(host):
    assert "control_d" in host.file("/proc/xen/capabilities").content_string
    assert "Domain-0" in host.check_output("xl list")


def test_grub_dropin_written(host):
    dropin = host.file("/etc/default/grub.d/60-virtfleet-xen.cfg").content_string
    assert 'GRUB_CMDLINE_XEN_DEFAULT="dom0_mem=1024M,max:1024M"' in dropin
