"""host_facts on this machine's real libvirtd and LXC, and the respawn of a module run by a
Python that lacks libvirt-python (a bare venv) into /usr/bin/python3, which has python3-libvirt.
Every guest, container and pool is vftest-* and removed after the test."""

import json
import os
import subprocess

import pytest

import lxchelpers as lx
from vfhelpers import COLLECTIONS, PREFIX, ROOT, run_module, state_hash

G = PREFIX + "facts"
C = PREFIX + "fc1"


def facts(args=None, check=False):
    r = run_module("host_facts", args or {}, check=check)
    assert r["rc"] == 0 and r["changed"] is False, r
    return r["ansible_facts"]["virtfleet_host"]


@pytest.fixture
def container():
    lx.purge()
    r = run_module("guest", {"name": C, "backend": "lxc", "template": "busybox", "memory": 64,
                             "vcpus": 1, "state": "stopped"})
    assert r["rc"] == 0, r.get("msg")
    yield C
    lx.purge()


def test_guest_pool_and_container_are_reported(conn, pool, volume, container):
    volume(PREFIX + "facts-root", mib=48)
    r = run_module("guest", {"name": G, "virt_type": "qemu", "vcpus": 2, "memory": 96, "state": "stopped",
                             "disks": [{"volume": PREFIX + "facts-root", "pool": pool}]})
    assert r["rc"] == 0, r.get("msg")
    before = state_hash(conn)
    f = facts(check=True)
    assert state_hash(conn) == before, "host_facts changed something"

    assert f["toolstacks"]["libvirt"]["present"] and f["toolstacks"]["libvirt"]["version"] == "9.0.0"
    assert f["toolstacks"]["libvirt"]["driver"] == "QEMU" and f["toolstacks"]["libvirt"]["hypervisor_version"]
    assert f["toolstacks"]["lxc"]["present"] and f["toolstacks"]["lxc"]["version"][0].isdigit()
    assert f["toolstacks"]["xen"] == {"present": False, "dom0": False}
    assert f["virtualization"] in ("hardware", "emulation-only")
    assert f["cpu"]["count"] == os.cpu_count()
    assert 0 < f["memory"]["free_mib"] <= f["memory"]["total_mib"]
    assert "2M" in f["hugepages"] and f["hugepages"]["2M"]["size_kib"] == 2048

    guest = {g["name"]: g for g in f["guests"]}
    assert guest[G]["backend"] == "libvirt" and guest[G]["state"] == "stopped"
    assert (guest[G]["vcpus"], guest[G]["memory_mib"], guest[G]["disk_bytes"]) == (2, 96, 48 << 20)
    assert guest[G]["managed"] and guest[G]["disk"] == "48.0 MiB"
    assert guest[C]["backend"] == "lxc" and guest[C]["state"] == "stopped"
    assert (guest[C]["memory_mib"], guest[C]["vcpus"]) == (64, 1)
    assert f["committed"]["all"]["memory_mib"] >= 96 + 64

    pools = {p["name"]: p for p in f["pools"]}
    p = pools[pool]
    assert p["active"] and p["type"] == "dir" and p["path"] == "/var/lib/virtfleet-test/pool"
    assert p["capacity_bytes"] > 0 and 0 <= p["available_bytes"] <= p["capacity_bytes"]
    assert p["capacity"].endswith("iB") and p["volumes"] >= 1

    # the same facts outside check mode, and a subset touches no toolstack
    assert {g["name"] for g in facts()["guests"]} >= {G, C}
    hw = facts({"gather": ["cpu", "memory"]})
    assert sorted(hw) == ["cpu", "gathered", "memory", "python", "virtualization"]


def test_network_and_bridge_are_reported(conn, net):
    f = facts({"gather": ["networks", "bridges"], "toolstacks": ["libvirt"]})
    nets = {n["name"]: n for n in f["networks"]}
    assert nets[net] == {"name": net, "active": True, "autostart": False, "bridge": "vftestbr0",
                         "forward": "isolated"}
    assert "vftestbr0" in [b["name"] for b in f["bridges"]]


def test_unreachable_libvirt_is_an_error_string_not_a_failure():
    f = facts({"uri": "qemu+unix:///system?socket=/nonexistent/vftest.sock", "gather": ["toolstacks", "pools"]})
    lv = f["toolstacks"]["libvirt"]
    assert lv["present"] and "cannot connect" in lv["error"] and f["pools"] == []


# -- respawn ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """A venv of the system Python without system site-packages: no libvirt-python."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    assert subprocess.run([py, "-c", "import libvirt"], capture_output=True, check=False).returncode != 0
    assert subprocess.run(["/usr/bin/python3", "-c", "import libvirt"], check=False).returncode == 0, \
        "the system Python needs python3-libvirt (scripts/setup-host.sh installs it)"
    return py


def ansible(module, args, python, check=False):
    """Run a module as Ansible does (AnsiballZ, the given interpreter); its JSON result."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="minimal",
               ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible"), "localhost", "-i", "localhost,", "-c", "local",
            "-e", "ansible_python_interpreter=" + python, "-m", "virtfleet.hypervisor." + module,
            "-a", json.dumps(args)] + (["--check"] if check else [])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    head, sep, body = proc.stdout.partition(" => ")
    assert sep, proc.stdout + proc.stderr
    return json.loads(body), head


def test_module_respawns_under_the_system_python(conn, bare_python):
    r, head = ansible("host_facts", {"toolstacks": ["libvirt"], "gather": ["toolstacks", "guests"]}, bare_python)
    assert "SUCCESS" in head, r
    f = r["ansible_facts"]["virtfleet_host"]
    assert f["python"]["executable"] == "/usr/bin/python3"
    assert f["toolstacks"]["libvirt"]["version"] == "9.0.0" and "error" not in f["toolstacks"]["libvirt"]

    guest = {"name": G, "virt_type": "qemu", "memory": 32, "state": "stopped"}
    before = state_hash(conn)
    r, head = ansible("guests", {"guests": [guest]}, bare_python, check=True)
    assert "CHANGED" in head and r["results"][0]["action"] == "create", r
    assert state_hash(conn) == before
    r, head = ansible("guests", {"guests": [guest]}, bare_python)
    assert "CHANGED" in head and conn.lookupByName(G).name() == G, r
