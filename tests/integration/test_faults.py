"""Faults on the local hypervisor, each followed by a normal re-run that converges with no
duplicate object and nothing lost: a guest that ignores ACPI shutdown, qemu-img failing on a
full pool, and the module process killed (SIGKILL) in the middle of writing a volume and an
LXC config. (libvirtd killed mid-batch runs against a namespaced libvirtd in
test_faults_libvirtd.py; xl and SSH faults need the lab VMs: tests/lab.)"""

import hashlib
import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import lxchelpers as lx
from vfhelpers import COLLECTIONS, PREFIX, VENV_PY, run_module

G = PREFIX + "fault1"
MODULES = "ansible_collections.virtfleet.hypervisor.plugins.modules."

# Runs a module with os.rename replaced: the first rename of a virtfleet temp file kills the
# process with SIGKILL, after the temp file was written and before it replaces the target.
KILL_AT_RENAME = """
import os, runpy, signal, sys
real = os.rename
def rename(src, dst, *a, **k):
    if ".virtfleet-" in os.path.basename(str(src)):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *a, **k)
os.rename = rename
module = sys.argv.pop(1)  # AnsibleModule reads its arguments from stdin only without argv
runpy.run_module(module, run_name="__main__")
"""


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _popen(module, args, wrapper=None):
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=False, _ansible_diff=False)})
    argv = [VENV_PY, "-c", wrapper, MODULES + module] if wrapper else [VENV_PY, "-m", MODULES + module]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=COLLECTIONS, LC_ALL="C.UTF-8"), cwd="/",
                            start_new_session=True)
    proc.stdin.write(payload)
    proc.stdin.close()
    return proc


def test_guest_ignoring_acpi_times_out_and_is_destroyed_only_with_force_stop(conn):
    """An OS-less guest never answers ACPI: stopping it reports the timeout and leaves it
    running; force_stop powers it off."""
    spec = {"name": G, "state": "running", "virt_type": "qemu", "memory": 32}
    assert run_module("guest", spec)["changed"]
    dom = conn.lookupByName(G)
    start = time.monotonic()
    r = run_module("guest", dict(spec, state="stopped", shutdown_timeout=2))
    assert r.get("failed") and "shutdown_timeout=2" in r["msg"] and "force_stop" in r["msg"] and G in r["msg"], r
    assert time.monotonic() - start < 60 and dom.isActive(), "timed out, yet not left running"
    r = run_module("guest", dict(spec, state="stopped", cpu_mode="host-model", restart="if_needed",
                                 shutdown_timeout=2))
    assert r.get("failed") and dom.isActive(), "restart: if_needed destroyed a guest without force_stop"
    r = run_module("guest", dict(spec, state="stopped", shutdown_timeout=2, force_stop=True))
    assert not r.get("failed") and r["state"] == "stopped" and not dom.isActive(), r
    assert not run_module("guest", dict(spec, state="stopped"))["changed"]


@pytest.fixture
def small_pool(conn, tmp_path):
    """A dir pool on an 8 MiB tmpfs: a small filesystem that fills up."""
    path = str(tmp_path / "fullpool")
    os.makedirs(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "vftest-fullpool", path], check=True)
    name = PREFIX + "fullpool"
    pool = conn.storagePoolCreateXML("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
                                     % (name, path), 0)
    yield name, path
    try:
        pool.destroy()
    finally:
        subprocess.run(["umount", "-l", path], check=False)


def test_qemu_img_on_a_full_pool_fails_cleanly_then_converges(conn, small_pool, tmp_path):
    name, path = small_pool
    source = str(tmp_path / "image.raw")
    with open(source, "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024))  # 12 MiB of data: no sparse shortcut
    vol = {"name": PREFIX + "big", "pool": name, "source": source, "format": "raw"}
    r = run_module("volume", vol)
    assert r.get("failed") and PREFIX + "big" in r["msg"] and "source" in r["msg"], r
    pool = conn.storagePoolLookupByName(name)
    pool.refresh(0)
    assert pool.listAllVolumes(0) == [] and os.listdir(path) == [], "a partial volume was left in the pool"
    subprocess.run(["mount", "-o", "remount,size=32m", path], check=True)  # the operator frees space
    r = run_module("volume", vol)
    assert r["changed"] and not r.get("failed"), r
    assert _sha(os.path.join(path, PREFIX + "big")) == _sha(source)
    assert [v.name() for v in pool.listAllVolumes(0)] == [PREFIX + "big"]
    assert not run_module("volume", vol)["changed"]


def test_sigkill_while_converting_a_volume_leaves_nothing_read_as_valid(conn, pool, tmp_path):
    source = str(tmp_path / "image.raw")
    with open(source, "wb") as f:
        f.write(os.urandom(64 * 1024 * 1024))
    vol = {"name": PREFIX + "killed", "pool": pool, "source": source, "format": "qcow2"}
    proc = _popen("volume", vol)
    p = conn.storagePoolLookupByName(pool)
    deadline = time.monotonic() + 30
    pool_dir = ET.fromstring(p.XMLDesc(0)).findtext("target/path")
    while time.monotonic() < deadline and not any(".virtfleet-" in e for e in os.listdir(pool_dir)):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the module and its qemu-img, mid-copy
    proc.wait()
    p.refresh(0)
    r = run_module("volume", vol)  # the normal re-run
    assert r["changed"] and not r.get("failed"), r
    p.refresh(0)
    names = [v.name() for v in p.listAllVolumes(0)]
    assert names.count(PREFIX + "killed") == 1 and not [n for n in names if ".virtfleet-" in n], names
    out = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", source,
                          p.storageVolLookupByName(PREFIX + "killed").path()], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not run_module("volume", vol)["changed"]
    p.storageVolLookupByName(PREFIX + "killed").delete(0)


