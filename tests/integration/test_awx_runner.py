"""The job templates of docs/awx.md run the way AWX's task runner runs them: ansible-runner
on a private data dir (project/ synced from this repository with its collections/requirements.yml
installed, inventory/, env/extravars as a survey would set them, env/envvars), against two
simulated libvirt hosts (tests/nshosts.py). What ran and what changed is read from the job
events (artifacts/<ident>/job_events), as AWX shows them: the "drift" job (check.yml, check job
type, fail on drift) fails on both hosts, the "converge" job (site.yml) changes one guest per
host, and the drift job then passes."""

import glob
import json
import os
import shutil
import subprocess
import textwrap

import libvirt
import pytest

import nshosts
from vfhelpers import ROOT

PREFIX = "vftestawx"
BIN = os.path.join(ROOT, ".venv", "bin")


@pytest.fixture(scope="module", name="pdd")
def private_data_dir(tmp_path_factory):
    with nshosts.hosts(2, prefix=PREFIX) as fleet:
        pdd = tmp_path_factory.mktemp("awx-job")
        # project sync: the repository's playbooks, and the collection from collections/requirements.yml
        shutil.copytree(os.path.join(ROOT, "playbooks"), pdd / "project" / "playbooks")
        shutil.copytree(os.path.join(ROOT, "collections"), pdd / "project" / "collections")
        coll = pdd / "requirements_collections"
        proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-r",
                               "collections/requirements.yml", "-p", str(coll)],
                              cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, proc.stderr
        hosts = "\n".join("            %s:\n              virtfleet_uri: \"%s\"\n"
                          "              virtfleet_guests: [{name: vftest-awx-%s, state: stopped, virt_type: qemu, "
                          "memory: 32}]" % (h.name, h.uri, h.name[-2:]) for h in fleet)
        (pdd / "inventory").mkdir()
        (pdd / "inventory" / "hosts.yml").write_text(textwrap.dedent("""\
            all:
              vars:
                ansible_connection: local
                ansible_python_interpreter: %s
                virtfleet_prepare_host: false
              children:
                hypervisors:
                  children:
                    kvm_hosts:
                      hosts:
            """ % os.path.join(BIN, "python")) + hosts + "\n")
        (pdd / "env").mkdir()
        # AWX puts the job's collections path into the environment and survey answers into extravars
        (pdd / "env" / "envvars").write_text(json.dumps({
            "ANSIBLE_COLLECTIONS_PATH": str(coll), "ANSIBLE_NOCOLOR": "1",
            "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}))
        (pdd / "env" / "extravars").write_text(json.dumps({"virtfleet_fleet": "vftest-awx"}))
        yield pdd, fleet


def job(pdd, ident, playbook, extravars=None, check=False):
    if extravars is not None:
        (pdd / "env" / "extravars").write_text(json.dumps(extravars))
    argv = [os.path.join(BIN, "ansible-runner"), "run", str(pdd), "-p", playbook, "--ident", ident]
    # a job template of job type "check" runs ansible-playbook --check (env/cmdline, as AWX writes it)
    cmdline = pdd / "env" / "cmdline"
    if check:
        cmdline.write_text("--check")
    elif cmdline.exists():
        cmdline.unlink()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600,
                          env=dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", "")))
    events = []
    for path in glob.glob(str(pdd / "artifacts" / ident / "job_events" / "*.json")):
        with open(path) as f:
            events.append(json.load(f))
    events.sort(key=lambda e: e["counter"])
    with open(pdd / "artifacts" / ident / "rc") as f:
        rc = int(f.read())
    return rc, events, proc


def stats(events):
    return [e for e in events if e["event"] == "playbook_on_stats"][0]["event_data"]


def changed_tasks(events):
    return sorted((e["event_data"]["host"], e["event_data"]["task"]) for e in events
                  if e["event"] == "runner_on_ok" and e["event_data"]["res"].get("changed"))


def test_drift_then_converge_then_no_drift(pdd):
    pdd, fleet = pdd
    names = sorted(h.name for h in fleet)
    base = {"virtfleet_fleet": "vftest-awx"}

    rc, events, proc = job(pdd, "drift-1", "playbooks/check.yml", dict(base, virtfleet_fail_on_drift=True), check=True)
    s = stats(events)
    assert rc != 0, proc.stdout[-3000:]
    assert sorted(s["failures"]) == names, s
    assert sorted(s["ok"]) == names
    failed = [e["event_data"]["task"] for e in events if e["event"] == "runner_on_failed"]
    assert failed == ["Fail on drift", "Fail on drift"]

    rc, events, proc = job(pdd, "converge-1", "playbooks/site.yml", base)
    s = stats(events)
    assert rc == 0, proc.stdout[-3000:]
    assert s["failures"] == {} and s["dark"] == {}
    assert s["changed"] == {n: 1 for n in names}
    changed = changed_tasks(events)  # one changed task per host: its guests (a guest defined)
    assert [h for h, _t in changed] == names and all(t.startswith("Fleet | Guests") for _h, t in changed), changed
    for h in fleet:
        conn = libvirt.open(h.uri)
        try:
            assert [d.name() for d in conn.listAllDomains(0)] == ["vftest-awx-" + h.name[-2:]]
        finally:
            conn.close()

    rc, events, proc = job(pdd, "drift-2", "playbooks/check.yml", dict(base, virtfleet_fail_on_drift=True), check=True)
    s = stats(events)
    assert rc == 0, proc.stdout[-3000:]
    assert s["failures"] == {} and s.get("changed", {}) == {}
    assert sorted(s["ok"]) == names
