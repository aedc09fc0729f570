"""The host layer under the backends: atomic writes, the command runner, probes, MACs and
the one power state machine (driven here through a recording fake of a backend's primitives)."""

import os
import stat
import subprocess

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError


# -- atomic writes -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_atomic_write_mode_content_and_no_leftovers(tmp_path, mode):
    path = tmp_path / "guest.cfg"
    host.atomic_write(str(path), "memory = 96\n", mode)
    assert path.read_text() == "memory = 96\n" and stat.S_IMODE(path.stat().st_mode) == mode
    host.atomic_write(str(path), b"memory = 128\n", mode)  # replaced, bytes too
    assert path.read_bytes() == b"memory = 128\n"
    assert os.listdir(str(tmp_path)) == ["guest.cfg"], "no temp file left"


def test_atomic_write_default_mode_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        host.atomic_write(str(tmp_path / "secret"), "password = x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_atomic_write_replaces_by_rename(tmp_path):
    """Readers see the old file or the new one, never a half-written one: a new inode."""
    path = tmp_path / "config"
    path.write_text("old\n")
    before = path.stat().st_ino
    host.atomic_write(str(path), "new\n", 0o640, keep_owner=True)
    assert path.stat().st_ino != before and path.read_text() == "new\n"


def test_atomic_write_failure_is_a_backend_error_naming_the_object(tmp_path):
    with pytest.raises(BackendError) as e:
        host.atomic_write(str(tmp_path / "missing-dir" / "f"), "x", obj="vm1", field="config")
    assert e.value.obj == "vm1" and e.value.field == "config" and "cannot write" in str(e.value)


# -- commands ------------------------------------------------------------------------------
class RecordingRunCommand(object):
    def __init__(self, rc=0, out="", err="", raises=None):
        self.calls, self.rc, self.out, self.err, self.raises = [], rc, out, err, raises

    def __call__(self, argv, **kw):
        self.calls.append((argv, kw))
        if self.raises:
            raise self.raises
        return self.rc, self.out, self.err


def test_runner_passes_argv_verbatim_in_the_c_locale():
    rc = RecordingRunCommand(out="ok\n")
    assert host.Runner(rc)(["lxc-info", "-n", "a b;$(x)", 3]) == (0, "ok\n", "")
    argv, kw = rc.calls[0]
    assert argv == ["lxc-info", "-n", "a b;$(x)", "3"]
    assert kw == {"environ_update": {"LC_ALL": "C"}, "expand_user_and_vars": False, "handle_exceptions": False}


def test_runner_nonzero_exit_names_object_operation_and_tool_text():
    rc = RecordingRunCommand(rc=3, err="libxl: error: not enough memory\n")
    with pytest.raises(BackendError) as e:
        host.Runner(rc)(["/usr/sbin/xl", "create", "/etc/xen/vm1.cfg"], obj="vm1", field="state")
    assert str(e.value) == "guest 'vm1': state: xl create failed (rc 3): libxl: error: not enough memory"
    assert e.value.details["rc"] == 3
    assert host.Runner(rc)(["xl", "list"], check=False)[0] == 3, "check=False returns the rc"


@pytest.mark.parametrize("exc", [OSError(2, "No such file or directory"),
                                 subprocess.CalledProcessError(1, ["x"])])
def test_runner_tool_that_cannot_run_is_a_backend_error(exc):
    with pytest.raises(BackendError) as e:
        host.Runner(RecordingRunCommand(raises=exc))(["lxc-ls"], obj="c1", check=False)
    assert e.value.obj == "c1" and "lxc-ls failed: cannot run lxc-ls" in str(e.value)


def test_runner_timeout_wraps_the_command(tmp_path, monkeypatch):
    (tmp_path / "timeout").write_text("#!/bin/sh\n")
    (tmp_path / "timeout").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    rc = RecordingRunCommand()
    host.Runner(rc)(["xl", "shutdown", "-w", "vm1"], timeout=30)
    assert rc.calls[0][0] == [str(tmp_path / "timeout"), "-k", "5", "30", "xl", "shutdown", "-w", "vm1"]
    host.Runner(rc)(["xl", "list"], timeout=0)
    assert rc.calls[1][0] == ["xl", "list"]


def test_boundary_turns_os_errors_into_backend_errors():
    with pytest.raises(BackendError) as e:
        with host.boundary("apply", "vm1", kind="volume", field="source"):
            open("/nonexistent/virtfleet/x")
    assert e.value.obj == "vm1" and e.value.kind == "volume" and str(e.value).startswith(
        "volume 'vm1': source: apply failed: ")
    with pytest.raises(KeyError):  # a bug stays a bug
        with host.boundary("apply", "vm1"):
            {}["x"]


# -- probes and MACs -----------------------------------------------------------------------
def test_sniff_format(tmp_path):
    (tmp_path / "a.qcow2").write_bytes(b"QFI\xfb\0\0\0\3")
    (tmp_path / "b.img").write_bytes(b"\0" * 512)
    assert host.sniff_format(str(tmp_path / "a.qcow2")) == "qcow2"
    assert host.sniff_format(str(tmp_path / "b.img")) == "raw"
    assert host.sniff_format(str(tmp_path / "missing")) == "raw"


def test_image_size(tmp_path):
    import struct
    qcow = tmp_path / "a.qcow2"
    qcow.write_bytes(b"QFI\xfb" + b"\0" * 20 + struct.pack(">Q", 3 << 30) + b"\0" * 64)
    raw = tmp_path / "b.img"
    raw.write_bytes(b"x" * 4096)
    assert host.image_size(str(qcow)) == 3 << 30
    assert host.image_size(str(raw)) == 4096
    assert host.image_size(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("name", ["../../etc", "br0/../x", "a" * 16, "", None, "br 0"])
def test_is_bridge_refuses_what_is_not_an_interface_name(name):
    assert not host.is_bridge(name)


def test_is_bridge_is_false_for_a_non_bridge_interface():
    assert os.path.isdir("/sys/class/net/lo") and not host.is_bridge("lo")


def test_random_mac_is_unicast_in_the_xen_oui_and_unused():
    class Rng(object):
        values = iter([0, 0, 1, 0, 0, 2])

        def randint(self, lo, hi):
            return next(self.values)

    assert host.random_mac({"00:16:3e:00:00:01"}, Rng()) == "00:16:3e:00:00:02"
    macs = {host.random_mac(()) for _i in range(200)}
    assert all(m.startswith("00:16:3e:") and int(m.split(":")[3], 16) <= 0x7f for m in macs)


# -- the power state machine ---------------------------------------------------------------
class FakePower(host.Power):
    """Records the primitives the state machine calls; ``stops``: the guest honours shutdown."""

    force_verb = "pull the plug on it"

    def __init__(self, state, stops=True):
        super(FakePower, self).__init__("vm1")
        self.now, self.stops, self.calls = state, stops, []

    def state(self):
        return self.now

    def start(self, paused=False):
        self.calls.append("start paused" if paused else "start")
        self.now = "paused" if paused else "running"

    def resume(self):
        self.calls.append("resume")
        self.now = "running"

    def suspend(self):
        self.calls.append("suspend")
        self.now = "paused"

    def shutdown(self, timeout, force):
        self.calls.append("shutdown %s%s" % (timeout, " force" if force else ""))
        if self.stops:
            self.now = "stopped"
        return None if self.stops else "still running"

    def destroy(self):
        self.calls.append("destroy")
        self.now = "stopped"


@pytest.mark.parametrize("now, want, force, stops, calls", [
    ("stopped", "running", False, True, ["start"]),
    ("paused", "running", False, True, ["resume"]),
    ("running", "running", False, True, []),
    ("stopped", "paused", False, True, ["start paused"]),
    ("running", "paused", False, True, ["suspend"]),
    ("paused", "paused", False, True, []),
    ("running", "stopped", False, True, ["shutdown 5"]),
    ("paused", "stopped", False, True, ["resume", "shutdown 5"]),
    ("stopped", "stopped", True, True, []),
    ("running", "stopped", True, False, ["shutdown 5 force", "destroy"]),
    ("paused", "stopped", True, False, ["resume", "shutdown 5 force", "destroy"]),
])
def test_state_transitions(now, want, force, stops, calls):
    power = FakePower(now, stops)
    host.to_state(power, {"shutdown_timeout": 5, "force_stop": force}, want)
    assert power.calls == calls and power.now == want


def test_no_force_stop_leaves_it_running_and_says_how_to_force():
    power = FakePower("running", stops=False)
    with pytest.raises(BackendError) as e:
        host.to_state(power, {"shutdown_timeout": 5, "force_stop": False}, "stopped")
    assert power.calls == ["shutdown 5"] and power.now == "running"
    assert (e.value.obj, e.value.field) == ("vm1", "state")
    assert str(e.value) == ("guest 'vm1': state: did not shut down within shutdown_timeout=5s (still running); "
                            "set force_stop: true to pull the plug on it after the timeout")


def test_restart_is_stop_then_start():
    power = FakePower("running")
    guest = {"shutdown_timeout": 0, "force_stop": True}
    host.stop(power, guest)
    host.to_state(power, guest, "running")
    assert power.calls == ["shutdown 0 force", "start"]
