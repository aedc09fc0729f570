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


@pytest.mark.parametrize("spec, field", [
    ({"hostdevs": ["0000:03:00.0"]}, "hostdevs[0]"),
    ({"interfaces": [{"direct": "eth0"}]}, "interfaces[0].direct"),
    ({"disks": [{"path": "/srv/vm1.qcow2", "size": "1G"}]}, "disks[0].path"),
])
def test_issue16_host_checks_on_remote_uri_are_refused(monkeypatch, spec, field):
    """PCI devices, macvtap parents and disk files are looked up on this machine: refused for a
    uri naming another host, before any lookup."""
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params
    be = LibvirtBackend({"uri": "qemu+ssh://hv2/system"})
    monkeypatch.setattr(be, "_canonical_machines", lambda virt_type: {"pc": "pc-i440fx-7.2"})
    monkeypatch.setattr(be, "_host_info", lambda: {"cpus": 4, "cells": [0], "pages": {4}})
    g = guest_from_params(dict(spec, name="g1"), "libvirt")
    with pytest.raises(SpecError) as e:
        be.resolve(g)
    assert e.value.field == field and "hv2" in str(e.value), str(e.value)
