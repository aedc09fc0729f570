# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # The result of network(s), pool, volume(s) and cloud_init; kept here once.
    DOCUMENTATION = r"""
options: {}
notes:
  - The module returns RV(ignore:results), one item per object with C(kind), C(name), C(action)
    (V(create), V(update), V(delete) or V(none)), C(changed), C(actions) (what was done, in order),
    C(fields) (each changed field with how it takes effect), C(failed) and, for a failed object, C(msg)
    naming the object and the field. The single-object modules also return that item's keys at the top level.
"""
