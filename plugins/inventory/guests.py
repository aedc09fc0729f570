# -*- coding: utf-8 -*-
# Copyright: virtfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: guests
short_description: The guests of libvirt, LXC and xl hypervisors as inventory hosts
version_added: 0.1.0
description:
  - Lists the guests (VMs and containers) of a set of hypervisors as inventory hosts, so that
    plays can target the guests themselves.
  - Hypervisors are libvirt URIs (O(uris)), LXC and xl hosts reached over SSH (O(hosts)), or
    the hosts of a group of the inventory loaded before this source (O(hypervisor_group)).
  - Hypervisors are read in parallel, each over one connection with bulk calls
    (C(listAllDomains), C(getAllDomainStats), each network's C(DHCPLeases) once per host; each
    domain's definition once), or with one command per LXC/xl host.
  - A hypervisor that cannot be read is a warning naming it and the others are still listed;
    with O(strict=true) it is an error.
  - Groups C(<prefix>hypervisor_<host>), C(<prefix>state_<state>), C(<prefix>backend_<backend>)
    and C(<prefix>fleet_<fleet>) (managed guests only), C(<prefix>tag_<tag>) for each of the guest's
    free O(virtfleet.hypervisor.guest#module:tags) (characters other than letters, digits and C(_)
    become C(_), as Ansible sanitizes group names, so tag C(env=prod) is group C(virtfleet_tag_env_prod));
    host variables prefixed C(virtfleet_) (see the notes). Every string read from a hypervisor or a guest is marked unsafe, so it is
    never templated.
  - The config file name must end with C(virtfleet_guests.yml) or C(virtfleet_guests.yaml).
author:
  - virtfleet maintainers (@virtfleet)
requirements:
  - libvirt-python on the controller (for libvirt sources)
  - ssh and python3 on LXC/xl hosts reached over SSH
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin.
    required: true
    type: str
    choices: [virtfleet.hypervisor.guests]
  uris:
    description:
      - "libvirt hypervisors, each a URI (C(qemu:///system), C(qemu+ssh://root@kvm01/system),
        C(qemu+unix:///system?socket=/run/x/libvirt-sock)) or a dict with C(uri) and
        C(name), the hypervisor's name in groups and C(virtfleet_hypervisor) (by default the
        host name libvirt reports)."

    type: list
    elements: raw
    default: []
  hosts:
    description:
      - LXC and xl hypervisors, read with one command over SSH each (C(ssh -o BatchMode=yes
        HOST python3 -), which must log in without a prompt).
      - Each is a dict with C(host) (required), C(backend) (C(lxc) or C(xl), required),
        C(name) (default C(host)), C(user), C(port), C(private_key_file), C(ssh_args) (a list
        of extra C(ssh) arguments, e.g. C([-o, StrictHostKeyChecking=accept-new])), C(python)
        (default C(python3)), C(lxc_path), C(xl_config_dir) (default C(/etc/xen)),
        C(xl_save_dir) (default C(/var/lib/xen/save); a guest saved there shows as C(saved)), and
        C(local) (true runs the probe on this machine, without SSH).
    type: list
    elements: dict
    default: []
  hypervisor_group:
    description:
      - Read the hypervisors of this group of the inventory loaded before this source (list
        this config after the hypervisors' inventory with C(-i)).
      - Members of C(lxc_hosts) are read as LXC hosts and of C(xen_hosts) as xl hosts over SSH
        (a host's C(virtfleet_inventory_backend) overrides), with the host's C(ansible_user),
        C(ansible_port), private key and C(ansible_ssh_common_args)/C(ansible_ssh_extra_args);
        others through libvirt at
        C(virtfleet_inventory_uri), else C(virtfleet_uri) when the host is reached with
        C(ansible_connection=local) or that URI names a remote host, else
        C(qemu+ssh://[ansible_user@]ansible_host[:ansible_port]/system).
      - "Host keys as Ansible's ssh connection checks them: a host whose ssh args say
        C(StrictHostKeyChecking=no), or with C(ansible_host_key_checking=false), or any host when
        C(host_key_checking) is off, is reached with C(no_verify=1) in its qemu+ssh URI (libvirt
        runs its own ssh, which never sees the host's ssh args) or with C(-o StrictHostKeyChecking=no)
        for its probe."
    type: str
  use_vars_plugins:
    description: With O(hypervisor_group), also read the hypervisors' C(group_vars)/C(host_vars) files.
    type: bool
    default: true
  timeout:
    description: Seconds one hypervisor may take in all (connect and read); after that it is unreachable.
    type: int
    default: 20
  agent_timeout:
    description:
      - Seconds to wait for guest agents, in all, per hypervisor. Only running guests whose
        agent channel is connected and that no lease or ARP entry names are asked; C(0) never asks.
    type: float
    default: 2
  address_sources:
    description: Where addresses come from, in order of preference for C(ansible_host).
    type: list
    elements: str
    choices: [lease, arp, agent]
    default: [lease, arp, agent]
  fleets:
    description: Only guests of these fleets (from the virtfleet marker); empty lists every guest.
    type: list
    elements: str
    default: []
  managed_only:
    description: Only guests that carry virtfleet's managed marker.
    type: bool
    default: false
  group_prefix:
    description: Prefix of the groups this plugin makes.
    type: str
    default: virtfleet_
notes:
  - "Host variables: C(virtfleet_name), C(virtfleet_uuid), C(virtfleet_hypervisor), C(virtfleet_uri)
    (libvirt URI or C(ssh://host)), C(virtfleet_backend) (C(libvirt), C(lxc), C(xl)), C(virtfleet_state)
    (C(running), C(stopped), C(paused), C(crashed)), C(virtfleet_autostart), C(virtfleet_persistent),
    C(virtfleet_managed), C(virtfleet_fleet), C(virtfleet_agent) (agent channel connected),
    C(virtfleet_tags) (list, as declared), C(virtfleet_title), C(virtfleet_description) (empty when unset),
    C(virtfleet_addresses) (list of C(ip), C(mac), C(interface), C(family), C(source)) and the
    guest modules' spec fields as they name them (C(virtfleet_vcpus), C(virtfleet_memory) in MiB,
    C(virtfleet_max_memory), C(virtfleet_disks), C(virtfleet_interfaces), ...); C(ansible_host)
    when an address is known."
  - A guest name found on two hypervisors is listed as C(name@hypervisor) the second time, with a warning.
seealso:
  - name: docs/inventory.md
    description: How the plugin reads hosts, and its benchmark.
    link: https://example.invalid/virtfleet/hypervisor/docs/inventory.md
"""

EXAMPLES = r"""
# kvm.virtfleet_guests.yml: two libvirt hosts; ansible-inventory -i kvm.virtfleet_guests.yml --graph
plugin: virtfleet.hypervisor.guests
uris:
  - qemu:///system
  - uri: qemu+ssh://root@kvm02.example.com/system
    name: kvm02
keyed_groups:
  - key: virtfleet_fleet
    prefix: fleet
compose:
  ansible_user: "'debian'"

---
# fleet.virtfleet_guests.yml: the guests of every host of the `hypervisors` group:
#   ansible-inventory -i inventories/example -i fleet.virtfleet_guests.yml --list
plugin: virtfleet.hypervisor.guests
hypervisor_group: hypervisors
fleets: [example]
groups:
  web: virtfleet_name.startswith('web')
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/virtfleet-inventory

---
# lxc.virtfleet_guests.yml: LXC containers of a host over SSH
plugin: virtfleet.hypervisor.guests
hosts:
  - host: lxc01.example.com
    backend: lxc
    user: root
strict: true   # an unreachable host fails the inventory
"""

import re
import shlex

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.unsafe_proxy import wrap_var
from ansible.utils.vars import combine_vars
from ansible.vars.plugins import get_vars_from_inventory_sources

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _inventory as inv
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.xl import DEFAULT_SAVE_DIR as XL_SAVE_DIR

try:  # ansible-core 2.19+: what an inventory plugin sets is untrusted (never templated) unless tagged
    from ansible.template import is_trusted_as_template  # noqa: F401 pylint: disable=unused-import
    _UNTRUSTED_BY_DEFAULT = True
except ImportError:  # older cores: mark it unsafe explicitly
    _UNTRUSTED_BY_DEFAULT = False

try:
    import libvirt
except ImportError:  # reported when a libvirt source is configured
    libvirt = None

HOST_KEYS = ("host", "backend", "name", "user", "port", "private_key_file", "ssh_args", "python", "lxc_path",
             "xl_config_dir", "xl_save_dir", "local")
_GROUP_RE = re.compile(r"[^A-Za-z0-9_]")


def _unsafe(value):
    """Strings read from hypervisors and guests, never to be templated: untrusted as they are on
    ansible-core 2.19+ (wrap_var there would show them as {"__ansible_unsafe": ...} in
    ansible-inventory --list, which AWX imports), wrapped unsafe on older cores."""
    return value if _UNTRUSTED_BY_DEFAULT else wrap_var(value)


def _ssh_option(args, name):
    """The value of ssh option ``name`` (lower case) in an ssh argument list (``-o Name=value``,
    ``-oName=value`` or ``-o "Name value"``), or None."""
    for i, arg in enumerate(args):
        if arg == "-o" and i + 1 < len(args):
            opt = args[i + 1]
        elif arg.startswith("-o") and len(arg) > 2:
            opt = arg[2:]
        else:
            continue
        key, _sep, value = opt.replace("=", " ", 1).partition(" ")
        if key.strip().lower() == name:
            return value.strip().lower()
    return None


def _host_key_checking(hostvars, ssh_args):
    """Whether Ansible's ssh connection would check this host's key: its ssh args'
    StrictHostKeyChecking, else ansible_host_key_checking / ansible_ssh_host_key_checking, else
    the host_key_checking setting (ANSIBLE_HOST_KEY_CHECKING)."""
    strict = _ssh_option(ssh_args, "stricthostkeychecking")
    if strict is not None:
        return strict not in ("no", "off")
    for var in ("ansible_ssh_host_key_checking", "ansible_host_key_checking"):
        if hostvars.get(var) is not None:
            return boolean(hostvars[var], strict=False)
    return bool(C.HOST_KEY_CHECKING)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "virtfleet.hypervisor.guests"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("virtfleet_guests.yml", "virtfleet_guests.yaml"))

    # -- configuration -------------------------------------------------------------------------
    def _check_config(self, config, path):
        unknown = sorted(k for k in config if k not in self._options and k != "plugin")
        if unknown:
            raise AnsibleParserError("%s: unknown option%s %s (valid: %s)" % (
                path, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(self._options))))

    def _sources(self):
        """[(job name, hypervisor name or None, kind, settings)] from uris / hosts / hypervisor_group."""
        sources = []
        for i, item in enumerate(self.get_option("uris")):
            if isinstance(item, str):
                item = {"uri": item}
            if not isinstance(item, dict) or set(item) - {"uri", "name"} or "uri" not in item:
                raise AnsibleParserError("uris[%d]: a URI or a dict with 'uri' and optional 'name', got %r" % (i, item))
            why = inv.check_uri(item["uri"])
            if why:
                raise AnsibleParserError("uris[%d]: %s" % (i, why))
            sources.append((item.get("name") or item["uri"], item.get("name"), "libvirt", {"uri": item["uri"]}))
        for i, item in enumerate(self.get_option("hosts")):
            bad = sorted(set(item) - set(HOST_KEYS))
            if bad:
                raise AnsibleParserError("hosts[%d]: unknown key%s %s (valid: %s)"
                                         % (i, "s" if len(bad) > 1 else "", ", ".join(bad), ", ".join(HOST_KEYS)))
            if not item.get("host"):
                raise AnsibleParserError("hosts[%d]: 'host' is required" % i)
            if not isinstance(item.get("ssh_args", []), list):
                raise AnsibleParserError("hosts[%d] (%s): ssh_args must be a list of arguments" % (i, item["host"]))
            if item.get("backend") not in ("lxc", "xl"):
                raise AnsibleParserError("hosts[%d] (%s): backend must be lxc or xl, got %r"
                                         % (i, item["host"], item.get("backend")))
            name = item.get("name") or item["host"]
            sources.append((name, name, item["backend"], dict(item)))
        group = self.get_option("hypervisor_group")
        if group:
            sources += self._group_sources(group)
        if not sources:
            raise AnsibleParserError("no hypervisor to read: set uris, hosts or hypervisor_group")
        names = [s[0] for s in sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise AnsibleParserError("hypervisor named twice: %s" % ", ".join(dup))
        return sources

    def _host_vars(self, host):
        gvars = get_group_vars(host.get_groups())
        hvars = host.get_vars()
        if self.get_option("use_vars_plugins"):
            sources = self._vars_sources
            gvars = combine_vars(gvars, get_vars_from_inventory_sources(self.loader, sources, host.get_groups(), "all"))
            hvars = combine_vars(hvars, get_vars_from_inventory_sources(self.loader, sources, [host], "all"))
        return combine_vars(gvars, hvars)

    def _group_sources(self, group):
        if group not in self.inventory.groups:
            raise AnsibleParserError("hypervisor_group: no group %r in the inventory loaded before this source "
                                     "(give the hypervisors' inventory first: -i hosts -i x.virtfleet_guests.yml)"
                                     % group)
        out = []
        for host in sorted(self.inventory.groups[group].get_hosts(), key=lambda h: h.name):
            hv = self._host_vars(host)
            groups = {g.name for g in host.get_groups()}
            backend = hv.get("virtfleet_inventory_backend") or (
                "lxc" if "lxc_hosts" in groups else "xl" if "xen_hosts" in groups else "libvirt")
            address = hv.get("ansible_host") or host.name
            local = hv.get("ansible_connection") == "local"
            ssh_args = shlex.split(" ".join(str(hv.get(k) or "") for k in (
                "ansible_ssh_common_args", "ansible_ssh_extra_args")))
            no_host_key_check = not _host_key_checking(hv, ssh_args)
            if no_host_key_check and _ssh_option(ssh_args, "stricthostkeychecking") is None:
                ssh_args = ["-o", "StrictHostKeyChecking=no"] + ssh_args
            if backend in ("lxc", "xl"):
                settings = {"host": address, "backend": backend, "user": hv.get("ansible_user"),
                            "port": hv.get("ansible_port"), "local": local,
                            "private_key_file": hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file"),
                            "lxc_path": hv.get("virtfleet_lxc_path"), "xl_config_dir": hv.get("virtfleet_xl_config_dir"),
                            "xl_save_dir": hv.get("virtfleet_xl_save_dir"), "ssh_args": ssh_args}
                out.append((host.name, host.name, backend, settings))
                continue
            if backend != "libvirt":
                raise AnsibleParserError("host %s: virtfleet_inventory_backend must be libvirt, lxc or xl, got %r"
                                         % (host.name, backend))
            uri = hv.get("virtfleet_inventory_uri")
            if not uri:
                uri = hv.get("virtfleet_uri") or "qemu:///system"
                if not local and not inv.uri_host(uri):
                    user = hv.get("ansible_user")
                    port = hv.get("ansible_port")
                    login = "%s@" % user if user else ""
                    uri = "qemu+ssh://%s%s%s/system" % (login, address, ":%s" % port if port else "")
                    key = hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file")
                    uri += "?no_tty=1" + ("&keyfile=%s" % key if key else "")
                    # libvirt runs its own ssh: the host's ssh args do not reach it, so a
                    # host reached without host key checking is reached so here too
                    uri += "&no_verify=1" if no_host_key_check else ""
            why = inv.check_uri(uri)
            if why:
                raise AnsibleParserError("host %s: %s" % (host.name, why))
            out.append((host.name, host.name, "libvirt", {"uri": uri}))
        return out

    # -- reading -------------------------------------------------------------------------------
    def _job(self, name, label, kind, settings):
        sources = tuple(self.get_option("address_sources"))
        agent_timeout = float(self.get_option("agent_timeout"))
        timeout = self.get_option("timeout")

        if kind == "libvirt":
            uri = settings["uri"]

            def read():
                try:
                    conn = inv.open_libvirt(uri, libvirt)
                except libvirt.libvirtError as e:
                    raise inv.HostError("cannot connect: %s" % e.get_error_message())
                try:
                    return inv.read_libvirt(conn, libvirt, label or conn.getHostname(), uri, sources, agent_timeout)
                finally:
                    conn.close()
            return read

        argv = inv.probe_argv(settings["host"], settings.get("python") or "python3", settings.get("user"),
                              settings.get("port"), settings.get("private_key_file"),
                              [str(a) for a in settings.get("ssh_args") or ()], timeout=timeout,
                              local=bool(settings.get("local")))
        where = "local://" if settings.get("local") else "ssh://" + settings["host"]
        opts = {"lxc_path": settings.get("lxc_path"), "xl_config_dir": settings.get("xl_config_dir"),
                "xl_save_dir": settings.get("xl_save_dir") or XL_SAVE_DIR}

        def probe():
            return inv.read_probe(inv.run_probe(argv, kind, opts, timeout), label, where)
        return probe

    def _read(self, sources):
        if any(kind == "libvirt" for _n, _l, kind, _s in sources) and libvirt is None:
            raise AnsibleError("the virtfleet.hypervisor.guests inventory needs libvirt-python on the controller "
                               "(pip install libvirt-python, or apt-get install python3-libvirt)")
        jobs = [(name, self._job(name, label, kind, settings)) for name, label, kind, settings in sources]
        results, errors = inv.collect(jobs, self.get_option("timeout"))
        where = {name: settings.get("uri") or settings.get("host") for name, _l, _k, settings in sources}
        problems = ["hypervisor %s (%s): %s" % (name, where[name], errors[name]) for name in sorted(errors)]
        records = []
        for name, _l, _k, _s in sources:
            records += results.get(name, [])
        return records, problems

    # -- populating ----------------------------------------------------------------------------
    def _group(self, *parts):
        name = self.get_option("group_prefix") + "_".join(_GROUP_RE.sub("_", str(p)) for p in parts)
        return self.inventory.add_group(name)

    def _populate(self, records):
        fleets = set(self.get_option("fleets"))
        managed_only = self.get_option("managed_only")
        strict = self.get_option("strict")
        seen = {}
        key_failures = {}
        for rec in records:
            if managed_only and not rec["managed"]:
                continue
            if fleets and rec["fleet"] not in fleets:
                continue
            hostname = rec["name"]
            if hostname in seen:
                other = seen[hostname]
                hostname = "%s@%s" % (rec["name"], rec["hypervisor"])
                self.display.warning("guest %s is on hypervisors %s and %s: the second is listed as %s"
                                     % (rec["name"], other, rec["hypervisor"], hostname))
            seen.setdefault(rec["name"], rec["hypervisor"])
            self.inventory.add_host(hostname)
            hostvars = {"virtfleet_" + k: v for k, v in rec.items() if k not in ("spec", "ansible_host")}
            hostvars.update({"virtfleet_" + k: v for k, v in rec["spec"].items()})
            if rec["ansible_host"]:
                hostvars["ansible_host"] = rec["ansible_host"]
            hostvars = _unsafe(hostvars)
            for key, value in hostvars.items():
                self.inventory.set_variable(hostname, key, value)
            for group in (self._group("hypervisor", rec["hypervisor"]), self._group("state", rec["state"]),
                          self._group("backend", rec["backend"])):
                self.inventory.add_child(group, hostname)
            if rec["managed"] and rec["fleet"]:
                self.inventory.add_child(self._group("fleet", rec["fleet"]), hostname)
            for tag in rec.get("tags") or ():  # a record cached before tags were read has none
                self.inventory.add_child(self._group("tag", tag), hostname)
            self._construct(hostname, hostvars, strict, key_failures)
        for key, (host, err) in sorted(key_failures.items()):
            self.display.warning("keyed_groups: key %r gives no group for guest %s (%s); no guest got a group from it"
                                 % (key, host, err))

    def _construct(self, hostname, hostvars, strict, key_failures):
        compose, groups, keyed = (self.get_option("compose"), self.get_option("groups"),
                                  self.get_option("keyed_groups"))
        if not (compose or groups or keyed):
            return
        try:
            self._set_composite_vars(compose, hostvars, hostname, strict=strict)
            self._add_host_to_composed_groups(groups, hostvars, hostname, strict=strict)
        except AnsibleError as e:
            raise AnsibleParserError("compose/groups: %s" % e)
        variables = combine_vars(hostvars, self.inventory.get_host(hostname).get_vars())
        for i, entry in enumerate(keyed or ()):
            try:
                self._add_host_to_keyed_groups([entry], variables, hostname, strict=True, fetch_hostvars=False)
            except AnsibleError as e:
                if strict:
                    raise AnsibleParserError("keyed_groups[%d] (key %r): %s" % (i, (entry or {}).get("key"), e))
                key = (entry or {}).get("key") if isinstance(entry, dict) else str(entry)
                key_failures.setdefault(key, (hostname, str(e).splitlines()[0]))
            else:
                if isinstance(entry, dict):
                    key_failures.pop(entry.get("key"), None)
                    self._keys_ok.add(entry.get("key"))
        for key in list(key_failures):
            if key in self._keys_ok:
                del key_failures[key]

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        config = self._read_config_data(path)
        self._check_config(config, path)
        self._vars_sources = [s for s in (inventory.processed_sources or []) if s != path]
        self._keys_ok = set()
        self.load_cache_plugin()
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache")
        records = None
        if use_cache and cache:
            try:
                records = self._cache[cache_key]
            except KeyError:
                records = None
        if records is None:
            records, problems = self._read(self._sources())
            for problem in problems:
                if self.get_option("strict"):
                    raise AnsibleParserError("%s (strict: true)" % problem)
                self.display.warning("%s; its guests are not listed" % problem)
            if use_cache and not problems:
                self._cache[cache_key] = records
        self._populate(records)
