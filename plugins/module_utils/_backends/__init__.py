# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest backends by name: ``backend: libvirt | lxc | xl`` on guest/guests.

Each backend's file is imported the first time it is asked for (``get_backend``), so a run
of one backend does not compile the others (inside AnsiballZ nothing is byte-compiled ahead:
every imported file is compiled on every run). The imports are still import statements, on
purpose: Ansible ships to the managed host only the module_utils it sees imported, and it sees
the ones inside functions too. Never turn them into ``importlib`` calls. Each backend imports
its own toolstack library lazily."""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError


def _libvirt():
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
    return LibvirtBackend


def _lxc():
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import LxcBackend
    return LxcBackend


def _xl():
    from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.xl import XlBackend
    return XlBackend


#: backend name -> the function that imports its file and returns its class
LOADERS = {
    "libvirt": _libvirt,
    "lxc": _lxc,
    "xl": _xl,
}

#: backend name -> class, for the backends imported so far (tests add toy backends here)
BACKENDS = {}


def get_backend(name):
    """The backend class for ``name``."""
    if name not in BACKENDS and name in LOADERS:
        BACKENDS[name] = LOADERS[name]()
    if name not in BACKENDS:
        raise BackendError("backend %r is not available (have: %s)" % (name, ", ".join(sorted(all_names()))),
                           None, "backend")
    return BACKENDS[name]


def all_names():
    return set(LOADERS) | set(BACKENDS)


def all_backends():
    """{name: class} of every backend, each imported (the other backends' Capabilities name
    the backend a misplaced key belongs to, in an error message)."""
    return {name: get_backend(name) for name in sorted(all_names())}
