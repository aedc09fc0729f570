"""Transient libvirt refusals are retried with a bounded backoff; others fail at once."""

import libvirt
import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError


def flaky(failures, message):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= failures:
            raise libvirt.libvirtError(message)
        return "ok"
    return fn, calls


def backend():
    sleeps = []
    return LibvirtBackend({"uri": "qemu:///system"}, sleep=sleeps.append), sleeps


@pytest.mark.parametrize("message", [
    "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreate)",
    "Requested operation is not valid: domain has active asynchronous jobs",
])
def test_transient_refusals_are_retried_with_backoff(message):
    b, sleeps = backend()
    fn, calls = flaky(3, message)
    assert b.call("start", fn) == "ok"
    assert len(calls) == 4 and sleeps == [0.1, 0.2, 0.4]


def test_retries_are_bounded():
    b, sleeps = backend()
    fn, calls = flaky(100, "Timed out during operation: cannot acquire state change lock")
    with pytest.raises(BackendError, match="start failed: .*state change lock"):
        b.call("start", fn)
    assert len(calls) == 7 and max(sleeps) <= 2.0


def test_other_errors_fail_at_once():
    b, sleeps = backend()
    fn, calls = flaky(1, "XML error: bad machine type")
    with pytest.raises(BackendError, match="define failed: XML error"):
        b.call("define", fn)
    assert len(calls) == 1 and sleeps == []
