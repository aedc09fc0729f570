"""molecule kvm_host: after converge, idempotence and a reboot."""

import json


def facts(host):
    return json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)


def test_facts(host):
    f = facts(host)
    assert f["virtfleet_virt_support"] == "nested"
    assert f["kvm_host_security_used"] == "apparmor"
    assert f["kvm_host_reboot_required"] is False
    assert f["bridge_stack_used"] == "ifupdown"
    assert f["libvirtd_service_manager"] == "systemd"


def test_toolstack_installed_and_running(host):
    for pkg in ("qemu-system-x86", "qemu-utils", "libvirt-daemon-system", "libvirt-clients", "apparmor",
                "ovmf", "swtpm", "swtpm-tools"):
        assert host.package(pkg).is_installed, pkg
    # socket-activated (Debian: --timeout 120, so the daemon itself may be idle-stopped)
    assert host.service("libvirtd").is_enabled
    sock = host.service("libvirtd.socket")
    assert sock.is_enabled and sock.is_running
    assert host.run("virsh -c qemu:///system version").rc == 0


def test_libvirt_offers_kvm(host):
    caps = host.check_output("virsh -c qemu:///system capabilities")
    assert "domain type='kvm'" in caps
    kvm = host.file("/dev/kvm")
    assert host.run("test -c /dev/kvm").rc == 0
    assert kvm.group == "kvm" and kvm.mode == 0o660


def test_hugepages_after_reboot(host):
    assert host.file("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").content_string.strip() == "32"
    assert host.mount_point("/dev/hugepages").filesystem == "hugetlbfs"


def test_ifupdown_bridge_after_reboot(host):
    stanza = host.file("/etc/network/interfaces.d/virtfleet-br-kvm").content_string
    assert "bridge_ports ens8" in stanza and "address 198.51.100.1/24" in stanza
    links = {x["ifname"]: x for x in json.loads(host.check_output("ip -j -d addr show"))}
    assert links["br-kvm"]["linkinfo"]["info_kind"] == "bridge"
    assert links["ens8"]["master"] == "br-kvm"
    assert "198.51.100.1" in [a["local"] for a in links["br-kvm"]["addr_info"]]
    assert "master" not in links["ens3"]
    assert not host.service("systemd-networkd").is_running


def test_nat_after_reboot(host):
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    nat = host.check_output("iptables -w -t nat -S VIRTFLEET-POSTROUTING")
    assert "-s 198.51.100.0/24 ! -d 198.51.100.0/24 -o ens3 -j MASQUERADE" in nat


def test_apparmor_confines_qemu(host):
    conf = host.file("/etc/libvirt/qemu.conf").content_string.splitlines()
    assert 'security_driver = "apparmor"' in conf
    assert '"/data/vf-images/**" rwk,' in host.file("/etc/apparmor.d/local/abstractions/libvirt-qemu").content_string
    assert host.file("/data/vf-images").is_directory


def test_no_private_network_appeared(host):
    # neither libvirt's default network (192.168.122.1) nor anything else private beyond
    # QEMU user networking's own 10.0.2.15 on the uplink
    for link in json.loads(host.check_output("ip -j addr show")):
        for a in link.get("addr_info", []):
            if a["family"] == "inet" and link["ifname"] not in ("lo", "ens3"):
                assert not a["local"].startswith(("10.", "192.168.", "172.")), (link["ifname"], a)
