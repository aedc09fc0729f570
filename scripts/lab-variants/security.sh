# shellcheck shell=bash disable=SC2034  # the variables are read by build-lab-image.sh
# Lab image variant "security": AppArmor and SELinux userland on the base image, for the
# molecule scenarios of roles/apparmor and roles/selinux (and the libvirt-based kvm_host
# checks that need a confined guest).
#
# * AppArmor is the stock Debian kernel's default LSM: a VM booted normally has it on.
# * SELinux needs the kernel booted with `security=selinux selinux=1` (molecule's create
#   step passes its own -append). The root filesystem is labelled here, at build time,
#   with setfiles and the policy's file_contexts: an unlabelled first boot relabels for
#   ~350 s under TCG, a labelled one boots as fast as the base image.
# * libvirt + qemu-system-x86 are baked in: installing them inside a TCG lab VM costs
#   ~4 min per scenario run, and the AppArmor scenario must start a (tiny) guest.
#   libpam-systemd is listed because debootstrap does not resolve virtual packages
#   (polkitd, pulled in by libvirt-daemon-system, needs default-logind). python3-apt, which
#   lets the apt module see installed packages without package lists, is in the base image.
#
# Sourced by scripts/build-lab-image.sh (ROOTFS, in_root, log and die are set there).
VARIANT_INCLUDE=apparmor,libpam-systemd,selinux-basics,selinux-policy-default,selinux-utils,policycoreutils,policycoreutils-python-utils,python3-selinux,python3-semanage,checkpolicy,libvirt-daemon-system,libvirt-daemon-driver-qemu,libvirt-clients,qemu-system-x86

variant_customize() {
  local fc=/etc/selinux/default/contexts/files/file_contexts n
  [ -s "$ROOTFS$fc" ] || die "security variant: $fc missing (selinux-policy-default not installed?)"
  [ -n "$(find "$ROOTFS/etc/selinux/default/policy" -maxdepth 1 -name 'policy.*' -print -quit)" ] ||
    die "security variant: no compiled policy in /etc/selinux/default/policy"
  # Permissive by default; the SELinux scenario boots with security=selinux selinux=1 and
  # the role under test decides the mode from there.
  cat >"$ROOTFS/etc/selinux/config" <<'EOF'
# virtfleet lab image (security variant): SELinux is used only when the kernel is booted
# with security=selinux selinux=1; roles/selinux manages this file.
SELINUX=permissive
SELINUXTYPE=default
EOF
  # Label every file now. setfiles labels symlinks through /proc/self/fd, so /proc is
  # mounted for it (and excluded); mkfs.ext4 -d copies the security.selinux xattrs into
  # the disk image.
  mount -t proc proc "$ROOTFS/proc"
  if ! in_root setfiles -F -e /proc "$fc" / >"$ROOTFS/../setfiles.log" 2>&1; then
    umount "$ROOTFS/proc"
    tail -n 20 "$ROOTFS/../setfiles.log" >&2
    die "security variant: setfiles failed"
  fi
  umount "$ROOTFS/proc"
  n="$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "security.selinux").decode().rstrip("\0"))' \
    "$ROOTFS/usr/sbin/sshd" 2>/dev/null || true)"
  case "$n" in
    system_u:object_r:sshd_exec_t:*) ;;
    *) die "security variant: /usr/sbin/sshd not labelled after setfiles (got '${n:-nothing}')" ;;
  esac
  # No relabel request left behind: the image is labelled already.
  rm -f "$ROOTFS/.autorelabel"
  log "security variant: root filesystem labelled with $fc"
}
