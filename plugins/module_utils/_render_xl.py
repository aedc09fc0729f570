# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest model <-> xl domain configuration (``/etc/xen/<name>.cfg``), both ways; pure.

``render_cfg`` writes the managed keys of a guest, keeping every other statement of an
existing file as it was. ``parse_cfg_model`` reads a file back into the model, so that
comparing works on meaning: comments, statement order, quoting style, spacing and the
disk/vif spec spelling (positional or ``key=value``) never count.

The managed marker is the cfg key ``virtfleet_fleet = "<fleet>"``: xl reads only the keys
it knows and ignores the others, so the marker costs nothing and survives every edit
that keeps the file valid.

Also here: parsers for ``xl list`` (table), ``xl list -l`` (JSON), ``xl info`` and the
``xl sched-credit``/``xl sched-credit2`` tables.
"""

from __future__ import annotations

import json
import re

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _model_devices as mdev
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import device_names
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._units import kib_to_mib

MARKER_KEY = "virtfleet_fleet"
HEADER = ("# Written by virtfleet.hypervisor (backend xl). Keys it manages are rewritten on\n"
          "# every change; other keys are kept as they are.\n")
XEN_TYPES = ("pvh", "pv", "hvm")
ON_CRASH = ("destroy", "restart", "preserve", "coredump-destroy", "coredump-restart",
            "soft-reset", "rename-restart")
DEFAULT_BRIDGE = "xenbr0"  # xl's vif.default.bridge
# disk bus of the model -> xl vdev prefix, and back (sata is taken as ide by the backend)
VDEV_PREFIX = {"virtio": "xvd", "scsi": "sd", "ide": "hd", "sata": "hd"}
_PREFIX_BUS = (("xvd", "virtio"), ("hd", "ide"), ("sd", "scsi"))
DISK_FORMATS = ("raw", "qcow", "qcow2", "vhd", "qed", "empty")
_ACCESS_RO = ("r", "ro")
# issue 16: the keys of docs/guest-model.md xl has a meaning for; each model field owns a group of
# cfg keys (all rewritten when the field is declared, all kept as they are when it is not)
BOOT_LETTERS = {"hd": "c", "cdrom": "d", "network": "n"}
OVMF = "/usr/share/ovmf/OVMF.fd"  # where Debian's libxl looks for Xen's OVMF (package ovmf)
LABEL_KEYS = {"title": "virtfleet_title", "description": "virtfleet_description", "tags": "virtfleet_tags"}
FIELD_KEYS = (
    ("boot", ("boot",)),
    ("firmware", ("bios",)),
    ("graphics", ("vnc", "vnclisten", "vncpasswd", "vncdisplay", "vncunused")),
    ("serial", ("serial",)),
    ("vcpu_pins", ("cpus",)),
    ("title", (LABEL_KEYS["title"],)),
    ("description", (LABEL_KEYS["description"],)),
    ("tags", (LABEL_KEYS["tags"],)),
)
XL_FIELDS = tuple(f for f, _keys in FIELD_KEYS)
# cfg keys render_cfg owns (a key whose model value is None is left as it is in the file)
MANAGED_KEYS = ("name", "type", "builder", "memory", "maxmem", "vcpus", "maxvcpus", "weight",
                "kernel", "ramdisk", "extra", "cmdline", "on_crash", "disk", "vif", MARKER_KEY) + tuple(
                    k for _f, keys in FIELD_KEYS for k in keys)


class CfgError(ValueError):
    """The text is not valid xl configuration syntax (message names the line)."""


# --- the xl cfg language ----------------------------------------------------------------
# statement := KEY ('=' | '+=') value (';' | newline); value := number | string | list;
# list := '[' [value (',' value)* [',']] ']' (may span lines); '#' starts a comment.

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+)
  | (?P<comment>\#[^\n]*)
  | (?P<nl>\n)
  | (?P<semi>;)
  | (?P<op>\+=|=)
  | (?P<lb>\[)
  | (?P<rb>\])
  | (?P<comma>,)
  | (?P<dq>"(?:[^"\\\n]|\\.)*")
  | (?P<sq>'(?:[^'\\\n]|\\.)*')
  | (?P<num>[0-9][0-9A-Za-z_.]*)
  | (?P<id>[A-Za-z_][A-Za-z0-9_.]*)
""", re.X)

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t", "v": "\v"}


