#!/bin/sh
# Everything a check-mode run could change on a virtfleet host, as text: equal output before and
# after means the run changed nothing. Read by the lab fleet's check.yml runs
# (tests/lab/test_fleet.py check_play) and around every molecule scenario's check step
# (check_purity_before.yml / check_purity_after.yml).
#   - every toolstack's objects: libvirt domains, networks, pools and volumes; LXC configs,
#     markers and run state; `xl list -l` and the domains;
#   - the files the host roles manage (paths, modes, link targets, contents);
#   - the runtime state they set: sysctls, hugepage pools and hugetlbfs mounts, bridges and
#     their addresses, NAT rules, enabled units, installed packages, /dev/kvm, SELinux mode,
#     booleans, local fcontexts and labels, loaded AppArmor profiles.
# Values that move by themselves are left out: pool free space, CPU time, running/blocked
# flags, IPv6 link-local addresses, whether a socket-activated daemon is running right now.
if command -v virsh >/dev/null 2>&1; then
  for d in $(virsh list --all --name); do
    virsh dumpxml --inactive --security-info "$d"; virsh domstate "$d"; virsh dominfo "$d" | grep -i autostart
  done
  for n in $(virsh net-list --all --name); do virsh net-dumpxml "$n"; virsh net-info "$n" | grep -E '^(Active|Autostart)'; done
  for p in $(virsh pool-list --all --name); do
    virsh pool-dumpxml "$p" | grep -v -E '<(capacity|allocation|available)'
    virsh vol-list "$p" 2>/dev/null
  done
fi
if command -v lxc-ls >/dev/null 2>&1; then
  lxc-ls --fancy -F NAME,STATE,AUTOSTART,PID
  for c in /var/lib/lxc/*/; do cat "$c/config" "$c/virtfleet.json" 2>/dev/null; done
fi
if command -v xl >/dev/null 2>&1 && [ -e /proc/xen/capabilities ]; then
  xl list -l; xl list | awk 'NR > 1 {print $1, $2}'
fi
DIRS="/etc/xen /etc/sysctl.d /etc/modprobe.d /etc/modules-load.d /etc/network /etc/libvirt /etc/lxc
  /etc/default/grub.d /etc/apparmor.d/local /etc/systemd/network /etc/systemd/system /etc/virtfleet /etc/selinux
  /boot/grub /usr/local/sbin /var/lib/virtfleet-test"
# shellcheck disable=SC2086
find $DIRS -xdev -path /etc/xen/scripts -prune -o -path /etc/selinux/default -prune -o -printf '%p %m %l\n' 2>/dev/null | sort
# shellcheck disable=SC2086
find $DIRS -xdev -path /etc/xen/scripts -prune -o -path /etc/selinux/default -prune -o -type f -print0 2>/dev/null \
  | sort -z | xargs -0 -r sha256sum
sha256sum /etc/fstab /etc/default/grub /etc/default/lxc-net 2>/dev/null
cat /proc/sys/vm/nr_hugepages; ip -br link show type bridge | awk '{print $1}' | sort
echo "sysctl: $(sysctl -n net.ipv4.ip_forward 2>/dev/null)"
for f in /sys/kernel/mm/hugepages/*/nr_hugepages; do echo "$f $(cat "$f")"; done
grep hugetlbfs /proc/mounts | awk '{print $2, $3, $4}'
ip -o addr show type bridge 2>/dev/null | awk '$4 !~ /^fe80:/ {print $2, $3, $4}' | sort
if command -v iptables >/dev/null 2>&1; then iptables -S 2>/dev/null; iptables -t nat -S 2>/dev/null; fi
if [ -d /run/systemd/system ]; then
  # The enablement state is read from the unit files (--root=/: client side, no D-Bus call to
  # PID 1, which a loaded TCG dom0 left unanswered for minutes: "Failed to list unit files:
  # Connection timed out"); the same lines the manager gives. A read that still fails must not
  # read as "no unit enabled": exit non-zero and the caller takes the snapshot again.
  units=$(systemctl --root=/ list-unit-files --state=enabled,masked --no-legend --no-pager) \
    || { echo "host_state.sh: systemctl list-unit-files failed" >&2; exit 3; }
  printf '%s\n' "$units" | awk '{print $1, $2}' | sort
fi
dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' 2>/dev/null | sort
stat -c '%n %a %G' /dev/kvm 2>/dev/null
if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then
  getenforce; getsebool -a
  command -v semanage >/dev/null 2>&1 && semanage fcontext --list --locallist --noheading
  find /srv /data -xdev -maxdepth 3 -printf '%p %Z\n' 2>/dev/null | sort
fi
[ -r /sys/kernel/security/apparmor/profiles ] && sort /sys/kernel/security/apparmor/profiles
exit 0
