# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host layer under the guest backends: what they do to the machine they run on.

- ``Runner``: runs argv lists (never a shell) under ``LC_ALL=C``, optionally bounded by a
  timeout, through the ``run_command`` the backend was given; a tool that cannot be run
  or exits non-zero becomes a BackendError naming the object and the operation.
- ``boundary``: turns OSError / CalledProcessError (and a toolstack's own exception type)
  raised inside a block into a BackendError naming the object and the operation.
- ``atomic_write``: temp file in the same directory, fsync, rename (0600 by default: a
  config can hold a secret).
- probes: ``is_bridge`` (``/sys/class/net/X/bridge``), ``sniff_format`` (qcow2 or raw),
  ``image_size`` (virtual size), ``find_program``; ``random_mac``; ``NAME_RE``/``BRIDGE_RE``.
- ``Power`` / ``to_state`` / ``stop``: the one start/stop/pause/resume/save state machine over
  each backend's primitives, with graceful shutdown bounded by ``shutdown_timeout`` and a
  forced power-off only with ``force_stop``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import struct
import subprocess
import tempfile

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError, VirtfleetError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import NAME_RE

__all__ = ("NAME_RE", "BRIDGE_RE", "ENV", "Runner", "boundary", "atomic_write", "is_bridge", "sniff_format",
           "image_size", "find_program", "random_mac", "Power", "to_state", "stop")

#: a Linux interface name (IFNAMSIZ - 1 characters)
BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
ENV = {"LC_ALL": "C"}
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
#: exit codes of coreutils ``timeout``: the command ran out of time (TERM, then KILL)
TIMED_OUT = (124, 137)
XEN_OUI = "00:16:3e"


# -- errors at the boundary ----------------------------------------------------------------
@contextlib.contextmanager
def boundary(what, obj=None, kind="guest", field=None, extra=()):
    """Inside the block, OSError, CalledProcessError and the ``extra`` exception types become
    a BackendError '<what> failed: <reason>' naming ``obj`` (of ``kind``) and ``field``."""
    try:
        yield
    except VirtfleetError:
        raise
    except (OSError, subprocess.CalledProcessError) + tuple(extra) as e:
        raise BackendError("%s failed: %s" % (what, e), obj, field, kind=kind)


# -- commands ------------------------------------------------------------------------------
def find_program(prog):
    """Absolute path of ``prog`` on PATH or in the sbin directories, else None."""
    for d in os.environ.get("PATH", "").split(os.pathsep) + list(_SBIN):
        p = os.path.join(d, prog)
        if d and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def _tail(err, out, limit=1500):
    return ((err or "").strip() or (out or "").strip())[-limit:]


class Runner(object):
    """argv lists under LC_ALL=C through ``run_command(argv, environ_update=...,
    expand_user_and_vars=False, handle_exceptions=False)`` (AnsibleModule.run_command)."""

    def __init__(self, run_command):
        self.run_command = run_command

    def __call__(self, argv, what=None, obj=None, field=None, kind="guest", check=True, timeout=None):
        """(rc, stdout, stderr). With ``timeout`` (seconds, > 0) the command runs under
        ``timeout -k 5 N`` when coreutils' timeout exists (rc 124/137: out of time). With
        ``check``, a non-zero exit raises BackendError '<what> failed (rc N): <the tool's own
        text>'; a tool that cannot be run raises BackendError whatever ``check`` says."""
        argv = [str(a) for a in argv]
        if not argv or any("\0" in a for a in argv):
            raise BackendError("invalid command %r" % (argv,), obj, field, kind=kind)
        what = what or " ".join([os.path.basename(argv[0])] + argv[1:2])
        if timeout is not None and timeout > 0:
            timeout_bin = find_program("timeout")
            if timeout_bin:
                argv = [timeout_bin, "-k", "5", str(int(timeout))] + argv
        try:
            rc, out, err = self.run_command(argv, environ_update=dict(ENV), expand_user_and_vars=False,
                                            handle_exceptions=False)
        except (OSError, subprocess.CalledProcessError) as e:
            raise BackendError("%s failed: cannot run %s: %s" % (what, argv[0], e), obj, field, kind=kind)
        if check and rc != 0:
            raise BackendError("%s failed (rc %d): %s" % (what, rc, _tail(err, out)), obj, field, kind=kind,
                               rc=rc, stderr=err)
        return rc, out, err


# -- files ---------------------------------------------------------------------------------
def atomic_write(path, data, mode=0o600, keep_owner=False, obj=None, field=None, kind="guest", prefix=None):
    """Replace ``path`` with ``data`` (str or bytes) atomically: a temp file in the same
    directory with ``mode`` (0600 unless the file can never hold a secret), written, fsynced
    and renamed over ``path``; the directory is fsynced too. ``keep_owner``: the new file
    gets the owner and group of the file it replaces. Raises BackendError naming ``obj``."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix or ".virtfleet-", dir=directory)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        if keep_owner and os.path.exists(path):
            st = os.stat(path)
            os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, path)
        tmp = None
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except (IOError, OSError) as e:
        raise BackendError("cannot write %s: %s" % (path, e), obj, field, kind=kind)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


# -- probes --------------------------------------------------------------------------------
def is_bridge(name):
    """True when ``name`` is a Linux bridge on this host."""
    return isinstance(name, str) and bool(BRIDGE_RE.match(name)) and os.path.isdir("/sys/class/net/%s/bridge" % name)


def sniff_format(path):
    """qcow2 images start with 'QFI\\xfb'; anything else (files, block devices) is used raw."""
    try:
        with open(path, "rb") as f:
            return "qcow2" if f.read(4) == b"QFI\xfb" else "raw"
    except (IOError, OSError):
        return "raw"


def image_size(path):
    """The virtual size in bytes of an image file as a guest sees it: a qcow2's from its header
    (bytes 24-31, big-endian), anything else its length; None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head[:4] == b"QFI\xfb":
                return struct.unpack(">Q", head[24:32])[0] if len(head) == 32 else None
            return f.seek(0, os.SEEK_END)
    except (IOError, OSError):
        return None


def random_mac(used, rng=None):
    """A random unicast MAC in the 00:16:3e prefix (Xen's OUI, which LXC uses too; the
    lower half, as Xen hands out) that is not in ``used``."""
    rng = rng or random.SystemRandom()
    while True:
        mac = "%s:%02x:%02x:%02x" % (XEN_OUI, rng.randint(0, 0x7f), rng.randint(0, 0xff), rng.randint(0, 0xff))
        if mac not in used:
            return mac


# -- power state machine -------------------------------------------------------------------
class Power(object):
    """The power primitives of one guest on one toolstack; ``to_state``/``stop`` drive them.

    Subclasses implement ``state`` ('running' | 'paused' | 'stopped' | 'saved'), ``start(paused)``,
    ``resume``, ``suspend``, ``shutdown(timeout, force)`` (graceful, returns within about
    ``timeout`` seconds, returns the toolstack's complaint or None) and ``destroy``."""

    #: what force_stop does after the timeout, for the error message
    force_verb = "destroy it"

    def __init__(self, name):
        self.name = name

    def state(self):
        raise NotImplementedError

    def is_off(self):
        """The guest is no longer running at all (after a shutdown)."""
        return self.state() == "stopped"

    def start(self, paused=False):
        raise NotImplementedError

    def resume(self):
        raise NotImplementedError

    def suspend(self):
        raise NotImplementedError

    def shutdown(self, timeout, force):
        raise NotImplementedError

    def destroy(self):
        raise NotImplementedError

    # -- saved state (backends whose Capabilities.states has "saved") ------------------
    def save(self):
        """Save the running (or paused) guest's memory to its state file and stop it."""
        raise BackendError("cannot save a guest on this toolstack", self.name, "state")

    def restore(self, paused=False):
        """Bring a saved guest back from its state file (paused when asked), dropping the file."""
        raise BackendError("cannot restore a guest on this toolstack", self.name, "state")

    def discard(self):
        """Drop a saved guest's state file: the guest is then stopped."""
        raise BackendError("cannot discard a saved state on this toolstack", self.name, "state")


def to_state(power, guest, want):
    """Move the guest from its current state to ``want`` (running | paused | stopped | saved)."""
    state = power.state()
    if state == "saved" and want != "saved":
        if want == "stopped":
            power.discard()
            return
        power.restore(paused=want == "paused")
        state = power.state()  # a guest saved while paused comes back paused
    if want == "saved":
        if state == "stopped":
            raise BackendError("the guest is stopped: there is no running state to save", power.name, "state")
        if state != "saved":
            power.save()
    elif want == "running":
        if state == "stopped":
            power.start()
        elif state == "paused":
            power.resume()
    elif want == "paused":
        if state == "stopped":
            power.start(paused=True)
        elif state == "running":
            power.suspend()
    elif want == "stopped" and state != "stopped":
        stop(power, guest)


def stop(power, guest):
    """Graceful shutdown bounded by ``shutdown_timeout`` (a paused guest is resumed first, so
    it can react); still running afterwards: forced off with ``force_stop``, else an error."""
    state = power.state()
    if state == "stopped":
        return
    if state == "saved":
        power.discard()
        return
    if state == "paused":
        power.resume()
    timeout = guest.get("shutdown_timeout", 120)
    force = bool(guest.get("force_stop"))
    detail = power.shutdown(timeout, force)
    if power.is_off():
        return
    if not force:
        raise BackendError("did not shut down within shutdown_timeout=%ss%s; set force_stop: true to %s "
                           "after the timeout" % (timeout, " (%s)" % detail if detail else "", power.force_verb),
                           power.name, "state")
    power.destroy()
