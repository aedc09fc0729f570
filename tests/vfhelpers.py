"""Helpers for tests that run the real modules: exactly as Ansible runs them (a Python
process reading ANSIBLE_MODULE_ARGS), so check mode and diff go through the same path."""

import hashlib
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")
PREFIX = "vftest-"
XML_INACTIVE = 2  # libvirt.VIR_DOMAIN_XML_INACTIVE


def run_module(name, args, check=False, diff=True, timeout=600):
    """Run plugins/modules/<name>.py with args; return its JSON result (with 'rc').
    A check-mode run is wrapped in host_state(): any change it makes fails the test."""
    if check:
        before = host_state(args)
        result = _run_module(name, args, True, diff, timeout)
        after = host_state(args)
        assert after == before, "check mode changed the host: %s %s" % (
            name, ", ".join(k for k in before if before[k] != after[k]))
        return result
    return _run_module(name, args, False, diff, timeout)


def host_state(args=None):
    """Digests of every toolstack's vftest-* state this machine holds, per toolstack: libvirt
    (domains, networks, pools, volumes; on the module's uri) and LXC (configs, run state,
    cgroup limits, archives)."""
    import libvirt
    import lxchelpers
    uri = (args or {}).get("uri") or "qemu:///system"
    conn = libvirt.open(uri)
    try:
        h = hashlib.sha256(state_hash(conn).encode())
        for obj in sorted(conn.listAllNetworks(0) + conn.listAllStoragePools(0), key=lambda o: o.name()):
            if obj.name().startswith(PREFIX):
                # a pool's capacity/allocation/available move with anything written to its filesystem
                xml = re.sub(r"<(capacity|allocation|available)\b.*?</\1>", "", obj.XMLDesc(0), flags=re.S)
                h.update(xml.encode() + repr((obj.isActive(), obj.autostart())).encode())
        out = {"libvirt": h.hexdigest()}
    finally:
        conn.close()
    out["lxc"] = lxchelpers.state_hash()
    return out


def _run_module(name, args, check, diff, timeout):
    payload = dict(args)
    payload["_ansible_check_mode"] = check
    payload["_ansible_diff"] = diff
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, LC_ALL="C.UTF-8")
    proc = subprocess.run(
        [VENV_PY, "-m", "ansible_collections.virtfleet.hypervisor.plugins.modules." + name],
        input=json.dumps({"ANSIBLE_MODULE_ARGS": payload}), capture_output=True, text=True,
        env=env, timeout=timeout, cwd="/", check=False)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc %d):\nstdout: %s\nstderr: %s"
                             % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    result["rc"] = proc.returncode
    return result


def state_hash(conn):
    """A digest of every vftest-* domain, network and volume: definitions, live XML,
    run state and autostart. Equal before/after means nothing changed."""
    h = hashlib.sha256()
    for dom in sorted(conn.listAllDomains(0), key=lambda d: d.name()):
        if dom.name().startswith(PREFIX):
            h.update(dom.XMLDesc(XML_INACTIVE).encode())
            if dom.isActive():
                h.update(dom.XMLDesc(0).encode())
            h.update(repr((dom.state(), dom.autostart())).encode())
    for pool in conn.listAllStoragePools(0):
        if pool.name().startswith(PREFIX):
            for vol in sorted(pool.listAllVolumes(0), key=lambda v: v.name()):
                # libvirt's cached stats (atime, allocation, probed cluster size) move when anything reads or
                # refreshes the pool: hash the definition without them, plus the data itself
                xml = re.sub(r"<(timestamps|allocation|physical|clusterSize)\b.*?</\1>", "", vol.XMLDesc(0), flags=re.S)
                h.update(re.sub(r">\s+<", "><", xml).encode())
                with open(vol.path(), "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
    return h.hexdigest()


def virsh(*args):
    return subprocess.run(["virsh", "-c", "qemu:///system"] + list(args),
                          capture_output=True, text=True, check=True).stdout


def fixture(name):
    """The text of a recorded fixture, tests/unit/fixtures/<name>."""
    with open(os.path.join(ROOT, "tests", "unit", "fixtures", name)) as f:
        return f.read()