def _dequote(tok):
    body, out, i = tok[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nc = body[i + 1]
        if nc in _ESCAPES:
            out.append(_ESCAPES[nc])
            i += 2
        elif nc == "x" and re.match(r"[0-9A-Fa-f]{2}", body[i + 2:i + 4]):
            out.append(chr(int(body[i + 2:i + 4], 16)))
            i += 4
        elif nc in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        else:
            raise CfgError("unknown escape \\%s in %s" % (nc, tok))
    return "".join(out)


def _number(tok):
    try:
        return int(tok, 0)
    except ValueError:
        return tok  # xl keeps unparsable atoms as strings


def _tokens(text):
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise CfgError("line %d: unexpected character %r" % (line, text[pos]))
        kind = m.lastgroup
        if kind not in ("ws", "comment"):
            yield kind, m.group(0), m.start(), m.end(), line
        if kind == "nl":
            line += 1
        pos = m.end()
    yield "eof", "", len(text), len(text), line


def parse_statements(text):
    """The statements of an xl cfg, in order: dicts {key, op, value, start, end} where
    value is an int, a str or a list of them and start/end span the statement's text."""
    toks = list(_tokens(text))
    out, i = [], 0

    def value(i):
        kind, tok, _s, _e, line = toks[i]
        if kind in ("dq", "sq"):
            return _dequote(tok), i + 1
        if kind == "num":
            return _number(tok), i + 1
        if kind == "lb":
            items, i = [], i + 1
            while True:
                while toks[i][0] == "nl":
                    i += 1
                if toks[i][0] == "rb":
                    return items, i + 1
                item, i = value(i)
                if isinstance(item, list):
                    raise CfgError("line %d: lists cannot nest" % toks[i][4])
                items.append(item)
                while toks[i][0] == "nl":
                    i += 1
                if toks[i][0] == "comma":
                    i += 1
                elif toks[i][0] != "rb":
                    raise CfgError("line %d: expected ',' or ']' in a list, got %r" % (toks[i][4], toks[i][1]))
        raise CfgError("line %d: expected a value, got %r" % (line, tok or "end of file"))

    while toks[i][0] != "eof":
        kind, tok, start, _e, line = toks[i]
        if kind in ("nl", "semi"):
            i += 1
            continue
        if kind != "id":
            raise CfgError("line %d: expected a key, got %r" % (line, tok))
        if toks[i + 1][0] != "op":
            raise CfgError("line %d: expected '=' after %s" % (line, tok))
        op = toks[i + 1][1]
        val, i = value(i + 2)
        if toks[i][0] not in ("nl", "semi", "eof"):
            raise CfgError("line %d: expected the end of the statement after %s, got %r"
                           % (toks[i][4], tok, toks[i][1]))
        out.append({"key": tok, "op": op, "value": val, "start": start, "end": toks[i - 1][3]})
    return out


def parse_cfg(text):
    """{key: value} of an xl cfg as xl reads it: the last assignment wins, += appends."""
    cfg = {}
    for st in parse_statements(text):
        key, val = st["key"], st["value"]
        if st["op"] == "+=" and key in cfg:
            prev = cfg[key]
            if isinstance(prev, list) and isinstance(val, list):
                val = prev + val
            elif isinstance(prev, str) and isinstance(val, str):
                val = prev + val
        cfg[key] = val
    return cfg


def quote(value):
    """A cfg string literal (double quotes; backslash, quotes and control characters escaped)."""
    out = []
    for c in str(value):
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 32 or ord(c) == 127:
            out.append("\\x%02x" % ord(c))
        else:
            out.append(c)
    return '"%s"' % "".join(out)


def format_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n%s\n]" % ",\n".join("    " + format_value(v) for v in value)
    return quote(value)


# --- disks and vifs --------------------------------------------------------------------

