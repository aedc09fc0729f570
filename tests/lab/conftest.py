"""Lab tier setup: the ``lab_full`` marker.

Tests marked ``lab_full`` are the slow bulk of the lab tier (the Xen dom0 suite):
``make test`` deselects them (``-m "not lab_full"``) and keeps one short end-to-end test
per lab; ``make test-lab`` runs them all."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "lab_full: slow lab test; `make test` skips it with -m 'not lab_full', "
        "`make test-lab` runs it")
