"""A hugepage-backed guest started for real: its memory comes out of the host's 2 MiB pool."""

import pytest

from vfhelpers import PREFIX, run_module

NR = "/proc/sys/vm/nr_hugepages"


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


@pytest.fixture
def reserved_pages():
    with open(NR) as f:
        old = int(f.read())
    with open(NR, "w") as f:
        f.write(str(old + 40))
    if meminfo("HugePages_Total") < old + 40:
        pytest.fail("could not reserve 40 hugepages of 2 MiB (HugePages_Total=%d)" % meminfo("HugePages_Total"))
    yield
    with open(NR, "w") as f:
        f.write(str(old))


def test_hugepages_guest_runs_on_hugepages(conn, reserved_pages):
    assert meminfo("Hugepagesize") == 2048
    free_before = meminfo("HugePages_Free")
    g = {"name": PREFIX + "huge", "virt_type": "qemu", "memory": 64, "hugepages": True, "state": "running"}
    r = run_module("guest", g)
    assert r["rc"] == 0, r.get("msg")
    assert r["state"] == "running"
    assert free_before - meminfo("HugePages_Free") == 32  # 64 MiB / 2 MiB
    assert not run_module("guest", g)["changed"]
    run_module("guest", dict(g, state="absent"))
    assert meminfo("HugePages_Free") == free_before
