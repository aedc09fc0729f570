"""Secrets never appear in any output of any module, at any verbosity: every module that takes
one (guest, guests, cloud_init), run by ansible-playbook at -vvv with --diff, in check mode,
for real, on a no-op run and on a failing run, then every other module on the same host
(host_facts reads the guests and the seed volumes; place gets fleet guests with cloud-init;
network(s), pool, volume(s)); the whole
output is grepped. The second test does the same for the secret a guest's definition itself
holds (its console's graphics.password), through the modules that read a definition they
were not given: guest_info, guest_backup (its domain.xml is 0600) and migrate (to a
namespaced libvirtd and back)."""

import json
import os
import stat
import subprocess

import libvirt

import nshosts

from vfhelpers import PREFIX, ROOT, VENV_PY

PASSWORD = "vf-Secret-Pw-7d1e"        # in user_data (a mapping)
KEY = "ssh-ed25519 AAAAvfSecretKey9c"  # in user_data (a string)
NETCFG = "vf-secret-netcfg-41ab"       # in network_config
GFX = "Vq7pW9zX"                        # graphics.password (VNC takes at most 8 characters)


def _playbook(tmp_path, pool, check):
    user_data = {"users": [{"name": "ops", "passwd": PASSWORD, "ssh_authorized_keys": [KEY]}]}
    ci = {"pool": pool, "user_data": user_data, "network_config": {"version": 2, "comment": NETCFG},
          "meta_data": {"local-hostname": "x"}}
    guest = {"name": PREFIX + "sec1", "state": "stopped", "virt_type": "qemu", "memory": 64, "cloud_init": ci}
    batch = [dict(guest, name=PREFIX + "sec2"),
             {"name": PREFIX + "sec-bad", "memory": "lots", "virt_type": "qemu",
              "cloud_init": dict(ci, user_data="#cloud-config\npassword: %s\n" % PASSWORD)}]
    tasks = [
        {"name": "guest", "virtfleet.hypervisor.guest": guest},
        {"name": "guests (one bad guest: the task fails)", "virtfleet.hypervisor.guests": {"guests": batch},
         "ignore_errors": True},
        {"name": "cloud_init", "virtfleet.hypervisor.cloud_init": {
            "name": PREFIX + "sec-seed", "pool": pool, "user_data": "#cloud-config\nchpasswd: %s\n" % PASSWORD,
            "network_config": NETCFG}},
        {"name": "guest with a bad field fails", "virtfleet.hypervisor.guest": dict(guest, vcpus=0),
         "ignore_errors": True},
    ]
    # the modules without a secret option, on the host that now holds the seeds
    net = {"name": PREFIX + "secnet", "forward": "isolated"}
    vol = {"name": PREFIX + "secvol", "pool": pool, "size": "1M", "format": "raw"}
    tasks += [
        {"name": "host_facts", "virtfleet.hypervisor.host_facts": {}},
        # the controller-side placement of fleet guests with cloud-init secrets (names come back)
        {"name": "place", "virtfleet.hypervisor.place": {
            "hosts": [{"name": "h1", "facts": "{{ virtfleet_host }}", "backends": ["libvirt"]}],
            "guests": [dict(guest, name=PREFIX + "sec-placed"),
                       dict(batch[1], name=PREFIX + "sec-placed2", memory=64)]}},
        {"name": "guest_info one", "virtfleet.hypervisor.guest_info": {"name": PREFIX + "sec1"},
         "ignore_errors": check},  # in check mode the guest was never created
        {"name": "guest_info all", "virtfleet.hypervisor.guest_info": {}},
        {"name": "snapshot", "virtfleet.hypervisor.snapshot": {"guest": PREFIX + "sec1", "name": "s1"},
         "ignore_errors": True},  # a seed-only guest has no disk to snapshot: refused, and grepped
        {"name": "network", "virtfleet.hypervisor.network": net},
        {"name": "networks", "virtfleet.hypervisor.networks": {"networks": [net]}},
        {"name": "pool", "virtfleet.hypervisor.pool": {"name": pool}},
        {"name": "volume", "virtfleet.hypervisor.volume": vol},
        {"name": "volumes", "virtfleet.hypervisor.volumes": {"volumes": [vol]}},
    ]
    play = [{"hosts": "localhost", "gather_facts": False, "check_mode": check, "tasks": tasks}]
    path = tmp_path / ("check.yml" if check else "apply.yml")
    path.write_text(json.dumps(play))
    return str(path)


def _run(playbook):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=" + VENV_PY, "-vvv", "--diff", playbook],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    return proc.stdout + proc.stderr


