# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Pairs with _spec.CONNECTION.
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - The toolstack that runs the guests. V(libvirt) (KVM/QEMU), V(lxc) (LXC containers with the
        C(lxc-*) tools) or V(xl) (Xen, run on the dom0).
    type: str
    choices: [libvirt, lxc, xl]
    default: libvirt
  uri:
    description:
      - libvirt connection URI of the hypervisor to converge (O(backend=libvirt)).
    type: str
    default: qemu:///system
  fleet:
    description:
      - The fleet the guests belong to, recorded in each guest's virtfleet marker.
      - Prune in M(virtfleet.hypervisor.guests) only ever removes undeclared guests of this same
        fleet, so several inventories (or a test suite) can share one hypervisor safely.
      - Converging a guest whose marker names another fleet moves it to this one (a C(config) change).
    type: str
    default: default
  xl_config_dir:
    description:
      - O(backend=xl) only. The directory of the xl domain configurations on the dom0; each guest
        is C(<xl_config_dir>/<name>.cfg) and autostart is the symlink C(<xl_config_dir>/auto/<name>.cfg).
    type: path
    default: /etc/xen
  xl_save_dir:
    description:
      - O(backend=xl) only. Where a guest with C(state=saved) keeps its memory. C(xl save) writes
        C(<xl_save_dir>/<name>.save) (mode 0600; created 0700 when missing), C(xl restore) reads it back and
        removes it. The default is the directory Debian's C(xendomains) uses for its own saves.
    type: path
    default: /var/lib/xen/save
  lxc_path:
    description:
      - O(backend=lxc) only. The LXC path holding the containers (C(lxc-* -P)); each container is the
        directory C(<lxc_path>/<name>/). When omitted, LXC's default (C(lxc-config lxc.lxcpath),
        usually C(/var/lib/lxc)).
    type: path
requirements:
  - libvirt-python on the managed host (the Python that runs the module), for O(backend=libvirt)
  - the C(xl) toolstack on a Xen dom0 (the managed host), for O(backend=xl)
  - the LXC userspace tools (C(lxc-*), LXC 4.0 or later) on the managed host, for O(backend=lxc)
"""

    # Pairs with _spec.RESTART.
    RESTART = r"""
options:
  restart:
    description:
      - What to do when a change can only take effect at the next boot of a running guest.
      - V(never) writes the change to the persistent definition and reports it in the result as
        C(restart_fields) with C(restart_required); the running guest is left alone.
      - V(if_needed) shuts the guest down gracefully (C(shutdown_timeout), then destroy only with
        C(force_stop=true)) and starts it again.
    type: str
    choices: [never, if_needed]
    default: never
"""

    # Pairs with _spec.CAPACITY.
    CAPACITY = r"""
options:
  capacity_check:
    description:
      - Refuse to create, start or grow a guest when the guests running on the host would then
        exceed its capacity (CPUs x O(cpu_ratio) vCPUs; memory - O(reserved_memory_mib) - hugepage
        pools, x O(memory_ratio); free hugepages for a C(hugepages) guest).
      - Checked for each guest that would run with more vCPUs or memory than now (a new or started
        guest, a larger C(vcpus) or C(memory)); a shrink, an unchanged or a stopped guest is never
        refused for CPUs or memory.
      - A guest whose disks create or grow volumes (their C(size)) is refused when a pool would then
        hold more than its capacity x O(disk_ratio) (what the pool has allocated plus the new sizes,
        the full virtual size of a sparse volume counted), whether it runs or not.
      - A refused guest changes nothing at all (not its volumes either) and fails alone,
        its result saying which resource is short; the result of every checked guest carries
        C(capacity) (per resource C(capacity), C(used) by the other running guests or allocated in
        the pool, C(requested); a pool as C(disk_<pool>) in bytes).
      - Only running (and paused) guests count, defined but stopped ones hold no CPU or memory.
        M(virtfleet.hypervisor.place) plans with every guest instead.
      - Backend xl reads C(xl info) (C(nr_cpus), C(total_memory)) and C(xl list) (every domain
        but Domain-0); when Domain-0's memory is fixed (no autoballoon) a guest is also never
        admitted past Xen's C(free_memory), Xen does not overcommit. Backend lxc reads this machine's
        CPUs and memory and the running containers' limits.
    type: bool
    default: true
  cpu_ratio:
    description: vCPUs per host CPU for O(capacity_check) (OpenStack Nova's default since Antelope).
    type: float
    default: 4.0
  memory_ratio:
    description: Guest memory per MiB of host memory for O(capacity_check).
    type: float
    default: 1.0
  disk_ratio:
    description: Volume bytes per byte of a storage pool's capacity for O(capacity_check) (Nova's default).
    type: float
    default: 1.0
  reserved_memory_mib:
    description: Memory (MiB) kept for the host itself for O(capacity_check) (Nova's C(reserved_host_memory_mb)).
    type: int
    default: 512
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    support: full
    description: Reports exactly what a real run would change (the same plan), and changes nothing.
  diff_mode:
    support: full
    description: Before/after of the declared fields of each changed guest, as data, never XML.
"""
