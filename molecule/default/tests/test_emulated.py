"""molecule default: the lab VM whose CPU has no svm/vmx (qemu64,-svm)."""

import json

testinfra_hosts = ["ansible://emulated"]


def test_no_kvm_here(host):
    assert not host.file("/dev/kvm").exists
    flags = host.file("/proc/cpuinfo").content_string
    assert " svm" not in flags and " vmx" not in flags


def test_emulation_only_and_kvm_refused_with_a_reason(host):
    f = json.loads(host.file("/root/virtfleet-molecule-facts.json").content_string)
    assert f["virtfleet_virt_support"] == "emulation-only"
    assert f["vt_flag"] == "none"
    assert f["kvm_device"] is False
    assert "KVM required" in f["refusal"]
    assert "neither VT-x (vmx) nor AMD-V (svm)" in f["refusal"]
    assert "virt_host_check_allow_emulation" in f["refusal"]
