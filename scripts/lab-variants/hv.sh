# shellcheck shell=bash disable=SC2034  # VARIANT_INCLUDE is read by build-lab-image.sh
# Lab image variant "hv": a KVM and LXC hypervisor host, prepared so that the fleet test
# (tests/lab/test_fleet.py) runs playbooks/site.yml with the host roles and nothing is
# installed by apt under TCG:
#
# * what roles/kvm_host installs on Debian (qemu-utils, qemu-system-x86, libvirt-daemon-system,
#   libvirt-clients; libvirt-daemon-driver-qemu is only a Recommends there), what
#   roles/lxc_host installs (lxc, uidmap, libvirt-daemon-driver-lxc) and what roles/apparmor
#   installs (apparmor: the stock kernel's default LSM, so `security: auto` picks it);
# * what the modules import with the host's own python3: python3-libvirt, python3-lxml,
#   python3-pycdlib;
# * libpam-systemd: debootstrap does not resolve virtual packages (polkitd, pulled in by
#   libvirt-daemon-system, needs default-logind);
# * rsync (roles/lxc_host: lxc-snapshot of a directory rootfs needs it) and ovmf, swtpm,
#   swtpm-tools (roles/kvm_host, kvm_host_firmware);
# * busybox-static: the LXC test container's rootfs (/var/lib/virtfleet-lab/lxc-rootfs.tar.gz,
#   made below: busybox and an init that idles until lxc-stop), so no template downloads.
#
# One image serves both the KVM host and the LXC host of the fleet test (they boot as two
# lab VMs). Sourced by scripts/build-lab-image.sh (ROOTFS, in_root, log and die are set there).
VARIANT_INCLUDE=libpam-systemd,qemu-utils,qemu-system-x86,libvirt-daemon-system,libvirt-daemon-driver-qemu,libvirt-clients,libvirt-daemon-driver-lxc,lxc,uidmap,apparmor,python3-libvirt,python3-lxml,python3-pycdlib,busybox-static,rsync,ovmf,swtpm,swtpm-tools

variant_customize() {
  # Default network of libvirt: not autostarted in a lab (it would take 192.168.122.0/24).
  rm -f "$ROOTFS/etc/libvirt/qemu/networks/autostart/default.xml"
  # lxc-net's own bridge (lxcbr0, 10.0.3.0/24) stays off, as roles/lxc_host keeps it.
  printf 'USE_LXC_BRIDGE="false"\n' >"$ROOTFS/etc/default/lxc-net"
  # shellcheck disable=SC2016  # expanded by the sh inside the chroot
  in_root sh -euc '
    d=$(mktemp -d)
    mkdir -p "$d/bin" "$d/sbin" "$d/proc" "$d/sys" "$d/dev" "$d/tmp" "$d/etc" "$d/root"
    cp /bin/busybox "$d/bin/busybox"
    for b in sh sleep cat ls ps mount hostname; do ln -s busybox "$d/bin/$b"; done
    printf "#!/bin/sh\n# virtfleet lab container: idle until lxc-stop (SIGPWR) or SIGTERM\ntrap \"exit 0\" PWR TERM INT\nwhile :; do sleep 3600 & wait \$!; done\n" >"$d/sbin/init"
    chmod 0755 "$d/sbin/init"
    mkdir -p /var/lib/virtfleet-lab
    tar -C "$d" --numeric-owner -czf /var/lib/virtfleet-lab/lxc-rootfs.tar.gz .
    rm -rf "$d"' || die "hv variant: cannot make the LXC test rootfs"
  for b in virsh lxc-start qemu-system-x86_64 qemu-img; do
    [ -x "$ROOTFS/usr/bin/$b" ] || die "hv variant: /usr/bin/$b missing"
  done
  in_root python3 -c 'import libvirt, lxml, pycdlib' || die "hv variant: python3 lacks libvirt/lxml/pycdlib"
  log "hv variant: libvirt, QEMU, LXC and the modules' Python bindings in place"
}
