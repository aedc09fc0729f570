#!/usr/bin/env python
"""Lab VMs for virtfleet tests: plain QEMU processes (TCG), not libvirt domains.

Each lab VM lives in ``$VF_CACHE/labs/<name>/`` (``VF_CACHE`` is ``$VIRTFLEET_CACHE``,
else ``$XDG_CACHE_HOME/virtfleet``, else ``~/.cache/virtfleet``, as in scripts/lib.sh):

* ``disk.qcow2``      overlay backed by the cached image (scripts/build-lab-image.sh)
* ``id_ed25519[.pub]`` per-lab ssh key; the public half reaches the guest via QEMU
                      fw_cfg (``opt/virtfleet/authorized_keys``), nothing is baked in
* ``qemu.pid``        QEMU pidfile, ``console.log`` the serial console
* ``vm.json``         {name, ssh_host, ssh_port, key, user, ...}

Networking is QEMU user mode (slirp) with only ssh forwarded, on 127.0.0.1.

Module use::

    import labvm
    with labvm.lab_vm("vftest-x") as info:
        print(labvm.inventory(info))

CLI::

    labvm.py start NAME [--memory MiB] [--cpus N] [--image IMAGE] [--xen] [--no-wait]
    labvm.py stop NAME
    labvm.py list
    labvm.py inventory NAME
    labvm.py ssh NAME [-- cmd ...]

A Xen dom0 lab (image ``bookworm-xen``, scripts/lab-variants/xen.sh) boots the hypervisor
through QEMU's multiboot loader instead of the Linux kernel: ``lab_vm(name, **xen_boot())``.

Every subprocess is run from an argv list, never through a shell.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

SUITE = "bookworm"
DEFAULT_MEMORY = 768
DEFAULT_CPUS = 1
SSH_USER = "root"
SSH_HOST = "127.0.0.1"
FW_CFG_KEYS = "opt/virtfleet/authorized_keys"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
SSH_OPTIONS = (
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "IdentitiesOnly=yes",
    "-o", "LogLevel=ERROR",
)


DEFAULT_APPEND = "root=/dev/vda rw console=ttyS0"

# Xen dom0 under TCG (see xen_boot): without smap=0 smep=0 dom0 crashes at boot; Xen 4.17
# needs SSE4.2/POPCNT, which the qemu64 model lacks; TCG's emulated AMD SVM with nested
# paging (+svm,+npt) gives Xen HVM support, so PVH (and HVM) guests run as well as PV.
XEN_IMAGE = f"{SUITE}-xen"
XEN_CPU = "qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+svm,+npt"
XEN_APPEND = "console=com1 dom0_mem=1024M,max:1024M smap=0 smep=0"
XEN_DOM0_APPEND = "root=/dev/vda rw console=hvc0"
XEN_MEMORY = 1536
XEN_CPUS = 2


class LabVMError(RuntimeError):
    """A lab VM could not be built, started, reached or stopped."""


class QemuExited(LabVMError):
    """The lab VM's QEMU process is gone (crashed, killed, or the guest powered off)."""


# --- paths -----------------------------------------------------------------------------

