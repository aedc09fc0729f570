# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value checks every field table shares (_model, _model_objects, _model_devices): each
takes (object name, field path, value) and returns the value or raises SpecError naming both."""

from __future__ import annotations

from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import SpecError


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(name, field, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "true", "on", "1", "no", "false", "off", "0"):
        return value.lower() in ("yes", "true", "on", "1")
    raise SpecError("expected a boolean, got %r" % (value,), name, field)


def _int(name, field, value, minimum=None, maximum=None):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not _is_int(value):
        raise SpecError("expected an integer, got %r" % (value,), name, field)
    if minimum is not None and value < minimum:
        raise SpecError("must be at least %d, got %d" % (minimum, value), name, field)
    if maximum is not None and value > maximum:
        raise SpecError("must be at most %d, got %d" % (maximum, value), name, field)
    return value


def integer(minimum=None, maximum=None):
    return lambda name, field, value: _int(name, field, value, minimum, maximum)


def _text(name, field, value, maximum=None):
    if not isinstance(value, str):
        raise SpecError("expected a string, got %r" % (value,), name, field)
    if maximum is not None and len(value) > maximum:
        raise SpecError("longer than %d characters" % maximum, name, field)
    return value


def _choice(name, field, value, choices):
    if value not in choices:
        raise SpecError("expected one of %s, got %r" % ("|".join(choices), value), name, field)
    return value


def _unknown_keys(name, field, given, allowed):
    extra = sorted(set(given) - set(allowed))
    if extra:
        raise SpecError("unknown key(s) %s (allowed: %s)" % (", ".join(extra), ", ".join(allowed)),
                        name, field)
