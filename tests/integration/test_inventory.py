"""The guests inventory plugin against real libvirt daemons: two simulated hosts
(tests/nshosts.py, each its own libvirtd), read through `ansible-inventory --list` as a user
would, with an unreachable third host, the strict switch, the hypervisors-of-a-group source,
keyed groups and a playbook that targets the listed guests. Also LXC: the probe run locally
on the real LXC of this machine."""

import json
import os
import subprocess
import textwrap

import libvirt
import pytest

import nshosts
from vfhelpers import ROOT

PREFIX = "vftestinv"
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
MARK = ("<metadata><virtfleet:guest xmlns:virtfleet='https://virtfleet.dev/xmlns/guest/1'>"
        '{"fleet": "%s", "managed_by": "virtfleet.hypervisor", "version": 1}</virtfleet:guest></metadata>')
AGENT = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"


def domain(name, fleet=None, agent=False):
    return ("<domain type='qemu'><name>%s</name>%s<memory unit='MiB'>32</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>%s</devices></domain>"
            % (name, MARK % fleet if fleet else "", AGENT if agent else ""))


@pytest.fixture(scope="module", name="fleet")
def two_hosts():
    with nshosts.hosts(2, prefix=PREFIX) as hosts:
        c1, c2 = (libvirt.open(h.uri) for h in hosts)
        try:
            c1.defineXML(domain("vftest-inv-web1", "blue"))
            run = c1.defineXML(domain("vftest-inv-db1", "blue", agent=True))
            run.create()  # running, agent channel without an agent: must not block the listing
            c1.defineXML(domain("vftest-inv-hand"))
            c2.defineXML(domain("vftest-inv-web2", "green"))
            yield hosts
        finally:
            c1.close()
            c2.close()


