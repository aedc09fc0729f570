"""The guests inventory plugin's SSH transport for LXC/xl hosts, for real: a lab VM (base image,
no LXC or Xen installed) is read over ssh with the probe (`ssh -o BatchMode=yes ... python3 -`).
Its LXC path is empty, so it lists no guest and warns nothing; as an xl host it has no `xl`,
which is a warning naming it; a closed port is a warning naming that host; `strict: true`
turns them into an error. lab_full: one more TCG boot (~50 s).

Real guests over ssh are listed where make test already boots the hosts:
tests/lab/test_fleet.py (a Xen dom0, an LXC host and a KVM host, `hosts` and
`hypervisor_group` sources) and tests/lab/test_xen.py (paused and stopped xl guests)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import labvm  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inventory(tmp_path: Path, text: str, name: str):
    cfg = tmp_path / name
    cfg.write_text(text)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY_UNPARSED_FAILED="1")  # a source that fails fails the command
    return subprocess.run([str(VENV_BIN / "ansible-inventory"), "-i", str(cfg), "--list"], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300, check=False)


@pytest.mark.lab_full
def test_lxc_and_xl_probes_over_ssh(tmp_path):
    with labvm.lab_vm("vftest-invssh", memory=512) as vm:
        ssh = ("user: %s, port: %d, private_key_file: %s, python: /usr/bin/python3, "
               "ssh_args: [-o, StrictHostKeyChecking=no, -o, UserKnownHostsFile=/dev/null, -o, IdentitiesOnly=yes]"
               % (vm["user"], vm["ssh_port"], vm["key"]))
        hosts = ("hosts:\n"
                 "  - {host: %s, name: lab-lxc, backend: lxc, lxc_path: /var/lib/lxc-none, %s}\n"
                 "  - {host: %s, name: lab-xl, backend: xl, %s}\n"
                 "  - {host: 127.0.0.1, name: lab-closed, backend: lxc, port: %d, user: root}\n"
                 % (vm["ssh_host"], ssh, vm["ssh_host"], ssh, closed_port()))
        proc = inventory(tmp_path, "plugin: virtfleet.hypervisor.guests\ntimeout: 300\n" + hosts,
                         "ssh.virtfleet_guests.yml")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["_meta"]["hostvars"] == {}
        err = " ".join(proc.stderr.split())
        assert "lab-lxc" not in err, err  # read over ssh: an empty LXC path, no warning
        assert "hypervisor lab-xl (%s): FileNotFoundError" % vm["ssh_host"] in err and "'xl'" in err, err
        assert "hypervisor lab-closed (127.0.0.1):" in err and "its guests are not listed" in err, err

        proc = inventory(tmp_path, "plugin: virtfleet.hypervisor.guests\nstrict: true\ntimeout: 300\n" + hosts,
                         "strict.virtfleet_guests.yml")
        err = " ".join(proc.stderr.split())
        assert proc.returncode != 0 and "(strict: true)" in err and "Traceback" not in err, err
