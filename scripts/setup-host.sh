#!/usr/bin/env bash
# Turn a Debian 12 machine into a virtfleet lab hypervisor host, idempotently.
# Works with and without systemd as PID 1, on cgroup v1 and v2.
# A second run installs nothing, restarts nothing, and takes about a second.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (packages, /dev/kvm, hugetlbfs, libvirtd)"

PACKAGES=(
  libvirt-daemon-system libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-driver-lxc
  libvirt-clients libvirt-dev pkg-config qemu-system-x86 qemu-utils
  lxc busybox-static debootstrap dnsmasq-base iptables bridge-utils iproute2 rsync
  virtinst libxml2-utils e2fsprogs openssh-client python3-venv shellcheck
  python3-libvirt python3-lxml python3-pycdlib
  ovmf swtpm swtpm-tools xorriso
  chromium  # headless: tests/integration/test_report.py renders the fleet report (playbooks/report.yml)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  installed=1
fi

# Users and groups the Debian packages expect (created by their postinst normally).
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt >/dev/null || groupadd --system libvirt
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd --system --gid kvm --groups libvirt-qemu \
  --home-dir /var/lib/libvirt --no-create-home --shell /usr/sbin/nologin libvirt-qemu
install -d -m 0700 /var/log/libvirt /var/log/libvirt/qemu /var/log/libvirt/lxc

# /dev/kvm with the ownership udev would give it. Left root-only, libvirt throws its
# QEMU capability cache away on every call and re-probes QEMU (30-60 s per call).
kvm_changed=0
if [ -e /dev/kvm ]; then
  if [ "$(stat -c '%G:%a' /dev/kvm)" != "kvm:660" ]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && kvm_changed=1
  fi
fi

# hugetlbfs must be mounted before libvirtd starts, or hugepage-backed guests fail
# until libvirtd restarts ("hugetlbfs filesystem is not mounted").
huge_changed=0
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  install -d /dev/hugepages
  mount -t hugetlbfs hugetlbfs /dev/hugepages
  huge_changed=1
fi

# The system daemons by their pid files: simulated hosts (tests/nshosts.py) run more
# libvirtd/virtlogd processes of the same name, which are not ours to count or stop.
pidof_daemon() { local f="/run/$1.pid"; [ -s "$f" ] && cat "$f"; }
running() {
  local pid
  pid=$(pidof_daemon "$1") && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

start_daemons() {
  if have_systemd; then
    systemctl start virtlogd.socket virtlogd libvirtd
  else
    running virtlogd || virtlogd -d
    running libvirtd || libvirtd -d
  fi
}

restart_libvirtd() {
  log "restarting libvirtd (packages, hugetlbfs, /dev/kvm or swtpm changed under it)"
  if have_systemd; then
    systemctl restart libvirtd
  else
    if running libvirtd; then kill "$(pidof_daemon libvirtd)" || true; fi
    for _ in $(seq 50); do running libvirtd || break; sleep 0.1; done
    libvirtd -d
  fi
}

# swtpm's certificate authority belongs to the user libvirtd runs swtpm as (tss). Without
# systemd, dpkg may start libvirtd before swtpm-tools has created tss; that libvirtd runs
# swtpm as root, leaves root-owned files here, and every TPM guest fails to start once
# libvirtd is restarted as tss ("Need read/write rights on .../.lock.swtpm-localca").
swtpm_changed=0
if getent passwd tss >/dev/null && [ -d /var/lib/swtpm-localca ] &&
   [ -n "$(find /var/lib/swtpm-localca -not -user tss -print -quit)" ]; then
  chown -R tss:root /var/lib/swtpm-localca
  swtpm_changed=1
fi

# libvirtd looks up users (tss) and helper binaries (swtpm) when it starts: packages
# installed under a running libvirtd are not seen until it restarts.
if running libvirtd && [ $((huge_changed + kvm_changed + swtpm_changed + ${installed:-0})) -gt 0 ]; then
  restart_libvirtd
fi
start_daemons

for i in $(seq 120); do
  virsh -q -c qemu:///system version >/dev/null 2>&1 && break
  [ "$i" = 120 ] && die "libvirtd does not answer on qemu:///system after 60 s"
  sleep 0.5
done

# The capability cache must hold: the second call is served from it.
virsh -c qemu:///system capabilities >/dev/null
t0=$(date +%s%N)
virsh -c qemu:///system capabilities >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1000 ] || die "libvirt re-probes QEMU on every call (capabilities took ${ms} ms); check /dev/kvm ownership (kvm:0660)"

log "lab host ready: libvirt $(virsh -c qemu:///system version 2>/dev/null | awk '/Running hypervisor/{print $NF}' ) capabilities ${ms} ms"