def bus_of_vdev(vdev):
    for prefix, bus in _PREFIX_BUS:
        if vdev.startswith(prefix):
            return bus
    return None


def parse_disk_spec(spec):
    """One xl disk spec (xl-disk-configuration(5)), positional or key=value, into
    {target, format, vdev, access, devtype}; unknown keys are kept under 'other'."""
    out = {"target": None, "format": None, "vdev": None, "access": None, "devtype": None,
           "other": {}}
    rest = str(spec)
    positional = []
    while rest:
        item, sep, tail = rest.partition(",")
        item = item.strip()
        key, eq, val = item.partition("=")
        key = key.strip()
        if eq and key == "target":
            out["target"] = (val + sep + tail).strip() or None
            break
        rest = tail if sep else ""
        if not item:
            positional.append("")
            continue
        if eq:
            if key in ("format", "vdev", "access", "devtype"):
                out[key] = val.strip()
            else:
                out["other"][key] = val.strip()
        elif item in ("cdrom", "devtype:cdrom"):
            out["devtype"] = "cdrom"
        elif item in ("no-discard", "discard", "direct-io-safe"):
            out["other"][item] = True
        else:
            positional.append(item)
    slots = ["target", "format", "vdev", "access"]
    if len(positional) == 3 and positional[1] and positional[1].lower() not in DISK_FORMATS:
        slots = ["target", "vdev", "access"]  # the old 'phy:/dev/x,xvda,w' form
    for slot, item in zip(slots, positional):
        if item and out[slot] is None:
            out[slot] = item
    target = out["target"]
    if target:
        # legacy prefixes: phy:, file:, tap:aio:, tap2:tapdisk:aio:, raw:, qcow2: ...
        while True:
            prefix, colon, tail = target.partition(":")
            if not colon or prefix.startswith("/"):
                break
            if prefix in DISK_FORMATS and out["format"] is None:
                out["format"] = prefix
            elif prefix not in ("phy", "file", "tap", "tap2", "tapdisk", "aio", "raw", "qcow",
                                "qcow2", "vhd", "qed"):
                break
            target = tail
        out["target"] = target
    vdev = out["vdev"] or ""
    if vdev.endswith(":cdrom"):
        out["vdev"], out["devtype"] = vdev[:-len(":cdrom")], "cdrom"
    return out


def disk_from_spec(spec):
    d = parse_disk_spec(spec)
    cdrom = d["devtype"] == "cdrom"
    access = (d["access"] or "").lower()
    return {"volume": None, "pool": None, "path": d["target"],
            "device": "cdrom" if cdrom else "disk",
            "readonly": cdrom or access in _ACCESS_RO,
            "bus": bus_of_vdev(d["vdev"] or "") or "virtio",
            "format": d["format"] or "raw",
            "vdev": d["vdev"]}


def disk_specs(disks):
    """The xl disk specs of model disks, vdevs lettered in order per prefix."""
    out = []
    for d, vdev in zip(disks, device_names(disks, VDEV_PREFIX)):
        parts = ["format=%s" % (d.get("format") or "raw"), "vdev=%s" % vdev,
                 "access=%s" % ("ro" if d["readonly"] else "rw")]
        if d["device"] == "cdrom":
            parts.append("devtype=cdrom")
        parts.append("target=%s" % d["path"])
        out.append(", ".join(parts))
    return out


def parse_vif_spec(spec):
    out = {}
    for item in str(spec).split(","):
        key, eq, val = item.strip().partition("=")
        if key:
            out[key.strip()] = val.strip() if eq else True
    return out


def nic_from_spec(spec):
    v = parse_vif_spec(spec)
    mac = v.get("mac")
    return {"network": None, "bridge": v.get("bridge") or DEFAULT_BRIDGE,
            "model": v.get("model") or "virtio",
            "mac": mac.lower() if isinstance(mac, str) else None}


def vif_specs(nics):
    out = []
    for n in nics:
        parts = []
        if n.get("mac"):
            parts.append("mac=%s" % n["mac"])
        parts.append("bridge=%s" % n["bridge"])
        if n.get("model") and n["model"] != "virtio":
            parts.append("model=%s" % n["model"])
        out.append(", ".join(parts))
    return out


