"""A guest booted under TCG from the lab image (variant cloudinit) with a seed built by the
guest module actually applies it: the hostname from meta-data ends up in its /etc/hostname.

The guest has no NIC: cloud-init reads the seed from the sata cdrom and powers the guest
off when done (user-data power_state); the test then reads /etc/hostname from the guest's
disk with debugfs."""

import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import labvm  # noqa: E402  pylint: disable=wrong-import-position
from vfhelpers import PREFIX, run_module  # noqa: E402  pylint: disable=wrong-import-position

import libvirt  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

IMAGE = "bookworm-cloudinit"
POOL, POOL_DIR = PREFIX + "seedpool", "/var/lib/virtfleet-test/seedpool"
GUEST = PREFIX + "seeded"


@pytest.fixture
def seed_pool():
    try:
        files = labvm.image_files(IMAGE)
    except Exception as e:  # pylint: disable=broad-except
        pytest.fail("%s (run scripts/build-lab-image.sh --variant cloudinit)" % e)
    os.makedirs(POOL_DIR, exist_ok=True)
    # qemu runs as libvirt-qemu and cannot reach the cache under /root: boot files go to the pool dir
    for key, name in (("kernel", "vmlinuz"), ("initrd", "initrd.img")):
        shutil.copy(files[key], os.path.join(POOL_DIR, name))
    r = run_module("pool", {"name": POOL, "path": POOL_DIR, "autostart": False})
    assert r["rc"] == 0, r.get("msg")
    yield files
    conn = libvirt.open("qemu:///system")
    try:
        dom = conn.lookupByName(GUEST)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass
    pool = conn.storagePoolLookupByName(POOL)
    for vol in pool.listAllVolumes(0):
        vol.delete(0)
    pool.destroy()
    pool.undefine()
    conn.close()
    shutil.rmtree(POOL_DIR, ignore_errors=True)


def test_seed_sets_hostname_in_a_booted_guest(seed_pool, tmp_path):
    spec = {
        "name": GUEST, "virt_type": "qemu", "memory": 512, "state": "running", "machine": "q35",
        "kernel": os.path.join(POOL_DIR, "vmlinuz"), "ramdisk": os.path.join(POOL_DIR, "initrd.img"),
        "extra": "root=/dev/vda rw console=ttyS0",
        "disks": [{"volume": GUEST + "-root", "pool": POOL}],
        "cloud_init": {"pool": POOL, "meta_data": {"local-hostname": "vf-seeded"},
                       "user_data": {"power_state": {"mode": "poweroff", "delay": "now"}}},
    }
    root = run_module("volume", {"pool": POOL, "name": GUEST + "-root", "source": str(seed_pool["disk"])})
    assert root["rc"] == 0, root.get("msg")
    t0 = time.monotonic()
    r = run_module("guest", spec)
    assert r["rc"] == 0, r.get("msg")
    conn = libvirt.open("qemu:///system")
    dom = conn.lookupByName(GUEST)
    deadline = time.monotonic() + 600
    while dom.isActive() and time.monotonic() < deadline:
        time.sleep(2)
    assert not dom.isActive(), "the guest did not power itself off after cloud-init within 600 s"
    print("boot + cloud-init + poweroff: %.0f s" % (time.monotonic() - t0))
    path = conn.storagePoolLookupByName(POOL).storageVolLookupByName(GUEST + "-root").path()
    conn.close()
    raw = tmp_path / "root.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", path, str(raw)], check=True)
    out = subprocess.run(["debugfs", "-R", "cat /etc/hostname", str(raw)], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "vf-seeded"
