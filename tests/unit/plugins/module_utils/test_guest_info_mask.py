"""guest_info prints a definition it was not given: the console passwords in it are masked
(found by tests/integration/test_secrets.py: the VNC password of a guest was in the -vvv output)."""

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _guest_info as gi

XML = """<domain type='qemu'><name>g</name><devices>
<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='Vq7pW9zX'/>
<graphics type="spice" passwd="sp'ice-pw" keymap='de'/>
</devices></domain>"""


def test_libvirt_passwords_masked_and_the_rest_kept():
    out = gi.mask_definition("xml", XML)
    assert "Vq7pW9zX" not in out and "sp'ice-pw" not in out
    assert "passwd='********'" in out and 'passwd="********"' in out
    assert out.replace("********", "") == XML.replace("Vq7pW9zX", "").replace("sp'ice-pw", "")


def test_nothing_to_mask():
    assert gi.mask_definition("lxc", "lxc.uts.name = c1\n") == "lxc.uts.name = c1\n"
    assert gi.mask_definition("xl", 'vncpasswd = "x"\n') == 'vncpasswd = "x"\n'  # _render_xl.mask_secrets does
    assert gi.mask_definition("xml", None) is None
    assert gi.mask_definition("xml", "<domain><name>g</name></domain>") == "<domain><name>g</name></domain>"
