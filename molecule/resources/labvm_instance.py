"""Molecule (delegated driver) glue for scripts/labvm.py: start or stop one lab VM.

    labvm_instance.py start '<platform as JSON>'   -> prints the molecule instance config
    labvm_instance.py stop NAME

A platform is a molecule.yml `platforms` entry:

    name: vfm-default-host      # lab VM name (unique per scenario)
    image: bookworm             # or bookworm-VARIANT (scripts/build-lab-image.sh --variant)
    memory: 768                 # MiB
    cpus: 1
    cpu: qemu64,+pdpe1gb        # optional QEMU -cpu model
    append: "... security=selinux selinux=1"   # optional kernel command line
    extra_args: [...]           # optional extra QEMU arguments (e.g. a second NIC)
    xen: true                   # boot the image's Xen hypervisor (QEMU multiboot) with the
                                # image's kernel as dom0; needs the `xen` image variant
    xen_append: "console=com1 dom0_mem=1024M,max:1024M smap=0 smep=0"   # Xen's command line

-cpu and -append go through labvm's extra_args (QEMU keeps the last -append it is given),
so this works with every labvm.start() that has extra_args. The image must be built
beforehand: a missing image is an error, never a skip.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import labvm  # noqa: E402  pylint: disable=wrong-import-position

BASE_APPEND = "root=/dev/vda rw console=ttyS0"
# Xen dom0 under TCG (as scripts/lab-variants/xen.sh documents): Xen 4.17 needs SSE4.2 and
# POPCNT, and dom0 crashes at boot without smap=0 smep=0; dom0's console is hvc0.
XEN_CPU = "qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt"
XEN_APPEND = "console=com1 dom0_mem=1024M,max:1024M smap=0 smep=0"
DOM0_APPEND = "root=/dev/vda rw console=hvc0"


def xen_args(platform: dict) -> list[str]:
    """-kernel/-initrd/-append for QEMU's multiboot loader: the image's decompressed Xen,
    its vmlinuz (dom0) and initrd.img as modules. QEMU keeps the last of each option, so
    these override labvm's Linux boot."""
    d = labvm.image_dir(platform.get("image", labvm.SUITE))
    xen, vmlinuz, initrd = d / "xen", d / "vmlinuz", d / "initrd.img"
    for p in (xen, vmlinuz, initrd):
        if not p.is_file():
            raise labvm.LabVMError(f"{p} missing: build the image with scripts/build-lab-image.sh --variant xen")
        if "," in str(p) or " " in str(p):
            raise labvm.LabVMError(f"multiboot module paths may not contain ',' or ' ': {p}")
    return ["-kernel", str(xen), "-initrd", f"{vmlinuz} {DOM0_APPEND},{initrd}",
            "-append", platform.get("xen_append", XEN_APPEND)]


def start(platform: dict) -> dict:
    name = platform["name"]
    extra = list(platform.get("extra_args", []))
    cpu = platform.get("cpu") or (XEN_CPU if platform.get("xen") else None)
    if cpu:
        extra += ["-cpu", cpu]
    if platform.get("xen"):
        extra += xen_args(platform)
    elif platform.get("append"):
        extra += ["-append", f"{BASE_APPEND} {platform['append']}"]
    vm = labvm.start(name, memory=int(platform.get("memory", labvm.DEFAULT_MEMORY)),
                     cpus=int(platform.get("cpus", labvm.DEFAULT_CPUS)), extra_args=extra,
                     image=platform.get("image", labvm.SUITE))
    try:
        # ssh answering is not enough: the boot's other units (libvirtd, xencommons, networking)
        # may still be starting when prepare/converge begin
        took = labvm.wait_ready(vm, timeout=float(platform.get("boot_timeout", 300)))
    except labvm.LabVMError:
        labvm.stop(name)
        raise
    return {
        "instance": name,
        "address": vm["ssh_host"],
        "user": vm["user"],
        "port": vm["ssh_port"],
        "identity_file": vm["key"],
        "boot_to_ssh_s": vm.get("boot_to_ssh_s"),
        "booted_s": round(took, 1),
        "console_log": vm["console_log"],
    }


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "start":
        try:
            print(json.dumps(start(json.loads(argv[1]))))
        except labvm.LabVMError as e:
            print(f"labvm_instance.py: {e}", file=sys.stderr)
            return 1
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        was = labvm.stop(argv[1])
        print(json.dumps({"instance": argv[1], "was_running": was}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
