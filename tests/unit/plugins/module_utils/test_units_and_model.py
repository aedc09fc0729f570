import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import (
    check_unique, guest_from_params)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import parse_mib, parse_size


@pytest.mark.parametrize("value, expected", [
    (1, 1), ("1K", 1024), ("1KiB", 1024), ("1KB", 1000), ("2M", 2 * 1024 ** 2),
    ("2MB", 2 * 10 ** 6), ("1.5GiB", 3 * 1024 ** 3 // 2), ("1T", 1024 ** 4), ("10 GB", 10 ** 10),
    ("512", 512),
])
def test_parse_size(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "1X", "GiB", "1.5B", True, None, [1], "-1G"])
def test_parse_size_rejects(value):
    with pytest.raises(ValueError):
        parse_size(value)


@pytest.mark.parametrize("value, mib", [(2048, 2048), ("2GiB", 2048), ("512MiB", 512), ("1G", 1024)])
def test_memory_is_mib(value, mib):
    assert parse_mib(value) == mib


@pytest.mark.parametrize("value", [0, -1, "1KB", "100K", "0M"])
def test_memory_rejects(value):
    with pytest.raises(ValueError):
        parse_mib(value)


def test_defaults_and_normalisation():
    g = guest_from_params({"name": "web01", "memory": "1GiB",
                           "interfaces": [{"bridge": "br0", "mac": "52-54-00-AB-CD-EF"}],
                           "disks": [{"path": "/x.iso", "device": "cdrom"}, {"volume": "v"}]})
    assert g["memory"] == 1024 and g["state"] == "running" and g["vcpus"] == 1
    assert g["interfaces"][0] == {"network": None, "bridge": "br0", "model": "virtio",
                                  "mac": "52:54:00:ab:cd:ef", "direct": None, "mode": None, "vlan": None,
                                  "mtu": None, "link": None, "bandwidth": None}
    assert g["disks"][0]["bus"] == "sata" and g["disks"][0]["readonly"] is True
    assert g["disks"][1] == {"volume": "v", "pool": "default", "path": None, "device": "disk",
                             "readonly": False, "bus": "virtio", "size": None, "backing": None,
                             "format": None, "target": None, "cache": None, "io": None, "discard": None,
                             "serial": None, "iotune": None, "shareable": None}


@pytest.mark.parametrize("raw, field", [
    ({"name": "a b"}, "name"),
    ({"name": "x" * 64}, "name"),
    ({"name": "ok", "vcpus": True}, "vcpus"),
    ({"name": "ok", "max_vcpus": 1, "vcpus": 2}, "max_vcpus"),
    ({"name": "ok", "max_memory": 100, "memory": 200}, "max_memory"),
    ({"name": "ok", "cpu_shares": 1}, "cpu_shares"),
    ({"name": "ok", "disks": {"path": "/x"}}, "disks"),
    ({"name": "ok", "disks": [{"path": "/x", "volume": "v"}]}, "disks[0]"),
    ({"name": "ok", "disks": [{"path": "/x", "readonly": True, "size": 1}]}, "disks[0].size"),
    ({"name": "ok", "disks": [{"path": "/x", "colour": 1}]}, "disks[0]"),
    ({"name": "ok", "disks": [{"volume": "v", "size": "1 parsec"}]}, "disks[0].size"),
    ({"name": "ok", "kernel": "vmlinuz"}, "kernel"),
    ({"name": "ok", "interfaces": [{"network": "n", "mac": "52:54:00:00:00:01"},
                                   {"network": "n", "mac": "52:54:00:00:00:01"}]}, "interfaces"),
    ({"name": "ok", "autostart": "perhaps"}, "autostart"),
])
def test_spec_errors_name_guest_and_field(raw, field):
    with pytest.raises(SpecError) as e:
        guest_from_params(raw)
    assert e.value.field == field
    assert str(e.value).startswith("guest '%s': %s: " % (raw["name"], field))


def test_batch_duplicates_fail_whole_call():
    with pytest.raises(SpecError, match="more than once in this call: a"):
        check_unique(["a", "b", "a"], "guest", "guests")
    check_unique(["a", "b", None, None], "guest", "guests")


@pytest.mark.parametrize("backend, raw, field", [
    ("lxc", {"name": "c", "max_memory": 64}, "max_memory"),
    ("lxc", {"name": "c", "cpu_mode": "default"}, "cpu_mode"),
    ("xl", {"name": "x", "hugepages": True}, "hugepages"),
    ("xl", {"name": "x", "machine": "q35"}, "machine"),
    ("libvirt", {"name": "v", "template": "busybox"}, "template"),
    ("libvirt", {"name": "v", "xen_type": "pvh"}, "xen_type"),
])
def test_unsupported_field_refused_once_naming_guest_field_backend(backend, raw, field):
    with pytest.raises(SpecError) as e:
        guest_from_params(raw, backend)
    assert e.value.field == field and e.value.obj == raw["name"]
    assert "not supported by backend %s" % backend in str(e.value)


def test_backend_defaults_lxc_means_no_limit():
    assert guest_from_params({"name": "c"}, "lxc")["memory"] is None
    assert guest_from_params({"name": "c"}, "lxc")["vcpus"] is None
    g = guest_from_params({"name": "v"}, "libvirt")
    assert (g["memory"], g["vcpus"], g["virt_type"]) == (512, 1, "kvm")
    assert guest_from_params({"name": "x", "kernel": "/k"}, "xl")["xen_type"] == "pvh"
