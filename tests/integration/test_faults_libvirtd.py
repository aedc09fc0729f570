"""libvirtd killed (SIGKILL) in the middle of a 100-guest batch, then restarted: the batch fails
naming guests, never hangs, and the normal re-run converges every guest exactly once with
nothing lost. Runs against a namespaced libvirtd (tests/nshosts.py), so the machine's own
libvirtd and everything else on it are untouched."""

import json
import os
import subprocess
import time

import libvirt

import nshosts
from vfhelpers import COLLECTIONS, VENV_PY, run_module

PREFIX = "vftest-kill"
N = 100


def test_libvirtd_killed_mid_batch_then_rerun_converges(tmp_path):
    with nshosts.hosts(1, prefix=PREFIX) as fleet:
        host = fleet[0]
        guests = [{"name": "%s-%03d" % (PREFIX, i), "state": "stopped", "virt_type": "qemu", "memory": 32}
                  for i in range(N)]
        args = {"uri": host.uri, "guests": guests}
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=False)})
        proc = subprocess.Popen([VENV_PY, "-m", "ansible_collections.virtfleet.hypervisor.plugins.modules.guests"],
                                stdin=subprocess.PIPE, stdout=(tmp_path / "out.json").open("w"),
                                stderr=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, PYTHONPATH=COLLECTIONS), cwd="/")
        proc.stdin.write(payload)
        proc.stdin.close()
        conn = libvirt.open(host.uri)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(conn.listAllDomains(0)) < 10:
            time.sleep(0.01)
        made = len(conn.listAllDomains(0))
        nshosts.kill_libvirtd(host)
        proc.wait(timeout=300)  # the module ends: no hang on a dead daemon
        out = (tmp_path / "out.json").read_text()
        nshosts.restart_libvirtd(host)
        assert 0 < made < N, "the kill did not land mid-batch (%d defined)" % made
        result = json.loads(out)
        assert result.get("failed"), result
        failed = [r["name"] for r in result.get("results", []) if r.get("failed")]
        assert failed or "vftest-kill" in result["msg"], result["msg"]
        rerun = run_module("guests", args)
        assert not rerun.get("failed"), rerun.get("msg")
        conn = libvirt.open(host.uri)
        names = sorted(d.name() for d in conn.listAllDomains(0))
        assert names == sorted(g["name"] for g in guests)
        assert not run_module("guests", args)["changed"]
