# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes with units, read the way qemu-img reads them.

``K M G T`` and ``KiB MiB GiB TiB`` are binary, ``KB MB GB TB`` decimal, ``B`` bytes.
"""

from __future__ import annotations

import re

_FACTORS = {
    "": 1, "B": 1,
    "K": 1024, "KIB": 1024, "M": 1024 ** 2, "MIB": 1024 ** 2,
    "G": 1024 ** 3, "GIB": 1024 ** 3, "T": 1024 ** 4, "TIB": 1024 ** 4,
    "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "TB": 1000 ** 4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
MIB = 1024 ** 2


def parse_size(value, default_unit_bytes=1):
    """Return a size in bytes; an int is counted in ``default_unit_bytes``.

    Raises ValueError with a message fit to follow a field name.
    """
    if isinstance(value, bool):
        raise ValueError("expected a size, got a boolean")
    if isinstance(value, int):
        return value * default_unit_bytes
    if not isinstance(value, str):
        raise ValueError("expected an integer or a string with a unit, got %r" % (value,))
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError("cannot read %r as a size (examples: 2048, '2GiB', '512M', '10GB')" % value)
    number, unit = m.group(1), m.group(2).upper()
    if unit not in _FACTORS:
        raise ValueError("unknown unit %r in %r (use K/M/G/T, KiB/MiB/GiB/TiB or KB/MB/GB/TB)"
                         % (m.group(2), value))
    factor = _FACTORS[unit] if unit else default_unit_bytes
    size = float(number) * factor
    if size != int(size):
        raise ValueError("%r is not a whole number of bytes" % value)
    return int(size)


def parse_mib(value):
    """Memory: an int is MiB; a string may carry a unit. Returns whole MiB (> 0)."""
    size = parse_size(value, MIB)
    if size <= 0:
        raise ValueError("must be greater than zero, got %r" % (value,))
    if size % MIB:
        raise ValueError("%r is not a whole number of MiB" % (value,))
    return size // MIB