@pytest.fixture
def lxc_clean():
    lx.purge()
    yield
    lx.purge()


def test_sigkill_while_writing_an_lxc_config_keeps_the_old_one(lxc_clean):
    c = PREFIX + "fault-c1"
    spec = {"name": c, "backend": "lxc", "template": "busybox", "memory": 64, "state": "stopped"}
    assert run_module("guest", spec)["changed"]
    config = os.path.join(lx.lxc_path(), c, "config")
    before = open(config).read()
    proc = _popen("guest", dict(spec, memory=96), wrapper=KILL_AT_RENAME)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert open(config).read() == before, "the config was half-replaced"
    assert "lxc.cgroup.memory.limit_in_bytes" in before or "memory" in before
    assert lx.state(c) == "STOPPED"
    r = run_module("guest", dict(spec, memory=96))  # the normal re-run
    assert r["changed"] and not r.get("failed"), r
    assert "100663296" in open(config).read() or "96M" in open(config).read()
    assert not run_module("guest", dict(spec, memory=96))["changed"]
    assert lx.names() == [c]


def _lxc_one(name):
    """What a user would check of one container: config and marker bytes, state, init pid."""
    return (lx.config_text(name), open(os.path.join(lx.lxc_path(), name, "virtfleet.json")).read(), lx.state(name),
            lx.pid(name), sorted(os.listdir(os.path.join(lx.lxc_path(), name))))


def test_lxc_rootfs_vanished_is_named_the_rest_converges_and_restoring_it_converges(lxc_clean):
    """A container whose rootfs directory vanished (deleted, a filesystem not mounted): the batch
    fails that container by name and field before anything of it changes, converges the others,
    and after the directory is back (or the container is removed and declared again) a re-run
    converges, touching no other container."""
    names = [PREFIX + "rf-%d" % i for i in (1, 2, 3)]
    lost = names[1]
    spec = {"guests": [{"name": n, "template": "busybox", "memory": 64, "state": "stopped"} for n in names],
            "backend": "lxc"}
    running = dict(spec, guests=[dict(g, state="running") for g in spec["guests"]])
    assert run_module("guests", spec)["changed"]
    rootfs = os.path.join(lx.lxc_path(), lost, "rootfs")
    with open(os.path.join(rootfs, "vftest-data"), "w") as f:
        f.write("kept")
    aside = os.path.join(lx.lxc_path(), PREFIX + "rf-aside")  # outside every container directory
    os.rename(rootfs, aside)
    try:
        # the declared state is the current one: the batch fails on the lost rootfs, changes nothing
        before = lx.state_hash()
        for check in (True, False):
            r = run_module("guests", spec, check=check)
            assert r["rc"] != 0 and not r["changed"], r
            assert "guest '%s': rootfs: its rootfs %s is missing" % (lost, rootfs) in r["msg"], r["msg"]
            assert "Traceback" not in r["msg"]
            assert sorted((i["name"], bool(i.get("failed"))) for i in r["results"]) == [
                (n, n == lost) for n in names], r["results"]
            assert lx.state_hash() == before
        # a change to every container: the others start, the lost one is left as it was
        lost_before = _lxc_one(lost)
        r = run_module("guests", running)
        assert r["rc"] != 0 and r["changed"], r
        assert sorted((i["name"], bool(i.get("failed"))) for i in r["results"]) == [(n, n == lost) for n in names]
        assert "guest '%s': rootfs:" % lost in r["msg"] and "lxc-start" not in r["msg"], r["msg"]
        assert [lx.state(n) for n in names] == ["RUNNING", "STOPPED", "RUNNING"]
        assert _lxc_one(lost) == lost_before
    finally:
        if not os.path.exists(rootfs):
            os.rename(aside, rootfs)
    # restored: the re-run starts it, with its data; nothing else is touched
    others = [_lxc_one(n) for n in (names[0], names[2])]
    r = run_module("guests", running)
    assert r["rc"] == 0 and [i["name"] for i in r["results"] if i["changed"]] == [lost], r
    assert lx.state(lost) == "RUNNING" and lx.attach(lost, "cat", "/vftest-data").stdout == "kept"
    assert [_lxc_one(n) for n in (names[0], names[2])] == others
    assert not run_module("guests", running)["changed"]
    # gone for good: removing it by name works without its rootfs, declaring it again makes a new one
    lx.lxc("lxc-stop", "-k", "-n", lost)
    subprocess.run(["rm", "-rf", "--one-file-system", rootfs], check=True)
    r = run_module("guest", {"name": lost, "backend": "lxc", "state": "absent"})
    assert r["rc"] == 0 and r["changed"], r
    r = run_module("guests", running)
    assert r["rc"] == 0 and [i["name"] for i in r["results"] if i["changed"]] == [lost], r
    assert lx.names() == names and [lx.state(n) for n in names] == ["RUNNING"] * 3
    assert [_lxc_one(n) for n in (names[0], names[2])] == others
    assert not run_module("guests", running)["changed"]
