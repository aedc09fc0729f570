import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model_objects import (
    network_from_params, pool_from_params, volume_from_params)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._render_objects import (
    parse_network, parse_volume, render_network, render_volume)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _seed as seed


def test_network_normalises_and_round_trips():
    n = network_from_params({"name": "lab", "forward": "isolated", "bridge": "vfbr0", "ip": "198.51.100.1",
                             "netmask": "24", "dhcp": {"start": "198.51.100.10", "end": "198.51.100.20",
                                                       "hosts": [{"mac": "52:54:00:AA:00:02", "ip": "198.51.100.5"},
                                                                 {"mac": "52:54:00:aa:00:01", "ip": "198.51.100.4"}]}})
    assert n["netmask"] == "255.255.255.0"
    assert [h["mac"] for h in n["dhcp"]["hosts"]] == ["52:54:00:aa:00:01", "52:54:00:aa:00:02"]
    back = parse_network(render_network(n))
    for key in ("forward", "bridge", "ip", "netmask", "dhcp", "mtu"):
        assert back[key] == n[key], key


@pytest.mark.parametrize("raw, field", [
    ({"name": "n", "forward": "nta"}, "forward"),
    ({"name": "n", "ip": "300.1.1.1"}, "ip"),
    ({"name": "n", "ip": "198.51.100.1", "netmask": "33"}, "netmask"),
    ({"name": "n", "forward": "bridge"}, "bridge"),
    ({"name": "n", "forward": "bridge", "bridge": "br0", "ip": "198.51.100.1"}, "ip"),
    ({"name": "n", "dhcp": {"start": "198.51.100.2", "end": "198.51.100.3"}}, "dhcp"),
    ({"name": "n", "ip": "198.51.100.1", "dhcp": {"start": "198.51.100.9", "end": "198.51.100.3"}}, "dhcp"),
    ({"name": "n", "ip": "198.51.100.1",
      "dhcp": {"start": "198.51.100.2", "end": "198.51.100.3", "hosts": [{"mac": "zz", "ip": "198.51.100.2"}]}},
     "dhcp.hosts[0].mac"),
    ({"name": "n", "mtu": 10}, "mtu"),
    ({"name": "bad name"}, "name"),
    ({"name": "n", "color": "red"}, "spec"),
])
def test_network_errors_name_the_field(raw, field):
    with pytest.raises(SpecError) as e:
        network_from_params(raw)
    assert e.value.field == field and str(e.value).startswith("network ")


@pytest.mark.parametrize("raw, field", [
    ({"name": "p", "type": "logical"}, "type"),
    ({"name": "p", "path": "relative"}, "path"),
    ({"name": "p", "mode": "rwx"}, "mode"),
])
def test_pool_errors(raw, field):
    with pytest.raises(SpecError) as e:
        pool_from_params(raw)
    assert e.value.field == field


@pytest.mark.parametrize("raw, field", [
    ({"name": "v"}, "size"),
    ({"name": "v", "size": "1 parsec"}, "size"),
    ({"name": "v", "size": 0}, "size"),
    ({"name": "v", "size": 1, "format": "vmdk"}, "format"),
    ({"name": "v", "backing": "b", "format": "raw"}, "format"),
    ({"name": "v", "backing": "b", "source": "/x"}, "backing"),
    ({"name": "v", "source": "x.img"}, "source"),
])
def test_volume_errors(raw, field):
    with pytest.raises(SpecError) as e:
        volume_from_params(raw)
    assert e.value.field == field


def test_volume_sizes_and_render():
    v = volume_from_params({"name": "v", "size": "10GB"})
    assert v["size"] == 10 ** 10
    assert parse_volume(render_volume(v))["size"] == 10 ** 10


def test_seed_round_trip(tmp_path):
    files = seed.seed_files("s", {"packages": ["htop"]}, {"local-hostname": "h1"}, None)
    assert files["user-data"].startswith(b"#cloud-config\n") and b"instance-id" in files["meta-data"]
    path = tmp_path / "seed.iso"
    path.write_bytes(seed.build_iso(files))
    assert seed.read_iso(str(path)) == files
    other = tmp_path / "other.img"
    other.write_bytes(b"\0" * 65536)
    assert seed.read_iso(str(other)) is None
    assert seed.seed_files("s", {"a": 1}, {"local-hostname": "h1"}, None)["meta-data"] != files["meta-data"]
