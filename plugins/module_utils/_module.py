# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AnsibleModule of the single-object modules: an option Ansible itself refuses (a wrong
type, a choice typo) names the object too, as every other error of this collection does
(``guest 'web01': value of state must be one of: ...``)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule


class ObjectModule(AnsibleModule):
    """AnsibleModule for a module that converges one named object of ``kind``."""

    def __init__(self, kind, **kwargs):
        self._vf_kind = kind
        self._vf_validated = False
        super().__init__(**kwargs)
        self._vf_validated = True

    def fail_json(self, msg, **kwargs):  # pylint: disable=arguments-differ
        name = (getattr(self, "params", None) or {}).get("name")
        if not self._vf_validated and isinstance(name, str) and name:
            msg = "%s '%s': %s" % (self._vf_kind, name, msg)
        super().fail_json(msg=msg, **kwargs)
