"""A live memory and vCPU change through the guest module, read back from the RUNNING guest.

The inactive XML only shows what was defined; a live call with the wrong unit (MiB or bytes
where libvirt wants KiB) would still pass there. Here the guest runs a real balloon driver:
the lab image's Debian kernel boots a tiny initramfs (static busybox + the virtio modules from
the same kernel package) that only loads virtio_balloon and sleeps. The balloon target virtfleet
sets is then reached by the guest, QEMU reports it, and libvirt's live figure (virDomainGetInfo,
`virsh dominfo` "Used memory") moves to it. No disk, no network: ~10-30 s of TCG boot."""

import glob
import gzip
import io
import os
import shutil
import subprocess
import time

import libvirt
import pytest

from vfhelpers import PREFIX, run_module

G = PREFIX + "live"
DEBS = os.path.join(os.environ.get("VIRTFLEET_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "virtfleet"), "debootstrap-debs")
BOOT_DIR = "/var/lib/virtfleet-test/live-boot"
MODULES = ("virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_balloon")
INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
for m in %s; do /bin/busybox insmod /lib/$m.ko; done
echo vftest-balloon-ready
while true; do /bin/busybox sleep 3600; done
""" % " ".join(MODULES)


def _cpio(entries):
    """A newc cpio archive of (path, mode, data) entries (directories: data None)."""
    out, ino = io.BytesIO(), 1
    for path, mode, data in list(entries) + [("TRAILER!!!", 0, b"")]:
        data = data or b""
        name = path.encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0))
        out.write(hdr.encode() + name)
        out.write(b"\0" * (-(110 + len(name)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
        ino += 1
    return out.getvalue()


@pytest.fixture(scope="module")
def boot_files():
    """vmlinuz + an initramfs with a balloon driver, from the kernel package the lab image uses."""
    debs = sorted(glob.glob(os.path.join(DEBS, "linux-image-[0-9]*-amd64_*.deb")))
    if not debs or not os.path.isfile("/bin/busybox"):
        pytest.fail("needs the lab image's kernel package in %s and a static /bin/busybox (run `make setup`)" % DEBS)
    tmp = BOOT_DIR + ".extract"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    wanted = ["./boot/vmlinuz-*"] + ["./lib/modules/*/kernel/drivers/virtio/%s.ko" % m for m in MODULES]
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", debs[-1]], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", tmp, "--wildcards"] + wanted, input=tar, check=True)
    os.makedirs(BOOT_DIR, exist_ok=True)
    os.chmod(os.path.dirname(BOOT_DIR), 0o755)
    kernel = os.path.join(BOOT_DIR, "vmlinuz")
    shutil.copy(glob.glob(os.path.join(tmp, "boot", "vmlinuz-*"))[0], kernel)
    with open("/bin/busybox", "rb") as f:
        entries = [("bin", 0o40755, None), ("lib", 0o40755, None), ("bin/busybox", 0o100755, f.read()),
                   ("init", 0o100755, INIT.encode())]
    for m in MODULES:
        with open(glob.glob(os.path.join(tmp, "lib", "modules", "*", "kernel", "drivers", "virtio", m + ".ko"))[0],
                  "rb") as f:
            entries.append(("lib/%s.ko" % m, 0o100644, f.read()))
    initrd = os.path.join(BOOT_DIR, "initrd.gz")
    with open(initrd, "wb") as f:
        f.write(gzip.compress(_cpio(entries)))
    shutil.rmtree(tmp)
    for path in (kernel, initrd):
        os.chmod(path, 0o644)
    yield kernel, initrd
    shutil.rmtree(BOOT_DIR, ignore_errors=True)


def _wait(what, probe, want, timeout=240):
    deadline, got = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        got = probe()
        if got == want:
            return got
        time.sleep(1)
    raise AssertionError("%s: still %r after %ds, want %r" % (what, got, timeout, want))


def test_live_memory_and_vcpus_read_back_from_the_running_guest(conn, boot_files):
    kernel, initrd = boot_files
    args = {"name": G, "virt_type": "qemu", "state": "running", "memory": 128, "max_memory": 192,
            "vcpus": 1, "max_vcpus": 2, "kernel": kernel, "ramdisk": initrd,
            "extra": "console=ttyS0 quiet panic=-1"}
    r = run_module("guest", args)
    assert r["rc"] == 0 and r["changed"], r
    dom = conn.lookupByName(G)
    # the driver has loaded and reached the defined target: the balloon works in this guest
    _wait("live memory after boot", lambda: dom.info()[2], 128 * 1024)

    r = run_module("guest", dict(args, memory="160MiB", vcpus=2))
    assert r["rc"] == 0 and r["changed"], r
    assert {f["field"]: f["apply"] for f in r["fields"]} == {"memory": "live", "vcpus": "live"}
    assert not r["restart_required"]

    assert _wait("live memory (virDomainGetInfo)", lambda: dom.info()[2], 160 * 1024) == 160 * 1024
    assert dom.memoryStats()["actual"] == 160 * 1024  # the balloon's own figure, in KiB
    assert dom.info()[1] == 192 * 1024  # max memory unchanged
    assert dom.info()[3] == 2 and dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE) == 2
    used = [ln for ln in subprocess.run(["virsh", "-c", "qemu:///system", "dominfo", G], capture_output=True,
                                        text=True, check=True).stdout.splitlines() if ln.startswith("Used memory")]
    assert used == ["Used memory:    %d KiB" % (160 * 1024)], used

    again = run_module("guest", dict(args, memory="160MiB", vcpus=2))
    assert again["rc"] == 0 and not again["changed"], again
