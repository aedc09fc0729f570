"""The fleet playbooks on remote hosts: a KVM host, an LXC host and a Xen dom0, each a lab VM
reached over ssh forwarded to 127.0.0.1, with Debian's own python3 (no virtualenv there).

* KVM and LXC hosts boot the ``bookworm-hv`` image (scripts/lab-variants/hv.sh: libvirt,
  QEMU, LXC and python3-libvirt/lxml/pycdlib preinstalled, so the host roles install
  nothing under TCG); the Xen host is the ``bookworm-xen`` dom0 (QEMU multiboot).
* The fleet is tests/lab/fleet/ (group_vars/host_vars as in inventories/example); the test
  writes its hosts.yml with the VMs' ports and keys.

In order: playbooks/site.yml (host roles, then storage, networks, guests) converges all
three (the fixture); what a user would check is there; a second run (without the host roles)
changes nothing; the single-object modules agree (fleet/singles.yml); check.yml finds no
drift; a drift made by hand on each host (``virsh setmem --config`` and ``virsh setmaxmem
--config``, an edited LXC config, an edited xl cfg) is reported per host by
``virtfleet.hypervisor.check`` (the collection's playbook by name), which exits non-zero with
virtfleet_fail_on_drift and changes nothing. ``make test-lab`` also runs the whole site.yml
a second time, host roles included (lab_full: ~5 min more under TCG).

Needs the hv and xen lab images (make setup builds them); never builds them and never skips.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import labvm  # noqa: E402

PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
COLLECTIONS = REPO / ".venv" / "collections"
FLEET = Path(__file__).resolve().parent / "fleet"
HV_IMAGE = "bookworm-hv"
TIMINGS: dict[str, float] = {}
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def ssh(vm: dict, script: str, check: bool = True, timeout: float = 300) -> str:
    proc = subprocess.run(labvm.ssh_argv(vm, [script], connect_timeout=30), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{vm['name']}: {script!r} failed (rc {proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class Fleet:
    def __init__(self, vms: dict[str, dict], inv_dir: Path):
        self.vms = vms
        self.inv_dir = inv_dir

    def play(self, playbook: str, *args: str, what: str, timeout: float = 1800):
        """Run a playbook (a path, or a collection playbook's FQCN) over the lab fleet."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_PIPELINING="1", ANSIBLE_TIMEOUT="60", ANSIBLE_FORKS="5")
        env.pop("ANSIBLE_CONFIG", None)
        argv = [str(PLAYBOOK), "-i", str(self.inv_dir / "hosts.yml"), playbook, *args]
        t0 = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                              cwd=self.inv_dir, check=False)
        TIMINGS[what] = round(time.monotonic() - t0, 1)
        recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]),
                        "failed": int(m[4])} for m in RECAP.findall(proc.stdout)}
        (self.inv_dir / f"{what.replace(' ', '_')}.log").write_text(proc.stdout + proc.stderr)
        return proc, recap


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    for image in (HV_IMAGE, labvm.XEN_IMAGE):
        try:
            labvm.image_files(image)
        except labvm.LabVMError as e:
            pytest.fail(f"{e} (make setup builds {image})", pytrace=False)  # never skip
    assert PLAYBOOK.exists(), f"{PLAYBOOK} missing: make setup-venv"
    inv_dir = tmp_path_factory.mktemp("fleet")
    shutil.copytree(FLEET, inv_dir, dirs_exist_ok=True)
    # lab VM names are unique per run; inventory names are fixed (tests/lab/fleet/host_vars)
    run = uuid.uuid4().hex[:6]
    names = {kind: f"vftest-fleet-{kind}-{run}" for kind in ("kvm", "lxc", "xen")}
    vms: dict[str, dict] = {}
    try:
        # All three boot at once (QEMU processes; the dom0 is the slowest, ~75 s).
        t0 = time.monotonic()
        vms["xen"] = labvm.start(names["xen"], **labvm.xen_boot())
        vms["kvm"] = labvm.start(names["kvm"], image=HV_IMAGE, memory=1024)
        vms["lxc"] = labvm.start(names["lxc"], image=HV_IMAGE, memory=768)
        for kind in ("kvm", "lxc", "xen"):
            labvm.wait_ready(vms[kind], timeout=480)  # ssh, then systemd's boot jobs done
            TIMINGS[f"{kind} boot-to-ready"] = round(time.monotonic() - t0, 1)
        kernel = ssh(vms["xen"], "ls /boot/vmlinuz-* | sort -V | tail -n 1").strip()
        hosts = []
        for kind, group in (("kvm", "kvm_hosts"), ("lxc", "lxc_hosts"), ("xen", "xen_hosts")):
            vm = vms[kind]
            extra = f", lab_dom0_kernel: {kernel}" if kind == "xen" else ""
            vm["host"] = f"vftest-{kind}"
            hosts.append(f"        {group}:\n          hosts:\n            {vm['host']}: "
                         f"{{ansible_host: {vm['ssh_host']}, ansible_port: {vm['ssh_port']}, "
                         f"ansible_ssh_private_key_file: {vm['key']}{extra}}}\n")
        (inv_dir / "hosts.yml").write_text(
            "---\nall:\n  children:\n    hypervisors:\n      children:\n" + "".join(hosts))
        f = Fleet(vms, inv_dir)
        # site.yml: host roles, storage, networks, guests on all three
        proc, recap = f.play(str(REPO / "playbooks" / "site.yml"), what="site 1st run")
        assert_ok(proc, recap, [f"vftest-{k}" for k in vms], "site.yml")
        assert all(r["changed"] > 0 for r in recap.values()), recap
        yield f
    finally:
        for name in names.values():
            labvm.stop(name)
        print("\nfleet lab timings (s): " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items()))
    for name in names.values():
        assert not labvm.is_running(name)


