# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every size conversion of the collection, both ways, in one place.

The model counts memory in MiB and disk sizes in bytes. The toolstacks each speak their
own unit, and every reader and writer goes through a function here:

================================  =======================================================
user input (``memory: 2GiB``)     ``parse_size`` / ``parse_mib``: ``K M G T P E`` and
                                  ``KiB .. EiB`` binary, ``KB .. EB`` decimal, ``B`` bytes
libvirt ``<memory unit=...>``     ``libvirt_mib`` (default KiB), ``libvirt_bytes`` for
and ``<capacity unit=...>``       volume capacity/allocation (default bytes); libvirt's
                                  whole unit table (``b bytes k KB KiB ... E EB EiB``,
                                  case-insensitive). An unknown unit is an error, never
                                  silently KiB.
libvirt calls (``setMemoryFlags``)  ``mib_to_kib``
libxl JSON (``target_memkb``)      ``kib_to_mib``
xl cfg ``memory``/``maxmem``       MiB integers, no conversion; ``xl mem-set``:
                                  ``xl_mem_arg`` (``<N>m``)
cgroup memory limits (lxc)         ``mib_to_bytes`` to write; ``cgroup_bytes`` reads the
                                  kernel's suffixes (k m g t p e) and ``max``;
                                  ``bytes_to_mib_ratio`` back to (fractional) MiB
hugepages (``hugepage_size``,       ``parse_kib``, ``libvirt_kib``; ``pages_for`` /
``<page size unit>``, page pools)  ``pages_to_mib`` between MiB and a count of pages
================================  =======================================================
"""

from __future__ import annotations

import math
import re

KIB = 1024
MIB = 1024 ** 2
GIB = 1024 ** 3

_BINARY = ("K", "M", "G", "T", "P", "E")


def _table():
    out = {"": 1, "B": 1, "BYTE": 1, "BYTES": 1}
    for i, prefix in enumerate(_BINARY, 1):
        out[prefix] = out[prefix + "IB"] = 1024 ** i
        out[prefix + "B"] = 1000 ** i
    return out


#: unit (upper case) -> bytes: K/KiB binary, KB decimal, as libvirt and qemu-img read them
FACTORS = _table()
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_CGROUP_RE = re.compile(r"^\s*(\d+)\s*([A-Za-z]?)\s*$")


class UnitError(ValueError):
    """A size or unit that cannot be read. The message fits after a field name."""


def factor(unit):
    """Bytes per ``unit`` (case-insensitive); UnitError for a unit not in the table."""
    key = (unit or "").strip().upper()
    if key not in FACTORS:
        raise UnitError("unknown unit %r (use K/M/G/T, KiB/MiB/GiB/TiB or KB/MB/GB/TB)" % (unit,))
    return FACTORS[key]


def parse_size(value, default_unit_bytes=1):
    """Return a size in bytes; an int (or a bare number) is counted in ``default_unit_bytes``.

    Raises UnitError (a ValueError) with a message fit to follow a field name.
    """
    if isinstance(value, bool):
        raise UnitError("expected a size, got a boolean")
    if isinstance(value, int):
        return value * default_unit_bytes
    if not isinstance(value, str):
        raise UnitError("expected an integer or a string with a unit, got %r" % (value,))
    m = _SIZE_RE.match(value)
    if not m:
        raise UnitError("cannot read %r as a size (examples: 2048, '2GiB', '512M', '10GB')" % value)
    number, unit = m.group(1), m.group(2)
    try:
        mult = factor(unit) if unit else default_unit_bytes
    except UnitError:
        raise UnitError("unknown unit %r in %r (use K/M/G/T, KiB/MiB/GiB/TiB or KB/MB/GB/TB)" % (unit, value))
    size = float(number) * mult if "." in number else int(number) * mult
    if size != int(size):
        raise UnitError("%r is not a whole number of bytes" % value)
    return int(size)


def _parse_whole(value, unit, label):
    """``value`` (a bare number counts ``unit`` bytes) as a whole number (> 0) of ``unit``."""
    size = parse_size(value, unit)
    if size <= 0:
        raise UnitError("must be greater than zero, got %r" % (value,))
    if size % unit:
        raise UnitError("%r is not a whole number of %s" % (value, label))
    return size // unit


def parse_mib(value):
    """Memory: an int is MiB; a string may carry a unit. Returns whole MiB (> 0)."""
    return _parse_whole(value, MIB, "MiB")


def parse_kib(value):
    """A size whose bare number is KiB (a hugepage size: ``2M``, ``1G``, ``2048``), in whole
    KiB (> 0)."""
    return _parse_whole(value, KIB, "KiB")


# -- MiB <-> KiB <-> bytes -----------------------------------------------------------------
def mib_to_kib(mib):
    """MiB -> KiB: libvirt's memory unit (``setMemoryFlags``, ``<memory unit='KiB'>``)."""
    return int(mib) * KIB


