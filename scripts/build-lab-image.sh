#!/usr/bin/env bash
# Build the cached Debian 12 (bookworm) lab guest image, idempotently.
#
# Output, in $VF_CACHE/images/bookworm/:
#   disk.qcow2   ext4 root filesystem directly on the disk (no partition table: root=/dev/vda)
#   vmlinuz      the guest kernel, booted with qemu -kernel
#   initrd.img   its initramfs (MODULES=most; virtio_pci, virtio_blk and ext4 verified present)
#   stamp        the recipe string; the image is reused as long as it matches
#
# No ssh key is baked in. At boot, before ssh, virtfleet-fwcfg-keys.service generates
# the ssh host keys (first boot) and copies the QEMU fw_cfg blob
# opt/virtfleet/authorized_keys into /root/.ssh/authorized_keys (see scripts/labvm.py).
#
# The build is atomic: everything is made in a temp dir under $VF_CACHE and renamed into
# place at the end, the stamp last, so an interrupted build never leaves a stamp behind.
# Variants (--variant NAME) add packages and a customisation step on top of the base
# recipe: scripts/lab-variants/NAME.sh sets VARIANT_INCLUDE (comma-separated packages)
# and may define variant_customize (run with $ROOTFS set, in_root available, before the
# trim) and VARIANT_EXPORTS (space-separated paths inside the rootfs, e.g. "boot/xen"; each
# is copied into the image dir under its base name, like vmlinuz). A variant's image lives
# in $VF_CACHE/images/bookworm-NAME/.
# Usage: scripts/build-lab-image.sh [--variant NAME] [--force]
. "$(dirname "$0")/lib.sh"

SUITE=bookworm
MIRROR="${VIRTFLEET_MIRROR:-http://deb.debian.org/debian}"
DISK_SIZE=3G
# python3-apt (Ansible's apt module) and iptables (the bridge role's NAT) are baked in so
# the CI scenario (molecule default) runs without apt's package lists: refreshing them
# inside a TCG VM took 85-117 s and was its only step that needed the Debian mirror.
INCLUDE=linux-image-amd64,initramfs-tools,kmod,systemd-sysv,dbus,udev,openssh-server,python3,sudo,iproute2,ca-certificates,python3-apt,iptables
# Bump RECIPE_REV whenever the customisation below changes; the package list and suite
# are part of the recipe string already.
RECIPE_REV=2

force=0
VARIANT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --variant) VARIANT="${2:?--variant needs a name}"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (usage: $0 [--variant NAME] [--force])" ;;
  esac
  shift
done

IMAGE="$SUITE"
VARIANT_INCLUDE=""
VARIANT_EXPORTS=""
variant_customize() { :; }
if [ -n "$VARIANT" ]; then
  vfile="$(dirname "$0")/lab-variants/$VARIANT.sh"
  [ -f "$vfile" ] || die "no such lab image variant: $VARIANT ($vfile)"
  # shellcheck source=/dev/null
  . "$vfile"
  IMAGE="$SUITE-$VARIANT"
  [ -z "$VARIANT_INCLUDE" ] || INCLUDE="$INCLUDE,$VARIANT_INCLUDE"
  RECIPE_REV="$RECIPE_REV+$VARIANT:$(sha256sum "$vfile" | cut -c1-12)"
fi
EXPORTS=()
for p in $VARIANT_EXPORTS; do
  case "$(basename "$p")" in
    disk.qcow2|vmlinuz|initrd.img|stamp|*.lock) die "VARIANT_EXPORTS: $p would overwrite an image file" ;;
  esac
  EXPORTS+=("$(basename "$p")")
done
RECIPE="virtfleet-lab-image rev=$RECIPE_REV suite=$SUITE variant=minbase size=$DISK_SIZE include=$INCLUDE"

OUT="$VF_CACHE/images/$IMAGE"
STAMP="$OUT/stamp"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
t_start=$(now_ms)
elapsed() { local ms=$(( $(now_ms) - ${1:-$t_start} )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

stamp_ok() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ] &&
    [ -s "$OUT/disk.qcow2" ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] || return 1
  local f
  for f in "${EXPORTS[@]}"; do [ -s "$OUT/$f" ] || return 1; done
}

if [ "$force" = 0 ] && stamp_ok; then
  log "lab image up to date: $OUT ($(elapsed) s)"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mknod)"
for tool in debootstrap qemu-img mkfs.ext4 chroot flock; do
  command -v "$tool" >/dev/null || die "missing tool: $tool (run scripts/setup-host.sh)"
done

mkdir -p "$VF_CACHE/images" "$VF_CACHE/debootstrap-debs"