def assert_ok(proc, recap, hosts, what):
    assert proc.returncode == 0 and set(recap) == set(hosts) and \
        all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), \
        f"{what} (rc {proc.returncode}), recap {recap}:\n{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.lab_full
def test_site_second_run_with_host_roles_changes_nothing(fleet):
    """The whole site.yml again, host roles included (make test-lab: ~5 min more under TCG;
    the roles' own idempotence is in their molecule scenarios)."""
    hosts = [vm["host"] for vm in fleet.vms.values()]
    proc, recap = fleet.play(str(REPO / "playbooks" / "site.yml"), what="site 2nd run, roles")
    assert_ok(proc, recap, hosts, "site.yml, 2nd run")
    assert all(r["changed"] == 0 for r in recap.values()), f"not idempotent: {recap}\n{proc.stdout[-8000:]}"


# Everything a run could change on a host, as text (check-mode purity): every toolstack's objects,
# the files the host roles manage and the runtime state they set, the pool data (the script is
# shared with the molecule scenarios' check step, see molecule/resources/check_purity_*.yml).
STATE_SCRIPT = (REPO / "molecule" / "resources" / "host_state.sh").read_text()


def host_states(fleet) -> dict[str, str]:
    return {vm["host"]: ssh(vm, STATE_SCRIPT) for vm in fleet.vms.values()}


def assert_hosts_unchanged(fleet, before: dict[str, str], what: str) -> None:
    after = host_states(fleet)
    for host, text in before.items():
        if after[host] != text:
            diff = difflib.unified_diff(text.splitlines(), after[host].splitlines(), "before", "after", lineterm="")
            raise AssertionError(f"{what} changed {host}:\n" + "\n".join(list(diff)[:80]))


def check_play(fleet, playbook: str, *args: str, what: str):
    """A check-mode play (check.yml), wrapped in the hosts' state snapshot: it must change nothing."""
    before = host_states(fleet)
    out = fleet.play(playbook, *args, what=what)
    assert_hosts_unchanged(fleet, before, what)
    return out


