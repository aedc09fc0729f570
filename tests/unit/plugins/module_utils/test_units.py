"""_units owns every size conversion: user input, libvirt XML and calls, libxl JSON, xl
mem-set, cgroup limits, volume capacity. Each direction, and unknown units refused."""

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _units as U


@pytest.mark.parametrize("unit, factor", [
    ("", 1), ("b", 1), ("bytes", 1), ("B", 1),
    ("k", 1024), ("K", 1024), ("KiB", 1024), ("kib", 1024), ("KB", 1000), ("kb", 1000),
    ("M", 1024 ** 2), ("MiB", 1024 ** 2), ("MB", 10 ** 6),
    ("G", 1024 ** 3), ("GiB", 1024 ** 3), ("GB", 10 ** 9),
    ("T", 1024 ** 4), ("TiB", 1024 ** 4), ("TB", 10 ** 12),
    ("P", 1024 ** 5), ("PiB", 1024 ** 5), ("PB", 10 ** 15),
    ("E", 1024 ** 6), ("EiB", 1024 ** 6), ("EB", 10 ** 18),
])
def test_libvirt_unit_table(unit, factor):
    """libvirt's scaled integers (formatdomain 'memory', formatstorage 'capacity')."""
    assert U.factor(unit) == factor
    assert U.libvirt_bytes("3", unit) == 3 * factor


@pytest.mark.parametrize("unit", ["x", "KiBi", "Mb/s", "pages", "kilo", "iB"])
def test_unknown_units_are_refused_everywhere(unit):
    with pytest.raises(U.UnitError):
        U.factor(unit)
    with pytest.raises(U.UnitError):
        U.libvirt_mib("1048576", unit)
    with pytest.raises(U.UnitError):
        U.libvirt_bytes("1", unit)
    with pytest.raises(U.UnitError):
        U.libvirt_kib("2048", unit)
    with pytest.raises(U.UnitError):
        U.parse_size("1" + unit)


@pytest.mark.parametrize("text, unit, kib", [
    ("2048", None, 2048), ("2048", "KiB", 2048), ("2", "M", 2048), ("1", "G", 1048576),
    ("2097152", "b", 2048), (None, "KiB", None),
])
def test_libvirt_hugepage_size(text, unit, kib):
    """<page size=... unit=...> (KiB when no unit), as the hugepage_size key reads it back."""
    assert U.libvirt_kib(text, unit) == kib


@pytest.mark.parametrize("text, unit, mib", [
    ("1048576", None, 1024),          # no unit: KiB
    ("1048576", "KiB", 1024), ("1048576", "k", 1024),
    ("1073741824", "b", 1024), ("1073741824", "bytes", 1024),
    ("512", "MiB", 512), ("512", "M", 512), ("2", "GiB", 2048), ("2", "G", 2048),
    ("1", "TiB", 1024 * 1024),
    ("1000000", "KB", 953),           # decimal: 10^9 bytes, rounded down to whole MiB
    ("2", "GB", 1907),
    (" 131072 ", "KiB", 128),
    (None, "KiB", None), ("", None, None),
])
def test_libvirt_memory_element(text, unit, mib):
    assert U.libvirt_mib(text, unit) == mib


def test_libvirt_memory_element_is_never_silently_kib():
    """The old reader took an unknown unit for KiB: 2 'GiB's' would have read as 0 MiB."""
    with pytest.raises(U.UnitError, match="unknown unit"):
        U.libvirt_mib("2", "GiBs")
    with pytest.raises(U.UnitError):
        U.libvirt_mib("12abc", "KiB")


@pytest.mark.parametrize("text, unit, size", [
    ("10737418240", None, 10 * 1024 ** 3),  # capacity: bytes by default
    ("10737418240", "bytes", 10 * 1024 ** 3), ("10", "G", 10 * 1024 ** 3), ("10", "GB", 10 ** 10),
    ("16", "MiB", 16 * 1024 ** 2),
])
def test_volume_capacity(text, unit, size):
    assert U.libvirt_bytes(text, unit) == size


def test_mib_kib_bytes_both_ways():
    assert U.mib_to_kib(96) == 98304 and U.kib_to_mib(98304) == 96
    assert U.mib_to_bytes(64) == 67108864 and U.bytes_to_mib(67108864) == 64
    assert U.kib_to_mib(98303) == 95, "rounded down"
    assert U.kib_to_mib(None) is None and U.kib_to_mib(-1) is None, "libxl's unset"
    assert U.bytes_to_mib_ratio(64 * U.MIB) == 64 and isinstance(U.bytes_to_mib_ratio(64 * U.MIB), int)
    assert U.bytes_to_mib_ratio(100000000) == 95.367
    for mib in (1, 64, 512, 4096, 1048576):
        assert U.kib_to_mib(U.mib_to_kib(mib)) == mib
        assert U.bytes_to_mib(U.mib_to_bytes(mib)) == mib
        assert U.libvirt_mib(str(U.mib_to_kib(mib)), "KiB") == mib


def test_xl_mem_set_argument():
    assert U.xl_mem_arg(96) == "96m" and U.xl_mem_arg(4096) == "4096m"


@pytest.mark.parametrize("text, size", [
    ("67108864", 64 * U.MIB), ("512M", 512 * U.MIB), ("512m", 512 * U.MIB), ("1G", U.GIB), ("1g", U.GIB),
    ("64k", 64 * 1024), ("2T", 2 * 1024 ** 4), (" 1024 ", 1024),
    ("max", None), ("-1", None), ("", None), (None, None),
])
def test_cgroup_memory_values(text, size):
    assert U.cgroup_bytes(text) == size


@pytest.mark.parametrize("text", ["512MB", "512MiB", "1.5G", "12x", "lots"])
def test_cgroup_memory_values_with_unknown_units_are_refused(text):
    with pytest.raises(U.UnitError):
        U.cgroup_bytes(text)


@pytest.mark.parametrize("value, size", [
    (512, 512), ("1K", 1024), ("1KiB", 1024), ("1KB", 1000), ("1.5GiB", 3 * 1024 ** 3 // 2), ("2 EiB", 2 * 1024 ** 6),
])
def test_user_sizes(value, size):
    assert U.parse_size(value) == size
    assert U.parse_mib(4) == 4 and U.parse_mib("1GiB") == 1024


@pytest.mark.parametrize("n, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (10 << 30, "10.0 GiB"),
                                     (None, None)])
def test_human(n, text):
    assert U.human(n) == text


@pytest.mark.parametrize("kib, label", [(2048, "2M"), (1048576, "1G"), (64, "64K")])
def test_page_size_label(kib, label):
    assert U.page_size_label(kib) == label


@pytest.mark.parametrize("value, kib", [("2M", 2048), ("1G", 1048576), ("2048", 2048), (2048, 2048), ("2MiB", 2048)])
def test_page_sizes_in_kib(value, kib):
    assert U.parse_kib(value) == kib


@pytest.mark.parametrize("value", [0, "-2M", "1.5K", "2X", "1000B"])
def test_page_sizes_refused(value):
    with pytest.raises(U.UnitError):
        U.parse_kib(value)


@pytest.mark.parametrize("mib, page_kib, pages", [(1024, 2048, 512.0), (1025, 2048, 513.0), (1, 1048576, 1.0),
                                                  (0, 2048, 0.0), (None, 2048, 0.0)])
def test_hugepages_for_memory(mib, page_kib, pages):
    assert U.pages_for(mib, page_kib) == pages


def test_hugepage_pools_in_mib():
    assert U.pages_to_mib(512, 2048) == 1024.0 and U.pages_to_mib(2, 1048576) == 2048.0
