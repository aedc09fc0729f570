# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a guest backend (libvirt, lxc, xl) provides to the core.

A backend reads and changes one toolstack. It never calls exit_json/fail_json and never
reads check mode: the core plans with what the backend reads and calls ``apply`` only
outside check mode. What it manages is data (``caps``, a _model.Capabilities): the core's
validator refuses fields it lacks, the pure planner applies its live rules. Errors are
VirtfleetError subclasses naming guest and field.

A new backend is one file with a subclass of GuestBackend plus one line in the registry
(_backends/__init__.py).
"""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError, UnsupportedChange


class GuestBackend(object):
    """Base class; subclasses override what their toolstack does differently."""

    name = None
    #: the Python library the backend imports (name for missing_required_lib), or None
    required_lib = None
    #: the module the backend imports (for respawning under the system Python), or None
    required_module = None
    #: a _model.Capabilities: the fields it manages, live rules, defaults, child kinds
    caps = None

    #: how many plans ``apply`` may carry out at once (threads); 1 = one after the other.
    #: More than 1 only for a toolstack whose client is thread-safe (libvirt).
    apply_workers = 1

    def __init__(self, params, run_command=None):
        self.params = params
        self.run_command = run_command

    @classmethod
    def import_error(cls):
        """Traceback text when the required library is missing, else None."""
        return None

    def children(self, guest):
        """Objects of other kinds a guest declares with it (its volumes, its seed), as a
        list of ``(kind, raw_spec, field, overrides)``; the core plans each through its
        kind and makes the plans children of the guest's plan."""
        return []

    def adopt(self, guest, children):
        """Take what the child objects resolved to into the guest (e.g. disk formats);
        ``children`` maps a child's field to ``(spec, current)``."""

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
        """Carry out one plan (never called in check mode); a BackendError names the guest.
        A backend that checked that a failed plan changed nothing (xl: a start failing again on
        a guest whose cfg is already as declared) sets ``details["changed_nothing"]`` on the
        error: the core then reports that object changed=false (and no diff for it)."""
        try:
            self._apply(plan, current)
        except BackendError as e:
            e.obj = plan["name"]
            raise
        finally:
            self._forget(plan["name"])

    def _apply(self, plan, current):
        raise NotImplementedError

    def apply_alone(self, plan):
        """True when a plan must not be applied at the same time as others (it touches
        something on the host another guest of the call may touch too, like a disk file)."""
        return False

    def prefetch(self, names):
        """Read what ``current`` needs for the guests ``names`` in bulk, before the core
        plans them one by one (optional; ``current`` must still work without it)."""

    def _forget(self, name):
        """Drop what was read and cached of guest ``name`` before it changed."""

    def final_state(self, name):
        raise NotImplementedError

    # -- snapshots (the snapshot kind, _snapshot.py) -----------------------------------
    #: why this toolstack has no snapshots at all (None: it has them)
    no_snapshots = "backend %s has no snapshots"

    def snapshot_read(self, guest):
        """None when the guest does not exist, else ``{"guest_state", "snapshots",
        "refused"}`` (see _snapshot.plan_snapshot)."""
        raise UnsupportedChange(self.no_snapshots % self.name, None, "backend", kind="snapshot")

    def snapshot_apply(self, guest, ops, current):
        """Carry out the ops of a snapshot plan, in order: ``("create", spec)``,
        ``("delete", snap)``, ``("revert", snap)``, ``("describe", snap)``."""
        raise UnsupportedChange(self.no_snapshots % self.name, None, "backend", kind="snapshot")

    def host_resources(self):
        """What the host offers for admission (``capacity_check``): {cpus, memory_mib,
        hugepages: {size: {total}}}; None when this backend cannot tell (not checked)."""
        return None

    def running_use(self):
        """{name: (vcpus, memory_mib, hugepages)} of the guests running (or paused) on the
        host, whichever fleet or tool defined them; None when this backend cannot tell."""
        return None

    def pool_space(self, names):
        """{pool: (capacity bytes, allocation bytes)} of the named storage pools that exist and
        are active (for ``capacity_check``'s ``disk_ratio``); the others are left out."""
        return {}

    def close(self):
        pass
