# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""lxc backend: LXC containers through the ``lxc-*`` userspace tools (LXC 4.0 or later).

Reads with ``lxc-ls --fancy``, ``lxc-info`` and ``lxc-cgroup``; changes with ``lxc-create``,
``lxc-start``/``-stop``/``-freeze``/``-unfreeze``, ``lxc-cgroup`` and ``lxc-destroy``; all as
argv lists under ``LC_ALL=C``. The container config is parsed to the guest model and
rendered back in place (``_render_lxc``), written atomically (mode 0640) only when its
meaning changes. Why these tools rather than libvirt-lxc: docs/lxc.md.

Next to the config, ``virtfleet.json`` is the managed marker: the fleet, how the container
was made (template or rootfs), the raw ``config`` keys virtfleet set, and a copy of the
config the running instance was started with, so restart-only changes stay reported as
pending until the container really restarts. Never calls exit_json/fail_json and never
reads check mode.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import shutil
import stat
import tempfile
import time

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    BackendError, SpecError, UnsupportedChange)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_lxc as render
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _snapshot as snapshot
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import Capabilities
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import UnitError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import _host as host
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.base import GuestBackend

LIMITS = ("memory", "vcpus", "cpu_shares", "cpuset")
#: kept in virtfleet.json (the managed marker), never in the container's config
LABELS = ("title", "description", "tags")
MARKER_FILE = "virtfleet.json"
ARCHIVE_DIR = ".virtfleet-pruned"
LXC_STATES = {"RUNNING": "running", "STARTING": "running", "THAWED": "running", "FROZEN": "paused",
              "FREEZING": "paused", "STOPPED": "stopped", "STOPPING": "stopped", "ABORTING": "stopped"}
# model keys LXC has no meaning for, with their defaults: anything else is an error
TEMPLATE_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*|/[^\0]+)$")
_LXC_ERROR_RE = re.compile(r"\.c: ?\w+: ?\d+ (?:- )?(.*)$")  # log file and stderr formats


def cgroup_version(mounts_text):
    """1 when a cgroup v1 memory hierarchy is mounted (v1 or hybrid host), else 2 (unified)."""
    for line in mounts_text.splitlines():
        f = line.split()
        if len(f) >= 4 and f[2] == "cgroup" and "memory" in f[3].split(","):
            return 1
    return 2


def host_cpus(path="/sys/devices/system/cpu/online"):
    """The host's online CPUs (a set), or an empty set when unknown."""
    try:
        with open(path) as f:
            return mdev.parse_cpuset(f.read().strip())
    except (IOError, OSError, ValueError):
        return set()


APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
APPARMOR_PROFILES = "/sys/kernel/security/apparmor/profiles"


def apparmor_state(enabled=APPARMOR_ENABLED, profiles=APPARMOR_PROFILES):
    """(enabled, loaded profile names or None when the list cannot be read) of this host's AppArmor."""
    try:
        with open(enabled) as f:
            on = f.read().strip().upper().startswith("Y")
    except (IOError, OSError):
        return False, None
    try:
        with open(profiles) as f:
            names = {line.rsplit(" (", 1)[0].strip() for line in f if line.strip()}
    except (IOError, OSError):
        names = None
    return on, names


def root_ids(idmap):
    """(uid, gid) on the host of the container's root."""
    return tuple([e["host"] for e in idmap if e["container"] == 0 and e["kind"] in ("both", k)][0]
                 for k in ("uid", "gid"))


def shift_owners(root, idmap, name=None):
    """Give every file under ``root`` (not crossing into other filesystems) the host ids its
    container ids map to, keeping setuid/setgid bits (chown clears them): a rootfs copied as host
    root becomes one the unprivileged container owns. Hard links are shifted once. An id no range
    maps fails naming ``idmap`` (the container would see it as nobody)."""
    maps = {k: [(e["container"], e["host"], e["count"]) for e in idmap if e["kind"] in ("both", k)]
            for k in ("uid", "gid")}

    def to_host(kind, value, path):
        for start, base, count in maps[kind]:
            if start <= value < start + count:
                return base + value - start
        raise BackendError("%s %d of %s is not mapped by idmap (the container would see it as nobody): map it "
                           "or fix the rootfs" % (kind, value, path), name, "idmap")

    dev, seen = os.lstat(root).st_dev, set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.lstat(os.path.join(dirpath, d)).st_dev == dev]
        for path in ([dirpath] if dirpath == root else []) + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            os.lchown(path, to_host("uid", st.st_uid, path), to_host("gid", st.st_gid, path))
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, stat.S_IMODE(st.st_mode))


