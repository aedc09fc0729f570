# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only probe of the hugepages role (virtfleet.hypervisor), run by ansible.builtin.script.

Prints one JSON object: /proc/meminfo (kB values), the kernel command line, /proc/mounts,
the 2 MiB and 1 GiB pools (null when the kernel has no such pool) and whether
update-grub exists. One script instead of eight module runs: each of those costs
seconds on a small or emulated host. Changes nothing.
"""

from __future__ import absolute_import, division, print_function

import json
import os

POOLS = {"2M": 2048, "1G": 1048576}


def _read(path):
    try:
        with open(path, "r") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def main():
    meminfo = {}
    for line in (_read("/proc/meminfo") or "").splitlines():
        key, _sep, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            meminfo[key.strip()] = int(fields[0])
    pools = {}
    for name, kb in POOLS.items():
        value = _read("/sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages" % kb)
        pools[name] = None if value is None else int(value.strip())
    print(json.dumps({
        "meminfo": meminfo,
        "cmdline": (_read("/proc/cmdline") or "").split(),
        "mounts": [line.split() for line in (_read("/proc/mounts") or "").splitlines()],
        "pools": pools,
        "update_grub": os.path.exists("/usr/sbin/update-grub"),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
