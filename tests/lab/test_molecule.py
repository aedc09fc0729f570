"""Molecule scenarios of the host preparation roles, each on fresh QEMU/TCG lab VMs.

`make test` runs only the `default` scenario (virt_host_check, hugepages and bridge on two
base-image VMs, with a reboot before verify); the others are marked lab_full and run in
`make test-lab`. Every scenario is check -> converge -> idempotence (second converge
changed=0) -> [reboot] -> verify; molecule fails the test on any step. The check step is
wrapped in a snapshot of each instance (molecule/resources/check_purity_*.yml and
host_state.sh, imported by every converge.yml): a check-mode converge that changes anything
the roles manage fails the scenario.

Lab VMs are heavy (one TCG vCPU each on a 2-core machine): run one lab tier at a time.
Needs the base lab image and, for the SELinux/AppArmor/LXC/Xen-host scenarios, the `security` variant
(scripts/build-lab-image.sh --variant security); xen_dom0 boots the `xen` variant through
QEMU's multiboot loader. Never builds them and never skips: a missing image is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import labvm  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
MOLECULE = VENV_BIN / "molecule"

# scenario -> (lab images it boots, budget in seconds, lab_full). Budgets catch hangs: about
# twice the time measured on the 2-core machine with another scenario running beside it.
SCENARIOS = {
    "default": (("bookworm",), 1800, False),
    "selinux": (("bookworm-security",), 1800, True),
    "apparmor": (("bookworm-security",), 1500, True),
    "kvm_host": (("bookworm",), 3600, True),
    "lxc_host": (("bookworm-security",), 2400, True),
    "xen_host": (("bookworm-security",), 1800, True),
    "xen_dom0": (("bookworm-xen",), 1500, True),
}


def _params():
    for name, spec in SCENARIOS.items():
        marks = [pytest.mark.lab_full] if spec[2] else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("scenario", list(_params()))
def test_molecule_scenario(scenario):
    images, budget = SCENARIOS[scenario][:2]
    for image in images:
        try:
            labvm.image_files(image)
        except labvm.LabVMError as e:
            variant = image.partition("-")[2]
            hint = f" --variant {variant}" if variant else ""
            pytest.fail(f"{e} (scripts/build-lab-image.sh{hint})", pytrace=False)
    assert MOLECULE.exists(), f"{MOLECULE} missing: create the venv from requirements-dev.txt"
    env = dict(os.environ,
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", NO_COLOR="1", PY_COLORS="0")
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(MOLECULE), "test", "-s", scenario], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=budget, check=False)
    except subprocess.TimeoutExpired as e:
        # molecule was killed before its destroy step: stop the scenario's lab VMs
        subprocess.run([str(MOLECULE), "destroy", "-s", scenario], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300, check=False)
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"molecule test -s {scenario} took more than {budget} s:\n{out[-8000:]}", pytrace=False)
    took = time.monotonic() - t0
    print(f"\nmolecule {scenario}: {took:.0f} s (rc {proc.returncode})")
    assert proc.returncode == 0, (
        f"molecule test -s {scenario} failed after {took:.0f} s:\n"
        + (proc.stdout + proc.stderr)[-12000:])