def mib_to_bytes(mib):
    """MiB -> bytes (cgroup memory limits)."""
    return int(mib) * MIB


def kib_to_mib(kib):
    """KiB -> whole MiB (rounded down); None for None or a negative value (libxl's 'unset')."""
    if kib is None or int(kib) < 0:
        return None
    return int(kib) // KIB


def bytes_to_mib(size):
    """bytes -> whole MiB (rounded down)."""
    return int(size) // MIB


def pages_for(mib, page_kib):
    """Hugepages of ``page_kib`` KiB that hold ``mib`` MiB (rounded up), as a float (placement)."""
    return float(math.ceil((mib or 0) * KIB / float(page_kib)))


def pages_to_mib(count, page_kib):
    """MiB held by ``count`` hugepages of ``page_kib`` KiB."""
    return count * page_kib / float(KIB)


def bytes_to_mib_ratio(size):
    """bytes -> MiB, an int when whole, else rounded to 3 decimals (a limit set by hand)."""
    size = int(size)
    return size // MIB if size % MIB == 0 else round(float(size) / MIB, 3)


# -- toolstack spellings -------------------------------------------------------------------
def libvirt_bytes(text, unit, default="bytes"):
    """A libvirt scaled integer (``<capacity unit='G'>10</capacity>``) in bytes."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    if not text.isdigit():
        raise UnitError("cannot read %r as a libvirt size" % text)
    return int(text) * factor(unit if unit is not None else default)


def libvirt_mib(text, unit):
    """A libvirt memory element (``<memory unit='KiB'>``, KiB when no unit) in whole MiB."""
    size = libvirt_bytes(text, unit, default="KiB")
    return None if size is None else bytes_to_mib(size)


def libvirt_kib(text, unit):
    """A libvirt size whose default unit is KiB (``<page size='2048' unit='KiB'/>``) in whole KiB."""
    size = libvirt_bytes(text, unit, default="KiB")
    return None if size is None else size // KIB


def xl_mem_arg(mib):
    """The size argument of ``xl mem-set`` for ``mib`` MiB: ``<N>m``."""
    return "%dm" % int(mib)


def cgroup_bytes(text):
    """A cgroup memory value (``memory.limit_in_bytes`` / ``memory.max``, or the same key in an
    LXC config) in bytes: digits with an optional k/m/g/t/p/e suffix (binary, as the kernel's
    memparse reads it). None for no value, ``max`` (v2) or ``-1`` (v1): no limit; UnitError
    for anything else."""
    if text is None or str(text).strip() in ("", "max", "-1"):
        return None
    m = _CGROUP_RE.match(str(text))
    if not m or (m.group(2) and m.group(2).upper() not in _BINARY):
        raise UnitError("cannot read %r as a cgroup memory size (bytes, or a k/m/g/t suffix)" % (text,))
    return int(m.group(1)) * factor(m.group(2))


def human(nbytes):
    """Bytes for people (binary units, messages and facts): 1073741824 -> '1.0 GiB'; None stays None."""
    if nbytes is None:
        return None
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return "%d B" % value if unit == "B" else "%.1f %s" % (value, unit)
        value /= 1024
    return None  # not reached


def page_size_label(kib):
    """A hugepage size in KiB as the kernel and the model name it: 2048 -> '2M', 1048576 -> '1G'."""
    if kib % (KIB * KIB) == 0:
        return "%dG" % (kib // (KIB * KIB))
    if kib % KIB == 0:
        return "%dM" % (kib // KIB)
    return "%dK" % kib
