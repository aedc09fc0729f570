"""The field tables are the one declaration of every key: argspecs, typed shapes, secrets and
backend capabilities must all agree with them."""

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model, _model_objects, _spec
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import all_backends
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError


def test_every_key_has_a_home():
    """A compared field or backend key no backend declares would be refused everywhere."""
    for f in _model.GUEST_FIELDS:
        if f.role in ("control", "common"):
            continue
        owners = [n for n, b in all_backends().items() if f.name in (b.caps.keys if f.role == "key" else b.caps.fields)]
        assert owners, "%s (%s) is managed by no backend" % (f.name, f.role)


@pytest.mark.parametrize("name", sorted(all_backends()))
def test_capabilities_name_declared_fields(name):
    caps = all_backends()[name].caps
    assert set(caps.fields) <= set(_model.COMPARED)
    # a key is a backend's own input, or a compared field its resolve also validates
    assert set(caps.keys) - set(caps.fields) <= {f.name for f in _model.GUEST_FIELDS if f.role == "key"}
    assert set(caps.live) <= set(caps.fields) and set(caps.live.values()) <= set(_model.LIVE_RULES)


def test_typed_shapes_follow_the_tables():
    assert set(_model.GuestSpec.__annotations__) == set(_model.FIELDS)
    assert _model.GuestSpec.__annotations__["memory"] is int  # normalised: MiB, whatever was written
    assert set(_model.DiskSpec.__annotations__) == {f.name for f in _model.DISK_FIELDS}
    assert set(_model_objects.VolumeSpec.__annotations__) == {f.name for f in _model_objects.VOLUME_FIELDS}


def test_secrets_come_from_the_tables():
    assert set(_model.SECRETS) == {"cloud_init.user_data", "cloud_init.network_config",
                                   "user_data", "network_config", "graphics.password"}


def test_argspec_is_derived():
    assert _spec.GUEST["state"] == {"type": "str", "choices": list(_model.STATES), "default": "running"}
    assert _spec.GUEST["disks"]["options"]["device"]["default"] == "disk"
    assert "fleet" not in _spec.GUEST  # a connection option of the single-guest module
    assert _spec.NETWORK["dhcp"]["options"]["hosts"]["options"]["mac"] == {"type": "str", "required": True}
    # a list default is a fresh list in every argspec and every parsed spec
    assert _spec.argspec("guest")["disks"]["default"] is not _spec.argspec("guest")["disks"]["default"]
    a, b = _model.guest_from_params({"name": "a"}), _model.guest_from_params({"name": "b"})
    assert a["disks"] == [] and a["disks"] is not b["disks"]


@pytest.mark.parametrize("raw, field", [
    ({"name": "g", "state": "gone"}, "state"),
    ({"name": "g", "cpu_mode": "fast"}, "cpu_mode"),
    ({"name": "g", "disks": [{"volume": "v", "bus": "usb"}]}, "disks[0].bus"),
    ({"name": "g", "interfaces": [{"network": "n", "model": "ne2k"}]}, "interfaces[0].model"),
    ({"name": "g", "interfaces": [{"network": "n", "mac": "01:00:00:00:00:01"}]}, "interfaces[0].mac"),
    ({"name": "g", "cpu_shares": 262145}, "cpu_shares"),
    ({"name": "g", "fleet": "a/b"}, "fleet"),
])
def test_table_errors_name_object_and_field(raw, field):
    with pytest.raises(SpecError) as e:
        _model.guest_from_params(raw)
    assert e.value.obj == "g" and e.value.field == field


@pytest.mark.parametrize("parse, raw, field", [
    (_model_objects.pool_from_params, {"name": "p", "path": "rel/dir"}, "path"),
    (_model_objects.volume_from_params, {"name": "v", "size": "0"}, "size"),
    (_model_objects.volume_from_params, {"name": "v", "size": 1, "format": "vmdk"}, "format"),
    (_model_objects.network_from_params, {"name": "n", "mtu": 70000}, "mtu"),
])
def test_object_tables_name_kind_and_field(parse, raw, field):
    with pytest.raises(SpecError) as e:
        parse(raw)
    assert e.value.field == field and e.value.obj == raw["name"]
    assert str(e.value).startswith(e.value.kind + " ") and e.value.kind != "guest"
