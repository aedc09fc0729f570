# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a guest backend (libvirt, lxc, xl) provides to the runner.

A backend reads and changes one toolstack. It never calls exit_json/fail_json and never
reads check mode: the runner plans with what the backend reads and calls ``apply`` only
outside check mode. Errors are VirtfleetError subclasses naming guest and field.
"""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import COMPARED
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._plan import default_live_ops


class GuestBackend(object):
    """Base class; subclasses override what their toolstack does differently."""

    name = None
    #: the Python library the backend imports (name for missing_required_lib), or None
    required_lib = None
    #: the compared fields of the data model this backend manages
    fields = COMPARED

    def __init__(self, params, run_command=None):
        self.params = params
        self.run_command = run_command

    @classmethod
    def import_error(cls):
        """Traceback text when the required library is missing, else None."""
        return None

    def live_ops(self, field, want, live):
        """(op, arg) list that applies ``field`` to the running guest, or None (restart)."""
        return default_live_ops(field, want, live)

    def resolve(self, guest):
        """Validate backend keys and references of one guest spec; fill in what apply
        needs. Returns the guest; raises SpecError naming the field."""
        return guest

    def current(self, name):
        """None when the guest does not exist, else a dict with config, live, state,
        autostart, managed (see _plan)."""
        raise NotImplementedError

    def managed_names(self, fleet):
        """Names of guests carrying virtfleet's marker for ``fleet``."""
        raise NotImplementedError

    def apply(self, plan, current):
        """Carry out one plan (never called in check mode); a BackendError names the guest."""
        try:
            self._apply(plan, current)
        except BackendError as e:
            e.obj = plan["name"]
            raise
        finally:
            self._forget(plan["name"])

    def _apply(self, plan, current):
        raise NotImplementedError

    def _forget(self, name):
        """Drop what was read and cached of guest ``name`` before it changed."""

    def final_state(self, name):
        raise NotImplementedError

    def close(self):
        pass
