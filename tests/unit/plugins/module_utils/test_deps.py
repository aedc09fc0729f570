"""_deps.require: import here, else respawn under a system Python that has the library, else
fail naming the pip package and the OS package of this host's OS family."""

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _deps


class Failed(Exception):
    pass


class Respawned(Exception):
    pass


class FakeModule(object):
    def __init__(self):
        self.failed = None

    def fail_json(self, **kw):
        self.failed = kw
        raise Failed(kw["msg"])


@pytest.fixture
def world(monkeypatch, tmp_path):
    """A host where nothing imports, with probe/respawn recorded instead of run."""
    w = {"respawned": False, "probe_finds": None, "probed": [], "respawned_to": []}

    def fake_import(name):
        raise ImportError("No module named %r" % name)

    def probe(paths, name):
        w["probed"].append((tuple(paths), name))
        return w["probe_finds"]

    def respawn(path):
        w["respawned_to"].append(path)
        raise Respawned(path)

    monkeypatch.setattr(_deps.importlib, "import_module", fake_import)
    monkeypatch.setattr(_deps, "probe_interpreters_for_module", probe)
    monkeypatch.setattr(_deps, "respawn_module", respawn)
    monkeypatch.setattr(_deps, "has_respawned", lambda: w["respawned"])
    osr = tmp_path / "os-release"
    osr.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    w["os_release"] = str(osr)
    return w


def test_importable_library_is_returned_without_probing(monkeypatch):
    monkeypatch.setattr(_deps, "probe_interpreters_for_module", None)  # would raise if called
    mod = _deps.require(FakeModule(), "libvirt")  # the dev venv has libvirt-python
    assert mod.__name__ == "libvirt"


def test_unknown_library_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown library 'json'"):
        _deps.require(FakeModule(), "json")


@pytest.mark.parametrize("asked, probed", [("libvirt", "libvirt"), ("libvirt-python", "libvirt"),
                                           ("lxml", "lxml"), ("pycdlib", "pycdlib")])
def test_missing_here_present_in_system_python_respawns_there(world, asked, probed):
    world["probe_finds"] = "/usr/bin/python3"
    with pytest.raises(Respawned):
        _deps.require(FakeModule(), asked, os_release_path=world["os_release"])
    assert world["probed"] == [(_deps.SYSTEM_INTERPRETERS, probed)]
    assert world["respawned_to"] == ["/usr/bin/python3"]
    assert _deps.SYSTEM_INTERPRETERS == ("/usr/bin/python3", "/usr/libexec/platform-python", "/usr/bin/python")


def test_missing_everywhere_fails_naming_pip_and_debian_package(world):
    m = FakeModule()
    with pytest.raises(Failed):
        _deps.require(m, "libvirt", os_release_path=world["os_release"])
    assert world["respawned_to"] == []
    msg = m.failed["msg"]
    assert "libvirt-python" in msg and "python3-libvirt" in msg and "apt-get install" in msg
    assert "Debian GNU/Linux 12" in msg
    assert "No module named 'libvirt'" in m.failed["exception"]


def test_already_respawned_fails_instead_of_respawning_again(world):
    world["respawned"] = True
    world["probe_finds"] = "/usr/bin/python3"
    m = FakeModule()
    with pytest.raises(Failed):
        _deps.require(m, "lxml", os_release_path=world["os_release"])
    assert world["probed"] == [] and world["respawned_to"] == []
    assert "python3-lxml" in m.failed["msg"]


@pytest.mark.parametrize("text, family, package", [
    ('ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 24.04 LTS"\n', "Debian", "apt-get install python3-libvirt"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\nPRETTY_NAME="Rocky Linux 9.4"\n', "RedHat", "dnf install python3-libvirt"),
    ('ID="almalinux"\nID_LIKE="rhel centos fedora"\n', "RedHat", "dnf install python3-libvirt"),
    ('ID=fedora\n', "RedHat", "dnf install python3-libvirt"),
])
def test_os_family_picks_the_package_command(world, tmp_path, text, family, package):
    p = tmp_path / "osr"
    p.write_text(text)
    assert _deps.os_family(_deps.read_os_release(str(p))) == family
    m = FakeModule()
    with pytest.raises(Failed):
        _deps.require(m, "libvirt", os_release_path=str(p))
    assert package in m.failed["msg"] and "(OS family %s)" % family in m.failed["msg"]


def test_pycdlib_on_el_says_it_is_not_packaged(world, tmp_path):
    p = tmp_path / "osr"
    p.write_text('ID="rhel"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\n')
    m = FakeModule()
    with pytest.raises(Failed):
        _deps.require(m, "pycdlib", os_release_path=str(p))
    assert "not packaged" in m.failed["msg"] and "pip install pycdlib" in m.failed["msg"]


def test_unknown_os_and_unreadable_os_release(world, tmp_path):
    m = FakeModule()
    with pytest.raises(Failed):
        _deps.require(m, "libvirt", os_release_path=str(tmp_path / "absent"))
    assert _deps.os_family({}) is None
    assert "Install libvirt-python for the Python that runs the module" in m.failed["msg"]


def test_optional_library_returns_none_after_the_respawn_attempt(world):
    m = FakeModule()
    assert _deps.require(m, "libvirt", os_release_path=world["os_release"], fail=False) is None
    assert m.failed is None and world["probed"] == [(_deps.SYSTEM_INTERPRETERS, "libvirt")]
    assert "python3-libvirt" in _deps.missing_message("libvirt-python", world["os_release"])
