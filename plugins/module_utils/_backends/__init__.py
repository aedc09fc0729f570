# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest backends by name: ``backend: libvirt | lxc | xl`` on guest/guests.

Imports are static on purpose: Ansible ships to the managed host only the module_utils
it can see imported. Each backend imports its own toolstack library lazily."""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.libvirt import LibvirtBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.lxc import LxcBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.xl import XlBackend

BACKENDS = {
    LibvirtBackend.name: LibvirtBackend,
    LxcBackend.name: LxcBackend,
    XlBackend.name: XlBackend,
}


def get_backend(name):
    """The backend class for ``name``."""
    if name not in BACKENDS:
        raise BackendError("backend %r is not available (have: %s)" % (name, ", ".join(sorted(BACKENDS))),
                           None, "backend")
    return BACKENDS[name]
