"""Bad input to the roles: each role's meta/argument_specs.yml, or the role's own first check
when a rule spans values an argument spec cannot say (a range, a unique name), must refuse it
before anything changes, naming the variable, with the files the roles manage unchanged. Every case is
one block of one playbook (include_role, rescue records the failure), run in check mode so a
case the spec wrongly accepts cannot reconfigure this machine."""

import hashlib
import json
import os
import subprocess

from vfhelpers import ROOT

# (id, role, vars, variable named in the message)
CASES = [
    ("hugepages-count-string", "hugepages", {"hugepages_2m_count": "lots"}, "hugepages_2m_count"),
    ("hugepages-count-negative", "hugepages", {"hugepages_2m_count": -5}, "hugepages_2m_count"),
    ("hugepages-mount-size", "hugepages", {"hugepages_mounts": [{"path": "/dev/hugepages3M", "size": "3M"}]},
     "size"),
    ("hugepages-mount-relative", "hugepages", {"hugepages_mounts": [{"path": "hugepages", "size": "2M"}]},
     "path"),
    ("bridge-name-missing", "bridge", {"bridge_bridges": [{"ports": ["eth9"]}]}, "name"),
    ("bridge-name-too-long", "bridge", {"bridge_bridges": [{"name": "b" * 16}]}, "name"),
    ("bridge-stack-unknown", "bridge", {"bridge_stack": "netplan"}, "bridge_stack"),
    ("bridge-state-typo", "bridge", {"bridge_bridges": [{"name": "br9", "state": "gone"}]}, "state"),
    ("selinux-state-disabled", "selinux", {"selinux_state": "disabled"}, "selinux_state"),
    ("virt-check-require", "virt_host_check", {"virt_host_check_require": "vmware"}, "virt_host_check_require"),
    ("kvm-emulation-not-bool", "kvm_host", {"kvm_host_allow_emulation": "maybe"}, "kvm_host_allow_emulation"),
    ("libvirtd-restart-not-bool", "libvirtd", {"libvirtd_restart": "sometimes"}, "libvirtd_restart"),
    ("lxc-host-libvirt-not-bool", "lxc_host", {"lxc_host_libvirt": "perhaps"}, "lxc_host_libvirt"),
    ("xen-dom0-vcpus-string", "xen_host", {"xen_host_dom0_max_vcpus": "two"}, "xen_host_dom0_max_vcpus"),
    ("apparmor-dirs-not-list", "apparmor", {"apparmor_image_dirs": {"a": 1}}, "apparmor_image_dirs"),
]

# what the roles write on a host (their managed files), hashed before and after
MANAGED = ["/etc/sysctl.d", "/etc/fstab", "/etc/network/interfaces.d", "/etc/systemd/network",
           "/etc/default/grub.d", "/etc/modprobe.d", "/etc/modules-load.d", "/etc/libvirt", "/etc/lxc",
           "/etc/apparmor.d/local", "/etc/default/lxc-net", "/proc/sys/vm/nr_hugepages"]


def _managed_hash():
    h = hashlib.sha256()
    for top in MANAGED:
        paths = [top] if not os.path.isdir(top) else sorted(
            os.path.join(d, f) for d, _dirs, files in os.walk(top) for f in files)
        for path in paths:
            try:
                with open(path, "rb") as f:
                    h.update(path.encode() + b"\0" + f.read())
            except OSError:
                h.update(path.encode() + b"\0-")
    return h.hexdigest()


def test_role_argument_specs_refuse_bad_input(tmp_path):
    out = tmp_path / "results.json"
    tasks = []
    for case, role, variables, _variable in CASES:
        tasks.append({"name": case, "block": [
            {"name": "include " + role, "ansible.builtin.include_role": {"name": "virtfleet.hypervisor." + role},
             "vars": variables},
            {"name": "record acceptance", "ansible.builtin.set_fact": {
                "results": "{{ results | combine({'%s': 'ACCEPTED'}) }}" % case}},
        ], "rescue": [
            {"name": "record failure", "ansible.builtin.set_fact": {
                "results": "{{ results | combine({'%s': ansible_failed_task.name ~ ' :: ' ~ "
                           "ansible_failed_result.msg}) }}" % case}},
        ]})
    tasks.append({"name": "write", "ansible.builtin.copy": {"content": "{{ results | to_json }}", "dest": str(out)},
                  "check_mode": False})
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"results": {}}, "tasks": tasks}]
    playbook = tmp_path / "roles.yml"
    playbook.write_text(json.dumps(play))
    before = _managed_hash()
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=/usr/bin/python3", "--check", str(playbook)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600, check=False)
    assert out.exists(), proc.stdout[-4000:] + proc.stderr[-2000:]
    results = json.loads(out.read_text())
    problems = []
    for case, role, _vars, variable in CASES:
        msg = results.get(case, "NOT RUN")
        if msg == "ACCEPTED" or variable not in msg:
            problems.append("%s (%s): %s" % (case, role, msg[:400]))
    assert not problems, "\n".join(problems)
    assert _managed_hash() == before
