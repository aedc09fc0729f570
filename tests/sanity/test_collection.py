"""Collection-level checks: ansible-test sanity, the galaxy build, ansible-doc, ansible-lint."""

import glob
import os
import subprocess

import pytest

from vfhelpers import ROOT

BIN = os.path.join(ROOT, ".venv", "bin")
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
           PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins/modules/*.py")))


def run(argv, **kw):
    return subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, **kw)


def test_ansible_test_sanity():
    proc = run(["bash", "scripts/sanity.sh"], timeout=3000)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]


def test_galaxy_build_produces_tarball(tmp_path):
    proc = run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    tarballs = list(tmp_path.glob("virtfleet-hypervisor-*.tar.gz"))
    assert len(tarballs) == 1 and tarballs[0].stat().st_size > 10000


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module):
    proc = run([os.path.join(BIN, "ansible-doc"), "virtfleet.hypervisor." + module])
    assert proc.returncode == 0 and "EXAMPLES" in proc.stdout, proc.stderr


def test_ansible_lint_production_profile():
    proc = run([os.path.join(BIN, "ansible-lint"), "--profile", "production", "--offline", "-q"], timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