# One build at a time per cache; a second caller waits, then finds the stamp.
exec 9>"$VF_CACHE/images/.$IMAGE.lock"
flock 9
if [ "$force" = 0 ] && stamp_ok; then
  log "lab image was built by a concurrent run: $OUT ($(elapsed) s)"
  exit 0
fi

WORK="$(mktemp -d "$VF_CACHE/images/.$IMAGE.build.XXXXXX")"
ROOTFS="$WORK/rootfs"

# Unmount whatever debootstrap or we left mounted inside $WORK (deepest first),
# then delete without ever crossing into another filesystem.
umount_below() {
  local m
  [ -d "$1" ] || return 0
  awk -v p="$(realpath "$1")/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
}
cleanup() {
  local rc=$?
  umount_below "$WORK"
  rm -rf --one-file-system "$WORK"
  [ "$rc" = 0 ] || log "ERROR: build failed (exit $rc) after $(elapsed) s; no image was installed"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'log "ERROR: command failed at line $LINENO: $BASH_COMMAND"' ERR

log "building $IMAGE lab image in $WORK"
log "recipe: $RECIPE"

# --- 1. debootstrap -------------------------------------------------------------------
t=$(now_ms)
debootstrap --variant=minbase --include="$INCLUDE" --cache-dir="$VF_CACHE/debootstrap-debs" \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 40 "$WORK/debootstrap.log" >&2
  die "debootstrap failed (log above)"
}
umount_below "$ROOTFS"
log "debootstrap done in $(elapsed "$t") s"

# --- 2. customise ---------------------------------------------------------------------
t=$(now_ms)
in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

echo lab >"$ROOTFS/etc/hostname"
cat >"$ROOTFS/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	lab
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF

cat >"$ROOTFS/etc/fstab" <<'EOF'
# virtfleet lab image: ext4 directly on the virtio disk, no partition table
/dev/vda	/	ext4	rw,errors=remount-ro	0	0
EOF

# Never carry the build host's resolver (or any address) into the image. Guests get
# their network from DHCP (QEMU user-mode networking).
printf '# virtfleet lab image: no resolver configured at build time\n' >"$ROOTFS/etc/resolv.conf"

cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF

# systemd-networkd: DHCP on the first NIC, whatever naming scheme the kernel uses.
cat >"$ROOTFS/etc/systemd/network/80-lab-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF

# sshd: key-only root login.
mkdir -p "$ROOTFS/etc/ssh/sshd_config.d"
cat >"$ROOTFS/etc/ssh/sshd_config.d/50-virtfleet-lab.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
# Host keys are made at first boot; RSA is left out because generating a 3072-bit key
# under TCG emulation takes ~15 s of the boot.
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
EOF
# Host keys are per VM: removed here, generated at first boot by virtfleet-fwcfg-keys.
rm -f "$ROOTFS"/etc/ssh/ssh_host_*

# Per-lab authorized_keys from QEMU fw_cfg, installed before ssh starts.
cat >"$ROOTFS/usr/local/sbin/virtfleet-fwcfg-keys" <<'EOF'
#!/bin/sh
# virtfleet lab image: ssh host keys (first boot) and root's authorized_keys from the
# QEMU fw_cfg blob opt/virtfleet/authorized_keys (qemu -fw_cfg name=...,file=...).
set -eu
for t in ed25519 ecdsa; do
  [ -s "/etc/ssh/ssh_host_${t}_key" ] || ssh-keygen -q -t "$t" -N '' -C "root@lab" -f "/etc/ssh/ssh_host_${t}_key"
done
modprobe qemu_fw_cfg 2>/dev/null || true
src=/sys/firmware/qemu_fw_cfg/by_name/opt/virtfleet/authorized_keys/raw
i=0
while [ ! -r "$src" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -r "$src" ]; then
  echo "virtfleet-fwcfg-keys: no fw_cfg entry opt/virtfleet/authorized_keys; root has no ssh key" >&2
  exit 1
fi
install -d -m 0700 -o root -g root /root/.ssh
umask 077
cat "$src" >/root/.ssh/authorized_keys.new
chmod 0600 /root/.ssh/authorized_keys.new
mv -f /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
echo "virtfleet-fwcfg-keys: installed $(grep -c . /root/.ssh/authorized_keys) key(s) for root"
EOF
chmod 0755 "$ROOTFS/usr/local/sbin/virtfleet-fwcfg-keys"

cat >"$ROOTFS/etc/systemd/system/virtfleet-fwcfg-keys.service" <<'EOF'
[Unit]
Description=virtfleet: ssh host keys and root authorized_keys from QEMU fw_cfg
After=local-fs.target systemd-udevd.service
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/virtfleet-fwcfg-keys
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF

in_root systemctl enable virtfleet-fwcfg-keys.service systemd-networkd.service ssh.service >/dev/null 2>&1 ||
  die "systemctl enable failed in the image"
