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


def test_tags_are_groups_with_ansible_safe_names_and_labels_are_variables(plugin):
    labelled = inv.guest_record("web1", "kvm01", "qemu:///system", "libvirt", "running",
                                {"memory": 32, "tags": ["web", "env=prod", "a.b-c"], "title": "Web",
                                 "description": "front\nend"}, False, managed=True, fleet="blue")
    cached = rec("db", "kvm01", "blue")  # a record cached before tags were read
    del cached["tags"]
    p = plugin()
    p._populate([labelled, cached, rec("web2", "kvm02", "blue")])  # pylint: disable=protected-access
    assert hosts(p, "virtfleet_tag_web") == ["web1"]
    assert hosts(p, "virtfleet_tag_env_prod") == ["web1"] and hosts(p, "virtfleet_tag_a_b_c") == ["web1"]
    assert not [g for g in p.inventory.groups if g.startswith("virtfleet_tag_") and "db" in hosts(p, g)]
    v = p.inventory.get_host("web1").get_vars()
    assert (v["virtfleet_tags"], v["virtfleet_title"], v["virtfleet_description"]) == (
        ["a.b-c", "env=prod", "web"], "Web", "front\nend")
    v2 = p.inventory.get_host("web2").get_vars()
    assert (v2["virtfleet_tags"], v2["virtfleet_title"], v2["virtfleet_description"]) == ([], "", "")
    p = plugin(group_prefix="vf_")
    p._populate([labelled])  # pylint: disable=protected-access
    assert hosts(p, "vf_tag_env_prod") == ["web1"]


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


def group_sources(plugin, hostvars):
    """_sources() of hypervisor_group 'hypervisors' over hosts with these variables."""
    p = plugin(uris=[], hosts=[], hypervisor_group="hypervisors", use_vars_plugins=False)
    p.inventory.add_group("hypervisors")
    for group in ("kvm_hosts", "xen_hosts"):
        p.inventory.add_group(group)
        p.inventory.add_child("hypervisors", group)
    for name, (group, hv) in hostvars.items():
        p.inventory.add_host(name, group=group)
        for k, v in hv.items():
            p.inventory.set_variable(name, k, v)
    return {name: settings for name, _label, _kind, settings in p._sources()}  # pylint: disable=protected-access


def test_hypervisor_group_host_key_checking_reaches_libvirt_ssh_and_the_probe(plugin, monkeypatch):
    """libvirt's qemu+ssh runs its own ssh, which never sees ansible_ssh_common_args: a host that
    Ansible reaches without checking its key (StrictHostKeyChecking=no in its ssh args,
    ansible_host_key_checking: false, or host_key_checking = False) gets no_verify=1; the
    probe's ssh gets StrictHostKeyChecking=no when only the setting says so."""
    monkeypatch.setattr(guests.C, "HOST_KEY_CHECKING", True)
    lab = {"ansible_host": "127.0.0.1", "ansible_port": 2222, "ansible_user": "root", "ansible_ssh_private_key_file": "/k"}
    got = group_sources(plugin, {
        "kvm-nocheck": ("kvm_hosts", dict(lab, ansible_ssh_common_args="-o StrictHostKeyChecking=no -o LogLevel=ERROR")),
        "kvm-var": ("kvm_hosts", dict(lab, ansible_host_key_checking=False)),
        "kvm-checked": ("kvm_hosts", dict(lab, ansible_ssh_extra_args="-oStrictHostKeyChecking=accept-new")),
        "kvm-default": ("kvm_hosts", lab),
        "xen-nocheck": ("xen_hosts", dict(lab, ansible_ssh_common_args="-o 'StrictHostKeyChecking no'")),
        "xen-default": ("xen_hosts", lab),
    })
    base = "qemu+ssh://root@127.0.0.1:2222/system?no_tty=1&keyfile=/k"
    assert got["kvm-nocheck"]["uri"] == got["kvm-var"]["uri"] == base + "&no_verify=1"
    assert got["kvm-checked"]["uri"] == got["kvm-default"]["uri"] == base
    assert got["xen-nocheck"]["ssh_args"] == ["-o", "StrictHostKeyChecking no"]
    assert got["xen-default"]["ssh_args"] == []

    monkeypatch.setattr(guests.C, "HOST_KEY_CHECKING", False)  # ANSIBLE_HOST_KEY_CHECKING=False
    got = group_sources(plugin, {"kvm-default": ("kvm_hosts", lab), "xen-default": ("xen_hosts", lab),
                                 "kvm-checked": ("kvm_hosts", dict(lab, ansible_ssh_common_args="-o StrictHostKeyChecking=yes"))})
    assert got["kvm-default"]["uri"] == base + "&no_verify=1" and got["kvm-checked"]["uri"] == base
    assert got["xen-default"]["ssh_args"] == ["-o", "StrictHostKeyChecking=no"]