# --- model <-> cfg ----------------------------------------------------------------------

def _int_or_none(value):
    if value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        return None


def xen_type_of(cfg):
    t = cfg.get("type")
    if isinstance(t, str) and t.lower() in XEN_TYPES:
        return t.lower()
    builder = cfg.get("builder")
    if builder == "hvm":
        return "hvm"
    if _int_or_none(cfg.get("pvh")) == 1:
        return "pvh"
    return "pv"  # xl's default when neither type nor builder is given


def model_from_cfg(cfg):
    """The model dict of a parsed cfg ({key: value})."""
    disks = cfg.get("disk") or []
    vifs = cfg.get("vif") or []
    marker = cfg.get(MARKER_KEY)
    extra = cfg.get("extra") if cfg.get("extra") is not None else cfg.get("cmdline")
    memory = _int_or_none(cfg.get("memory"))
    vcpus = _int_or_none(cfg.get("vcpus"))
    return {
        "name": cfg.get("name"),
        "xen_type": xen_type_of(cfg),
        "memory": memory,
        "max_memory": _int_or_none(cfg.get("maxmem")),
        "vcpus": 1 if vcpus is None else vcpus,
        "max_vcpus": _int_or_none(cfg.get("maxvcpus")),
        "cpu_shares": _int_or_none(cfg.get("weight")),
        "kernel": cfg.get("kernel"),
        "ramdisk": cfg.get("ramdisk"),
        "extra": extra,
        "on_crash": cfg.get("on_crash"),
        "disks": [disk_from_spec(d) for d in (disks if isinstance(disks, list) else [disks])
                  if parse_disk_spec(d)["target"]],
        "interfaces": [nic_from_spec(v) for v in (vifs if isinstance(vifs, list) else [vifs])],
        "fleet": marker if isinstance(marker, str) else None,
        "managed": isinstance(marker, str),
        **device_fields(cfg),
    }


# --- issue 16: boot, firmware, vnc, serial, pinning, labels ------------------------------

def _flag(value):
    """An xl boolean (1/0, "1", "yes"...) -> bool, None when absent."""
    if value is None:
        return None
    if isinstance(value, int):
        return value != 0
    return str(value).strip().lower() not in ("", "0", "no", "false", "off", "n")


def boot_from(text):
    letters = {v: k for k, v in BOOT_LETTERS.items()}
    out = []
    for c in str(text):
        dev = letters.get(c)
        if dev and dev not in out:
            out.append(dev)
    return out or None


def graphics_from(cfg):
    """The model's graphics of the vnc* keys; None when the file has no ``vnc`` key."""
    vnc = _flag(cfg.get("vnc"))
    if vnc is None:
        return None
    if not vnc:
        return {"type": "none", "listen": None, "port": None, "password": None}
    display = _int_or_none(cfg.get("vncdisplay"))
    unused = _flag(cfg.get("vncunused"))
    port = None if display is None or unused in (None, True) else 5900 + display
    passwd = cfg.get("vncpasswd")
    return {"type": "vnc", "listen": str(cfg.get("vnclisten") or "127.0.0.1"), "port": port,
            "password": str(passwd) if passwd not in (None, "") else None}


def pins_from(value, vcpus=None):
    """``cpus`` (a list, one CPU list per vCPU, "all" = unpinned; or one string for every vCPU)
    -> {vcpu: canonical CPU list}."""
    if value is None:
        return {}
    items = value if isinstance(value, list) else [value] * (vcpus or 1)
    out = {}
    for i, item in enumerate(items):
        text = str(item).strip()
        if text in ("", "all") or not mdev.CPUSET_RE.match(text.replace(" ", "")):
            continue
        out[i] = mdev.format_cpuset(mdev.parse_cpuset(text))
    return out


