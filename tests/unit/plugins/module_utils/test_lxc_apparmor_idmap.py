"""Issue 16 on lxc: the AppArmor profile (lxc.apparmor.profile / allow_nesting) and unprivileged
containers with an id map (lxc.idmap): validated naming guest and field, rendered, read back,
compared by meaning, classified, refused for libvirt/xl and through raw ``config``."""

import os
import stat

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _render_lxc as RL
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import lxc as lxc_backend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import (
    BackendError, SpecError, UnsupportedChange)
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import guest_from_params

from test_lxc_render import converge_fake, fake  # noqa: F401 pylint: disable=unused-import

MAP = [{"container": 0, "host": 100000, "count": 65536}]


def _declared(**kw):
    g = {"autostart": False, "memory": None, "vcpus": None, "cpu_shares": None, "interfaces": [], "disks": []}
    g.update(kw)
    return g


def test_idmap_model_is_canonical_both_ways():
    g = guest_from_params({"name": "c1", "idmap": [
        {"kind": "gid", "container": 0, "host": 100000, "count": 65536},
        {"kind": "uid", "container": 0, "host": 100000, "count": 65536},
        {"kind": "uid", "container": 65536, "host": 300000, "count": 10}]}, "lxc")
    assert g["idmap"] == [dict(MAP[0], kind="both"), {"kind": "uid", "container": 65536, "host": 300000, "count": 10}]
    text = RL.render([], _declared(idmap=g["idmap"]), 1)
    assert RL.meaning(RL.parse(text))["lxc.idmap"] == ["u 0 100000 65536", "u 65536 300000 10", "g 0 100000 65536"]
    # what lxc-create writes (the template's order, quotes, an empty value that clears) reads back the same
    written = "lxc.idmap = g 0 100000 65536\nlxc.idmap = u 9 9 9\nlxc.idmap =\nlxc.idmap = \"g 0 100000 65536\"\n" \
              "lxc.idmap = u 0 100000 65536\nlxc.idmap = u 65536 300000 10\nlxc.idmap = bogus\n"
    assert RL.to_model(RL.parse(written), 1)["idmap"] == g["idmap"]
    assert RL.to_model(RL.parse("lxc.tty.max = 1\n"), 1)["idmap"] == []
    assert guest_from_params({"name": "c1", "idmap": []}, "lxc")["idmap"] == []


@pytest.mark.parametrize("idmap, field, words", [
    ("0 100000 65536", "idmap", "expected a list"),
    ([{"container": 0, "host": 100000}], "idmap[0].count", "count is required"),
    ([{"container": 0, "host": 100000, "count": 0}], "idmap[0].count", "must be at least 1, got 0"),
    ([{"container": -1, "host": 100000, "count": 5}], "idmap[0].container", "must be at least 0, got -1"),
    ([{"container": 0, "host": 100000, "count": -3}], "idmap[0].count", "must be at least 1"),
    ([{"container": 0, "host": 4294967290, "count": 10}], "idmap[0].count", "host + count passes the last id"),
    ([{"kind": "all", "container": 0, "host": 1, "count": 1}], "idmap[0].kind", "expected one of both|uid|gid"),
    ([{"container": 0, "host": 100000, "count": 5, "size": 1}], "idmap[0]", "unknown key(s) size"),
    ([{"container": 0, "host": 0, "count": 65536}], "idmap[0].host", "maps host id 0"),
    ([{"container": 1, "host": 100000, "count": 9}], "idmap", "no range maps the container's root uid 0"),
    ([{"kind": "uid", "container": 0, "host": 100000, "count": 9}], "idmap", "container's root gid 0"),
    ([dict(MAP[0]), {"kind": "gid", "container": 100, "host": 500000, "count": 5}], "idmap[1]",
     "overlaps idmap[0]: container gids 100-104 are mapped twice"),
    ([dict(MAP[0]), {"container": 70000, "host": 165535, "count": 5}], "idmap[1]",
     "overlaps idmap[0]: host uids 165535-165535 are mapped twice"),
])
def test_bad_idmap_names_guest_and_field(idmap, field, words):
    with pytest.raises(SpecError) as e:
        guest_from_params({"name": "c1", "idmap": idmap}, "lxc")
    assert str(e.value).startswith("guest 'c1': %s: " % field) and words in str(e.value), str(e.value)