def labels_of(mark):
    """title, description and tags of a container, from its marker ("" and [] when unset)."""
    labels = (mark or {}).get("labels") or {}
    return {"title": labels.get("title") or "", "description": labels.get("description") or "",
            "tags": sorted(labels.get("tags") or [])}


def with_labels(mark, desired):
    """The marker with the labels ``desired`` declares (those left out keep their value)."""
    labels = dict(mark.get("labels") or {})
    for key in LABELS:
        if desired.get(key) is not None:
            labels[key] = desired[key]
    labels = {k: v for k, v in labels.items() if v not in ("", [])}
    out = dict(mark)
    out.pop("labels", None)
    if labels:
        out["labels"] = labels
    return out


def parse_listing(text):
    """``lxc-ls --fancy --fancy-format NAME,STATE,AUTOSTART,PID`` -> {name: {state, autostart, pid}}."""
    out = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 4:
            continue
        out[f[0]] = {"state": LXC_STATES.get(f[1].upper(), "stopped"), "autostart": f[2] == "1",
                     "pid": int(f[3]) if f[3].isdigit() else None}
    return out


def proc_start_time(pid):
    """Start time of a process (clock ticks since boot), or None: with the pid it identifies one
    run of a container."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (IOError, OSError, IndexError, ValueError, TypeError):
        return None


SNAP_RE = re.compile(r"^snap(\d+)$")
#: first line of the comment of a snapshot this collection made: lxc-snapshot names them snapN
SNAP_NAME = "virtfleet-name: "


def parse_snapshot_dir(entry, comment, ts):
    """One ``<lxc_path>/<name>/snaps/snapN`` (its comment and ts files' text) as a snapshot record.
    Snapshots this collection made carry their name on the comment's first line; others are
    known by their directory name."""
    order = int(SNAP_RE.match(entry).group(1))
    name, text = entry, comment or ""
    description, managed = text.rstrip("\n"), False
    if text.startswith(SNAP_NAME):
        first, _sep, rest = text.partition("\n")
        description, managed = snapshot.split_description(rest)
        name = first[len(SNAP_NAME):].strip() if managed else name
    try:
        created = calendar.timegm(time.strptime((ts or "").strip(), "%Y:%m:%d %H:%M:%S"))
    except ValueError:
        created = None
    return {"name": name, "id": entry, "description": description, "managed": managed, "memory": False,
            "created": created, "order": order, "current": False, "state": "stopped", "revert_refused": None}


def liblxc_error(stderr):
    """(line, reason) from liblxc's log of a config it refused."""
    line = reason = None
    for text in stderr.splitlines():
        m = re.search(r'at line "(.*)"', text)
        if m:
            line = m.group(1)
        elif reason is None:
            m = _LXC_ERROR_RE.search(text)
            if m:
                reason = m.group(1).split(" - ")[-1].strip()
    return line, reason


class LxcBackend(GuestBackend):
    name = "lxc"
    caps = Capabilities(
        backend="lxc",
        fields=("fleet", "autostart", "vcpus", "memory", "cpu_shares", "disks", "interfaces", "config",
                "cpuset", "nesting", "apparmor_profile", "apparmor_allow_nesting", "idmap") + LABELS,
        keys=("template", "template_options", "rootfs", "config"),
        # limits are cgroup values, changed on the running container; the rest needs a restart
        live={"memory": "any", "vcpus": "any", "cpu_shares": "any", "cpuset": "any"},
        defaults={},  # no memory / vcpus key: no cgroup limit at all
        meaning={"memory": "a cgroup memory limit (none when left out)",
                 "vcpus": "a CPU bandwidth quota of vcpus x 100 ms per 100 ms (none when left out)"},
    )

    def __init__(self, params, run_command=None):
        super(LxcBackend, self).__init__(params, run_command)
        self._path = params.get("lxc_path")
        self._listing = None
        self._markers = {}
        self._want_keys = {}
        self._version = None
        self._checked = {}
        self.runner = host.Runner(run_command)

    # -- commands --------------------------------------------------------------
    def _call(self, argv, obj=None, field=None):
        """(rc, stdout, stderr) of an argv list, in the C locale, arguments passed verbatim."""
        return self.runner(argv, obj=obj, field=field, check=False)

    def _run(self, argv, what, obj=None, field=None):
        return self.runner(argv, what, obj, field)[1]

    @property
    def lxc_path(self):
        if self._path is None:
            if shutil.which("lxc-ls") is None:
                raise BackendError("the LXC userspace tools (lxc-ls, lxc-create, ...) are not installed on "
                                   "this host (Debian/Ubuntu: apt install lxc)", None, "backend")
            self._path = self._run(["lxc-config", "lxc.lxcpath"], "lxc-config lxc.lxcpath",
                                   field="lxc_path").strip()
        return self._path

    def _lxc(self, tool, name, *args):
        argv = [tool, "-P", self.lxc_path]
        if name is not None:
            argv += ["-n", name]
        return argv + list(args)

    def version(self):
        if self._version is None:
            with host.boundary("reading /proc/self/mounts (cgroup version)"):
                with open("/proc/self/mounts") as f:
                    self._version = cgroup_version(f.read())
        return self._version

    def _dir(self, name):
        return os.path.join(self.lxc_path, name)

    # -- reading ---------------------------------------------------------------
    def listing(self):
        if self._listing is None:
            if not os.path.isdir(self.lxc_path):
                self._listing = {}
            else:
                out = self._run(self._lxc("lxc-ls", None, "--fancy", "--fancy-format", "NAME,STATE,AUTOSTART,PID"),
                                "lxc-ls")
                self._listing = parse_listing(out)
        return self._listing

    def marker(self, name):
        """The managed marker (a dict), or None for a container virtfleet does not manage."""
        if name not in self._markers:
            try:
                with open(os.path.join(self._dir(name), MARKER_FILE)) as f:
                    data = json.load(f)
            except (IOError, OSError, ValueError):
                data = None
            self._markers[name] = data if isinstance(data, dict) and data.get("fleet") else None
        return self._markers[name]

    def _read_config(self, name):
        path = os.path.join(self._dir(name), "config")
        try:
            with open(path) as f:
                return f.read()
        except (IOError, OSError) as e:
            raise BackendError("cannot read %s: %s" % (path, e), name, "config")

    def _snapshot(self, mark, pid):
        """The config text the running instance started with, when virtfleet started it (or
        recorded it) and it has not restarted since; else None."""
        run = (mark or {}).get("running") or {}
        if pid and run.get("pid") == pid and run.get("start") == proc_start_time(pid):
            return run.get("config")
        return None

    def _live_limits(self, name):
        values = {}
        for files in render.LIMIT_FILES[self.version()].values():
            for cg_file in files:
                rc, out, _err = self._call(self._lxc("lxc-cgroup", name, cg_file))
                values[cg_file] = out.strip() if rc == 0 else None
        return render.limits(self.version(), values.get)

    def current(self, name):
        try:
            with host.boundary("read", name):
                return self._current(name)
        except UnitError as e:  # a cgroup memory value with a unit the kernel does not know
            raise BackendError("cannot read the limits: %s" % e, name, "memory")

    def _current(self, name):
        info = self.listing().get(name)
        if info is None:
            return None
        text = self._read_config(name)
        lines = render.parse(text)
        mark = self.marker(name)
        raw_keys = (mark or {}).get("config_keys") or ()
        want = self._want_keys.get(name, ())
        config = render.to_model(lines, self.version(), raw_keys, want)
        config.update(name=name, fleet=(mark or {}).get("fleet"), **labels_of(mark))
        live = None
        if info["state"] != "stopped":
            snap = self._snapshot(mark, info["pid"])
            live = render.to_model(lines if snap is None else render.parse(snap), self.version(), raw_keys, want)
            live.update(self._live_limits(name), name=name)
        return {"config": config, "live": live, "state": info["state"], "autostart": config["autostart"],
                "managed": mark is not None, "text": text, "lines": lines, "pid": info["pid"]}

    def managed_names(self, fleet):
        return sorted(n for n in self.listing() if (self.marker(n) or {}).get("fleet") == fleet)

    def _state(self, name):
        rc, out, _err = self._call(self._lxc("lxc-info", name, "-sH"))
        if rc != 0:
            return "absent"
        return LXC_STATES.get(out.strip().upper(), "stopped")

    def final_state(self, name):
        return self._state(name)

    def host_resources(self):
        """This machine's CPUs and memory (containers share its kernel)."""
        from ansible_collections.virtfleet.hypervisor.plugins.module_utils._facts import memory_facts
        return {"cpus": os.cpu_count() or 1, "memory_mib": memory_facts().get("total_mib") or 0, "hugepages": {}}

    def running_use(self):
        """The running containers' CPU and memory limits (an unlimited one counts 0)."""
        out = {}
        for name, entry in sorted(self.listing().items()):
            if entry.get("state") == "stopped":
                continue
            cur = self.current(name)
            if cur is not None and cur["state"] != "stopped":
                cfg = cur["config"]
                out[name] = (cfg.get("vcpus") or 0, cfg.get("memory") or 0, False)
        return out

    # -- references ------------------------------------------------------------
    def resolve(self, guest):
        """Reject what LXC has no meaning for, check bridges, bind sources, template/rootfs
        and the raw config keys (with liblxc's own parser). Raises SpecError."""
        with host.boundary("resolve", guest["name"]):
            return self._resolve(guest)

    def _resolve(self, guest):
        name = guest["name"]
        if guest["state"] == "absent":
            return guest
        for i, nic in enumerate(guest["interfaces"]):
            field = "interfaces[%d]" % i
            if nic.get("network") is not None:
                raise SpecError("LXC attaches a veth pair to a host bridge: use 'bridge' (libvirt networks are "
                                "for backend libvirt)", name, field + ".network")
            if nic.get("model") != "virtio":
                raise SpecError("a container NIC is a veth pair, it has no model (leave it out)", name, field + ".model")
            if not host.is_bridge(nic["bridge"]):
                raise SpecError("%r is not a bridge on this host" % nic["bridge"], name, field + ".bridge")
        guest["disks"] = [self._resolve_disk(name, i, d) for i, d in enumerate(guest["disks"])]
        paths = [d["path"] for d in guest["disks"]]
        if len(paths) != len(set(paths)):
            raise SpecError("the same path is bound twice", name, "disks")
        if guest.get("cpu_shares") is not None and self.version() == 2:
            guest["cpu_shares"] = render.weight_to_shares(render.shares_to_weight(guest["cpu_shares"]))
        self._resolve_devices(guest)
        if guest.get("config") is not None:
            guest["config"] = render.normalize_config(name, guest["config"], len(guest["interfaces"]))
            self._check_with_liblxc(name, guest["config"], len(guest["interfaces"]))
        self._want_keys[name] = tuple(guest["config"]) if guest.get("config") is not None else ()
        self._resolve_origin(guest)
        return guest

    def _resolve_devices(self, guest):
        """cpuset: host CPUs this host has; nesting: LXC's nesting.conf is installed."""
        name = guest["name"]
        if guest.get("cpuset") is not None:
            have = host_cpus()
            missing = sorted(mdev.parse_cpuset(guest["cpuset"]) - have) if have else []
            if missing:
                raise SpecError("host CPU %d does not exist (this host has %s)" % (missing[0], mdev.format_cpuset(have)),
                                name, "cpuset")
        if guest.get("nesting") and not os.path.isfile(render.NESTING_CONF):
            raise SpecError("%s is not installed on this host (it comes with the lxc package)" % render.NESTING_CONF,
                            name, "nesting")
        profile = guest.get("apparmor_profile")
        if profile is not None and profile not in mdev.APPARMOR_BUILTIN:
            enabled, loaded = apparmor_state()
            if not enabled:
                raise SpecError("this host has no AppArmor (%s missing or N): liblxc would start the container "
                                "unconfined, ignoring profile %r; use generated or unconfined, or leave it out"
                                % (APPARMOR_ENABLED, profile), name, "apparmor_profile")
            if loaded is not None and profile not in loaded:
                raise SpecError("AppArmor profile %r is not loaded on this host (load it with apparmor_parser -r "
                                "first)" % profile, name, "apparmor_profile")
        if guest.get("idmap") is not None and name in self.listing():
            had = render.idmap_of(render.entries(render.parse(self._read_config(name))))
            if had != guest["idmap"]:
                raise UnsupportedChange(
                    "the container exists with id map %s; its rootfs is owned by the ids that map gives, so "
                    "another map would leave a rootfs it cannot use, and virtfleet never re-creates a container "
                    "(its rootfs may hold data): remove it with state=absent and declare it again, or leave "
                    "'idmap' out" % (json.dumps(had) if had else "none (a privileged container)"), name, "idmap")

    @staticmethod
    def _resolve_disk(name, idx, disk):
        field = "disks[%d]" % idx
        if disk.get("volume") is not None:
            raise SpecError("LXC binds host directories into the container: use 'path'", name, field + ".volume")
        if disk["device"] != "disk":
            raise SpecError("a container has no %s; bind a directory with 'path'" % disk["device"], name,
                            field + ".device")
        if disk["bus"] != "virtio":
            raise SpecError("a bind mount has no bus (leave it out)", name, field + ".bus")
        path = os.path.normpath(disk["path"])
        if path == "/" or re.search(r"\s", path):
            raise SpecError("cannot bind %r (the host root, or a path with blanks)" % disk["path"], name, field + ".path")
        if not os.path.exists(path):
            raise SpecError("%r does not exist on the host" % path, name, field + ".path")
        return {"volume": None, "pool": None, "path": path, "device": "disk", "readonly": disk["readonly"],
                "bus": "virtio", "kind": "dir" if os.path.isdir(path) else "file"}

    def _resolve_origin(self, guest):
        name = guest["name"]
        template, options, rootfs = guest.get("template"), guest.get("template_options"), guest.get("rootfs")
        if template is not None and (not isinstance(template, str) or not TEMPLATE_RE.match(template)):
            raise SpecError("expected a template name (busybox, download, local, ...) or an absolute path, got %r"
                            % (template,), name, "template")
        if options is not None:
            if template is None:
                raise SpecError("only with 'template'", name, "template_options")
            if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
                raise SpecError("expected a list of strings", name, "template_options")
        if template is not None and rootfs is not None:
            raise SpecError("give either 'template' or 'rootfs', not both", name, "rootfs")
        if rootfs is not None:
            rootfs = str(rootfs)
            if not rootfs.startswith("/") or not os.path.exists(rootfs):
                raise SpecError("expected an existing directory or tarball (absolute path), got %r" % rootfs,
                                name, "rootfs")
            guest["rootfs"] = os.path.normpath(rootfs)
        want = ({"template": template, "template_options": list(options or [])} if template is not None
                else {"rootfs": guest["rootfs"]} if rootfs is not None else None)
        if name not in self.listing():
            if want is None:
                raise SpecError("a new container needs 'template' (e.g. busybox) or 'rootfs'", name, "template")
            if os.path.lexists(self._dir(name)):
                raise SpecError("%s exists but is not a container (no config): move it away first" % self._dir(name),
                                name, "name")
            return
        self._check_rootfs(name)
        had = (self.marker(name) or {}).get("origin")
        if want is not None and had is not None and want != had:
            field = "template" if template is not None else "rootfs"
            raise UnsupportedChange("the container exists, made from %s; virtfleet never re-creates a container "
                                    "to change how it was made (its rootfs may hold data): remove it with "
                                    "state=absent first, or leave '%s' out" % (json.dumps(had, sort_keys=True), field),
                                    name, field)

    def _check_rootfs(self, name):
        """An existing container whose directory rootfs vanished (deleted, an unmounted filesystem) is
        refused by name before anything of it changes: lxc-start would fail with liblxc's words only,
        and a converge that leaves it stopped would report it as fine. Other rootfs backends (overlay,
        btrfs, lvm, zfs, loop ...) are left to liblxc."""
        path = None
        for key, value in render.entries(render.parse(self._read_config(name))):
            if key == "lxc.rootfs.path":
                path = value
        if path is None:
            return
        if path.startswith("dir:"):
            path, missing = path[len("dir:"):], not os.path.isdir(path[len("dir:"):])
        elif path.startswith("/"):
            missing = not os.path.exists(path)
        else:
            return
        if missing:
            raise BackendError("its rootfs %s is missing; nothing of the container was changed: restore the "
                               "directory (from a backup or snapshot) and run again, or remove the container "
                               "with state=absent and declare it again to make a new one" % path, name, "rootfs")

    def _check_with_liblxc(self, name, config, n_nics):
        """Let liblxc's own parser judge the raw keys (unknown keys, bad values)."""
        lines = ["lxc.net.%d.type = veth" % i for i in range(n_nics)]
        lines += ["%s = %s" % (k, v) for k in sorted(config) for v in config[k]]
        key = "\n".join(lines)
        if key not in self._checked:
            tmp, rc, err = tempfile.mkdtemp(prefix="virtfleet-lxc-check-"), 1, ""
            try:
                os.mkdir(os.path.join(tmp, "check"))
                with open(os.path.join(tmp, "check", "config"), "w") as f:
                    f.write(key + "\n")
                log = os.path.join(tmp, "log")
                rc, _out, err = self._call(["lxc-info", "-P", tmp, "-n", "check", "-c", render.AUTOSTART_KEY,
                                            "-l", "ERROR", "-o", log])
                if rc != 0 and os.path.exists(log):
                    with open(log) as f:
                        err = f.read() + (err or "")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            self._checked[key] = None if rc == 0 else liblxc_error(err or "")
        if self._checked[key] is not None:
            line, reason = self._checked[key]
            bad = render.parse(line or "")
            field = "config.%s" % bad[0][0] if bad and bad[0][0] else "config"
            raise SpecError("liblxc refuses %r: %s" % (line, reason or "invalid configuration"), name, field)

    # -- applying --------------------------------------------------------------
    def _apply(self, plan, current):
        with host.boundary("apply", plan["name"]):
            if plan["action"] == "delete":
                self._delete(plan, current)
            elif plan["action"] == "create":
                self._create(plan)
            elif plan["action"] == "update":
                self._update(plan, current)

    def _forget(self, name):
        self._listing = None
        self._markers.pop(name, None)

    def _with_macs(self, desired):
        used = {n["mac"] for n in desired["interfaces"] if n.get("mac")}
        desired = dict(desired, interfaces=[dict(n) for n in desired["interfaces"]])
        for nic in desired["interfaces"]:
            if not nic.get("mac"):
                nic["mac"] = host.random_mac(used)
                used.add(nic["mac"])
        return desired

    def _write_file(self, name, path, text):
        """Atomic write, mode 0640 (liblxc reads it as the container's owner), keeping the owner."""
        host.atomic_write(path, text, 0o640, keep_owner=True, obj=name, field="config")

    def _write_config(self, name, lines, text):
        """Write the rendered config only when its meaning differs from ``lines``."""
        if render.meaning(render.parse(text)) == render.meaning(lines):
            return False
        self._write_file(name, os.path.join(self._dir(name), "config"), text)
        return True

    def _write_marker(self, name, mark):
        self._write_file(name, os.path.join(self._dir(name), MARKER_FILE), json.dumps(mark, indent=1, sort_keys=True) + "\n")
        self._markers[name] = mark

    def _create(self, plan):
        """lxc-create with the rendered config as its seed (-f), from the template, or with
        ``-t none`` around a rootfs directory virtfleet fills (cp -a / tar -x)."""
        desired = self._with_macs(plan["desired"])
        name = desired["name"]
        template = desired.get("template")
        cdir, base = self._dir(name), []
        if not template:  # -t none makes no rootfs: make it, and name it in the seed
            rootfs = os.path.join(cdir, "rootfs")
            try:
                os.makedirs(rootfs, 0o755)
                os.chmod(cdir, 0o770)
            except OSError as e:
                raise BackendError("cannot make %s: %s" % (rootfs, e), name, "rootfs")
            base = render.parse("lxc.rootfs.path = dir:%s" % rootfs)
        fd, seed = tempfile.mkstemp(prefix="virtfleet-lxc-", suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write(render.render(base, desired, self.version()))
        argv = self._lxc("lxc-create", name, "-f", seed, "-t", template or "none")
        if template and desired.get("template_options"):
            argv += ["--"] + list(desired["template_options"])
        try:
            self._run(argv, "lxc-create", name, "template" if template else "rootfs")
        except BackendError:
            if os.path.exists(os.path.join(cdir, "config")):
                self._call(self._lxc("lxc-destroy", name))
            elif os.path.isdir(cdir):
                shutil.rmtree(cdir, ignore_errors=True)  # made above, empty
            raise
        finally:
            os.unlink(seed)
        try:
            if not template:
                self._copy_rootfs(name, desired["rootfs"])
                if desired.get("idmap"):  # a template runs in the container's user namespace already
                    with host.boundary("shifting the rootfs owners", name, field="idmap"):
                        shift_owners(self._rootfs_dir(name), desired["idmap"], name)
                        # as lxc-create does for a template: the container's root reaches its rootfs
                        os.chown(cdir, *root_ids(desired["idmap"]))
            written = render.parse(self._read_config(name))
            paths = [i for i, (k, _v, _t) in enumerate(written) if k == "lxc.rootfs.path"]
            lines = [line for i, line in enumerate(written) if i not in paths[:-1]]  # -t none writes it twice
            self._write_config(name, written, render.render(lines, desired, self.version()))
            origin = ({"template": template, "template_options": list(desired.get("template_options") or [])}
                      if template else {"rootfs": desired["rootfs"]})
            self._write_marker(name, with_labels({"managed_by": "virtfleet.hypervisor", "fleet": desired["fleet"],
                                                  "origin": origin, "config_keys": sorted(desired.get("config") or ())},
                                                 desired))
        except BackendError:
            self._call(self._lxc("lxc-destroy", name))
            raise
        host.to_state(_LxcPower(self, name), desired, desired["state"])

    def _rootfs_dir(self, name):
        for key, value in render.entries(render.parse(self._read_config(name))):
            if key == "lxc.rootfs.path":
                return value.split(":", 1)[1] if value.startswith("dir:") else value
        raise BackendError("lxc-create wrote no lxc.rootfs.path", name, "rootfs")

    def _copy_rootfs(self, name, src):
        dest = self._rootfs_dir(name)
        if os.path.isdir(src):
            self._run(["cp", "-a", "--", src.rstrip("/") + "/.", dest + "/"], "copying the rootfs", name, "rootfs")
        else:
            self._run(["tar", "-x", "-p", "--numeric-owner", "-f", src, "-C", dest], "unpacking the rootfs",
                      name, "rootfs")

    def _update(self, plan, current):
        desired = self._with_macs(plan["desired"])
        name = desired["name"]
        mark = dict(self.marker(name) or {})
        new_mark = dict(mark)
        if plan["define"] or plan["autostart"] is not None:
            if current["state"] != "stopped" and self._snapshot(mark, current["pid"]) is None:
                # keep what the running instance was started with, to report pending restarts
                new_mark["running"] = {"pid": current["pid"], "start": proc_start_time(current["pid"]),
                                       "config": current["text"]}
            text = render.render(current["lines"], desired, self.version(), mark.get("config_keys") or ())
            self._write_config(name, current["lines"], text)
            new_mark.update(managed_by="virtfleet.hypervisor", fleet=desired["fleet"])
            new_mark = with_labels(new_mark, desired)
            if desired.get("config") is not None:
                new_mark["config_keys"] = sorted(desired["config"])
        if new_mark != mark:
            self._write_marker(name, new_mark)
        for op, arg in plan["live_ops"]:
            self._set_limit(name, op[len("set_"):], arg)
        if plan.get("restart"):
            host.stop(_LxcPower(self, name), desired)
        if plan["state_to"]:
            host.to_state(_LxcPower(self, name), desired, plan["state_to"])

    def _set_limit(self, name, field, value):
        for cg_file, cg_value in render.limit_settings(self.version(), field, value):
            self._run(self._lxc("lxc-cgroup", name, cg_file, cg_value), "lxc-cgroup %s %s" % (cg_file, cg_value),
                      name, field)

    def _start(self, name):
        fd, log = tempfile.mkstemp(prefix="virtfleet-lxc-start-", suffix=".log")
        os.close(fd)
        try:
            rc, out, err = self._call(self._lxc("lxc-start", name, "-l", "ERROR", "-o", log))
            if rc != 0:
                with open(log) as f:
                    detail = [line.strip() for line in f if line.strip()][-4:]
                raise BackendError("lxc-start failed (rc %d): %s" % (rc, " | ".join(detail) or (err or out).strip()),
                                   name, "state", rc=rc)
        finally:
            os.unlink(log)
        out = self._run(self._lxc("lxc-info", name, "-pH"), "lxc-info -p", name, "state").strip()
        pid = int(out) if out.isdigit() else None
        mark = dict(self.marker(name) or {})
        if mark:
            mark["running"] = {"pid": pid, "start": proc_start_time(pid), "config": self._read_config(name)}
            self._write_marker(name, mark)

    # -- snapshots ---------------------------------------------------------------
    def snapshot_read(self, guest):
        with host.boundary("reading the snapshots of container %s" % guest, kind="snapshot"):
            return _LxcSnapshots(self).read(guest)

    def snapshot_apply(self, guest, ops, current):
        with host.boundary("snapshot of container %s" % guest, kind="snapshot"):
            _LxcSnapshots(self).apply(guest, ops)

    def _delete(self, plan, current):
        """Named (state=absent): lxc-destroy, the rootfs with it. Pruned: the container directory is
        moved under <lxc_path>/.virtfleet-pruned/ (rootfs kept) unless prune_storage."""
        name = plan["name"]
        if current["state"] == "paused":
            self._run(self._lxc("lxc-unfreeze", name), "lxc-unfreeze", name, "state")
        if current["state"] != "stopped":
            self._run(self._lxc("lxc-stop", name, "-k"), "lxc-stop -k", name, "state")
        if plan.get("pruned") and not plan["desired"].get("remove_storage"):
            self._archive(name)
        else:
            self._run(self._lxc("lxc-destroy", name), "lxc-destroy", name, "state")

    def _archive(self, name):
        base = os.path.join(self.lxc_path, ARCHIVE_DIR)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest, n = os.path.join(base, "%s.%s" % (name, stamp)), 1
        while os.path.exists(dest):
            n += 1
            dest = os.path.join(base, "%s.%s.%d" % (name, stamp, n))
        try:
            if not os.path.isdir(base):
                os.mkdir(base, 0o700)
            os.rename(self._dir(name), dest)
        except OSError as e:
            raise BackendError("cannot move %s to %s: %s" % (self._dir(name), dest, e), name, "state")


class _LxcSnapshots(object):
    """Snapshots with ``lxc-snapshot`` (stopped containers: a dir-backed rootfs is copied with rsync)."""

    def __init__(self, backend):
        self.be = backend

    def records(self, name):
        base = os.path.join(self.be._dir(name), "snaps")
        out = []
        for entry in sorted(os.listdir(base)) if os.path.isdir(base) else ():
            if not SNAP_RE.match(entry) or not os.path.isdir(os.path.join(base, entry)):
                continue
            texts = []
            for f in ("comment", "ts"):
                try:
                    with open(os.path.join(base, entry, f)) as fh:
                        texts.append(fh.read())
                except (IOError, OSError):
                    texts.append(None)
            out.append(parse_snapshot_dir(entry, *texts))
        return sorted(out, key=lambda r: (r["created"] or 0, r["order"]))

    def read(self, name):
        info = self.be.listing().get(name)
        if info is None:
            return None
        state = info["state"]
        refused = {"create": None, "disk_only": None,
                   "memory": "LXC keeps no container memory in a snapshot: leave memory out (or false)"}
        if state != "stopped":
            refused["create"] = ("lxc-snapshot copies the container's rootfs, which is only consistent while it "
                                 "is stopped: stop it first (state=stopped)")
        elif host.find_program("rsync") is None and os.path.isdir(self.be._rootfs_dir(name)):
            refused["create"] = ("lxc-snapshot copies a directory-backed rootfs with rsync, which is not "
                                 "installed on this host (Debian: apt install rsync)")
        snaps = self.records(name)
        if state != "stopped":
            for s in snaps:
                s["revert_refused"] = "lxc-snapshot restores a stopped container only: stop it first (state=stopped)"
        return {"guest_state": state, "snapshots": snaps, "refused": refused}

    def _tool(self, name, *args):
        fd, log = tempfile.mkstemp(prefix="virtfleet-lxc-snapshot-", suffix=".log")
        os.close(fd)
        try:
            rc, out, err = self.be._call(self.be._lxc("lxc-snapshot", name, "-l", "ERROR", "-o", log, *args))
            if rc != 0:
                with open(log) as f:
                    detail = [line.rsplit(" - ", 1)[-1].strip() for line in f if line.strip()][-3:]
                raise BackendError("lxc-snapshot %s failed (rc %d): %s" % (
                    " ".join(args[:1]), rc, " | ".join(detail) or (err or out).strip()), None, "state", rc=rc)
        finally:
            os.unlink(log)

    def apply(self, name, ops):
        mark_path = os.path.join(self.be._dir(name), MARKER_FILE)
        for op, arg in ops:
            if op == "create":
                fd, comment = tempfile.mkstemp(prefix="virtfleet-lxc-comment-")
                with os.fdopen(fd, "w") as f:
                    f.write(SNAP_NAME + arg["name"] + "\n" + snapshot.mark_description(arg["description"]) + "\n")
                try:
                    self._tool(name, "-c", comment)
                finally:
                    os.unlink(comment)
            elif op == "delete":
                self._tool(name, "-d", arg["id"])
            elif op == "revert":
                # the restore re-creates the container directory from the snapshot (snaps/ kept):
                # virtfleet's marker next to the config is carried over
                mark = None
                if os.path.exists(mark_path):
                    with open(mark_path) as f:
                        mark = f.read()
                self._tool(name, "-r", arg["id"])
                if mark is not None:
                    self.be._write_file(name, mark_path, mark)
                self.be._forget(name)
            elif op == "describe":
                path = os.path.join(self.be._dir(name), "snaps", arg["id"], "comment")
                text = (SNAP_NAME + arg["name"] + "\n" + snapshot.mark_description(arg["description"])
                        if arg["managed"] else arg["description"]) + "\n"
                host.atomic_write(path, text, 0o644, obj=name, field="description", kind="snapshot")


class _LxcPower(host.Power):
    """LXC's power primitives: lxc-start (then lxc-freeze for paused), lxc-freeze/-unfreeze,
    lxc-stop (clean halt through lxc.signal.halt; with force_stop it kills after the timeout)."""

    force_verb = "kill it"

    def __init__(self, backend, name):
        super(_LxcPower, self).__init__(name)
        self.be = backend

    def _tool(self, tool, *args):
        return self.be._run(self.be._lxc(tool, self.name, *args), tool, self.name, "state")

    def state(self):
        return self.be._state(self.name)

    def start(self, paused=False):
        self.be._start(self.name)
        if paused:
            self.suspend()

    def resume(self):
        self._tool("lxc-unfreeze")

    def suspend(self):
        self._tool("lxc-freeze")

    def shutdown(self, timeout, force):
        if force:
            self._tool("lxc-stop", *(["-t", str(timeout)] if timeout > 0 else ["-k"]))
        else:
            self.be._call(self.be._lxc("lxc-stop", self.name, "-t", str(timeout), "--nokill"), self.name, "state")
        return None

    def destroy(self):
        self._tool("lxc-stop", "-k")
