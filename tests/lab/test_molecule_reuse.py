"""Role reuse of the lab (issue 14): a role author outside this repository installs the built
collection into an empty directory and runs `molecule test` of their own role on a lab VM,
through the lab driver the collection ships (molecule/resources/create.yml and destroy.yml,
labvm_instance.py, scripts/labvm.py), with their role using the collection's roles.

The external role here (acme_virt_probe) runs virtfleet.hypervisor.virt_host_check and
records what it found in /etc/acme-virt-support; its verify step reads it back on the VM.
Sequence: destroy -> create -> converge -> idempotence -> verify -> destroy, one TCG lab VM
(base image)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import labvm  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
BUDGET = 900

ROLE_TASKS = """\
---
- name: Check what virtualization this host supports
  ansible.builtin.include_role:
    name: virtfleet.hypervisor.virt_host_check
  vars:
    virt_host_check_require: any

- name: Record it
  ansible.builtin.copy:
    content: "{{ virtfleet_virt_support }}\\n"
    dest: /etc/acme-virt-support
    mode: "0644"
"""

MOLECULE_YML = """\
---
# An external role's scenario on a virtfleet lab VM: the lab driver comes from the installed
# collection (VIRTFLEET_LAB = <collections>/ansible_collections/virtfleet/hypervisor/molecule/resources).
dependency:
  name: galaxy
  enabled: false
driver:
  name: default
  options:
    managed: true
    ansible_connection_options:
      ansible_ssh_common_args: -o ServerAliveInterval=5 -o ServerAliveCountMax=6
platforms:
  - name: vfm-reuse
    image: bookworm
    memory: 768
provisioner:
  name: ansible
  env:
    ANSIBLE_COLLECTIONS_PATH: ${VIRTFLEET_COLLECTIONS}
    ANSIBLE_ROLES_PATH: ${MOLECULE_PROJECT_DIRECTORY}/..
    ANSIBLE_PIPELINING: "1"
  inventory:
    group_vars:
      all:
        ansible_python_interpreter: /usr/bin/python3
  playbooks:
    create: ${VIRTFLEET_LAB}/create.yml
    destroy: ${VIRTFLEET_LAB}/destroy.yml
    converge: converge.yml
    verify: verify.yml
verifier:
  name: ansible
scenario:
  test_sequence:
    - destroy
    - create
    - converge
    - idempotence
    - verify
    - destroy
"""

CONVERGE = """\
---
- name: Converge
  hosts: all
  gather_facts: false
  roles:
    - role: acme_virt_probe
"""

VERIFY = """\
---
- name: Verify
  hosts: all
  gather_facts: false
  tasks:
    - name: Read what the role recorded
      ansible.builtin.slurp:
        src: /etc/acme-virt-support
      register: recorded

    - name: It is one of virt_host_check's answers
      ansible.builtin.assert:
        that:
          - (recorded.content | b64decode | trim) in ['hardware', 'nested', 'emulation-only']
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def run(argv, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc


def test_external_role_runs_molecule_on_the_installed_collections_lab(tmp_path):
    try:
        labvm.image_files("bookworm")
    except labvm.LabVMError as e:
        pytest.fail(f"{e} (scripts/build-lab-image.sh)", pytrace=False)
    # the collection, built and installed into an empty directory, as a role author gets it
    run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist")], cwd=REPO)
    tarball = next((tmp_path / "dist").glob("virtfleet-hypervisor-*.tar.gz"))
    colls = tmp_path / "collections"
    run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--force", str(tarball), "-p", str(colls)],
        cwd=tmp_path)
    installed = colls / "ansible_collections" / "virtfleet" / "hypervisor"
    assert (installed / "scripts" / "labvm.py").is_file()
    lab = installed / "molecule" / "resources"

    role = tmp_path / "roles" / "acme_virt_probe"
    write(role / "tasks" / "main.yml", ROLE_TASKS)
    write(role / "meta" / "main.yml", """\
        ---
        galaxy_info:
          author: acme
          description: Records the host's virtualization support
          license: MIT
          min_ansible_version: "2.16"
          platforms: [{name: Debian, versions: [bookworm]}]
        dependencies: []
        """)
    write(role / "molecule" / "default" / "molecule.yml", MOLECULE_YML)
    write(role / "molecule" / "default" / "converge.yml", CONVERGE)
    write(role / "molecule" / "default" / "verify.yml", VERIFY)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", VIRTFLEET_COLLECTIONS=str(colls),
               VIRTFLEET_LAB=str(lab), ANSIBLE_NOCOLOR="1", NO_COLOR="1", PY_COLORS="0",
               ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(VENV_BIN / "molecule"), "test"], cwd=role, env=env, capture_output=True,
                              text=True, timeout=BUDGET, check=False)
    except subprocess.TimeoutExpired:
        labvm.stop("vfm-reuse")
        pytest.fail(f"molecule test of the external role took more than {BUDGET} s", pytrace=False)
    took = time.monotonic() - t0
    print(f"\nmolecule reuse: {took:.0f} s (rc {proc.returncode})")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"molecule test failed after {took:.0f} s:\n{out[-12000:]}"
    assert "virtfleet.hypervisor.virt_host_check : " in out  # the collection's role ran inside the external one
    assert not labvm.is_running("vfm-reuse")  # destroy stopped the lab VM