def cache_dir() -> Path:
    env = os.environ.get("VIRTFLEET_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "virtfleet"


def image_dir(suite: str = SUITE) -> Path:
    return cache_dir() / "images" / suite


def labs_dir() -> Path:
    return cache_dir() / "labs"


def lab_dir(name: str) -> Path:
    if not NAME_RE.match(name):
        raise LabVMError(f"invalid lab name {name!r}: use letters, digits, '_', '.', '-'")
    return labs_dir() / name


def image_files(suite: str = SUITE) -> dict[str, Path]:
    """The cached image's files; raise with build instructions when it is missing."""
    d = image_dir(suite)
    files = {k: d / f for k, f in
             (("disk", "disk.qcow2"), ("kernel", "vmlinuz"), ("initrd", "initrd.img"),
              ("stamp", "stamp"))}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise LabVMError(
            f"lab image not built (missing: {', '.join(missing)}); "
            f"run scripts/build-lab-image.sh first")
    return files


# --- process helpers ---------------------------------------------------------------------

def _read_pid(lab: Path) -> int | None:
    try:
        return int((lab / "qemu.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_is_our_qemu(pid: int, lab: Path) -> bool:
    """True if pid is alive and is the QEMU of this lab (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if Path(f"/proc/{pid}/stat").exists():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                return False
        except (OSError, IndexError):
            pass
    return str(lab / "qemu.pid").encode() in cmdline


def running_pid(name: str) -> int | None:
    lab = lab_dir(name)
    pid = _read_pid(lab)
    if pid is not None and _pid_is_our_qemu(pid, lab):
        return pid
    return None


def is_running(name: str) -> bool:
    return running_pid(name) is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((SSH_HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise start/stop across processes (one lock for all labs: held for ~1 s)."""
    lab_dir(name)  # validates the name
    labs_dir().mkdir(parents=True, exist_ok=True)
    with open(labs_dir() / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(argv: Sequence[str], what: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise LabVMError(f"{what}: {argv[0]} not found") from e
    if proc.returncode != 0:
        raise LabVMError(f"{what} failed (rc {proc.returncode}): {proc.stderr.strip()}")
    return proc


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def console_tail(name_or_info: str | dict, lines: int = 40) -> str:
    lab = lab_dir(name_or_info["name"] if isinstance(name_or_info, dict) else name_or_info)
    try:
        text = (lab / "console.log").read_text(errors="replace")
    except OSError:
        return "(no console log)"
    return "\n".join(text.splitlines()[-lines:])


# --- API ---------------------------------------------------------------------------------

def info(name: str) -> dict | None:
    """vm.json of a running lab VM, or None."""
    lab = lab_dir(name)
    if not is_running(name):
        return None
    try:
        return json.loads((lab / "vm.json").read_text())
    except (OSError, ValueError):
        return None


def qemu_argv(lab: Path, files: dict[str, Path], port: int, memory: int, cpus: int,
              extra_args: Sequence[str] = (), kernel: str | None = None,
              initrd: str | None = None, append: str | None = None,
              cpu: str | None = None) -> list[str]:
    """The QEMU command line. kernel/initrd/append/cpu override the image's Linux boot
    (initrd is passed verbatim: for a multiboot kernel it is the module list)."""
    paths = [lab, files["kernel"] if kernel is None else kernel]
    if initrd is None:  # an override is passed verbatim: the caller checks its paths
        paths.append(files["initrd"])
    for p in paths:
        if "," in str(p):
            raise LabVMError(f"QEMU option paths may not contain ',': {p}")
    return [
        os.environ.get("VIRTFLEET_QEMU", "qemu-system-x86_64"),
        "-name", f"virtfleet-lab-{lab.name}",
        "-accel", "tcg",
        "-m", str(memory),
        "-smp", str(cpus),
        "-display", "none",
        "-monitor", "none",
        "-daemonize",
        "-pidfile", str(lab / "qemu.pid"),
        *(["-cpu", cpu] if cpu else []),
        "-kernel", str(files["kernel"] if kernel is None else kernel),
        "-initrd", str(files["initrd"] if initrd is None else initrd),
        "-append", DEFAULT_APPEND if append is None else append,
        "-drive", f"file={lab / 'disk.qcow2'},if=virtio,format=qcow2",
        "-netdev", f"user,id=n0,hostfwd=tcp:{SSH_HOST}:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        "-device", "virtio-rng-pci",
        "-fw_cfg", f"name={FW_CFG_KEYS},file={lab / 'id_ed25519.pub'}",
        "-serial", f"file:{lab / 'console.log'}",
        *extra_args,
    ]


def start(name: str, memory: int = DEFAULT_MEMORY, cpus: int = DEFAULT_CPUS,
          extra_args: Sequence[str] = (), image: str = SUITE, kernel: str | None = None,
          initrd: str | None = None, append: str | None = None, cpu: str | None = None) -> dict:
    """Start lab VM `name` (fresh overlay and key) and return its info.

    `image` names the cached image: "bookworm", or "bookworm-VARIANT" for an image built
    with `scripts/build-lab-image.sh --variant VARIANT`. `kernel`, `initrd`, `append`
    and `cpu` override QEMU's -kernel, -initrd, -append and -cpu (default: the image's
    vmlinuz and initrd.img, root=/dev/vda, QEMU's CPU model); see xen_boot().

    Idempotent: if it is already running, its info is returned unchanged. A lab dir left
    behind by a VM that is no longer running is discarded and the VM is made anew.
    Does not wait for ssh: see wait_ssh().
    """
    lab = lab_dir(name)
    with _locked(name):
        current = info(name)
        if current is not None:
            return current
        files = image_files(image)
        if lab.exists():
            shutil.rmtree(lab)
        lab.mkdir(parents=True, mode=0o700)
        try:
            key = lab / "id_ed25519"
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                  f"virtfleet-lab-{name}", "-f", str(key)], "ssh-keygen")
            _run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                  "-b", str(files["disk"].resolve()), str(lab / "disk.qcow2")],
                 "qemu-img create")
            started_at = time.time()
            port = 0
            for attempt in range(5):
                port = _free_port()
                argv = qemu_argv(lab, files, port, memory, cpus, extra_args, kernel=kernel,
                                 initrd=initrd, append=append, cpu=cpu)
                proc = subprocess.run(argv, capture_output=True, text=True, check=False)
                if proc.returncode == 0:
                    break
                err = proc.stderr.strip()
                # Someone took the port between our probe and QEMU's bind: try another.
                if "hostfwd" in err or "host forwarding" in err:
                    continue
                raise LabVMError(f"qemu failed to start lab {name} (rc {proc.returncode}): "
                                 f"{err}\nargv: {shlex.join(argv)}")
            else:
                raise LabVMError(f"qemu could not bind an ssh port for lab {name}: {err}")
            pid = _read_pid(lab)
            if pid is None or not _pid_is_our_qemu(pid, lab):
                raise LabVMError(f"qemu for lab {name} exited right after start:\n"
                                 f"{console_tail(name)}")
            data = {
                "name": name,
                "ssh_host": SSH_HOST,
                "ssh_port": port,
                "key": str(key),
                "user": SSH_USER,
                "pid": pid,
                "lab_dir": str(lab),
                "console_log": str(lab / "console.log"),
                "memory": memory,
                "cpus": cpus,
                "image": image,
                "image_recipe": files["stamp"].read_text().strip(),
                "extra_args": list(extra_args),
                "started_at": started_at,
            }
            boot = {"kernel": kernel, "initrd": initrd, "append": append, "cpu": cpu}
            data.update({k: v for k, v in boot.items() if v is not None})
            _write_json(lab / "vm.json", data)
            return data
        except BaseException:
            _stop_locked(name)
            raise


def ssh_argv(vm: dict, command: Sequence[str] = (), connect_timeout: int = 5,
             batch: bool = True) -> list[str]:
    opts = list(SSH_OPTIONS) if batch else list(SSH_OPTIONS[2:])  # [0:2] is BatchMode
    return ["ssh", *opts, "-o", f"ConnectTimeout={connect_timeout}",
            "-i", vm["key"], "-p", str(vm["ssh_port"]),
            f"{vm['user']}@{vm['ssh_host']}", *command]


def wait_ssh(vm: dict, timeout: float = 240) -> float:
    """Poll until `ssh ... true` succeeds; return seconds since the VM was started.

    Raises LabVMError with the tail of the serial console on timeout or if QEMU dies.
    """
    deadline = time.monotonic() + timeout
    last_err = ""
    while True:
        if not is_running(vm["name"]):
            raise QemuExited(f"lab VM {vm['name']} is not running (QEMU exited); console:\n"
                             f"{console_tail(vm)}")
        try:
            proc = subprocess.run(ssh_argv(vm, ["true"]), capture_output=True, text=True,
                                  timeout=30, stdin=subprocess.DEVNULL, check=False)
            if proc.returncode == 0:
                took = time.time() - vm.get("started_at", time.time())
                vm["boot_to_ssh_s"] = round(took, 1)
                return took
            last_err = proc.stderr.strip()
        except subprocess.TimeoutExpired:
            last_err = "ssh timed out"
        if time.monotonic() >= deadline:
            raise LabVMError(
                f"lab VM {vm['name']}: no ssh on {vm['ssh_host']}:{vm['ssh_port']} after "
                f"{timeout:.0f} s (last ssh error: {last_err or 'none'}); console tail:\n"
                f"{console_tail(vm)}")
        time.sleep(2)


def wait_booted(vm: dict, timeout: float = 300) -> str:
    """Wait until systemd in the lab VM has finished booting (``systemctl is-system-running
    --wait``: every start job done) and return its state, ``running`` or ``degraded``.

    ssh answers as soon as sshd is up, while other units of the boot (xencommons on a Xen
    dom0, libvirtd, networking) may still be starting: a test that starts right then races
    the boot. Raises LabVMError with the jobs still queued and the console tail on timeout
    or if the boot ended in another state (stopping, maintenance)."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(deadline - time.monotonic(), 5.0)
        try:
            proc = subprocess.run(ssh_argv(vm, ["systemctl is-system-running --wait"], connect_timeout=30),
                                  capture_output=True, text=True, timeout=left,
                                  stdin=subprocess.DEVNULL, check=False)
            state = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            if state in ("running", "degraded"):
                vm["boot_finished_s"] = round(time.time() - vm.get("started_at", time.time()), 1)
                return state
            # 255: ssh itself failed (sshd restarting during the boot): try again
            if proc.returncode != 255 and state not in ("", "initializing", "starting"):
                raise LabVMError(f"lab VM {vm['name']}: the boot ended {state!r}, not running/degraded; "
                                 f"console tail:\n{console_tail(vm)}")
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() >= deadline:
            jobs = subprocess.run(ssh_argv(vm, ["systemctl list-jobs --no-pager"], connect_timeout=30),
                                  capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                                  check=False).stdout
            raise LabVMError(f"lab VM {vm['name']}: systemd had not finished booting {timeout:.0f} s after ssh "
                             f"answered; jobs still queued:\n{jobs}\nconsole tail:\n{console_tail(vm)}")
        time.sleep(2)


# start()'s arguments, as its info records them: wait_ready() starts a crashed VM again with them
START_KEYS = ("memory", "cpus", "extra_args", "image", "kernel", "initrd", "append", "cpu")


def wait_ready(vm: dict, timeout: float = 240, qemu_restarts: int = 1) -> float:
    """wait_ssh(), then wait_booted() within the same budget; return seconds since start.

    QEMU itself exiting before ssh first answered (QEMU 7.2's TCG has crashed so: a general
    protection fault in qemu-system-x86_64, in the host's kernel log, while a Xen dom0 was
    booting) is not the guest's doing: the VM is started again from a fresh overlay, up to
    `qemu_restarts` times, each with the whole `timeout`; `vm` is updated in place (new port,
    pid, started_at) and its ``qemu_exits`` lists what each exit left on the console. A QEMU
    that exits after ssh answered, or again, fails as before."""
    t0 = time.monotonic()
    exits = vm.setdefault("qemu_exits", [])
    while True:
        try:
            wait_ssh(vm, timeout=timeout)
            break
        except QemuExited as e:
            if len(exits) >= qemu_restarts:
                raise
            exits.append(str(e)[-2000:])
            print(f"labvm: {e}\nlabvm: starting {vm['name']} again ({len(exits)} of {qemu_restarts})",
                  file=sys.stderr)
            stop(vm["name"])
            new = start(vm["name"], **{k: vm[k] for k in START_KEYS if k in vm})
            vm.clear()
            vm.update(new, qemu_exits=exits)
            t0 = time.monotonic()
    wait_booted(vm, timeout=max(timeout - (time.monotonic() - t0), 120.0))
    return time.time() - vm.get("started_at", time.time())


def _stop_locked(name: str) -> bool:
    lab = lab_dir(name)
    pid = _read_pid(lab)
    was_running = pid is not None and _pid_is_our_qemu(pid, lab)
    if was_running:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _pid_is_our_qemu(pid, lab):
                time.sleep(0.1)
            if not _pid_is_our_qemu(pid, lab):
                break
        else:
            raise LabVMError(f"qemu pid {pid} of lab {name} does not die")
    if lab.exists():
        shutil.rmtree(lab)
    return was_running


def stop(name: str) -> bool:
    """Kill the lab VM's QEMU (TERM, then KILL), wait for it, remove its lab dir.

    Returns True if it was running. Stopping an unknown lab is not an error.
    """
    with _locked(name):
        return _stop_locked(name)


def list_labs() -> list[dict]:
    out = []
    if not labs_dir().is_dir():
        return out
    for d in sorted(p for p in labs_dir().iterdir() if p.is_dir()):
        try:
            data = json.loads((d / "vm.json").read_text())
        except (OSError, ValueError):
            data = {"name": d.name}
        data["running"] = NAME_RE.match(d.name) is not None and is_running(d.name)
        out.append(data)
    return out


def inventory(vm: dict) -> str:
    """One Ansible INI inventory host line for the lab VM."""
    ssh_args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    fields = {
        "ansible_host": vm["ssh_host"],
        "ansible_port": str(vm["ssh_port"]),
        "ansible_user": vm["user"],
        "ansible_ssh_private_key_file": vm["key"],
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": ssh_args,
    }
    return " ".join([vm["name"]] + [f"{k}={shlex.quote(v)}" for k, v in fields.items()])


def write_inventory(vm: dict, path: str | os.PathLike, group: str = "lab") -> Path:
    path = Path(path)
    path.write_text(f"[{group}]\n{inventory(vm)}\n")
    return path


def xen_boot(image: str = XEN_IMAGE, xen_append: str = XEN_APPEND,
             dom0_append: str = XEN_DOM0_APPEND, cpu: str = XEN_CPU) -> dict:
    """start()/lab_vm() keyword arguments that boot the Xen hypervisor of `image` (built
    with --variant xen, which exports the decompressed ELF `xen`) with QEMU's multiboot
    loader: the image's vmlinuz (dom0, console on hvc0) and initrd.img are its modules.

        with labvm.lab_vm("vftest-xen", **labvm.xen_boot()) as dom0: ...
    """
    d = image_dir(image)
    xen, vmlinuz, initrd = d / "xen", d / "vmlinuz", d / "initrd.img"
    image_files(image)
    if not xen.is_file():
        raise LabVMError(f"{xen} missing: image {image} was not built with --variant xen "
                         f"(scripts/build-lab-image.sh --variant xen)")
    for p in (xen, vmlinuz, initrd):
        if "," in str(p) or " " in str(p):
            raise LabVMError(f"multiboot module paths may not contain ',' or ' ': {p}")
    return {"image": image, "kernel": str(xen), "append": xen_append,
            "initrd": f"{vmlinuz} {dom0_append},{initrd}", "cpu": cpu,
            "memory": XEN_MEMORY, "cpus": XEN_CPUS}


@contextlib.contextmanager
def lab_vm(name: str, memory: int = DEFAULT_MEMORY, cpus: int = DEFAULT_CPUS,
           extra_args: Sequence[str] = (), timeout: float = 240, image: str = SUITE,
           kernel: str | None = None, initrd: str | None = None, append: str | None = None,
           cpu: str | None = None) -> Iterator[dict]:
    """Start lab VM `name`, wait until it has booted (ssh answers and systemd's boot jobs are
    done, see wait_ready()), yield its info; always stop it afterwards."""
    try:
        vm = start(name, memory=memory, cpus=cpus, extra_args=extra_args, image=image,
                   kernel=kernel, initrd=initrd, append=append, cpu=cpu)
        wait_ready(vm, timeout=timeout)
        yield vm
    finally:
        stop(name)


# --- CLI ---------------------------------------------------------------------------------

def _cmd_start(args: argparse.Namespace) -> int:
    if args.xen:
        boot = xen_boot(args.image or XEN_IMAGE)
        boot["memory"] = args.memory or boot["memory"]
        boot["cpus"] = args.cpus or boot["cpus"]
        vm = start(args.name, **boot)
    else:
        vm = start(args.name, memory=args.memory or DEFAULT_MEMORY, cpus=args.cpus or DEFAULT_CPUS,
                   image=args.image or SUITE)
    if not args.no_wait:
        took = wait_ready(vm, timeout=args.timeout)
        print(f"lab {args.name}: booted (ssh up, boot jobs done) {took:.1f} s after start", file=sys.stderr)
    print(json.dumps(vm, indent=2, sort_keys=True))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    was = stop(args.name)
    print(f"lab {args.name}: {'stopped' if was else 'was not running'}", file=sys.stderr)
    return 0


def _cmd_list(_args: argparse.Namespace) -> int:
    labs = list_labs()
    if not labs:
        print("no lab VMs", file=sys.stderr)
    for vm in labs:
        state = "running" if vm["running"] else "stopped"
        print(f"{vm['name']}\t{state}\tssh {vm.get('ssh_host', '-')}:{vm.get('ssh_port', '-')}"
              f"\tpid {vm.get('pid', '-')}")
    return 0


def _running_info(name: str) -> dict:
    vm = info(name)
    if vm is None:
        raise LabVMError(f"lab VM {name} is not running (labvm.py start {name})")
    return vm


def _cmd_inventory(args: argparse.Namespace) -> int:
    print("[lab]")
    print(inventory(_running_info(args.name)))
    return 0


def _cmd_ssh(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    # Without a command this is an interactive login: no BatchMode.
    argv = ssh_argv(_running_info(args.name), cmd, batch=bool(cmd))
    return subprocess.call(argv)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="labvm.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start", help="start a lab VM and wait until it has booted")
    s.add_argument("name")
    s.add_argument("--memory", type=int, help=f"MiB (default {DEFAULT_MEMORY}, with --xen {XEN_MEMORY})")
    s.add_argument("--cpus", type=int, help=f"default {DEFAULT_CPUS}, with --xen {XEN_CPUS}")
    s.add_argument("--image", help=f"cached image (default {SUITE}, with --xen {XEN_IMAGE})")
    s.add_argument("--xen", action="store_true", help="boot the image's Xen hypervisor with dom0 (xen_boot())")
    s.add_argument("--timeout", type=float, default=240, help="wait for ssh and the end of the boot, seconds")
    s.add_argument("--no-wait", action="store_true", help="do not wait for ssh nor the end of the boot")
    s.set_defaults(func=_cmd_start)
    s = sub.add_parser("stop", help="kill a lab VM and remove its files")
    s.add_argument("name")
    s.set_defaults(func=_cmd_stop)
    s = sub.add_parser("list", help="list lab VMs")
    s.set_defaults(func=_cmd_list)
    s = sub.add_parser("inventory", help="print an Ansible INI inventory for a lab VM")
    s.add_argument("name")
    s.set_defaults(func=_cmd_inventory)
    s = sub.add_parser("ssh", help="ssh into a lab VM: labvm.py ssh NAME [-- cmd ...]",
                       description="Without a command: interactive login. As with plain ssh, "
                       "the command words are joined with spaces and run by the guest's "
                       "shell, so quote shell syntax as one argument: -- 'a; b'.")
    s.add_argument("name")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(func=_cmd_ssh)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except LabVMError as e:
        print(f"labvm.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
