# shellcheck shell=bash disable=SC2034  # the variables are read by build-lab-image.sh
# Lab image variant "xen": a Xen 4.17 dom0 (Debian's xen-system-amd64), booted by
# scripts/labvm.py with QEMU's multiboot loader (labvm.xen_boot(); `labvm.py start NAME --xen`).
#
# QEMU's -kernel multiboot loader takes ELF32/multiboot images only, not the gzip Debian
# ships: the decompressed hypervisor is exported as `xen` next to vmlinuz and initrd.img
# (VARIANT_EXPORTS). bridge-utils is only a Recommends of xen-utils and gives vif-bridge brctl.
# Sourced by scripts/build-lab-image.sh (ROOTFS, in_root, log and die are set there).
VARIANT_INCLUDE=xen-system-amd64,bridge-utils
VARIANT_EXPORTS="boot/xen"

variant_customize() {
  local gz
  gz="$(find "$ROOTFS/boot" -maxdepth 1 -name 'xen-*-amd64.gz' | sort -V | tail -n 1)"
  [ -n "$gz" ] || die "xen variant: no /boot/xen-*-amd64.gz in the image"
  gzip -dc "$gz" >"$ROOTFS/boot/xen"
  # An ELF image for QEMU's multiboot loader: "\x7fELF", class 1 (32-bit).
  [ "$(head -c 5 "$ROOTFS/boot/xen" | od -An -tx1 | tr -d ' \n')" = 7f454c4601 ] ||
    die "xen variant: $(basename "$gz") did not decompress to an ELF32 image"
  # dom0's console is hvc0 (Xen owns the serial port): a login prompt there, not on ttyS0.
  in_root systemctl disable serial-getty@ttyS0.service >/dev/null 2>&1 || true
  in_root systemctl enable serial-getty@hvc0.service >/dev/null 2>&1 ||
    die "xen variant: cannot enable serial-getty@hvc0"
  # Test guests boot dom0's kernel with this 80 KiB initramfs (klibc's sh, sleep, poweroff;
  # /init waits forever), so a PV/PVH guest fits in 96 MiB and builds in seconds; Debian's
  # initrd unpacks to ~124 MiB. Booted with sysctl.kernel.poweroff_cmd=/bin/poweroff it
  # obeys `xl shutdown`.
  # shellcheck disable=SC2016  # expanded by the sh inside the chroot
  in_root sh -euc '
    d=$(mktemp -d)
    mkdir -p "$d/bin" "$d/lib" "$d/proc" "$d/dev"
    for b in sh sleep poweroff mount; do cp /usr/lib/klibc/bin/$b "$d/bin/"; done
    cp /usr/lib/klibc-*.so "$d/lib/"
    mknod "$d/dev/console" c 5 1
    mknod "$d/dev/null" c 1 3
    printf "#!/bin/sh\nmount -t proc proc /proc\necho virtfleet-test-guest: up\nwhile :; do sleep 3600; done\n" >"$d/init"
    chmod 0755 "$d/init"
    mkdir -p /var/lib/virtfleet-lab
    (cd "$d" && find . | cpio -o -H newc --quiet | gzip -9) >/var/lib/virtfleet-lab/guest-initrd.img
    rm -rf "$d"' || die "xen variant: cannot make the test guest initramfs"
  log "xen variant: $(basename "$gz") decompressed to /boot/xen"
}
