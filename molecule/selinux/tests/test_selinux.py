"""molecule selinux: after converge, idempotence and a reboot."""

import json
import re


def test_mode_enforcing_after_reboot(host):
    assert host.check_output("getenforce") == "Enforcing"
    assert "SELINUX=enforcing" in host.file("/etc/selinux/config").content_string.splitlines()
    cmdline = host.file("/proc/cmdline").content_string
    assert "security=selinux" in cmdline and "enforcing=" not in cmdline


def test_booleans_current_and_persistent(host):
    out = host.check_output("semanage boolean --list --noheading")
    values = {}
    for line in out.splitlines():
        m = re.match(r"^(\S+)\s+\((on|off)\s*,\s*(on|off)\s*\)", line)
        if m:
            values[m.group(1)] = (m.group(2), m.group(3))
    assert values["virt_use_nfs"] == ("on", "on")
    assert values["virt_use_samba"] == ("on", "on")
    assert values["virt_use_usb"] == ("off", "off")


def test_image_dir_labelled(host):
    rules = host.check_output("semanage fcontext --list --locallist --noheading")
    assert "/data/vf-images(/.*)?" in rules and "virt_image_t" in rules
    assert "/srv/vf-iso(/.*)?" in rules and "virt_content_t" in rules
    assert ":virt_image_t:" in host.check_output("stat -c %C /data/vf-images")
    assert ":virt_content_t:" in host.check_output("stat -c %C /srv/vf-iso/test.iso")
    # a new file inherits the label from the rule, not from chance
    host.check_output("touch /data/vf-images/new.qcow2 && restorecon -n -v /data/vf-images/new.qcow2")
    assert ":virt_image_t:" in host.check_output("stat -c %C /data/vf-images/new.qcow2")


def test_facts(host):
    f = json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)
    assert f == {"selinux_enabled": True, "selinux_reboot_required": False, "selinux_boot_override": False}
