"""The check-mode purity wrap of the molecule scenarios (molecule/resources/check_purity_before.yml
and check_purity_after.yml around each converge.yml, host_state.sh between them) on this machine:
a check-mode play that changes nothing passes; one whose task writes a file a role manages
despite --check (check_mode: false) fails, naming the file. Outside check mode both halves are
skipped. The molecule scenarios run it inside their lab VMs (`molecule test`, tests/lab)."""

import json
import os
import subprocess

from vfhelpers import ROOT

RESOURCES = os.path.join(ROOT, "molecule", "resources")
STRAY = "/etc/sysctl.d/99-vftest-purity.conf"


def play(tmp_path, write_for_real, check=True):
    task = {"name": "a role's file", "ansible.builtin.copy": {"content": "# vftest\n", "dest": STRAY, "mode": "0644"}}
    if write_for_real:
        task["check_mode"] = False  # a task that ignores --check: what the wrap must catch
    book = [{"name": "before", "ansible.builtin.import_playbook": os.path.join(RESOURCES, "check_purity_before.yml")},
            {"name": "converge", "hosts": "all", "gather_facts": False, "tasks": [task]},
            {"name": "after", "ansible.builtin.import_playbook": os.path.join(RESOURCES, "check_purity_after.yml")}]
    path = tmp_path / "converge.yml"
    path.write_text(json.dumps(book))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=/usr/bin/python3"] + (["--check"] if check else [])
                          + [str(path)], capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600,
                          check=False)


def test_the_wrap_passes_a_pure_check_and_fails_one_that_wrote(tmp_path):
    assert not os.path.exists(STRAY)
    try:
        pure = play(tmp_path, write_for_real=False)
        assert pure.returncode == 0 and not os.path.exists(STRAY), pure.stdout[-4000:]
        assert "Check-mode purity | compare" in pure.stdout

        dirty = play(tmp_path, write_for_real=True)
        assert dirty.returncode != 0 and os.path.exists(STRAY), dirty.stdout[-4000:]
        assert "the check-mode converge changed localhost" in dirty.stdout, dirty.stdout[-4000:]
        assert STRAY in dirty.stdout.split("New:")[-1], dirty.stdout[-4000:]

        os.unlink(STRAY)
        real = play(tmp_path, write_for_real=False, check=False)  # converge/idempotence: the wrap is skipped
        assert real.returncode == 0 and os.path.exists(STRAY), real.stdout[-4000:]
        assert "ok=1 " in real.stdout and "changed=1 " in real.stdout, real.stdout[-2000:]
    finally:
        if os.path.exists(STRAY):
            os.unlink(STRAY)