def plain(value):
    """What ansible-inventory --list printed, with untrusted strings ({"__ansible_unsafe": ...}
    on ansible-core 2.19) as plain strings, at any depth."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def list_inventory(fleet, cfg_name: str, text: str, *sources: str, what: str) -> tuple[dict, str]:
    cfg = fleet.inv_dir / cfg_name
    cfg.write_text(text)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY_UNPARSED_FAILED="1")  # a source that fails fails the command
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("ANSIBLE_HOST_KEY_CHECKING", None)  # host keys: as the inventory's own ssh args say
    t0 = time.monotonic()
    proc = subprocess.run([str(PLAYBOOK.parent / "ansible-inventory"), *sources, "-i", str(cfg), "--list"],
                          capture_output=True, text=True, env=env, cwd=fleet.inv_dir, timeout=300, check=False)
    TIMINGS[what] = round(time.monotonic() - t0, 1)
    assert proc.returncode == 0, f"{what}: rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return plain(json.loads(proc.stdout)), " ".join(proc.stderr.split())


def forget_host_key(name: str, path: Path = Path.home() / ".ssh" / "known_hosts") -> None:
    """Drop the known_hosts lines of ``name`` (plain or hashed): libvirt's qemu+ssh with
    no_verify=1 adds the lab VM's key there (its ssh has no UserKnownHostsFile option)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines(keepends=True):
        hosts = line.split()[0] if line.split() else ""
        if hosts.startswith("|1|"):
            salt, digest = (base64.b64decode(x) for x in hosts.split("|")[2:4])
            if hmac.new(salt, name.encode(), hashlib.sha1).digest() == digest:
                continue
        elif name in hosts.split(","):
            continue
        kept.append(line)
    path.write_text("".join(kept))


def members(doc: dict, group: str) -> list[str]:
    return sorted(doc.get(group, {}).get("hosts", []))