def test_apparmor_render_read_back_and_nesting():
    g = guest_from_params({"name": "c1", "apparmor_profile": "generated", "nesting": True}, "lxc")
    assert g["apparmor_allow_nesting"] is True  # the generated profile replaces nesting.conf's: it must allow it
    text = RL.render(RL.parse("lxc.apparmor.profile = lxc-container-default\nlxc.apparmor.allow_nesting = 0\n"),
                     _declared(**{k: g[k] for k in ("apparmor_profile", "apparmor_allow_nesting", "nesting")}), 1)
    entries = RL.entries(RL.parse(text))
    assert [k for k, _v in entries].index("lxc.include") < [k for k, _v in entries].index("lxc.apparmor.profile")
    model = RL.to_model(RL.parse(text), 1)
    assert (model["apparmor_profile"], model["apparmor_allow_nesting"], model["nesting"]) == ("generated", True, True)
    # left out: the template's lines stay as they are
    kept = RL.render(RL.parse("lxc.apparmor.profile = unconfined\n"), _declared(), 1)
    assert RL.to_model(RL.parse(kept), 1)["apparmor_profile"] == "unconfined"
    assert RL.to_model(RL.parse(""), 1)["apparmor_profile"] is None
    with pytest.raises(SpecError) as e:
        guest_from_params({"name": "c1", "apparmor_profile": "generated", "nesting": True,
                           "apparmor_allow_nesting": False}, "lxc")
    assert str(e.value).startswith("guest 'c1': apparmor_allow_nesting: ")
    with pytest.raises(SpecError) as e:
        guest_from_params({"name": "c1", "apparmor_profile": "bad profile"}, "lxc")
    assert str(e.value).startswith("guest 'c1': apparmor_profile: expected generated, unconfined or")


@pytest.mark.parametrize("key, option", [("lxc.apparmor.profile", "apparmor_profile"),
                                         ("lxc.apparmor.allow_nesting", "apparmor_allow_nesting"),
                                         ("lxc.idmap", "idmap")])
def test_raw_config_of_the_new_keys_is_refused(key, option):
    with pytest.raises(SpecError) as e:
        RL.normalize_config("c1", {key: "1"}, 0)
    assert e.value.field == "config." + key and "use the '%s' option" % option in str(e.value)
    assert RL.normalize_config("c1", {"lxc.apparmor.allow_incomplete": 1}, 0) == {
        "lxc.apparmor.allow_incomplete": ["1"]}


@pytest.mark.parametrize("backend", ["libvirt", "xl"])
def test_vm_backends_refuse_the_container_keys_by_name(backend):
    for key, value in (("apparmor_profile", "generated"), ("apparmor_allow_nesting", True), ("idmap", MAP)):
        with pytest.raises(SpecError) as e:
            guest_from_params({"name": "g1", key: value}, backend)
        assert str(e.value) == "guest 'g1': %s: not supported by backend %s (only lxc)" % (key, backend)


def test_apparmor_state_reads_the_host(tmp_path):
    enabled, profiles = tmp_path / "enabled", tmp_path / "profiles"
    assert lxc_backend.apparmor_state(str(enabled), str(profiles)) == (False, None)
    enabled.write_text("N\n")
    assert lxc_backend.apparmor_state(str(enabled), str(profiles)) == (False, None)
    enabled.write_text("Y\n")
    assert lxc_backend.apparmor_state(str(enabled), str(profiles)) == (True, None)
    profiles.write_text("lxc-container-default-cgns (enforce)\n/usr/bin/man (complain)\n")
    assert lxc_backend.apparmor_state(str(enabled), str(profiles)) == (
        True, {"lxc-container-default-cgns", "/usr/bin/man"})


