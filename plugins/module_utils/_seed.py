# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NoCloud seed ISOs (volume label ``cidata``) built and read back with pycdlib.

Seeds are compared by their files' contents, never by ISO bytes (which carry dates)."""

from __future__ import annotations

import hashlib
import io
import json
import traceback

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError

try:
    import pycdlib
except ImportError:
    pycdlib = None
    PYCDLIB_IMPORT_ERROR = traceback.format_exc()
else:
    PYCDLIB_IMPORT_ERROR = None

LABEL = "cidata"
# file in the seed -> its ISO9660 level-1 name
FILES = {"user-data": "/USERDATA.;1", "meta-data": "/METADATA.;1", "network-config": "/NETWORKC.;1"}


def _render(name, field, value, header=None):
    if value is None:
        return None
    if isinstance(value, dict):
        # JSON is YAML: no YAML library needed on the managed host
        text = json.dumps(value, indent=2, sort_keys=True) + "\n"
        return ((header + "\n") if header else "") + text
    if isinstance(value, str):
        return value if value.endswith("\n") else value + "\n"
    raise SpecError("expected a mapping or a string, got %s" % type(value).__name__, name, field, kind="cloud_init")


def seed_files(name, user_data, meta_data, network_config):
    """The seed's files as {filename: bytes}. meta-data gets an instance-id derived from
    the seed's content unless given, so a changed seed is seen as a new instance."""
    files = {"user-data": _render(name, "user_data", user_data if user_data is not None else {}, "#cloud-config")}
    if network_config is not None:
        files["network-config"] = _render(name, "network_config", network_config)
    meta = meta_data if meta_data is not None else {}
    if isinstance(meta, dict) and "instance-id" not in meta:
        digest = hashlib.sha256(json.dumps([files, meta], sort_keys=True).encode()).hexdigest()[:16]
        meta = dict(meta, **{"instance-id": "iid-virtfleet-%s" % digest})
    files["meta-data"] = _render(name, "meta_data", meta)
    return {k: v.encode("utf-8") for k, v in files.items()}


def build_iso(files):
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    for fname in sorted(files):
        data = files[fname]
        iso.add_fp(io.BytesIO(data), len(data), FILES[fname], rr_name=fname, joliet_path="/" + fname)
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_iso(path):
    """{filename: bytes} of a seed at ``path``; None if it is not a cidata ISO."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open(path)
    except Exception:  # pylint: disable=broad-except  # pycdlib raises several kinds for non-ISO data
        return None
    try:
        if iso.pvd.volume_identifier.decode("ascii", "replace").strip() != LABEL:
            return None
        files = {}
        for fname in FILES:
            buf = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(buf, joliet_path="/" + fname)
            except pycdlib.pycdlibexception.PyCdlibInvalidInput:
                continue
            files[fname] = buf.getvalue()
        return files
    finally:
        iso.close()