def device_fields(cfg):
    """The issue-16 fields of a parsed cfg: None where the file does not say (not managed)."""
    bios = cfg.get("bios")
    serial = cfg.get("serial")
    tags = cfg.get(LABEL_KEYS["tags"])
    hvm = xen_type_of(cfg) == "hvm"
    return {
        "boot": boot_from(cfg["boot"]) if cfg.get("boot") is not None else None,
        "firmware": None if bios is None else ("uefi" if str(bios) == "ovmf" else "bios"),
        "graphics": graphics_from(cfg),
        # a pv/pvh guest has no serial key to speak of (its console is the PV one): not a value
        "serial": (serial not in (None, "", "none") and (not isinstance(serial, list) or bool(serial))) if hvm else None,
        "vcpu_pins": pins_from(cfg.get("cpus"), _int_or_none(cfg.get("maxvcpus")) or _int_or_none(cfg.get("vcpus"))),
        "title": str(cfg.get(LABEL_KEYS["title"]) or ""),
        "description": str(cfg.get(LABEL_KEYS["description"]) or ""),
        "tags": sorted(str(t) for t in (tags if isinstance(tags, list) else [tags] if tags else [])),
    }


def device_values(guest):
    """{cfg key: value} of the issue-16 fields of ``guest`` (None: drop the key); fields left
    out of the spec (None) are not in the result, so their keys stay as they are."""
    out = {}
    boot = guest.get("boot")
    if boot is not None:
        out["boot"] = "".join(BOOT_LETTERS[d] for d in boot)
    fw = guest.get("firmware")
    if fw is not None:
        out["bios"] = "ovmf" if fw == "uefi" else "seabios"
    g = guest.get("graphics")
    if g is not None:
        vnc = g["type"] == "vnc"
        out.update(vnc=1 if vnc else 0, vnclisten=g["listen"] if vnc else None,
                   vncpasswd=g.get("password") if vnc else None,
                   vncdisplay=g["port"] - 5900 if vnc and g.get("port") else None,
                   vncunused=(0 if g.get("port") else 1) if vnc else None)
    if guest.get("serial") is not None:
        out["serial"] = "pty" if guest["serial"] else None
    pins = guest.get("vcpu_pins")
    if pins is not None:
        out["cpus"] = [pins.get(i, "all") for i in range(max(pins) + 1)] if pins else None
    for field, key in LABEL_KEYS.items():
        if guest.get(field) is not None:
            value = guest[field]
            out[key] = value if value not in ("", []) else None
    return out


SECRET_KEYS = ("vncpasswd",)


def mask_secrets(text):
    """The cfg text with the value of each secret statement (``vncpasswd``) replaced by
    ``"********"``: what guest_info shows of a definition."""
    if not text:
        return text
    try:
        statements = parse_statements(text)
    except CfgError:
        return "\n".join("# (hidden: not a valid xl cfg and it may hold a password)" if "passw" in ln else ln
                         for ln in text.splitlines()) + "\n"
    out, pos = [], 0
    for st in statements:
        if st["key"] in SECRET_KEYS:
            out.append(text[pos:st["start"]] + '%s = "********"' % st["key"])
            pos = st["end"]
    return "".join(out) + text[pos:]


def parse_cfg_model(text):
    return model_from_cfg(parse_cfg(text))


def managed_values(guest):
    """{cfg key: value} for the model fields of ``guest``; None = leave the key alone."""
    xen_type = guest.get("xen_type") or "pvh"
    vals = {
        "name": guest["name"],
        "type": xen_type,
        "memory": guest.get("memory"),
        "maxmem": guest.get("max_memory"),
        "vcpus": guest.get("vcpus"),
        "maxvcpus": guest.get("max_vcpus"),
        "weight": guest.get("cpu_shares"),
        "kernel": guest.get("kernel"),
        "ramdisk": guest.get("ramdisk"),
        "extra": guest.get("extra"),
        "on_crash": guest.get("on_crash"),
        "disk": disk_specs(guest.get("disks") or []),
        "vif": vif_specs(guest.get("interfaces") or []),
        MARKER_KEY: guest.get("fleet") or "default",
    }
    vals.update(device_values(guest))
    return vals


