"""molecule lxc_host: LXC and libvirt's LXC driver, lxc-net's bridge off."""

import json


def test_packages_and_daemon(host):
    for pkg in ("lxc", "libvirt-daemon-driver-lxc", "libvirt-daemon-system"):
        assert host.package(pkg).is_installed, pkg
    # socket-activated (Debian: --timeout 120, so the daemon itself may be idle-stopped)
    assert host.service("libvirtd").is_enabled
    sock = host.service("libvirtd.socket")
    assert sock.is_enabled and sock.is_running
    assert host.run("virsh -c lxc:///system version").rc == 0


def test_lxc_net_bridge_off(host):
    assert 'USE_LXC_BRIDGE="false"' in host.file("/etc/default/lxc-net").content_string
    assert not host.interface("lxcbr0").exists


def test_facts(host):
    f = json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)
    assert f["lxc_host_security_used"] == "apparmor"
    assert f["lxc_host_checkconfig_missing"] == []


def test_lxc_checkconfig_runs(host):
    out = host.check_output("lxc-checkconfig")
    assert "Namespaces" in out and "Cgroup" in out
