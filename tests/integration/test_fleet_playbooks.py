"""The fleet playbooks (playbooks/site.yml, check.yml, guests.yml) on this machine.

* Bad input: a host in no kind group, a host in two, a guest whose backend does not match its
  host's kind, two hosts declaring the same guest in one fleet, a host whose libvirt cannot
  be reached. Each fails naming the host and what is wrong; a good host in the same run
  still converges (against the real libvirtd on qemu:///system, ansible_connection local).
* The playbooks run by name from the installed collection (``ansible-playbook
  virtfleet.hypervisor.site``), built with ansible-galaxy and installed into a temp dir,
  over inventories/example (the declaration checks only: those hosts do not exist).

The remote proof (three lab VMs over ssh) is tests/lab/test_fleet.py."""

import os
import re
import subprocess

import pytest

from vfhelpers import PREFIX, ROOT

BIN = os.path.join(ROOT, ".venv", "bin")
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
FLEET = PREFIX + "fleet"

BAD_INVENTORY = """\
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    virtfleet_prepare_host: false
    virtfleet_fleet: {fleet}
  children:
    hypervisors:
      hosts:
        orphan:
          virtfleet_guests: [{{name: {p}-orphan, state: stopped, virt_type: qemu, memory: 32}}]
      children:
        kvm_hosts:
          hosts:
            good:
              virtfleet_guests: [{{name: {p}-good, state: stopped, virt_type: qemu, memory: 32}}]
            mismatch:
              virtfleet_guests: [{{name: {p}-ct, backend: lxc, state: stopped}}]
            dup-a:
              virtfleet_guests: [{{name: {p}-dup, state: stopped, virt_type: qemu, memory: 32}}]
            twokinds:
              virtfleet_guests: [{{name: {p}-two, state: stopped, virt_type: qemu, memory: 32}}]
            nolibvirt:
              virtfleet_uri: "qemu+unix:///system?socket=/nonexistent/libvirt-sock"
              virtfleet_guests: [{{name: {p}-x, state: stopped, virt_type: qemu, memory: 32}}]
        lxc_hosts:
          hosts:
            dup-b:
              virtfleet_guests: [{{name: {p}-dup, state: stopped}}]
            twokinds:
""".format(fleet=FLEET, p=FLEET)


def playbook(argv, env_extra=None, timeout=600):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOST_KEY_CHECKING="False")
    env.pop("ANSIBLE_CONFIG", None)
    env.update(env_extra or {})
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook")] + argv, capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout, check=False)
    recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])}
             for m in RECAP.findall(proc.stdout)}
    return proc, recap


def test_bad_hosts_are_named_and_the_good_one_converges(conn, tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(BAD_INVENTORY)
    proc, recap = playbook(["-i", str(inv), "playbooks/site.yml"],
                           {"ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".venv", "collections")})
    out = proc.stdout
    assert proc.returncode != 0, out[-4000:]
    assert recap["good"]["failed"] == 0 and recap["good"]["changed"] == 1, (recap, out[-4000:])
    for host in ("orphan", "twokinds", "mismatch", "dup-a", "dup-b", "nolibvirt"):
        assert recap[host]["failed"] == 1 and recap[host]["changed"] == 0, (host, recap)
    assert "host orphan is in no kind group" in out
    assert "host twokinds is in several kind groups (kvm_hosts, lxc_hosts)" in out
    assert ("host mismatch (kvm_hosts, backend libvirt): guest '%s-ct': backend: 'lxc' does not match "
            "the host's kind" % FLEET) in out
    assert ("host dup-a, fleet '%s': guest '%s-dup' is also declared by host dup-b" % (FLEET, FLEET)) in out
    assert ("host dup-b, fleet '%s': guest '%s-dup' is also declared by host dup-a" % (FLEET, FLEET)) in out
    assert re.search(r"fatal: \[nolibvirt\]: FAILED! .*guest '%s-x': uri: cannot connect to "
                     r"qemu\+unix:///system\?socket=/nonexistent/libvirt-sock" % FLEET, out), out[-4000:]
    # the good host converged; nothing of the bad ones was made
    names = {d.name() for d in conn.listAllDomains(0)}
    assert FLEET + "-good" in names
    assert not {FLEET + s for s in ("-orphan", "-ct", "-dup", "-two", "-x")} & names


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built with ansible-galaxy and installed into a temp collections path."""
    d = tmp_path_factory.mktemp("installed")
    env = dict(os.environ)
    env.pop("ANSIBLE_CONFIG", None)
    galaxy = os.path.join(BIN, "ansible-galaxy")
    proc = subprocess.run([galaxy, "collection", "build", "--output-path", str(d)], capture_output=True,
                          text=True, cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    tarball = next(d.glob("virtfleet-hypervisor-*.tar.gz"))
    # --force: the work tree's collection (.venv/collections) would count as installed already
    proc = subprocess.run([galaxy, "collection", "install", "--offline", "--force", "-p", str(d / "collections"),
                           str(tarball)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = d / "collections" / "ansible_collections" / "virtfleet" / "hypervisor" / "playbooks"
    assert (path / "site.yml").is_file() and (path / "tasks" / "fleet_validate.yml").is_file()
    return str(d / "collections")


@pytest.mark.parametrize("name", ["site", "check", "guests"])
def test_collection_playbook_by_name(installed, name):
    # --skip-tags prepare,converge: the declaration checks only, which run on the controller
    proc, recap = playbook(["-i", "inventories/example", "virtfleet.hypervisor." + name,
                            "--skip-tags", "prepare,converge"],
                           {"ANSIBLE_COLLECTIONS_PATH": installed})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert set(recap) == {"kvm01.example.com", "lxc01.example.com", "xen01.example.com"}, recap
    assert "TASK [Fleet | Check no other host of this fleet declares the same guest]" in proc.stdout
    assert all(r["failed"] == 0 and r["ok"] >= 6 for r in recap.values()), recap