@pytest.mark.parametrize("state, words", [
    ((False, None), "this host has no AppArmor"),
    ((True, {"lxc-container-default"}), "AppArmor profile 'mine' is not loaded"),
])
def test_named_profile_refused_before_anything_changes(fake, monkeypatch, state, words):
    monkeypatch.setattr(lxc_backend, "apparmor_state", lambda: state)
    with pytest.raises(SpecError) as e:
        converge_fake(fake, {"name": "c1", "apparmor_profile": "mine"})
    assert str(e.value).startswith("guest 'c1': apparmor_profile: ") and words in str(e.value), str(e.value)
    assert os.listdir(fake.path) == [] and fake.states == {}
    for builtin in ("generated", "unconfined"):  # liblxc accepts these on any host
        monkeypatch.setattr(lxc_backend, "apparmor_state", lambda: (False, None))
        assert converge_fake(fake, {"name": "c" + builtin, "apparmor_profile": builtin})["changed"]


def test_profile_change_is_restart_and_idmap_change_is_refused(fake):
    base = {"name": "c1", "state": "running", "apparmor_profile": "unconfined", "idmap": MAP}
    converge_fake(fake, base)
    with open(os.path.join(fake.path, "c1", "config")) as f:
        vals = RL.meaning(RL.parse(f.read()))
    assert vals["lxc.idmap"] == ["u 0 100000 65536", "g 0 100000 65536"]
    assert vals["lxc.apparmor.profile"] == ["unconfined"]
    assert not converge_fake(fake, base)["changed"]
    p = converge_fake(fake, dict(base, apparmor_profile="generated"))
    assert {f["field"]: f["apply"] for f in p["fields"]} == {"apparmor_profile": "restart"}
    assert p["restart_fields"] == ["apparmor_profile"]
    for other in ([{"container": 0, "host": 200000, "count": 65536}], []):
        with pytest.raises(UnsupportedChange) as e:
            converge_fake(fake, dict(base, idmap=other))
        assert str(e.value).startswith("guest 'c1': idmap: the container exists with id map [{")
    # a privileged container is never made unprivileged in place either
    converge_fake(fake, {"name": "c2", "state": "stopped"})
    with pytest.raises(UnsupportedChange) as e:
        converge_fake(fake, {"name": "c2", "idmap": MAP, "state": "stopped"})
    assert "id map none (a privileged container)" in str(e.value)
    assert not converge_fake(fake, {"name": "c2", "idmap": [], "state": "stopped"})["changed"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_shift_owners_maps_every_owner_once(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "su").write_text("x")
    os.chmod(root / "bin" / "su", 0o4755)
    os.link(root / "bin" / "su", root / "bin" / "su2")
    os.symlink("su", root / "bin" / "link")
    os.chown(root / "bin", 5, 7)
    idmap = [{"kind": "both", "container": 0, "host": 100000, "count": 65536}]
    lxc_backend.shift_owners(str(root), idmap, "c1")
    st = os.lstat(root / "bin" / "su")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_nlink) == (100000, 100000, 0o4755, 2)
    assert (os.lstat(root / "bin").st_uid, os.lstat(root / "bin").st_gid) == (100005, 100007)
    assert os.lstat(root / "bin" / "link").st_uid == 100000 and os.lstat(root).st_uid == 100000
    assert lxc_backend.root_ids([{"kind": "uid", "container": 0, "host": 5, "count": 1},
                                 {"kind": "gid", "container": 0, "host": 9, "count": 1}]) == (5, 9)
    other = tmp_path / "other"
    other.mkdir()
    (other / "f").write_text("x")
    os.chown(other / "f", 70000, 0)
    with pytest.raises(BackendError) as e:
        lxc_backend.shift_owners(str(other), idmap, "c1")
    assert str(e.value).startswith("guest 'c1': idmap: uid 70000 of ") and "not mapped" in str(e.value)
