# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The common part of the kinds that act on a libvirt guest (guest_backup, migrate)."""

from __future__ import annotations


class OperationHandler(object):
    """A handler over a LibvirtBackend whose plan comes from a pure ``planner`` and whose
    own result keys (``result_extra``, documented in its module) go into the plan's
    ``report``, which the pipeline adds to the result item; ``_apply`` does the work."""

    kind = None
    result_extra = ()

    def __init__(self, backend):
        self.lv = backend

    def boundary(self, what, obj, field=None):
        return self.lv.boundary(what, obj, self.kind, field)

    @staticmethod
    def planner(spec, current):
        raise NotImplementedError

    def plan(self, spec, current):
        return self._reported(self.planner(spec, current))

    def apply(self, p, current):
        try:
            self._apply(p, current)
        finally:
            self._reported(p)

    def _apply(self, p, current):
        raise NotImplementedError

    def _reported(self, p):
        p["report"] = {k: p.get(k) for k in self.result_extra}
        return p

    @staticmethod
    def view(obj):
        return obj or {}
