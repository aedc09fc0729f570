"""The guest model a virt-install user expects (issue 16), on the real libvirtd.

- the install flow: a new qcow2 file created from `size`, an ISO built here booted from the
  cdrom under TCG (its boot sector writes a line to the serial console, read from the pty),
  then the cdrom ejected live and the boot order switched to the disk;
- live changes read back from the running guest: iotune (virDomainGetBlockIoTune), link
  state, cdrom medium;
- a UEFI guest with an emulated TPM boots OVMF (its serial output), its NVRAM file and TPM
  state are removed with the guest;
- every other key on a defined, stopped guest (hostdev, macvtap, bandwidth, labels ...):
  the XML passes virt-xml-validate and a second run changes nothing;
- bad input is refused naming guest and field, changing nothing.
"""

import os
import select
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import libvirt
import pytest

from vfhelpers import PREFIX, run_module, state_hash

G = PREFIX + "gm"
WORK = "/var/lib/virtfleet-test/guest-model"
MARK = b"VIRTFLEET-ISO-BOOTED"
SECURE = libvirt.VIR_DOMAIN_XML_SECURE


def boot_sector(text):
    """A no-emulation El Torito boot image: writes ``text`` to COM1 (0x3f8) and halts."""
    code = bytearray(b"\xba\xf8\x03")  # mov dx, 0x3f8
    for ch in text + b"\r\n":
        code += bytes((0xB0, ch, 0xEE))  # mov al, ch ; out dx, al
    code += b"\xf4\xeb\xfd"  # hlt ; jmp $-1
    return bytes(code) + b"\0" * (2048 - len(code))


@pytest.fixture(scope="module")
def iso():
    os.makedirs(WORK + "/iso", exist_ok=True)
    with open(WORK + "/iso/boot.img", "wb") as f:
        f.write(boot_sector(MARK))
    path = WORK + "/install.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", path, "-b", "boot.img", "-no-emul-boot",
                    "-boot-load-size", "4", WORK + "/iso"], check=True, capture_output=True)
    yield path
    shutil.rmtree(WORK, ignore_errors=True)


@pytest.fixture
def files():
    made = []
    yield made
    for p in made:
        if os.path.exists(p):
            os.unlink(p)


