"""The guests module: batch convergence, prune safety, partial failure, bad input."""

import libvirt
import pytest

from vfhelpers import PREFIX, run_module, state_hash, virsh


def spec(n, **kw):
    g = {"name": "%sb%02d" % (PREFIX, n), "virt_type": "qemu", "memory": 32, "state": "stopped"}
    g.update(kw)
    return g


def test_batch_create_noop_and_check_mode(conn):
    guests = [spec(i) for i in range(12)] + [spec(12, state="running")]
    before = state_hash(conn)
    chk = run_module("guests", {"guests": guests}, check=True)
    assert chk["rc"] == 0 and chk["changed"] and state_hash(conn) == before
    assert [r["action"] for r in chk["results"]] == ["create"] * 13
    r = run_module("guests", {"guests": guests})
    assert r["rc"] == 0 and r["changed"]
    assert sorted(r["diff"]["after"]) == sorted(g["name"] for g in guests)
    assert r["results"][-1]["state"] == "running"
    again = run_module("guests", {"guests": guests})
    assert not again["changed"] and again["diff"] == {"before": {}, "after": {}}
    assert all(x["action"] == "none" for x in again["results"])


def test_batch_reads_every_state_and_autostart_of_many_guests(conn):
    """A batch reads its guests in bulk (states, autostart, managed save) and applies them
    several at a time: each guest still reports its own state and a re-run changes nothing."""
    want = {1: ("stopped", True), 2: ("running", False), 3: ("paused", True), 4: ("saved", False),
            5: ("stopped", False), 6: ("running", True)}

    def batch(saved_as):
        return [spec(i, state=saved_as if st == "saved" else st, autostart=auto) for i, (st, auto) in want.items()]

    assert run_module("guests", {"guests": batch("running")})["changed"]
    r = run_module("guests", {"guests": batch("saved")})
    assert r["rc"] == 0 and [x["name"] for x in r["results"] if x["changed"]] == [spec(4)["name"]]
    before = state_hash(conn)
    again = run_module("guests", {"guests": batch("saved")})
    assert again["rc"] == 0 and not again["changed"] and state_hash(conn) == before
    assert [(x["name"], x["state"]) for x in again["results"]] == [(spec(i)["name"], st) for i, (st, _a) in want.items()]
    assert conn.lookupByName(spec(4)["name"]).hasManagedSaveImage(0)
    assert [bool(conn.lookupByName(spec(i)["name"]).autostart()) for i in want] == [a for _s, a in want.values()]
    assert run_module("guests", {"guests": batch("saved")}, check=True)["changed"] is False


def test_prune_touches_only_its_fleets_managed_guests_and_keeps_disks(conn, pool, volume):
    volume(PREFIX + "pruned-root")
    foreign = ("<domain type='qemu'><name>%sforeign</name><memory unit='MiB'>32</memory>"
               "<os><type arch='x86_64'>hvm</type></os></domain>" % PREFIX)
    conn.defineXML(foreign)
    other_fleet = spec(3)
    assert run_module("guests", {"guests": [other_fleet], "fleet": "vftest-other"})["changed"]
    pruned = spec(2, disks=[{"volume": PREFIX + "pruned-root", "pool": pool}])
    run_module("guests", {"guests": [spec(1), pruned], "fleet": "vftest"})
    call = {"guests": [spec(1)], "prune": True, "fleet": "vftest"}
    before = state_hash(conn)
    chk = run_module("guests", call, check=True)
    assert state_hash(conn) == before
    r = run_module("guests", call)
    expected = [(spec(1)["name"], "none"), (spec(2)["name"], "prune")]
    assert [(x["name"], x["action"]) for x in chk["results"]] == expected
    assert [(x["name"], x["action"]) for x in r["results"]] == expected
    names = virsh("list", "--all", "--name").split()
    assert PREFIX + "foreign" in names and other_fleet["name"] in names
    assert spec(2)["name"] not in names
    assert PREFIX + "pruned-root" in conn.storagePoolLookupByName(pool).listVolumes()
    assert not run_module("guests", call)["changed"]


def test_one_bad_guest_does_not_stop_the_others(conn):
    guests = [spec(1), spec(2, memory=0), spec(3, interfaces=[{"network": PREFIX + "nosuchnet"}]),
              spec(4)]
    r = run_module("guests", {"guests": guests})
    assert r["rc"] != 0 and r["failed"]
    assert r["failed_guests"] == [spec(2)["name"], spec(3)["name"]]
    assert "guest '%s': memory:" % spec(2)["name"] in r["msg"]
    assert "guest '%s': interfaces[0].network:" % spec(3)["name"] in r["msg"]
    names = virsh("list", "--all", "--name").split()
    assert spec(1)["name"] in names and spec(4)["name"] in names
    assert spec(2)["name"] not in names and spec(3)["name"] not in names


