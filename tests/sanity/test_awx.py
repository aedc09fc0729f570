"""AWX / Automation Controller and execution environments (issue 14): what ansible-builder and
an AWX project sync read, checked with the real tools offline. Building the image itself needs
a container registry this machine cannot reach: the build stages that install the collection
and resolve its dependencies are replayed here with the same commands (ansible-galaxy
collection install, ansible-builder introspect)."""

import os
import subprocess
import tarfile

import yaml

from vfhelpers import ROOT

BIN = os.path.join(ROOT, ".venv", "bin")
ENV = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
           PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


# `ansible-galaxy collection install` below uses --force: this checkout's .venv/collections
# already links virtfleet.hypervisor, which would make the install a no-op.
def run(argv, cwd=ROOT, **kw):
    proc = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=False, timeout=600, **kw)
    assert proc.returncode == 0, "%s failed:\n%s%s" % (" ".join(argv), proc.stdout[-3000:], proc.stderr[-3000:])
    return proc.stdout


def introspect(collections_dir):
    """What the EE builder stage resolves from the installed collections (sanitized)."""
    return yaml.safe_load(run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(collections_dir)]))


def assert_libvirt_deps(deps):
    python = "\n".join(deps["python"])
    system = "\n".join(deps["system"])
    for req in ("libvirt-python", "lxml", "pycdlib"):
        assert req in python, python
    for pkg in ("libvirt-devel [platform:rpm compile]", "libvirt-libs [platform:rpm]", "libvirt-dev [platform:dpkg compile]",
                "pkgconf-pkg-config [platform:rpm compile]", "gcc [compile]", "python3-devel [platform:rpm compile]",
                "openssh-clients [platform:rpm]"):
        assert pkg in system, system
    assert "virtfleet.hypervisor" in python and "virtfleet.hypervisor" in system  # attributed to the collection


def test_built_collection_ships_its_ee_dependencies(tmp_path):
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist")])
    tarball = next((tmp_path / "dist").glob("virtfleet-hypervisor-*.tar.gz"))
    with tarfile.open(tarball) as tf:
        names = set(tf.getnames())
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt",
            "plugins/inventory/guests.py", "plugins/module_utils/_inventory_probe.py"} <= names
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", str(tarball), "-p", str(tmp_path / "coll")])
    assert_libvirt_deps(introspect(tmp_path / "coll"))


def test_ansible_builder_create_writes_a_context_that_installs_the_collection_and_its_deps(tmp_path):
    ctx = tmp_path / "context"
    run([os.path.join(BIN, "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", str(ctx),
         "--output-filename", "Containerfile"])
    containerfile = (ctx / "Containerfile").read_text()
    assert "ansible-core==2.19.14 ansible-runner==2.4.3" in containerfile
    assert "introspect.py introspect" in containerfile and "install-from-bindep" in containerfile
    assert "config-manager --set-enabled crb" in containerfile
    reqs = yaml.safe_load((ctx / "_build" / "requirements.yml").read_text())
    assert reqs["collections"] == [{"name": "/build/virtfleet-collection/", "type": "dir"}]
    coll = ctx / "_build" / "virtfleet-collection"
    meta = yaml.safe_load((coll / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    assert "libvirt-python" in (coll / "requirements.txt").read_text()
    assert "libvirt-devel [platform:rpm compile]" in (coll / "bindep.txt").read_text()
    # the galaxy stage (ansible-galaxy collection install -r requirements.yml), then the builder
    # stage's introspection, on what the context holds
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", str(coll), "-p", str(tmp_path / "ee")])
    assert (tmp_path / "ee" / "ansible_collections" / "virtfleet" / "hypervisor" / "playbooks" / "site.yml").exists()
    assert_libvirt_deps(introspect(tmp_path / "ee"))


def test_awx_project_sync_installs_the_collection_from_the_project(tmp_path):
    """AWX runs `ansible-galaxy collection install -r collections/requirements.yml` from the
    project's root at sync: the project itself becomes virtfleet.hypervisor."""
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-r", "collections/requirements.yml",
         "-p", str(tmp_path)])
    installed = tmp_path / "ansible_collections" / "virtfleet" / "hypervisor"
    assert (installed / "roles" / "kvm_host" / "tasks" / "main.yml").exists()
    assert (installed / "plugins" / "inventory" / "guests.py").exists()


def test_inventory_plugin_doc_renders():
    out = run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "virtfleet.hypervisor.guests"])
    assert "hypervisor_group" in out and "EXAMPLES" in out
