"""molecule apparmor: libvirt confines QEMU guests with AppArmor and a guest whose disk
lives in a custom image directory starts, confined, with no AppArmor denial."""

import re
import time

GUEST = "vfm-aa-guest"
DISK = "/data/vf-images/guest.vfdisk"
XML = f"""<domain type='qemu'>
  <name>{GUEST}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='{DISK}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def test_qemu_conf(host):
    conf = host.file("/etc/libvirt/qemu.conf").content_string.splitlines()
    assert 'security_driver = "apparmor"' in conf
    assert "security_default_confined = 1" in conf
    assert "security_require_confined = 1" in conf


def test_local_overrides(host):
    abstraction = host.file("/etc/apparmor.d/local/abstractions/libvirt-qemu").content_string
    assert '"/data/vf-images/**" rwk,' in abstraction
    helper = host.file("/etc/apparmor.d/local/usr.lib.libvirt.virt-aa-helper").content_string
    assert '"/data/vf-images/**" r,' in helper
    profiles = host.file("/sys/kernel/security/apparmor/profiles").content_string
    assert "virt-aa-helper (enforce)" in profiles and "libvirtd (enforce)" in profiles


def test_guest_in_custom_dir_starts_confined(host):
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    host.check_output(f"truncate -s 8M {DISK}")
    host.check_output(f"cat > /tmp/{GUEST}.xml <<'EOF'\n{XML}EOF")
    host.run(f"virsh destroy {GUEST}; virsh undefine {GUEST}")
    host.check_output(f"virsh define /tmp/{GUEST}.xml")
    start = host.run(f"virsh start {GUEST}")
    assert start.rc == 0, start.stderr
    try:
        info = host.check_output(f"virsh dominfo {GUEST}")
        assert re.search(r"^State:\s+running", info, re.M), info
        assert re.search(r"^Security model:\s+apparmor", info, re.M), info
        label = re.search(r"^Security label:\s+(\S+)\s+\(enforcing\)", info, re.M)
        assert label, info
        # the QEMU process carries the guest's profile: polled (up to 120 s), not assumed after a sleep
        want, procs, deadline = f"{label.group(1)} (enforce)", "", time.monotonic() + 120
        while want not in procs and time.monotonic() < deadline:
            procs = host.run("ps -eo label,comm | grep qemu-system").stdout
            if want not in procs:
                time.sleep(1)
        assert want in procs, f"no qemu-system process confined by {want} after 120 s: {procs}"
        profile = host.file(f"/etc/apparmor.d/libvirt/{label.group(1)}.files").content_string
        assert DISK in profile
    finally:
        host.run(f"virsh destroy {GUEST}; virsh undefine {GUEST}")
    denials = host.run(f"journalctl -k --since '{since}' --no-pager | grep 'apparmor=\"DENIED\"'").stdout
    assert "vf-images" not in denials, denials