def test_refused_change_fails_only_that_guest(conn):
    run_module("guests", {"guests": [spec(1, state="running"), spec(2, state="running")]})
    r = run_module("guests", {"guests": [spec(1, state="stopped", shutdown_timeout=0),
                                         spec(2, state="paused")]})
    assert r["failed_guests"] == [spec(1)["name"]]
    by_name = {x["name"]: x for x in r["results"]}
    assert by_name[spec(1)["name"]]["failed"] and "force_stop" in by_name[spec(1)["name"]]["msg"]
    assert by_name[spec(2)["name"]]["state"] == "paused"


def test_capacity_check_counts_every_running_guest_declared_or_not(conn):
    """capacity_check adds up what the host's running guests use: a guest started outside the
    call and the same guest declared in it count alike (the backend reads every state at once
    and each live definition once, reusing the ones the call has read)."""
    run_module("guests", {"guests": [spec(1, state="running", vcpus=2)], "capacity_check": False})
    used = sum(d.info()[3] for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
    assert used >= 2
    # room for half a vCPU more than the running guests hold: one more vCPU is refused
    ratio = (used + 0.5) / conn.getInfo()[2]
    new = spec(2, state="running")
    for declared in ([new], [spec(1, state="running", vcpus=2), new]):
        r = run_module("guests", {"guests": declared, "cpu_ratio": ratio}, check=True)
        assert r["failed_guests"] == [new["name"]], r
        report = {x["name"]: x for x in r["results"]}[new["name"]]["capacity"]["vcpus"]
        assert (report["used"], report["requested"]) == (used, 1.0), report
    assert spec(2)["name"] not in virsh("list", "--all", "--name").split()


def test_duplicate_names_fail_the_whole_call_before_anything(conn):
    before = state_hash(conn)
    r = run_module("guests", {"guests": [spec(1), spec(2), spec(1, vcpus=2)]})
    assert r["failed"] and "declared more than once" in r["msg"] and spec(1)["name"] in r["msg"]
    assert state_hash(conn) == before


BAD = [
    ({"name": "bad name!"}, "name"),
    ({"name": "-leading-dash"}, "name"),
    ({"memory": 0}, "memory"),
    ({"memory": -5}, "memory"),
    ({"memory": "2 parsecs"}, "memory"),
    ({"vcpus": "two"}, "vcpus"),
    ({"vcpus": 0}, "vcpus"),
    ({"state": "gone"}, "state"),
    ({"cpu_mode": "fast"}, "cpu_mode"),
    ({"interfaces": [{"network": "x", "mac": "52:54:00:zz:00:01"}]}, "interfaces[0].mac"),
    ({"interfaces": [{"network": "x", "mac": "01:00:5e:00:00:01"}]}, "interfaces[0].mac"),
    ({"interfaces": [{"network": PREFIX + "nosuchnet"}]}, "interfaces[0].network"),
    ({"interfaces": [{"network": "a", "bridge": "b"}]}, "interfaces[0]"),
    ({"disks": [{"volume": "v", "pool": PREFIX + "nosuchpool"}]}, "disks[0].pool"),
    ({"disks": [{"path": "/nonexistent/disk.img"}]}, "disks[0].path"),
    ({"disks": [{"path": "relative.img"}]}, "disks[0].path"),
    ({"disks": [{"path": "/dev/null", "device": "cdrom", "bus": "virtio"}]}, "disks[0].bus"),
    ({"machine": "nosuchmachine"}, "machine"),
    ({"colour": "blue"}, "spec"),
]


@pytest.mark.parametrize("bad, field", BAD, ids=[case[1] for case in BAD])
def test_bad_input_names_guest_and_field_and_changes_nothing(conn, bad, field):
    before = state_hash(conn)
    g = spec(7, **bad)
    r = run_module("guests", {"guests": [g]})
    assert r["failed"] and r["rc"] != 0
    assert ("%s: " % field) in r["msg"], r["msg"]
    if field != "name":
        assert "guest '%s'" % g["name"] in r["msg"]
    assert state_hash(conn) == before
    if "colour" not in bad:  # the single-guest module rejects unknown options itself
        single = run_module("guest", g)
        assert single["failed"] and field.split("[")[0] in single["msg"], single["msg"]
