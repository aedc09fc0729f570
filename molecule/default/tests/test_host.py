"""molecule default: the KVM-capable lab VM after converge, idempotence, side_effect and a reboot."""

import ipaddress
import json

testinfra_hosts = ["ansible://hosts"]

FACTS = "/root/virtfleet-molecule-facts.json"


def facts(host):
    return json.loads(host.file(FACTS).content_string)


def links(host):
    return {link["ifname"]: link for link in json.loads(host.check_output("ip -j -d addr show"))}


def test_virt_support_is_nested(host):
    f = facts(host)
    # TCG emulates AMD-V for the qemu64 model: svm is in the flags, kvm_amd loads and the
    # KVM API answers on /dev/kvm, inside a VM (hypervisor flag): nested.
    assert f["virtfleet_virt_support"] == "nested"
    assert f["vt_flag"] == "svm"
    assert f["kvm_usable"] is True
    assert f["running_nested"] is True


def test_2m_pages_reserved_after_reboot(host):
    assert host.file("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").content_string.strip() == "64"
    conf = host.file("/etc/sysctl.d/60-virtfleet-hugepages.conf")
    assert conf.is_file and conf.mode == 0o644
    assert "vm.nr_hugepages = 64" in conf.content_string


def test_1g_pages_wait_for_a_reboot_through_grub(host):
    # The lab VM boots its kernel directly (no GRUB): the drop-in is written and the role
    # reports that a reboot through GRUB is needed, instead of pretending.
    dropin = host.file("/etc/default/grub.d/60-virtfleet-hugepages.cfg")
    assert "hugepagesz=1G hugepages=1" in dropin.content_string
    assert facts(host)["hugepages_reboot_required"] is True
    assert host.file("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages").content_string.strip() == "0"


def test_hugetlbfs_mounted_from_fstab(host):
    mounts = {m.split()[1]: m.split() for m in host.file("/proc/mounts").content_string.splitlines()}
    assert mounts["/dev/hugepages"][2] == "hugetlbfs"
    assert "pagesize=2M" in mounts["/dev/hugepages"][3].split(",")
    assert mounts["/dev/hugepages1G"][2] == "hugetlbfs"
    assert "pagesize=1024M" in mounts["/dev/hugepages1G"][3].split(",")
    assert "mode=1770" in mounts["/dev/hugepages1G"][3].split(",")
    fstab = host.file("/etc/fstab").content_string
    assert "hugetlbfs /dev/hugepages1G hugetlbfs pagesize=1G,mode=1770 0 0" in fstab


def test_bridges_back_after_reboot(host):
    ls = links(host)
    assert facts(host)["bridge_stack_used"] == "networkd"
    for name in ("br-guests", "br-isolated"):
        assert ls[name]["linkinfo"]["info_kind"] == "bridge", name
    assert ls["ens8"]["master"] == "br-guests"
    addrs = {f"{a['local']}/{a['prefixlen']}" for a in ls["br-guests"]["addr_info"]}
    assert {"203.0.113.1/24", "2001:db8:6::1/64"} <= addrs
    assert not ls["br-isolated"].get("addr_info")
    assert "br-uplink" not in ls
    assert "master" not in ls["ens3"]


def test_no_private_address_on_our_bridges(host):
    for name in ("br-guests", "br-isolated"):
        for a in links(host)[name].get("addr_info", []):
            ip = ipaddress.ip_address(a["local"])
            assert not (ip.version == 4 and ip.is_private and ip not in ipaddress.ip_network("203.0.113.0/24")), a


def test_networkd_files(host):
    netdev = host.file("/etc/systemd/network/50-virtfleet-br-guests.netdev").content_string
    assert "Kind=bridge" in netdev and "STP=no" in netdev
    port = host.file("/etc/systemd/network/50-virtfleet-br-guests-port-ens8.network").content_string
    assert "Name=ens8" in port and "Bridge=br-guests" in port


def test_forwarding_and_nat_after_reboot(host):
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert host.service("virtfleet-bridge-nat").is_enabled
    nat = host.check_output("iptables -w -t nat -S VIRTFLEET-POSTROUTING")
    assert "-A VIRTFLEET-POSTROUTING -s 203.0.113.0/24 ! -d 203.0.113.0/24 -o ens3 -j MASQUERADE" in nat
    assert host.run("iptables -w -t nat -C POSTROUTING -j VIRTFLEET-POSTROUTING").rc == 0
    fwd = host.check_output("iptables -w -S VIRTFLEET-FORWARD")
    assert "-A VIRTFLEET-FORWARD -s 203.0.113.0/24 -i br-guests -o ens3 -j ACCEPT" in fwd
    assert host.run("iptables -w -C FORWARD -j VIRTFLEET-FORWARD").rc == 0
    assert host.run("/usr/local/sbin/virtfleet-bridge-nat --check").rc == 0
