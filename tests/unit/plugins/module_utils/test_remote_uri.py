"""A uri naming another host: checks that read this machine's filesystem are refused with an
error naming the field, never made on the wrong machine (docs/guest-engine.md)."""

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt_objects import (
    NetworkHandler, VolumeHandler)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model_objects import (
    network_from_params, volume_from_params)


@pytest.mark.parametrize("uri, local", [
    ("qemu:///system", True), ("qemu+unix:///system?socket=/run/x/libvirt-sock", True),
    ("qemu+ssh://localhost/system", True), ("qemu+ssh://root@hv2.example.org/system", False),
    ("qemu+tcp://192.0.2.7/system", False), ("xen+ssh://hv3/", False),
])
def test_local_uris(uri, local):
    assert LibvirtBackend({"uri": uri}).local is local


def test_bridge_network_on_remote_uri_is_refused_naming_the_field():
    be = LibvirtBackend({"uri": "qemu+ssh://hv2/system"})
    spec = network_from_params({"name": "lan", "forward": "bridge", "bridge": "br0"})
    with pytest.raises(SpecError) as e:
        NetworkHandler(be).resolve(spec)
    assert e.value.field == "bridge" and "network 'lan': bridge:" in str(e.value) and "hv2" in str(e.value)


def test_volume_backing_file_on_remote_uri_is_refused(monkeypatch):
    be = LibvirtBackend({"uri": "qemu+ssh://hv2/system"})
    handler = VolumeHandler(be)

    class Pool:  # a 1 TiB pool on the remote host
        @staticmethod
        def info():
            return [2, 1 << 40, 0, 1 << 40]

    monkeypatch.setattr(handler, "_pool", lambda v: Pool)
    spec = volume_from_params({"name": "v", "size": "1G", "backing": "/srv/base.qcow2"})
    with pytest.raises(SpecError) as e:
        handler.resolve(spec)
    assert e.value.field == "backing"
