# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resize the 2 MiB hugepage pool, run by ansible.builtin.script (virtfleet.hypervisor.hugepages).

Usage: hugepages_reserve.py COUNT keep|restore

Writes COUNT to vm.nr_hugepages and reads the pool back. When the kernel found fewer free
pages than asked, compacts memory once and asks again. When it is still short:
  keep     leaves the pool at what the kernel reserved (hugepages_allow_partial);
  restore  puts the pool back to its size before the call, so a refused reservation
           changes nothing.
All of it happens in this one process: a pool that took nearly all free memory leaves a host
where every new process (an Ansible module, sshd's next session) fights for pages, so the
short window between growing and restoring must not start one.
Prints one JSON object: before, requested, allocated (what the kernel reserved), after (the
pool when the script ends), compacted, restored, memfree_kb (before).
"""

from __future__ import absolute_import, division, print_function

import json
import sys

POOL = "/proc/sys/vm/nr_hugepages"
COUNT = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
COMPACT = "/proc/sys/vm/compact_memory"


def _write(path, value):
    with open(path, "w") as fh:
        fh.write("%d\n" % value)


def _pool():
    with open(COUNT, "r") as fh:
        return int(fh.read().strip())


def _memfree_kb():
    with open("/proc/meminfo", "r") as fh:
        for line in fh:
            if line.startswith("MemFree:"):
                return int(line.split()[1])
    return 0


def main(argv):
    if len(argv) != 3 or not argv[1].isdigit() or argv[2] not in ("keep", "restore"):
        sys.stderr.write("usage: hugepages_reserve.py COUNT keep|restore\n")
        return 2
    requested, mode = int(argv[1]), argv[2]
    result = {"before": _pool(), "requested": requested, "memfree_kb": _memfree_kb(),
              "compacted": False, "restored": False}
    _write(POOL, requested)
    allocated = _pool()
    if allocated < requested:
        # free memory is often there but fragmented
        try:
            _write(COMPACT, 1)
            result["compacted"] = True
        except (IOError, OSError):
            pass
        _write(POOL, requested)
        allocated = _pool()
    result["allocated"] = allocated
    if allocated < requested and mode == "restore":
        _write(POOL, result["before"])
        result["restored"] = True
    result["after"] = _pool()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
