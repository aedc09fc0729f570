"""The guests inventory plugin turning guest records into hosts, groups and variables: names
that clash across hypervisors, filters, and strings from guests that must never be templated."""

import pytest
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.virtfleet.hypervisor.plugins.inventory import guests
from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _inventory as inv

DEFAULTS = {"fleets": [], "managed_only": False, "strict": False, "group_prefix": "virtfleet_", "compose": {},
            "groups": {}, "keyed_groups": [], "leading_separator": True, "use_extra_vars": False}


@pytest.fixture(name="plugin")
def plugin_with_options():
    """The plugin class with its options given directly (the plugin loader, which would read
    them from a config file, is not set up in the unit tier); the integration tier runs it
    through ansible-inventory."""
    def configure(**options):
        p = guests.InventoryModule()
        p.inventory, p.loader = InventoryData(), DataLoader()
        p._keys_ok = set()  # pylint: disable=protected-access
        opts = dict(DEFAULTS, **options)
        p.get_option = opts.__getitem__
        return p
    return configure


def rec(name, hv, fleet=None, state="stopped"):
    return inv.guest_record(name, hv, "qemu:///system", "libvirt", state, {"memory": 32, "vcpus": 1}, False,
                            managed=fleet is not None, fleet=fleet)


def hosts(p, group):
    return sorted(h.name for h in p.inventory.groups[group].get_hosts())


def test_groups_variables_and_a_name_on_two_hypervisors(plugin, capsys):
    p = plugin()
    p._populate(  # pylint: disable=protected-access
        [rec("web1", "kvm01", "blue", "running"), rec("web1", "kvm02", "blue"), rec("db", "kvm02")])
    assert sorted(p.inventory.hosts) == ["db", "web1", "web1@kvm02"]
    assert "guest web1 is on hypervisors kvm01 and kvm02" in capsys.readouterr().err
    assert hosts(p, "virtfleet_hypervisor_kvm02") == ["db", "web1@kvm02"]
    assert hosts(p, "virtfleet_fleet_blue") == ["web1", "web1@kvm02"]
    assert hosts(p, "virtfleet_state_running") == ["web1"]
    v = p.inventory.get_host("web1@kvm02").get_vars()
    assert (v["virtfleet_name"], v["virtfleet_hypervisor"], v["virtfleet_memory"]) == ("web1", "kvm02", 32)
    assert "ansible_host" not in v


def test_filters(plugin):
    p = plugin(fleets=["blue"])
    p._populate(  # pylint: disable=protected-access
        [rec("a", "h", "blue"), rec("b", "h", "green"), rec("c", "h")])
    assert sorted(p.inventory.hosts) == ["a"]
    p = plugin(managed_only=True)
    p._populate(  # pylint: disable=protected-access
        [rec("a", "h", "blue"), rec("c", "h")])
    assert sorted(p.inventory.hosts) == ["a"]


def test_strings_from_guests_are_never_templated(plugin, tmp_path):
    marker = tmp_path / "templated"
    evil = "{{ lookup('pipe', 'touch %s') }}" % marker
    p = plugin(compose={"half": trust_as_template("virtfleet_memory // 2")})  # as read from a config file
    p._populate(  # pylint: disable=protected-access
        [rec("g1", "h", evil)])
    variables = p.inventory.get_host("g1").get_vars()
    templar = Templar(loader=DataLoader(), variables=variables)
    assert templar.template(trust_as_template("{{ virtfleet_fleet }}")) == evil
    assert not marker.exists()
    assert variables["half"] == 16  # compose still evaluates the config's own expressions