def test_inventory_plugin_lists_the_fleet_over_ssh(fleet):
    """virtfleet.hypervisor.guests reads the converged fleet over real ssh: the Xen dom0 with
    the xl probe (`ssh ... python3 -`, `xl list` and /etc/xen/*.cfg), the LXC host with the LXC
    probe (`lxc-ls`, configs, markers), the KVM host through libvirt's qemu+ssh; first as a
    `hosts` source naming the dom0 and the LXC host, then as the hypervisors of the fleet's own
    inventory (hypervisor_group), as a user lists the guests of an inventory. A stopped xl guest
    written by hand (no virtfleet marker) is listed too, unmanaged and in no fleet group."""
    vms = fleet.vms
    lxc, xen = vms["lxc"], vms["xen"]
    kernel = ssh(xen, "ls /boot/vmlinuz-* | sort -V | tail -n 1").strip()
    ssh(xen, "printf 'name = \"vftest-fleet-xhand\"\\ntype = \"pvh\"\\nmemory = 64\\n' "
             "> /etc/xen/vftest-fleet-xhand.cfg")
    try:
        ssh_opts = "ssh_args: [-o, StrictHostKeyChecking=no, -o, UserKnownHostsFile=/dev/null]"
        hosts = "".join(
            f"  - {{host: {vm['ssh_host']}, name: {name}, backend: {backend}, user: root, "
            f"port: {vm['ssh_port']}, private_key_file: {vm['key']}, python: /usr/bin/python3, {ssh_opts}}}\n"
            for vm, name, backend in ((xen, "lab-dom0", "xl"), (lxc, "lab-lxc", "lxc")))
        doc, err = list_inventory(fleet, "ssh.virtfleet_guests.yml",
                                  "plugin: virtfleet.hypervisor.guests\ntimeout: 300\nhosts:\n" + hosts,
                                  what="inventory: dom0 + LXC host (hosts)")
        assert "WARNING" not in err, err
        xl_guests = ["vftest-fleet-xg1", "vftest-fleet-xhand"]
        lxc_guests = ["vftest-fleet-ct1", "vftest-fleet-ct2"]
        assert sorted(doc["_meta"]["hostvars"]) == sorted(xl_guests + lxc_guests), doc
        assert members(doc, "virtfleet_hypervisor_lab_dom0") == members(doc, "virtfleet_backend_xl") == xl_guests
        assert members(doc, "virtfleet_hypervisor_lab_lxc") == members(doc, "virtfleet_backend_lxc") == lxc_guests
        assert members(doc, "virtfleet_state_running") == ["vftest-fleet-ct1", "vftest-fleet-xg1"]
        assert members(doc, "virtfleet_state_stopped") == ["vftest-fleet-ct2", "vftest-fleet-xhand"]
        assert members(doc, "virtfleet_fleet_vftest_fleet") == ["vftest-fleet-ct1", "vftest-fleet-ct2", "vftest-fleet-xg1"]
        hv = doc["_meta"]["hostvars"]
        xg1 = hv["vftest-fleet-xg1"]
        assert {k: xg1["virtfleet_" + k] for k in ("name", "hypervisor", "uri", "backend", "state", "managed",
                                                   "fleet", "autostart", "persistent", "xen_type", "memory",
                                                   "vcpus", "kernel", "ramdisk", "extra")} == {
            "name": "vftest-fleet-xg1", "hypervisor": "lab-dom0", "uri": f"ssh://{xen['ssh_host']}", "backend": "xl",
            "state": "running", "managed": True, "fleet": "vftest-fleet", "autostart": False, "persistent": True,
            "xen_type": "pv", "memory": 96, "vcpus": 1, "kernel": kernel,
            "ramdisk": "/var/lib/virtfleet-lab/guest-initrd.img",
            "extra": "console=hvc0 sysctl.kernel.poweroff_cmd=/bin/poweroff"}, xg1
        assert [(n["bridge"], n["mac"]) for n in xg1["virtfleet_interfaces"]] == [("vftestbr2", "00:16:3e:f1:00:11")]
        assert "ansible_host" not in xg1 and xg1["virtfleet_addresses"] == []  # xl knows no guest addresses
        hand = hv["vftest-fleet-xhand"]
        assert (hand["virtfleet_state"], hand["virtfleet_managed"], hand["virtfleet_fleet"], hand["virtfleet_xen_type"],
                hand["virtfleet_memory"]) == ("stopped", False, None, "pvh", 64), hand
        ct1, ct2 = hv["vftest-fleet-ct1"], hv["vftest-fleet-ct2"]
        assert {k: ct1["virtfleet_" + k] for k in ("hypervisor", "uri", "backend", "state", "managed", "fleet",
                                                   "memory")} == {
            "hypervisor": "lab-lxc", "uri": f"ssh://{lxc['ssh_host']}", "backend": "lxc", "state": "running",
            "managed": True, "fleet": "vftest-fleet", "memory": 64}, ct1
        assert [(n["bridge"], n["mac"]) for n in ct1["virtfleet_interfaces"]] == [("vftestbr1", "00:16:3e:f1:00:01")]
        assert (ct2["virtfleet_state"], ct2["virtfleet_memory"], ct2["virtfleet_fleet"]) == ("stopped", 32, "vftest-fleet")

        # the hypervisors of the fleet's inventory, with its group_vars (ssh args, user) and
        # host vars (ports, keys): LXC and xl hosts by their group, the KVM host over qemu+ssh
        doc, err = list_inventory(fleet, "fleet.virtfleet_guests.yml",
                                  "plugin: virtfleet.hypervisor.guests\ntimeout: 300\nhypervisor_group: hypervisors\n",
                                  "-i", str(fleet.inv_dir / "hosts.yml"), what="inventory: fleet (hypervisor_group)")
        assert "WARNING" not in err, err
        assert members(doc, "virtfleet_hypervisor_vftest_xen") == xl_guests
        assert members(doc, "virtfleet_hypervisor_vftest_lxc") == lxc_guests
        assert members(doc, "virtfleet_hypervisor_vftest_kvm") == members(doc, "virtfleet_backend_libvirt") == \
            ["vftest-fleet-vm1", "vftest-fleet-vm2"]
        assert members(doc, "virtfleet_fleet_vftest_fleet") == sorted(
            lxc_guests + ["vftest-fleet-vm1", "vftest-fleet-vm2", "vftest-fleet-xg1"])
        hv = doc["_meta"]["hostvars"]
        assert (hv["vftest-fleet-xg1"]["virtfleet_uri"], hv["vftest-fleet-ct1"]["virtfleet_uri"]) == \
            (f"ssh://{xen['ssh_host']}", f"ssh://{lxc['ssh_host']}")
        vm1, vm2 = hv["vftest-fleet-vm1"], hv["vftest-fleet-vm2"]
        assert vm1["virtfleet_uri"].startswith("qemu+ssh://root@127.0.0.1:%d/system?" % vms["kvm"]["ssh_port"]), vm1
        assert (vm1["virtfleet_state"], vm1["virtfleet_memory"], vm1["virtfleet_max_memory"], vm1["virtfleet_fleet"]) \
            == ("running", 32, 64, "vftest-fleet"), vm1
        assert (vm2["virtfleet_state"], vm2["virtfleet_memory"]) == ("stopped", 32), vm2
    finally:
        ssh(xen, "rm -f /etc/xen/vftest-fleet-xhand.cfg")
        forget_host_key(f"[{vms['kvm']['ssh_host']}]:{vms['kvm']['ssh_port']}")