def render_cfg(guest, existing=None):
    """The cfg text for ``guest``. With ``existing`` (the current file's text), statements
    of keys virtfleet does not manage are kept verbatim, in their order, after ours."""
    vals = managed_values(guest)
    kept, old = [], {}
    if existing:
        for st in parse_statements(existing):
            if st["key"] in MANAGED_KEYS:
                old.setdefault(st["key"], []).append(existing[st["start"]:st["end"]])
            else:
                kept.append(existing[st["start"]:st["end"]])
    lines = [HEADER.rstrip("\n")]
    for key in ("name", "type", "memory", "maxmem", "vcpus", "maxvcpus", "weight", "kernel",
                "ramdisk", "extra", "on_crash", "disk", "vif", MARKER_KEY):
        val = vals[key]
        if val is None:
            # not declared: whatever the file says stays (cmdline rides along with extra)
            for k in ((key, "cmdline") if key == "extra" else (key,)):
                lines.extend(old.get(k, []))
            continue
        if key in ("disk", "vif") and not val:
            continue
        lines.append("%s = %s" % (key, format_value(val)))
    for field, keys in FIELD_KEYS:
        for key in keys:
            if key not in vals:  # the field is not declared: its statements stay
                lines.extend(old.get(key, []))
            elif vals[key] is not None:
                lines.append("%s = %s" % (key, format_value(vals[key])))
    if kept:
        lines.append("# kept from the previous file")
        lines.extend(kept)
    return "\n".join(lines) + "\n"


# --- xl output --------------------------------------------------------------------------

def parse_xl_info(text):
    """``xl info``: {key: value} (strings, stripped)."""
    out = {}
    for line in text.splitlines():
        key, sep, val = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            out[key.strip()] = val.strip()
    return out


def parse_xl_list(text):
    """``xl list`` table: {name: {domid, memory, vcpus, state, flags}}; state is
    paused / running (running or blocked) / shutdown / crashed / dying."""
    out = {}
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 5 or not cols[1].isdigit():
            continue
        # the name may not contain spaces in xl, but be tolerant: the last 5 columns are fixed
        name = " ".join(cols[:-5]) if len(cols) > 6 else cols[0]
        domid, mem, vcpus, flags = cols[-5], cols[-4], cols[-3], cols[-2]
        if len(cols) == 5:
            domid, mem, vcpus, flags = cols[1], cols[2], cols[3], cols[4]
        state = "running"
        if "d" in flags:
            state = "dying"
        elif "c" in flags:
            state = "crashed"
        elif "s" in flags:
            state = "shutdown"
        elif "p" in flags:
            state = "paused"
        try:
            cpu_time = float(cols[-1]) if len(cols) >= 6 else None
        except ValueError:
            cpu_time = None
        out[name] = {"domid": int(domid), "memory": int(float(mem)), "vcpus": int(vcpus),
                     "flags": flags, "state": state, "cpu_time": cpu_time}
    return out


def _bitmap_count(bits):
    if isinstance(bits, list):
        return len(bits)
    return None


def _json_disk(d):
    cdrom = bool(d.get("is_cdrom"))
    vdev = d.get("vdev") or ""
    fmt = d.get("format")
    # libxl leaves zero/false values out of its JSON: no "readwrite" means read-only
    return {"volume": None, "pool": None, "path": d.get("pdev_path"),
            "device": "cdrom" if cdrom else "disk",
            "readonly": cdrom or not d.get("readwrite"),
            "bus": bus_of_vdev(vdev) or "virtio",
            "format": fmt if fmt in DISK_FORMATS else "raw",
            "vdev": vdev}


def _json_nic(n):
    mac = n.get("mac")
    return {"network": None, "bridge": n.get("bridge") or DEFAULT_BRIDGE,
            "model": n.get("model") or "virtio",
            "mac": mac.lower() if isinstance(mac, str) else None}


# libxl_action_on_shutdown in JSON -> the xl cfg spelling
_ACTIONS = {"restart_rename": "rename-restart", "coredump_destroy": "coredump-destroy",
            "coredump_restart": "coredump-restart", "soft_reset": "soft-reset"}