def serial_text(dom, want, timeout=60):
    """Read the guest's serial pty until ``want`` shows up (or the timeout); return what was read."""
    live = ET.fromstring(dom.XMLDesc(0))
    pty = live.find("devices/serial/source").get("path")
    fd = os.open(pty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while want not in out and time.monotonic() < deadline:
            if select.select([fd], [], [], 1)[0]:
                try:
                    out += os.read(fd, 4096)
                except BlockingIOError:
                    pass
    finally:
        os.close(fd)
    return out


def fields(result):
    return {f["field"]: f["apply"] for f in result["fields"]}


def test_install_flow_then_live_changes(conn, net, iso, files):
    disk = WORK + "/%s.qcow2" % G
    files.append(disk)
    spec = {"name": G, "virt_type": "qemu", "memory": 64, "serial": True, "boot": ["cdrom", "hd"],
            "graphics": {"type": "vnc", "password": "pw4vnc"}, "guest_agent": True, "rng": True,
            "watchdog": {"action": "poweroff"}, "video": "virtio",
            "disks": [{"path": disk, "size": "32MiB", "iotune": {"total_iops_sec": 200}},
                      {"path": iso, "device": "cdrom"}],
            "interfaces": [{"network": net}]}
    check = run_module("guest", spec, check=True)
    assert check["rc"] == 0 and check["changed"] and not os.path.exists(disk)
    assert any(a.startswith("create %s" % disk) for a in check["actions"])
    r = run_module("guest", spec)
    assert r["rc"] == 0 and r["changed"], r
    assert "pw4vnc" not in str(r)
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", disk], capture_output=True, text=True,
                          check=True).stdout
    assert '"virtual-size": 33554432' in info and '"format": "qcow2"' in info
    dom = conn.lookupByName(G)
    # the installer ISO really boots (SeaBIOS, El Torito, under TCG)
    assert MARK in serial_text(dom, MARK)
    again = run_module("guest", spec)
    assert again["rc"] == 0 and not again["changed"] and not again["restart_required"], again
    # the file is never shrunk: a smaller size is no change
    small = run_module("guest", dict(spec, disks=[dict(spec["disks"][0], size="16MiB"), spec["disks"][1]]))
    assert small["rc"] == 0 and not small["changed"], small

    # a bigger size grows the file under the running guest (virDomainBlockResize)
    spec["disks"][0]["size"] = "48MiB"
    r = run_module("guest", spec)
    assert r["rc"] == 0 and fields(r) == {"disks[0].size": "live"}, r
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", disk], capture_output=True, text=True,
                          check=True).stdout
    assert '"virtual-size": 50331648' in info

    # after the install: cdrom emptied live, boot from the disk at the next boot
    after = dict(spec, boot=["hd"], disks=[spec["disks"][0], {"device": "cdrom"}])
    r = run_module("guest", after)
    assert r["rc"] == 0 and r["changed"]
    assert fields(r) == {"disks": "live", "boot": "restart"}, r["fields"]
    live = ET.fromstring(dom.XMLDesc(0))
    cdrom = [d for d in live.findall("devices/disk") if d.get("device") == "cdrom"][0]
    assert cdrom.find("source") is None or not cdrom.find("source").get("file")
    inactive = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert [b.get("dev") for b in inactive.findall("os/boot")] == ["hd"]
    # and the medium swapped back in, live
    r = run_module("guest", dict(after, disks=[spec["disks"][0], {"path": iso, "device": "cdrom"}]))
    assert fields(r)["disks"] == "live"
    cdrom = [d for d in ET.fromstring(dom.XMLDesc(0)).findall("devices/disk") if d.get("device") == "cdrom"][0]
    assert cdrom.find("source").get("file") == iso

    # iotune and the link state, live, read back from the running guest
    tuned = dict(after, disks=[dict(spec["disks"][0], iotune={"read_iops_sec": 50, "write_bytes_sec": 1048576}),
                               {"path": iso, "device": "cdrom"}],
                 interfaces=[{"network": net, "link": "down"}])
    r = run_module("guest", tuned)
    assert r["rc"] == 0 and fields(r) == {"disks": "live", "interfaces": "live"}, r
    target = [d for d in ET.fromstring(dom.XMLDesc(0)).findall("devices/disk")
              if d.get("device") == "disk"][0].find("target").get("dev")
    tune = dom.blockIoTune(target, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert (tune["read_iops_sec"], tune["write_bytes_sec"], tune["total_iops_sec"]) == (50, 1048576, 0)
    assert ET.fromstring(dom.XMLDesc(0)).find("devices/interface/link").get("state") == "down"
    again = run_module("guest", tuned)
    assert not again["changed"] and again["restart_fields"] == ["boot"], again

    gone = run_module("guest", dict(tuned, state="absent", remove_storage=True))
    assert gone["rc"] == 0 and not os.path.exists(disk) and os.path.exists(iso)


def test_uefi_tpm_guest_boots_ovmf(conn, files):
    if not os.path.exists("/usr/share/OVMF/OVMF_CODE_4M.fd"):
        pytest.fail("needs OVMF (Debian package ovmf; scripts/setup-host.sh installs it)")
    spec = {"name": G + "-uefi", "virt_type": "qemu", "memory": 128, "machine": "q35", "firmware": "uefi",
            "secure_boot": True, "tpm": True, "serial": True, "graphics": {"type": "none"}, "boot": ["hd"]}
    r = run_module("guest", spec)
    assert r["rc"] == 0 and r["changed"], r.get("msg", r)
    dom = conn.lookupByName(spec["name"])
    live = ET.fromstring(dom.XMLDesc(0))
    nvram = live.findtext("os/nvram")
    assert live.find("os/loader").get("secure") == "yes" and nvram and os.path.exists(nvram)
    assert live.find("devices/tpm/backend").get("type") == "emulator"
    # OVMF runs: its boot manager reports on the serial console
    out = serial_text(dom, b"BdsDxe", timeout=90)
    assert b"BdsDxe" in out, out[-500:]
    again = run_module("guest", spec)
    assert again["rc"] == 0 and not again["changed"], again
    tpm_state = "/var/lib/libvirt/swtpm/%s" % dom.UUIDString()
    assert os.path.isdir(tpm_state)
    r = run_module("guest", dict(spec, state="absent"))
    assert r["rc"] == 0 and not os.path.exists(nvram) and not os.path.exists(tpm_state)


def _pci_address():
    return sorted(os.listdir("/sys/bus/pci/devices"))[0]


def _host_nic():
    for n in sorted(os.listdir("/sys/class/net")):
        if n != "lo" and not os.path.isdir("/sys/class/net/%s/bridge" % n):
            return n
    pytest.fail("no host interface for a macvtap definition")


def test_every_key_on_a_stopped_guest(conn, net, iso, files):
    disk = WORK + "/%s-stopped.raw" % G
    files.append(disk)
    spec = {"name": G + "-stopped", "virt_type": "qemu", "memory": 64, "max_vcpus": 2, "vcpus": 2, "hugepages": False,
            "state": "stopped", "boot": ["network", "hd"], "firmware": "bios", "tpm": False,
            "graphics": {"type": "spice", "listen": "127.0.0.1", "port": 5999}, "serial": False, "video": "qxl",
            "guest_agent": False, "rng": True, "watchdog": {"model": "ib700", "action": "pause"},
            "cpu_model": "qemu64", "cpu_features": ["+sse2", "-svm"],
            "cpu_topology": {"sockets": 1, "cores": 1, "threads": 2},
            "vcpu_pins": {0: "0", 1: "0"}, "emulator_pin": "0", "numatune": {"mode": "preferred", "nodeset": "0"},
            "locked_memory": True, "iothreads": 2, "hostdevs": [_pci_address()],
            "title": "web frontend", "description": "issue 16\nall keys", "tags": ["prod", "web"],
            "disks": [{"path": disk, "size": "8MiB", "format": "raw", "target": "vdc", "cache": "writeback",
                       "io": "threads", "discard": "unmap", "serial": "SER-1", "shareable": True,
                       "iotune": {"read_bytes_sec": 1000000, "write_iops_sec": 30}},
                      {"path": iso, "device": "cdrom", "bus": "scsi", "target": "sdb"}],
            "interfaces": [{"network": net, "mtu": 1400,
                            "bandwidth": {"inbound": {"average": 1000, "burst": 200}, "outbound": {"average": 500}}},
                           {"direct": _host_nic(), "mode": "bridge", "model": "e1000"}]}
    r = run_module("guest", spec)
    assert r["rc"] == 0 and r["changed"], r
    xml = conn.lookupByName(spec["name"]).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | SECURE)
    path = WORK + "/stopped.xml"
    with open(path, "w") as f:
        f.write(xml)
    subprocess.run(["virt-xml-validate", path, "domain"], check=True, capture_output=True)
    root = ET.fromstring(xml)
    assert root.findtext("title") == "web frontend"
    assert root.find("devices/hostdev/source/address").get("slot") == "0x" + _pci_address()[8:10]
    assert root.find("devices/interface[@type='direct']/source").get("mode") == "bridge"
    assert os.path.getsize(disk) == 8 * 1024 * 1024
    again = run_module("guest", spec)
    assert again["rc"] == 0 and not again["changed"], again
    # a change of each kind on the stopped guest is 'config'
    r = run_module("guest", dict(spec, tags=["web"], iothreads=0, graphics={"type": "none"}, watchdog=False))
    assert r["rc"] == 0 and set(fields(r)) == {"tags", "iothreads", "graphics", "watchdog"}, (r["rc"], r.get("msg"), r["fields"])
    assert set(fields(r).values()) == {"config"}
    root = ET.fromstring(conn.lookupByName(spec["name"]).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert root.find("devices/graphics") is None and root.find("devices/watchdog") is None


@pytest.mark.parametrize("change, field", [
    ({"vcpu_pins": {0: "4095"}}, "vcpu_pins.0"),
    ({"interfaces": [{"bridge": "vftestbr0", "vlan": 10}]}, "interfaces[0].vlan"),
    ({"secure_boot": True}, "secure_boot"),
    ({"firmware": "uefi", "secure_boot": True}, "secure_boot"),  # needs q35
    ({"disks": [{"path": "/etc/hostname", "readonly": True, "size": "1G"}]}, "disks[0].size"),
    ({"watchdog": {"action": "explode"}}, "watchdog.action"),
    ({"hostdevs": ["0000:00:1f"]}, "hostdevs[0]"),
    ({"hostdevs": ["0000:7f:1f.7"]}, "hostdevs[0]"),
    ({"numatune": {"nodeset": "7"}}, "numatune.nodeset"),
])
def test_bad_input_is_refused_naming_the_field(conn, net, change, field):
    spec = {"name": G + "-bad", "virt_type": "qemu", "memory": 64, "state": "stopped"}
    before = state_hash(conn)
    r = run_module("guest", dict(spec, **change))
    assert r["rc"] != 0 and "guest '%s'" % spec["name"] in r["msg"] and field + ":" in r["msg"], r["msg"]
    assert state_hash(conn) == before