def test_site_converges_then_check_reports_drift(fleet):
    """site.yml converged all three (the fixture's run); what a user would check is there, a
    second run changes nothing, check.yml reports a drift made by hand on each host."""
    vms = fleet.vms
    hosts = [vm["host"] for vm in vms.values()]
    kvm, lxc, xen = vms["kvm"], vms["lxc"], vms["xen"]

    # what a user would look at on each host
    assert "running" in ssh(kvm, "virsh domstate vftest-fleet-vm1")
    assert "shut off" in ssh(kvm, "virsh domstate vftest-fleet-vm2")
    assert "vftest-net" in ssh(kvm, "virsh net-list --name").split()  # active networks only
    vols = ssh(kvm, "virsh vol-list vftest-pool")
    for v in ("vftest-shared", "vftest-fleet-vm1-root", "vftest-fleet-vm1-cidata"):
        assert v in vols, vols
    assert ssh(kvm, "cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").strip() == "16"
    assert "vftestbr0" in ssh(kvm, "ip -br link show type bridge")
    assert ssh(lxc, "lxc-info -n vftest-fleet-ct1 -sH").strip() == "RUNNING"
    assert ssh(lxc, "lxc-info -n vftest-fleet-ct2 -sH").strip() == "STOPPED"
    assert "vftest-fleet-xg1" in ssh(xen, "xl list")

    # 2. a second run changes nothing (host roles skipped here: test_site_second_run_with_host_roles...
    #    runs them again in make test-lab)
    proc, recap = fleet.play(str(REPO / "playbooks" / "site.yml"), "--skip-tags", "prepare",
                             what="site 2nd run")
    assert_ok(proc, recap, hosts, "site.yml, 2nd run")
    assert all(r["changed"] == 0 for r in recap.values()), f"not idempotent: {recap}\n{proc.stdout[-8000:]}"

    # 3. the single-object modules agree with the batch calls; cloud_init builds a seed once
    proc, recap = fleet.play(str(FLEET / "singles.yml"), what="single modules")
    assert_ok(proc, recap, hosts, "singles.yml")

    # 4. no drift: check.yml passes even with virtfleet_fail_on_drift
    proc, recap = check_play(fleet, str(REPO / "playbooks" / "check.yml"), "-e", "virtfleet_fail_on_drift=true",
                             what="check, no drift")
    assert_ok(proc, recap, hosts, "check.yml without drift")
    assert "fleet drift: " in proc.stdout and "(0 objects differ" in proc.stdout, proc.stdout[-4000:]

    # 5. drift by hand on each host
    # (vm1 declares memory and max_memory; a stopped guest's undeclared max_memory is no drift)
    ssh(kvm, "virsh setmem vftest-fleet-vm1 40960 --config && virsh setmaxmem vftest-fleet-vm1 98304 --config")
    cfg = "/var/lib/lxc/vftest-fleet-ct1/config"
    ssh(lxc, f"sed -i -E 's/^(lxc\\.cgroup2?\\.memory\\.(max|limit_in_bytes)) *=.*/\\1 = 100663296/' {cfg} "
             f"&& grep -q 100663296 {cfg}")
    ssh(xen, "sed -i -E 's/^memory *= *.*/memory = 112/' /etc/xen/vftest-fleet-xg1.cfg "
             "&& grep -q '^memory = 112' /etc/xen/vftest-fleet-xg1.cfg")
    drifted = {kvm["host"]: ("vftest-fleet-vm1",), lxc["host"]: ("vftest-fleet-ct1",),
               xen["host"]: ("vftest-fleet-xg1",)}

    # 6. the installed collection's playbook, by name: drift reported per host, exit non-zero
    proc, recap = check_play(fleet, "virtfleet.hypervisor.check", "-e", "virtfleet_fail_on_drift=true",
                             what="check, drift")
    out = proc.stdout
    assert proc.returncode != 0, out[-6000:]
    # (check mode counts the tasks that would change as changed: the hosts below show nothing did)
    assert set(recap) == set(hosts) and all(r["failed"] == 1 for r in recap.values()), f"{recap}\n{out[-6000:]}"
    for host, guests in drifted.items():
        summary = re.search(rf'"msg": "{re.escape(host)} \([a-z_]+, backend \w+, fleet vftest-fleet\): '
                            rf'\d+ objects, (\d+) would change: ([^"]*)"', out)
        assert summary, f"no drift summary for {host}:\n{out[-6000:]}"
        assert int(summary[1]) == len(guests), summary[0]
        for g in guests:
            assert re.search(rf"guest {g} update \([^)]*memory", summary[2]), summary[0]
    assert re.search(r"fleet drift: .*\(3 objects differ\)", out), out[-3000:]
    assert "--- before" in out or '"before"' in out or "memory" in out  # --diff shown

    # check mode changed nothing: the drift is still there
    assert "40960" in ssh(kvm, "virsh dumpxml --inactive vftest-fleet-vm1 | grep currentMemory")
    assert "100663296" in ssh(lxc, f"cat {cfg}")
    assert "memory = 112" in ssh(xen, "cat /etc/xen/vftest-fleet-xg1.cfg")


