# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python libraries the modules need on the managed host: libvirt-python, lxml, pycdlib.

The host roles install them as OS packages for the system Python (``python3-libvirt`` ...).
A module run by another interpreter (a virtualenv, a pyenv Python, ``auto`` discovery picking
``/usr/bin/python3.12``) cannot import them; :func:`require` then re-executes the module under
the first system interpreter that can (``respawn_module``, as ansible.posix's selinux modules
do). When none can, the module fails with ``missing_required_lib`` plus the name of the OS
package to install on this host's OS family.
"""

from __future__ import annotations

import importlib
import sys
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    from ansible.module_utils.common.respawn import (
        has_respawned, probe_interpreters_for_module, respawn_module)
except ImportError:  # ansible-core < 2.11
    has_respawned = probe_interpreters_for_module = respawn_module = None

SYSTEM_INTERPRETERS = ("/usr/bin/python3", "/usr/libexec/platform-python", "/usr/bin/python")

# import name -> pip name, OS package per OS family (None: not packaged there).
LIBS = {
    "libvirt": {"pip": "libvirt-python", "Debian": "python3-libvirt", "RedHat": "python3-libvirt"},
    "lxml": {"pip": "lxml", "Debian": "python3-lxml", "RedHat": "python3-lxml"},
    "pycdlib": {"pip": "pycdlib", "Debian": "python3-pycdlib", "RedHat": None},
}
_BY_PIP = {v["pip"]: k for k, v in LIBS.items()}
_INSTALLER = {"Debian": "apt-get install", "RedHat": "dnf install"}


def read_os_release(path="/etc/os-release"):
    """``/etc/os-release`` as a dict (empty when unreadable)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep and key and not key.startswith("#"):
                    out[key] = value.strip().strip("\"'")
    except (IOError, OSError):
        pass
    return out


def os_family(os_release):
    """``Debian`` (Debian, Ubuntu and derivatives), ``RedHat`` (RHEL, CentOS, Rocky, Alma,
    Fedora, ...) or ``None``, from the ID and ID_LIKE of an os-release dict."""
    ids = [os_release.get("ID", "").lower()] + os_release.get("ID_LIKE", "").lower().split()
    for i in ids:
        if i in ("debian", "ubuntu"):
            return "Debian"
        if i in ("rhel", "centos", "fedora", "rocky", "almalinux", "ol", "redhat"):
            return "RedHat"
    return None


def install_hint(import_name, os_release):
    """What to install on this host, as a sentence."""
    lib = LIBS[import_name]
    family = os_family(os_release)
    where = os_release.get("PRETTY_NAME") or os_release.get("ID") or "this host"
    if family and lib.get(family):
        return ("On %s (OS family %s) install the OS package %s (%s %s), which serves the system "
                "Python %s; a module run by another Python re-executes there."
                % (where, family, lib[family], _INSTALLER[family], lib[family], SYSTEM_INTERPRETERS[0]))
    if family:
        return ("On %s (OS family %s) %s is not packaged: install it for the Python that runs the "
                "module (pip install %s)." % (where, family, lib["pip"], lib["pip"]))
    return ("Install %s for the Python that runs the module (%s), or the OS package that provides "
            "it for the system Python." % (lib["pip"], sys.executable))


def missing_message(import_name, os_release_path="/etc/os-release"):
    """``missing_required_lib``'s sentence plus what to install on this host."""
    import_name = _BY_PIP.get(import_name, import_name)
    return "%s. %s" % (missing_required_lib(LIBS[import_name]["pip"]).rstrip("."),
                       install_hint(import_name, read_os_release(os_release_path)))


def require(module, import_name, os_release_path="/etc/os-release", fail=True):
    """Import ``import_name`` (``libvirt``, ``lxml`` or ``pycdlib``; the pip names
    ``libvirt-python`` etc. are accepted too) and return the Python module.

    When this interpreter lacks it and the module has not respawned yet, re-execute the module
    under the first system interpreter that has it (this call does not return then). Otherwise
    fail the module naming the pip package and the OS package for this host's OS family, or,
    with ``fail=False`` (the library is optional for the caller), return None.
    """
    import_name = _BY_PIP.get(import_name, import_name)
    if import_name not in LIBS:
        raise ValueError("unknown library %r (known: %s)" % (import_name, ", ".join(sorted(LIBS))))
    try:
        return importlib.import_module(import_name)
    except ImportError:
        error = traceback.format_exc()
    if respawn_module is not None and not has_respawned():
        interpreter = probe_interpreters_for_module(SYSTEM_INTERPRETERS, import_name)
        if interpreter:
            respawn_module(interpreter)
    if not fail:
        return None
    module.fail_json(msg=missing_message(import_name, os_release_path), exception=error)
    return None  # not reached with a real module
