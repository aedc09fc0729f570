# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions of the virtfleet core. Only the runner turns them into fail_json."""

from __future__ import annotations


class VirtfleetError(Exception):
    """An error about one object (kind + name) and, when known, one field of it."""

    def __init__(self, msg, obj=None, field=None, kind="guest", **details):
        super().__init__(msg)
        self.msg = msg
        self.obj = obj
        self.field = field
        self.kind = kind
        self.details = details

    def __str__(self):
        where = ""
        if self.obj is not None:
            where = "%s '%s': " % (self.kind, self.obj)
        if self.field:
            where += "%s: " % self.field
        return where + self.msg


class SpecError(VirtfleetError):
    """The declared input is wrong: nothing was changed."""


class BackendError(VirtfleetError):
    """The toolstack refused an operation (libvirt error code, xl/lxc rc and stderr)."""


class UnsupportedChange(VirtfleetError):
    """The change needs a recreate or a restart that the user did not allow."""