# Run on the KVM host, detached from the ssh session that starts it: every sshd (the listener and
# each session, Ansible's ControlMaster connection included) is SIGKILLed, as stopping ssh from the
# console and dropping the connections would; ssh comes back CUT_SECONDS later.
CUT_SECONDS = 20
# (systemd would restart a killed listener at once: it is stopped first, which leaves the sessions)
CUT_SCRIPT = ("setsid sh -c 'systemctl stop ssh.socket ssh.service 2>/dev/null; pkill -KILL -x sshd; sleep %d; "
              "systemctl start ssh.service 2>/dev/null || /usr/sbin/sshd' </dev/null >/dev/null 2>&1 &" % CUT_SECONDS)


@pytest.mark.lab_full
def test_ssh_cut_mid_site_then_restored_converges_without_duplicates(fleet):
    """The KVM host's ssh is cut while site.yml converges it (its guests, their volumes and seeds
    removed by hand first, so the run has work there): that host is unreachable, the two others
    converge; with ssh back the re-run converges with one of each object and nothing left over, and
    a third run changes nothing. Runs last: it also converges the drift the test above left."""
    vms = fleet.vms
    kvm = vms["kvm"]
    hosts = [vm["host"] for vm in vms.values()]
    list_vols = "virsh vol-list vftest-pool | awk 'NR > 2 && $1 {print $1}'"
    vols_before = sorted(ssh(kvm, list_vols).split())  # the fleet's, and the seed singles.yml made
    assert "vftest-fleet-vm1-root" in vols_before, vols_before
    ssh(kvm, "for d in vftest-fleet-vm1 vftest-fleet-vm2; do virsh destroy $d; virsh undefine $d; done >/dev/null 2>&1; "
             "for v in vftest-fleet-vm1-root vftest-fleet-vm1-cidata; do virsh vol-delete --pool vftest-pool $v; done")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="1", ANSIBLE_TIMEOUT="30",
               ANSIBLE_FORKS="5", PYTHONUNBUFFERED="1")
    env.pop("ANSIBLE_CONFIG", None)
    argv = [str(PLAYBOOK), "-i", str(fleet.inv_dir / "hosts.yml"), str(REPO / "playbooks" / "site.yml"),
            "--skip-tags", "prepare"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=fleet.inv_dir)
    out, cut_at = [], None
    try:
        for line in proc.stdout:
            out.append(line)
            if cut_at is None and line.startswith("TASK [Fleet | Volumes"):
                ssh(kvm, CUT_SCRIPT, check=False, timeout=60)  # may lose its own session
                cut_at = round(time.monotonic() - t0, 1)
        proc.wait(timeout=1800)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(out)
    (fleet.inv_dir / "site_ssh_cut.log").write_text(text)
    TIMINGS["site with ssh cut"] = round(time.monotonic() - t0, 1)
    assert cut_at is not None, text[-6000:]
    recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
             for m in RECAP.findall(text)}
    assert proc.returncode != 0 and recap[kvm["host"]]["unreachable"] == 1, f"{recap}\n{text[-6000:]}"
    for host in set(hosts) - {kvm["host"]}:
        assert recap[host]["unreachable"] == 0 and recap[host]["failed"] == 0, f"{recap}\n{text[-6000:]}"
    cut_task = text[:text.find("UNREACHABLE")].rsplit("TASK [", 1)[-1].split("]")[0]
    print(f"\nssh cut {cut_at} s into site.yml; {kvm['host']} unreachable at task {cut_task!r}")

    labvm.wait_ssh(kvm, timeout=CUT_SECONDS + 180)  # restored
    proc, recap = fleet.play(str(REPO / "playbooks" / "site.yml"), "--skip-tags", "prepare", what="site after cut")
    assert_ok(proc, recap, hosts, "site.yml after the ssh cut")
    proc, recap = fleet.play(str(REPO / "playbooks" / "site.yml"), "--skip-tags", "prepare", what="site after cut, 2nd")
    assert_ok(proc, recap, hosts, "site.yml after the ssh cut, 2nd run")
    assert all(r["changed"] == 0 for r in recap.values()), f"not converged: {recap}\n{proc.stdout[-8000:]}"
    # one of each object, nothing half-made left in the pool
    assert sorted(ssh(kvm, "virsh list --all --name").split()) == ["vftest-fleet-vm1", "vftest-fleet-vm2"]
    assert "running" in ssh(kvm, "virsh domstate vftest-fleet-vm1")
    vols = sorted(ssh(kvm, list_vols).split())
    assert vols == vols_before, vols
    assert ssh(kvm, "ls -A /var/lib/virtfleet-test/pool").split() == vols