# Serial console login (console=ttyS0 would also make the getty generator start it).
in_root systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1 || die "cannot enable serial-getty@ttyS0"

# No background jobs competing for the single emulated CPU or the dpkg lock during tests.
in_root systemctl disable e2scrub_reap.service e2scrub_all.timer apt-daily.timer \
  apt-daily-upgrade.timer >/dev/null 2>&1 || die "cannot disable background timers in the image"

# Empty machine-id: each VM gets its own at first boot.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$ROOTFS/var/lib/dbus/machine-id"

# initramfs: ensure the modules needed to mount root=/dev/vda are in it.
cat >>"$ROOTFS/etc/initramfs-tools/modules" <<'EOF'
# virtfleet lab image: root on virtio disk
virtio_pci
virtio_blk
ext4
EOF
grep -q '^MODULES=most' "$ROOTFS/etc/initramfs-tools/initramfs.conf" ||
  log "warning: initramfs MODULES is not 'most' in the image"

kver="$(find "$ROOTFS/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)"
if [ -z "$kver" ] || [ ! -f "$ROOTFS/boot/vmlinuz-$kver" ]; then die "no kernel found in the image"; fi

initrd_has_modules() {
  local listing missing=()
  listing="$(in_root lsinitramfs "/boot/initrd.img-$kver")" || return 1
  for m in virtio_pci virtio_blk ext4; do
    grep -Eq "/$m\.ko(\.[a-z]+)?$" <<<"$listing" || missing+=("$m")
  done
  [ ${#missing[@]} = 0 ] || { log "initramfs lacks: ${missing[*]}"; return 1; }
}
if ! [ -f "$ROOTFS/boot/initrd.img-$kver" ] || ! initrd_has_modules; then
  log "regenerating initramfs for $kver"
  mount -t proc proc "$ROOTFS/proc"
  mount -t sysfs sysfs "$ROOTFS/sys"
  in_root update-initramfs -c -k "$kver" >"$WORK/initramfs.log" 2>&1 ||
    { tail -n 20 "$WORK/initramfs.log" >&2; die "update-initramfs failed"; }
  umount_below "$ROOTFS"
  initrd_has_modules || die "initramfs still lacks virtio/ext4 modules"
fi
in_root modinfo -k "$kver" qemu_fw_cfg >/dev/null 2>&1 || die "kernel $kver has no qemu_fw_cfg module"

variant_customize

# Trim: downloaded debs and apt lists are not needed in the image.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
  "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* "$ROOTFS"/root/.bash_history
mkdir -p "$ROOTFS/var/lib/apt/lists/partial"
log "customised (kernel $kver) in $(elapsed "$t") s"

# --- 3. disk image --------------------------------------------------------------------
t=$(now_ms)
install -m 0644 "$ROOTFS/boot/vmlinuz-$kver" "$WORK/vmlinuz"
install -m 0644 "$ROOTFS/boot/initrd.img-$kver" "$WORK/initrd.img"
for p in $VARIANT_EXPORTS; do
  [ -s "$ROOTFS/$p" ] || die "VARIANT_EXPORTS: $p is missing or empty in the image"
  install -m 0644 "$ROOTFS/$p" "$WORK/$(basename "$p")"
done
umount_below "$ROOTFS"
truncate -s "$DISK_SIZE" "$WORK/disk.raw"
mkfs.ext4 -q -F -L lab-root -d "$ROOTFS" "$WORK/disk.raw" >"$WORK/mkfs.log" 2>&1 ||
  { cat "$WORK/mkfs.log" >&2; die "mkfs.ext4 -d failed"; }
rm -rf --one-file-system "$ROOTFS"
qemu-img convert -f raw -O qcow2 "$WORK/disk.raw" "$WORK/disk.qcow2"
rm -f "$WORK/disk.raw"
log "disk image made in $(elapsed "$t") s ($(du -h "$WORK/disk.qcow2" | cut -f1) qcow2)"

# --- 4. install atomically ------------------------------------------------------------
mkdir -p "$OUT"
rm -f "$STAMP"                       # no stamp while the files are being swapped
for f in disk.qcow2 vmlinuz initrd.img "${EXPORTS[@]}"; do
  mv -f "$WORK/$f" "$OUT/$f"
done
printf '%s\n' "$RECIPE" >"$WORK/stamp"
sync "$OUT/disk.qcow2" "$OUT/vmlinuz" "$OUT/initrd.img" "${EXPORTS[@]/#/$OUT/}" "$WORK/stamp" 2>/dev/null || sync
mv -f "$WORK/stamp" "$STAMP"
log "lab image ready: $OUT (kernel $kver) in $(elapsed) s total"