def model_from_domain_config(config):
    """The model dict of one libxl domain configuration (an item's ``config`` in
    ``xl list -l``): what the running domain was built with, with the live memory target,
    vCPU availability and scheduler parameters that libxl merges in (``xl mem-set``,
    ``xl vcpu-set`` and ``xl sched-*`` show up there at once)."""
    c_info = config.get("c_info") or {}
    b_info = config.get("b_info") or {}
    type_u = b_info.get("type.%s" % (c_info.get("type") or "pv")) or {}
    max_vcpus = b_info.get("max_vcpus")
    avail = _bitmap_count(b_info.get("avail_vcpus"))
    sched = b_info.get("sched_params") or {}
    weight = sched.get("weight")
    on_crash = config.get("on_crash") or "destroy"  # left out when it is xl's default
    return {
        "name": c_info.get("name"),
        "domid": None,
        "sched": sched.get("sched"),
        "xen_type": (c_info.get("type") or "pv").lower(),
        "memory": kib_to_mib(b_info.get("target_memkb")),
        "max_memory": kib_to_mib(b_info.get("max_memkb")),
        "vcpus": avail if avail else max_vcpus,
        "max_vcpus": max_vcpus,
        "cpu_shares": weight if isinstance(weight, int) and weight > 0 else None,
        "kernel": b_info.get("kernel") or type_u.get("kernel"),
        "ramdisk": b_info.get("ramdisk") or type_u.get("ramdisk"),
        "extra": b_info.get("cmdline") or type_u.get("cmdline"),
        "on_crash": _ACTIONS.get(on_crash.lower(), on_crash.lower()),
        "disks": [_json_disk(d) for d in config.get("disks") or [] if d.get("pdev_path")],
        "interfaces": [_json_nic(n) for n in config.get("nics") or []],
        **_json_devices(b_info, type_u),
    }


def _json_bitmap(bits):
    return set(b for b in bits if isinstance(b, int)) if isinstance(bits, list) else set()


def _json_devices(b_info, hvm):
    """The issue-16 fields of a running domain (libxl's b_info and its ``type.hvm`` part).
    ``vcpu_pins`` keeps every vCPU's hard affinity as a set (``host_cpus`` drops the ones that
    cover the whole host: unpinned)."""
    vnc = hvm.get("vnc") or {}
    graphics = None
    if hvm and _flag(vnc.get("enable")):
        display, unused = vnc.get("display"), _flag(vnc.get("findunused"))
        graphics = {"type": "vnc", "listen": vnc.get("listen") or "127.0.0.1",
                    "port": 5900 + display if isinstance(display, int) and unused is False else None,
                    "password": vnc.get("passwd") or None}
    elif hvm:
        graphics = {"type": "none", "listen": None, "port": None, "password": None}
    bios = hvm.get("bios")
    aff = b_info.get("vcpu_hard_affinity")
    return {
        "boot": boot_from(hvm["boot"]) if hvm.get("boot") else None,
        "firmware": None if not hvm else ("uefi" if bios == "ovmf" else "bios"),
        "graphics": graphics,
        "serial": bool(hvm.get("serial") or hvm.get("serial_list")) if hvm else None,
        "vcpu_pins": {} if aff is None else {i: _json_bitmap(b) for i, b in enumerate(aff)},
    }


def live_pins(pins, host_cpus):
    """{vcpu: set} of a running domain -> {vcpu: CPU list}, without the vCPUs whose affinity
    covers every host CPU (xl's "all": not pinned)."""
    if not pins:
        return {}
    every = set(range(host_cpus)) if host_cpus else None
    return {i: mdev.format_cpuset(cpus) for i, cpus in pins.items()
            if cpus and (every is None or not every <= cpus)}


def parse_xl_list_json(text):
    """``xl list -l``: {name: model dict with domid} (domains xl cannot describe are left out)."""
    text = text.strip()
    if not text:
        return {}
    data = json.loads(text)
    if isinstance(data, dict):
        data = [data]
    out = {}
    for item in data:
        config = item.get("config") or {}
        model = model_from_domain_config(config)
        if not model["name"]:
            continue
        model["domid"] = item.get("domid")
        out[model["name"]] = model
    return out
