"""virtfleet.hypervisor.guest_backup against the real libvirtd (qemu:///system): a running
guest is backed up with its disk (paused for the copy, running after), the files are 0600
with a manifest whose sha256 match, a second run changes nothing; the guest undefined and its
disk deleted, state: restored defines it again with the same UUID and the same disk content,
and it starts; a different guest of the same name is refused; an interrupted backup leaves
no manifest that claims completeness."""

import hashlib
import json
import os
import signal
import stat
import subprocess
import time

import libvirt

from vfhelpers import COLLECTIONS, PREFIX, VENV_PY, run_module

NAME = PREFIX + "bk"


def domain_xml(pool, volume, name=NAME):
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>"
            "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
            "<source pool='%s' volume='%s'/><target dev='vda' bus='virtio'/></disk>"
            "<serial type='pty'/></devices></domain>" % (name, pool, volume))


def content_sha256(path, tmp_path):
    raw = str(tmp_path / "content.raw")
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", path, raw], check=True)
    with open(raw, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    os.unlink(raw)
    return digest


def make_disk(conn, pool, name, tmp_path, mib=8):
    """A qcow2 volume holding random data (so a wrong copy cannot look right)."""
    p = conn.storagePoolLookupByName(pool)
    path = os.path.join(p.XMLDesc(0).split("<path>")[1].split("</path>")[0], name)
    raw = tmp_path / "seed.raw"
    raw.write_bytes(os.urandom(mib << 20))
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), path], check=True)
    p.refresh(0)
    return p.storageVolLookupByName(name)


def test_backup_restore_round_trip(conn, pool, tmp_path):
    vol = make_disk(conn, pool, NAME + ".qcow2", tmp_path)
    dom = conn.defineXML(domain_xml(pool, NAME + ".qcow2"))
    dom.create()
    uuid = dom.UUIDString()
    digest = content_sha256(vol.path(), tmp_path)
    dest = str(tmp_path / "backups")
    args = {"name": NAME, "dest": dest, "label": "daily"}
    path = os.path.join(dest, NAME, "daily")

    r = run_module("guest_backup", args, check=True)
    assert r["rc"] == 0 and r["changed"] and r["action"] == "create", r
    assert r["actions"][0] == "pause the guest" and r["actions"][-3] == "resume the guest"
    assert not os.path.exists(dest), "check mode wrote something"

    r = run_module("guest_backup", args)
    assert r["rc"] == 0 and r["changed"] and r["backup_dir"] == path and r["uuid"] == uuid, r
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING, "the guest was left paused"
    with open(os.path.join(path, "manifest.json")) as f:
        manifest = json.load(f)
    assert sorted(manifest["files"]) == ["disks/vda.qcow2", "domain.xml"] == r["files"]
    for rel, sha in manifest["files"].items():
        with open(os.path.join(path, rel), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha, rel
    for root, dirs, files in os.walk(os.path.join(dest, NAME)):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o700, d
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o600, f
    assert content_sha256(os.path.join(path, "disks/vda.qcow2"), tmp_path) == digest

    r = run_module("guest_backup", args)
    assert r["rc"] == 0 and not r["changed"], r
    created = manifest["created"]
    r = run_module("guest_backup", dict(args, refresh=True), check=True)
    assert r["changed"] and r["fields"] == [{"field": "refresh", "apply": "config"}], r
    with open(os.path.join(path, "manifest.json")) as f:
        assert json.load(f)["created"] == created

    # the guest and its disk are lost; the backup brings both back
    dom.destroy()
    dom.undefine()
    vol.delete(0)
    r = run_module("guest_backup", dict(args, state="restored"), check=True)
    assert r["changed"] and r["restored_disks"] == ["vda"], r
    assert NAME not in [d.name() for d in conn.listAllDomains(0)]
    r = run_module("guest_backup", dict(args, state="restored"))
    assert r["rc"] == 0 and r["changed"] and r["state"] == "restored", r
    back = conn.lookupByName(NAME)
    assert back.UUIDString() == uuid
    path_back = conn.storagePoolLookupByName(pool).storageVolLookupByName(NAME + ".qcow2").path()
    assert content_sha256(path_back, tmp_path) == digest
    back.create()
    assert back.isActive()
    r = run_module("guest_backup", dict(args, state="restored"))
    assert r["rc"] == 0 and not r["changed"], r

    # a different guest of the same name is never overwritten
    back.destroy()
    back.undefine()
    other = conn.defineXML(domain_xml(pool, NAME + ".qcow2"))
    r = run_module("guest_backup", dict(args, state="restored"))
    assert r["rc"] != 0 and "guest_backup '%s': name: a different guest of this name exists" % NAME in r["msg"], r
    assert conn.lookupByName(NAME).UUIDString() == other.UUIDString()

    r = run_module("guest_backup", dict(args, name=PREFIX + "bk-none", state="restored"))
    assert r["rc"] != 0 and "label: no complete backup at" in r["msg"], r
    r = run_module("guest_backup", dict(args, backend="lxc"))
    assert r["rc"] != 0 and "backend: guest_backup supports backend libvirt only" in r["msg"], r

    r = run_module("guest_backup", dict(args, state="absent"))
    assert r["changed"] and not os.path.exists(path), r
    r = run_module("guest_backup", dict(args, state="absent"))
    assert not r["changed"], r
    conn.storagePoolLookupByName(pool).storageVolLookupByName(NAME + ".qcow2").delete(0)


def test_interrupted_backup_leaves_no_manifest(conn, pool, tmp_path):
    """The module is killed while it copies the disk: no backup claims completeness, a restore
    refuses, and the next run cleans up and completes."""
    vol = make_disk(conn, pool, NAME + "-int.qcow2", tmp_path, mib=256)
    conn.defineXML(domain_xml(pool, NAME + "-int.qcow2", name=NAME + "-int"))
    dest = str(tmp_path / "backups")
    args = {"name": NAME + "-int", "dest": dest, "label": "x", "_ansible_check_mode": False, "_ansible_diff": False}
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, LC_ALL="C.UTF-8")
    proc = subprocess.Popen([VENV_PY, "-m", "ansible_collections.virtfleet.hypervisor.plugins.modules.guest_backup"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd="/", start_new_session=True)
    proc.stdin.write(json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    proc.stdin.close()
    parent = os.path.join(dest, NAME + "-int")
    deadline = time.monotonic() + 30
    partial = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = os.listdir(parent) if os.path.isdir(parent) else []
        found = [d for d in found if d.startswith(".x.partial-")]
        if found and os.path.exists(os.path.join(parent, found[0], "disks", "vda.qcow2")):
            partial = found[0]
            break
        time.sleep(0.02)
    assert partial, "the copy was not caught in progress"
    os.killpg(proc.pid, signal.SIGKILL)  # the module and its qemu-img, started above
    proc.wait()
    assert not os.path.exists(os.path.join(parent, "x", "manifest.json"))
    assert not os.path.exists(os.path.join(parent, partial, "manifest.json"))
    r = run_module("guest_backup", {"name": NAME + "-int", "dest": dest, "label": "x", "state": "restored"})
    assert r["rc"] != 0 and "no complete backup" in r["msg"], r
    r = run_module("guest_backup", {"name": NAME + "-int", "dest": dest, "label": "x"})
    assert r["rc"] == 0 and r["changed"], r
    assert os.listdir(parent) == ["x"], "the interrupted run's partial directory is still there"
    vol.delete(0)