def inventory(tmp_path, config, *extra, name="test.virtfleet_guests.yml", check=True):
    path = tmp_path / name
    path.write_text(textwrap.dedent(config))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_INVENTORY_UNPARSED_FAILED="1",
               ANSIBLE_NOCOLOR="1")
    argv = [os.path.join(VENV_BIN, "ansible-inventory")] + list(extra) + ["-i", str(path), "--list"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc, (json.loads(proc.stdout) if proc.returncode == 0 else None)


def plain(value):
    """A string as --list prints it: untrusted strings are {"__ansible_unsafe": ...} on 2.19."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def hosts_of(doc, group):
    return sorted(doc.get(group, {}).get("hosts", []))


def test_two_hosts_and_an_unreachable_one(fleet, tmp_path):
    h1, h2 = fleet
    gone = "qemu+unix:///system?socket=%s" % (tmp_path / "nobody-here" / "libvirt-sock")
    proc, doc = inventory(tmp_path, """\
        plugin: virtfleet.hypervisor.guests
        uris:
          - %s
          - uri: %s
            name: kvm-b
          - uri: %s
            name: kvm-gone
        keyed_groups:
          - key: virtfleet_fleet
            prefix: fleet
          - key: no_such_variable
        compose:
          double_memory: virtfleet_memory * 2
        """ % (h1.uri, h2.uri, gone))
    # the unreachable host: a warning naming it, the others still list
    assert "kvm-gone" in proc.stderr and "its guests are not listed" in proc.stderr
    # a keyed_groups key that exists for no guest: a warning naming it
    assert "no_such_variable" in proc.stderr
    hv = doc["_meta"]["hostvars"]
    assert sorted(hv) == ["vftest-inv-db1", "vftest-inv-hand", "vftest-inv-web1", "vftest-inv-web2"]
    g1 = "virtfleet_hypervisor_" + h1.name.replace("-", "_")
    assert hosts_of(doc, g1) == ["vftest-inv-db1", "vftest-inv-hand", "vftest-inv-web1"]
    assert hosts_of(doc, "virtfleet_hypervisor_kvm_b") == ["vftest-inv-web2"]
    assert hosts_of(doc, "virtfleet_state_running") == ["vftest-inv-db1"]
    assert hosts_of(doc, "virtfleet_state_stopped") == ["vftest-inv-hand", "vftest-inv-web1", "vftest-inv-web2"]
    assert hosts_of(doc, "virtfleet_fleet_blue") == ["vftest-inv-db1", "vftest-inv-web1"]
    assert hosts_of(doc, "virtfleet_fleet_green") == ["vftest-inv-web2"]
    assert len(hosts_of(doc, "virtfleet_backend_libvirt")) == 4
    assert hosts_of(doc, "fleet_blue") == ["vftest-inv-db1", "vftest-inv-web1"]
    web1 = {k: plain(v) for k, v in hv["vftest-inv-web1"].items()}
    assert web1["virtfleet_hypervisor"] == h1.name and web1["virtfleet_uri"] == h1.uri
    assert (web1["virtfleet_state"], web1["virtfleet_backend"], web1["virtfleet_fleet"], web1["virtfleet_managed"]) == \
        ("stopped", "libvirt", "blue", True)
    assert (web1["virtfleet_memory"], web1["virtfleet_vcpus"], web1["double_memory"]) == (32, 1, 64)
    assert "ansible_host" not in web1
    hand = {k: plain(v) for k, v in hv["vftest-inv-hand"].items()}
    assert (hand["virtfleet_managed"], hand["virtfleet_fleet"]) == (False, None)
    db1 = {k: plain(v) for k, v in hv["vftest-inv-db1"].items()}
    assert (db1["virtfleet_state"], db1["virtfleet_agent"], db1["virtfleet_addresses"]) == ("running", False, [])

    # strict: the unreachable host is an error naming it
    proc, _doc = inventory(tmp_path, """\
        plugin: virtfleet.hypervisor.guests
        strict: true
        uris: [%s, {uri: %s, name: kvm-gone}]
        """ % (h1.uri, gone), name="strict.virtfleet_guests.yml", check=False)
    assert proc.returncode != 0
    assert "kvm-gone" in proc.stderr and "Traceback" not in proc.stderr


def test_the_hypervisors_of_an_inventory_group_and_a_play_on_the_guests(fleet, tmp_path):
    h1, h2 = fleet
    (tmp_path / "hosts.yml").write_text(textwrap.dedent("""\
        all:
          children:
            hypervisors:
              hosts:
                %s: {virtfleet_uri: "%s"}
                %s: {virtfleet_uri: "%s"}
              vars:
                ansible_connection: local
        """ % (h1.name, h1.uri, h2.name, h2.uri)))
    proc, doc = inventory(tmp_path, """\
        plugin: virtfleet.hypervisor.guests
        hypervisor_group: hypervisors
        fleets: [blue, green]
        """, "-i", str(tmp_path / "hosts.yml"))
    assert hosts_of(doc, "hypervisors") == sorted([h1.name, h2.name])
    assert hosts_of(doc, "virtfleet_fleet_blue") == ["vftest-inv-db1", "vftest-inv-web1"]
    assert hosts_of(doc, "virtfleet_hypervisor_" + h2.name.replace("-", "_")) == ["vftest-inv-web2"]
    assert "vftest-inv-hand" not in doc["_meta"]["hostvars"]  # no fleet: filtered out

    # a play over the listed guests: start the stopped ones of fleet blue through their hypervisor
    (tmp_path / "start.yml").write_text(textwrap.dedent("""\
        - name: Start the stopped guests of fleet blue
          hosts: virtfleet_fleet_blue:&virtfleet_state_stopped
          gather_facts: false
          tasks:
            - name: Start through the hypervisor that runs it
              virtfleet.hypervisor.guest:
                uri: "{{ virtfleet_uri }}"
                name: "{{ virtfleet_name }}"
                state: running
                virt_type: qemu
                memory: "{{ virtfleet_memory }}"
                fleet: "{{ virtfleet_fleet }}"
              delegate_to: localhost
              vars:
                ansible_python_interpreter: %s
        """ % os.path.join(VENV_BIN, "python")))
    cfg = tmp_path / "play.virtfleet_guests.yml"
    cfg.write_text("plugin: virtfleet.hypervisor.guests\nhypervisor_group: hypervisors\n")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
                           "-i", str(cfg), str(tmp_path / "start.yml")],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "vftest-inv-web1            : ok=1    changed=1" in proc.stdout
    assert "vftest-inv-db1" not in proc.stdout  # running already: not in the pattern
    c1 = libvirt.open(h1.uri)
    try:
        assert c1.lookupByName("vftest-inv-web1").isActive()
        c1.lookupByName("vftest-inv-web1").destroy()
    finally:
        c1.close()


def test_inventory_cache(fleet, tmp_path):
    """cache: true serves the recorded listing until --flush-cache reads the hosts again."""
    h1, _h2 = fleet
    config = """\
        plugin: virtfleet.hypervisor.guests
        uris: [%s]
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: %s
        """ % (h1.uri, tmp_path / "cache")
    _proc, doc = inventory(tmp_path, config, name="cached.virtfleet_guests.yml")
    assert "vftest-inv-new" not in doc["_meta"]["hostvars"]
    conn = libvirt.open(h1.uri)
    dom = conn.defineXML(domain("vftest-inv-new", "blue"))
    try:
        _proc, doc = inventory(tmp_path, config, name="cached.virtfleet_guests.yml")
        assert "vftest-inv-new" not in doc["_meta"]["hostvars"]  # from the cache
        _proc, doc = inventory(tmp_path, config, "--flush-cache", name="cached.virtfleet_guests.yml")
        assert "vftest-inv-new" in doc["_meta"]["hostvars"]
    finally:
        dom.undefine()
        conn.close()


def test_bad_input_is_a_message_naming_the_option(tmp_path):
    proc, _doc = inventory(tmp_path, "plugin: virtfleet.hypervisor.guests\nuris: [qemu:///system]\nhypervisors: [x]\n",
                           check=False)
    assert proc.returncode != 0 and "unknown option hypervisors" in proc.stderr
    proc, _doc = inventory(tmp_path, "plugin: virtfleet.hypervisor.guests\nuris: [kvm01]\n",
                           name="b.virtfleet_guests.yml", check=False)
    assert proc.returncode != 0 and "uris[0]: malformed libvirt URI 'kvm01'" in proc.stderr
    proc, _doc = inventory(tmp_path, "plugin: virtfleet.hypervisor.guests\nhosts: [{host: lxc01, backend: lxd}]\n",
                           name="c.virtfleet_guests.yml", check=False)
    assert proc.returncode != 0 and "hosts[0] (lxc01): backend must be lxc or xl" in proc.stderr
    for p in (proc,):
        assert "Traceback" not in p.stderr


def test_lxc_host_read_by_the_probe(tmp_path):
    """LXC: the same probe that runs over `ssh HOST python3 -`, here on this machine's real LXC
    (local: true); the container is made by the guest module, so it carries the marker."""
    import lxchelpers as lx
    from vfhelpers import run_module
    lx.purge()
    try:
        r = run_module("guest", {"name": "vftest-inv-ct", "backend": "lxc", "template": "busybox", "memory": 64,
                                 "state": "stopped", "fleet": "red", "tags": ["web", "env=prod"],
                                 "title": "Web front"})
        assert r["rc"] == 0, r
        _proc, doc = inventory(tmp_path, """\
            plugin: virtfleet.hypervisor.guests
            hosts:
              - {host: localhost, backend: lxc, local: true, name: lxc-here, python: %s}
            """ % os.path.join(VENV_BIN, "python"), name="lxc.virtfleet_guests.yml")
        ct = {k: plain(v) for k, v in doc["_meta"]["hostvars"]["vftest-inv-ct"].items()}
        assert (ct["virtfleet_backend"], ct["virtfleet_state"], ct["virtfleet_managed"], ct["virtfleet_fleet"],
                ct["virtfleet_hypervisor"], ct["virtfleet_memory"]) == ("lxc", "stopped", True, "red", "lxc-here", 64)
        assert "vftest-inv-ct" in hosts_of(doc, "virtfleet_fleet_red")
        assert "vftest-inv-ct" in hosts_of(doc, "virtfleet_backend_lxc")
        # the guest's free tags (kept in its marker) are groups, sanitized as Ansible does
        assert "vftest-inv-ct" in hosts_of(doc, "virtfleet_tag_web")
        assert "vftest-inv-ct" in hosts_of(doc, "virtfleet_tag_env_prod")
        assert ([plain(t) for t in ct["virtfleet_tags"]], ct["virtfleet_title"]) == (["env=prod", "web"], "Web front")
    finally:
        lx.purge()
