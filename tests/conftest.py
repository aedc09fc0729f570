"""Shared pytest setup: the collection importable as ansible_collections.virtfleet.hypervisor,
and every tier must collect at least one test (an empty tier is an error, never a pass)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

TIERS = ("unit", "integration", "sanity", "lab")


def pytest_collection_modifyitems(session, config, items):
    requested = [os.path.relpath(os.path.abspath(str(a).split("::", maxsplit=1)[0]), os.path.join(ROOT, "tests"))
                 for a in config.args]
    for tier in TIERS:
        asked = any(r == "." or r == tier or r.startswith(tier + os.sep) for r in requested)
        if not asked:
            continue
        found = [i for i in items if os.sep + "tests" + os.sep + tier + os.sep in str(i.path)]
        if not found:
            raise pytest.UsageError("test tier %r collected no test: an empty tier is an error" % tier)