def test_no_secret_in_any_output_at_vvv(conn, pool, tmp_path):
    outputs = [_run(_playbook(tmp_path, pool, check=True))]
    apply = _playbook(tmp_path, pool, check=False)
    outputs += [_run(apply), _run(apply)]  # apply, then a no-op
    for out in outputs:
        assert "TASK [guests" in out and "TASK [cloud_init]" in out and "ok=" in out, out[-3000:]
        for task in ("host_facts", "place", "guest_info one", "guest_info all", "snapshot", "network", "networks", "pool",
                     "volume", "volumes"):
            assert "TASK [%s]" % task in out, out[-3000:]
        assert "failed=0" in out, out[-3000:]  # the failing tasks are ignored, every other one ran
        for secret in (PASSWORD, KEY, NETCFG, "AAAAvfSecretKey9c"):
            assert secret not in out, "secret %r printed:\n%s" % (secret, out[max(0, out.find(secret) - 1500):][:3000])
        assert '"passwd": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in out  # masked, not dropped
        assert '"version": 2' in out, "a short value is not masked everywhere"
    assert "guest '%ssec-bad': memory" % PREFIX in outputs[1]
    assert conn.lookupByName(PREFIX + "sec1") and conn.lookupByName(PREFIX + "sec2")
    conn.storagePoolLookupByName(pool).storageVolLookupByName(PREFIX + "sec-seed").delete(0)
    for name in ("sec1-cidata", "sec2-cidata", "secvol"):
        conn.storagePoolLookupByName(pool).storageVolLookupByName(PREFIX + name).delete(0)


def _gfx_playbook(tmp_path, dest_uri, backups, check):
    name = PREFIX + "sec-gfx"
    guest = {"name": name, "state": "stopped", "virt_type": "qemu", "memory": 64,
             "graphics": {"type": "vnc", "listen": "127.0.0.1", "password": GFX}}
    away = {"name": name, "dest_uri": dest_uri, "offline": True, "p2p": False}
    back = {"name": name, "uri": dest_uri, "dest_uri": "qemu:///system", "offline": True, "p2p": False}
    tasks = [
        {"name": "guest", "virtfleet.hypervisor.guest": guest},
        {"name": "guests", "virtfleet.hypervisor.guests": {"guests": [guest]}},
        {"name": "guest with a bad field fails", "virtfleet.hypervisor.guest": dict(guest, vcpus=0),
         "ignore_errors": True},
        # the modules below were not given the password: they read it back from libvirt
        {"name": "guest_info", "virtfleet.hypervisor.guest_info": {"name": name}, "ignore_errors": check},
        {"name": "guest_backup", "virtfleet.hypervisor.guest_backup": {"name": name, "dest": backups},
         "ignore_errors": check},
        {"name": "guest_backup restored (the same guest: ok)", "virtfleet.hypervisor.guest_backup": {
            "name": name, "dest": backups, "state": "restored"}, "ignore_errors": check},
        {"name": "migrate away", "virtfleet.hypervisor.migrate": away, "ignore_errors": check},
        {"name": "guest_info on the destination", "virtfleet.hypervisor.guest_info": {"name": name, "uri": dest_uri},
         "ignore_errors": check},
        {"name": "migrate back", "virtfleet.hypervisor.migrate": back, "ignore_errors": check},
    ]
    play = [{"hosts": "localhost", "gather_facts": False, "check_mode": check, "tasks": tasks}]
    path = tmp_path / ("gfx-check.yml" if check else "gfx-apply.yml")
    path.write_text(json.dumps(play))
    return str(path)


def test_no_definition_secret_in_info_backup_or_migrate_output(conn, tmp_path):
    backups = str(tmp_path / "backups")
    with nshosts.hosts(1, prefix="vfsec") as fleet:
        dest_uri = fleet[0].uri
        outputs = [_run(_gfx_playbook(tmp_path, dest_uri, backups, check=True))]
        apply = _gfx_playbook(tmp_path, dest_uri, backups, check=False)
        outputs += [_run(apply), _run(apply)]  # apply, then a no-op (the backup is kept, the moves repeat)
        dconn = libvirt.open(dest_uri)
        try:
            assert [d.name() for d in dconn.listAllDomains(0)] == [], "migrate back left the guest there"
        finally:
            dconn.close()
    for out in outputs:
        for task in ("guest_info", "guest_backup", "migrate away", "guest_info on the destination", "migrate back"):
            assert "TASK [%s]" % task in out, out[-3000:]
        assert "failed=0" in out, out[-3000:]
        at = out.find(GFX)
        task = out[:at].rsplit("TASK [", 1)[-1].split("]")[0]
        assert at < 0, "secret printed in task %r:\n%s" % (task, out[max(0, at - 1500):][:3000])
    for out in outputs[1:]:
        assert '"password": "********"' in out, "guest_info does not show that a password is set"
    # the password went through every step: the guest back home holds it, so does its backup (0600)
    dom = conn.lookupByName(PREFIX + "sec-gfx")
    assert "passwd='%s'" % GFX in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
    backup = os.path.join(backups, PREFIX + "sec-gfx", "default")
    with open(os.path.join(backup, "domain.xml")) as f:
        assert GFX in f.read()
    for f in os.listdir(backup):
        assert stat.S_IMODE(os.stat(os.path.join(backup, f)).st_mode) == 0o600, f
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o700
