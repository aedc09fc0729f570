"""The one pipeline (_core) against an in-memory toy backend: what a new backend needs is
its class and a line in the registry; the core does validation, planning, check mode, diff,
partial failure and secrets for it."""

import copy
import threading
import time

import pytest

from ansible_collections.virtfleet.hypervisor.plugins.module_utils import _core, _model
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends import BACKENDS
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._backends.base import GuestBackend
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._errors import BackendError
from ansible_collections.virtfleet.hypervisor.plugins.module_utils._model import Capabilities


class ToyBackend(GuestBackend):
    """Guests kept in a dict; ``boom`` maps a guest name to the step that raises there."""

    name = "toy"
    caps = Capabilities(backend="toy", fields=("fleet", "autostart", "vcpus", "memory"),
                        live={"memory": "any"}, defaults={"vcpus": 1, "memory": 64})
    world = {}
    boom = {}
    calls = []

    def _raise(self, name, step):
        exc = self.boom.get((name, step))
        if exc is not None:
            raise exc

    def current(self, name):
        self._raise(name, "read")
        g = self.world.get(name)
        if g is None:
            return None
        return {"config": copy.deepcopy(g), "live": copy.deepcopy(g) if g["state"] != "stopped" else None,
                "state": g["state"], "autostart": g["autostart"], "managed": True}

    def resolve(self, guest):
        self._raise(guest["name"], "resolve")
        return guest

    def managed_names(self, fleet):
        return sorted(n for n, g in self.world.items() if g["fleet"] == fleet)

    def _apply(self, plan, current):
        self._raise(plan["name"], "apply")
        self.calls.append((plan["name"], plan["action"], list(plan["live_ops"])))
        if plan["action"] == "delete":
            del self.world[plan["name"]]
        else:
            d = plan["desired"]
            self.world[plan["name"]] = {k: d[k] for k in ("name", "fleet", "autostart", "vcpus", "memory", "state")}

    def final_state(self, name):
        return self.world[name]["state"] if name in self.world else "absent"


class Exit(Exception):
    pass


class FakeModule(object):
    def __init__(self, check_mode=False, diff=True, **params):
        self.params = dict({"backend": "toy", "fleet": "default", "restart": "never"}, **params)
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set()
        self.run_command = None
        self.result = None

    def exit_json(self, **kw):
        self.result = dict(kw, failed=False)
        raise Exit()

    def fail_json(self, **kw):
        self.result = dict(kw, failed=True)
        raise Exit()


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setitem(BACKENDS, "toy", ToyBackend)
    ToyBackend.world, ToyBackend.boom, ToyBackend.calls = {}, {}, []
    yield ToyBackend


def run(guests, **kw):
    single = kw.pop("single", False)
    prune = kw.pop("prune", False)
    m = FakeModule(**kw)
    with pytest.raises(Exit):
        _core.run(m, "guest", guests, single=single, prune=prune)
    return m.result


def test_create_then_noop_and_check_mode_parity(toy):
    specs = [{"name": "a", "memory": 128}, {"name": "b"}]
    checked = run(specs, check_mode=True)
    assert toy.world == {} and checked["changed"]
    done = run(specs)

    def strip(out):
        return [{k: v for k, v in x.items() if k != "state"} for x in out["results"]]
    assert strip(checked) == strip(done), "check mode reports exactly what a real run does"
    assert checked["diff"] == done["diff"]
    assert toy.world["a"]["memory"] == 128 and toy.world["b"]["memory"] == 64
    again = run(specs)
    assert not again["changed"] and [r["action"] for r in again["results"]] == ["none", "none"]


def test_result_shape_is_one_for_every_kind(toy):
    r = run([{"name": "a"}])["results"][0]
    assert set(_core.RESULT_KEYS) <= set(r)


@pytest.mark.parametrize("step, exc", [
    ("read", OSError(5, "Input/output error")),
    ("resolve", AttributeError("'NoneType' object has no attribute 'XMLDesc'")),
    ("read", StopIteration()),
    ("apply", BackendError("refused", None, None)),
    ("apply", RuntimeError("libvirtError: internal error")),
])
def test_an_exception_in_one_object_fails_only_that_object(toy, step, exc):
    toy.boom = {("bad", step): exc}
    out = run([{"name": "ok1"}, {"name": "bad"}, {"name": "ok2"}])
    assert out["failed"] and out["failed_guests"] == ["bad"]
    assert "guest 'bad'" in out["msg"]
    assert set(toy.world) == {"ok1", "ok2"}, "the others are still converged"
    bad = [r for r in out["results"] if r["name"] == "bad"][0]
    assert bad["failed"] and "bad" in bad["msg"]


def test_a_failure_the_backend_found_changed_nothing_reports_changed_false(toy):
    """A plan that failed reports changed=true (something may have been done before the
    failure) unless the backend checked that nothing was: then changed=false and no diff,
    still failed, named, in check mode's changed=true all the same (issue 17: xl create)."""
    run([{"name": "a"}, {"name": "b"}])
    toy.boom = {("a", "apply"): BackendError("xl create failed (rc 3)", None, "state", changed_nothing=True),
                ("b", "apply"): BackendError("xl create failed (rc 3)", None, "state")}
    out = run([{"name": "a", "memory": 96}, {"name": "b", "memory": 96}])
    by_name = {r["name"]: r for r in out["results"]}
    assert out["failed"] and out["failed_guests"] == ["a", "b"]
    assert by_name["a"]["failed"] and not by_name["a"]["changed"], by_name["a"]
    assert by_name["b"]["failed"] and by_name["b"]["changed"], by_name["b"]
    assert "a" not in out["diff"]["after"] and "b" in out["diff"]["after"]
    assert out["changed"]  # b may have changed
    toy.boom = {("a", "apply"): BackendError("xl create failed (rc 3)", None, "state", changed_nothing=True)}
    alone = run([{"name": "a", "memory": 96}], single=True)
    assert alone["failed"] and alone["changed"] is False and alone["diff"] == {"before": {}, "after": {}}, alone
    assert "guest 'a': state: xl create failed (rc 3)" in alone["msg"]
    assert run([{"name": "a", "memory": 96}], single=True, check_mode=True)["changed"]


def test_bad_input_names_guest_and_field_and_changes_nothing(toy):
    out = run([{"name": "a", "memory": "lots"}], single=True)
    assert out["failed"] and out["object"] == "a" and out["field"] == "memory"
    assert toy.world == {}


def test_unsupported_field_is_refused_by_the_core_for_any_backend(toy):
    out = run([{"name": "a", "max_memory": 256}, {"name": "b"}])
    assert out["failed"] and "guest 'a': max_memory: not supported by backend toy" in out["msg"]
    assert "b" in toy.world


def test_duplicate_names_fail_the_whole_call(toy):
    out = run([{"name": "a"}, {"name": "a"}])
    assert out["failed"] and "more than once" in out["msg"] and toy.world == {}


def test_live_rule_from_capabilities(toy):
    run([{"name": "a", "memory": 64}])
    out = run([{"name": "a", "memory": 96, "vcpus": 2}])
    r = out["results"][0]
    assert {f["field"]: f["apply"] for f in r["fields"]} == {"memory": "live", "vcpus": "restart"}
    assert r["restart_required"] and r["restart_fields"] == ["vcpus"]
    assert toy.calls[-1][2] == [("set_memory", 96)]
    assert out["pending_restart"] == ["a"]


def test_prune_removes_only_undeclared_guests_of_the_fleet(toy):
    run([{"name": "a"}, {"name": "b"}])
    toy.world["other"] = dict(toy.world["a"], fleet="elsewhere")
    out = run([{"name": "a"}], prune=True)
    assert [(r["name"], r["action"]) for r in out["results"]] == [("a", "none"), ("b", "prune")]
    assert set(toy.world) == {"a", "other"}


def test_secrets_are_registered_for_masking():
    raw = {"name": "a", "cloud_init": {"user_data": {"password": "s3cret-pw", "n": 1},
                                       "network_config": "version: 2", "meta_data": {"x": "visible"}}}
    found = _model.secret_values(raw)
    assert {"s3cret-pw", "version: 2"} <= found and "visible" not in found


def test_capacity_check_refuses_create_and_growth_alone_and_counts_admitted(toy, monkeypatch):
    # a host of 2 CPUs and 4608 MiB: 8 vCPUs and 4096 MiB for guests at Nova's ratios
    monkeypatch.setattr(ToyBackend, "host_resources", lambda self: {"cpus": 2, "memory_mib": 4608}, raising=False)
    monkeypatch.setattr(ToyBackend, "running_use", lambda self: {
        n: (g["vcpus"], g["memory"], False) for n, g in self.world.items() if g["state"] != "stopped"},
        raising=False)
    ratios = {"capacity_check": True, "cpu_ratio": 4.0, "memory_ratio": 1.0, "reserved_memory_mib": 512}
    r = run([{"name": "a", "vcpus": 4, "memory": 1024}, {"name": "b", "vcpus": 4, "memory": 1024},
             {"name": "c", "vcpus": 1, "memory": 64}], **ratios)
    assert r["failed"] and r["failed_guests"] == ["c"]
    by = {x["name"]: x for x in r["results"]}
    assert by["a"]["changed"] and by["b"]["changed"] and not by["c"]["changed"]
    assert "guest 'c': capacity_check: refused, vcpus: the host has 0 vCPUs of 8 vCPUs left" in by["c"]["msg"]
    assert by["b"]["capacity"]["vcpus"] == {"capacity": 8.0, "used": 4.0, "requested": 4.0}
    assert sorted(toy.world) == ["a", "b"]
    # growth of a running guest is checked, a shrink or a stopped guest is not
    r = run([{"name": "a", "vcpus": 5, "memory": 1024}], single=True, **ratios)
    assert r["failed"] and "capacity_check" in r["msg"] and toy.world["a"]["vcpus"] == 4
    r = run([{"name": "a", "vcpus": 2, "memory": 1024}, {"name": "c", "vcpus": 8, "state": "stopped"}], **ratios)
    assert not r["failed"] and toy.world["a"]["vcpus"] == 2 and "capacity" not in r["results"][1]
    # check mode predicts the refusal; capacity_check=false lets it through
    r = run([{"name": "d", "memory": 4096}], check_mode=True, **ratios)
    assert r["failed"] and "memory_mib" in r["msg"] and "d" not in toy.world
    off = dict(ratios)
    off["capacity_check"] = False
    r = run([{"name": "d", "memory": 4096}], **off)
    assert not r["failed"] and "d" in toy.world


class ParallelToy(ToyBackend):
    """The toy with libvirt's promise: plans may be applied several at a time. Each apply
    waits a little, the first guests longest, so they finish in the reverse order."""

    name = "ptoy"
    apply_workers = 4
    prefetched = []
    alone = ()

    def __init__(self, params, run_command=None):
        super(ParallelToy, self).__init__(params, run_command)
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def prefetch(self, names):
        self._raise("*", "prefetch")
        self.prefetched.append(list(names))

    def apply_alone(self, plan):
        return plan["name"] in self.alone

    def _apply(self, plan, current):
        with self.lock:
            self.running += 1
            ParallelToy.most = max(ParallelToy.most, self.running)
        try:
            time.sleep(0.002 * (20 - int(plan["name"][1:])))
            super(ParallelToy, self)._apply(plan, current)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture()
def ptoy(monkeypatch):
    monkeypatch.setitem(BACKENDS, "ptoy", ParallelToy)
    ParallelToy.world, ParallelToy.boom, ParallelToy.calls = {}, {}, []
    ParallelToy.prefetched, ParallelToy.most, ParallelToy.alone = [], 0, ()
    yield ParallelToy


def test_parallel_apply_keeps_order_and_per_object_errors(ptoy):
    names = ["g%d" % i for i in range(12)]
    ptoy.boom = {("g3", "apply"): RuntimeError("libvirtError: internal error"),
                 ("g7", "apply"): BackendError("refused", None, None)}
    ptoy.alone = ("g5",)
    out = run([{"name": n} for n in names], backend="ptoy")
    assert ptoy.most > 1, "plans were applied at the same time"
    assert [r["name"] for r in out["results"]] == names, "results in the declared order"
    assert out["failed_guests"] == ["g3", "g7"]
    assert [r["name"] for r in out["results"] if r["failed"]] == ["g3", "g7"]
    assert "guest 'g3': apply failed: RuntimeError" in out["msg"] and "guest 'g7': refused" in out["msg"]
    assert set(ptoy.world) == set(names) - {"g3", "g7"}, "one failure never stops the others"
    assert ptoy.calls[-1][0] == "g5", "a plan that must go alone goes after the parallel ones"
    assert ptoy.prefetched == [names], "what is read of all guests is read once, before planning"
    ptoy.boom = {}
    again = run([{"name": n} for n in names], backend="ptoy")
    assert [r["name"] for r in again["results"] if r["changed"]] == ["g3", "g7"] and not again["failed"]


def test_parallel_apply_check_mode_parity_and_failed_prefetch(ptoy):
    specs = [{"name": "g%d" % i, "memory": 32 + i} for i in range(6)]
    ptoy.boom = {("*", "prefetch"): RuntimeError("bulk read refused")}
    checked = run(specs, backend="ptoy", check_mode=True)
    assert ptoy.world == {} and ptoy.calls == [] and checked["changed"]
    done = run(specs, backend="ptoy")
    assert not done["failed"], "a failed bulk read only means each guest is read alone"
    assert [{k: v for k, v in r.items() if k != "state"} for r in checked["results"]] == \
        [{k: v for k, v in r.items() if k != "state"} for r in done["results"]]
    assert checked["diff"] == done["diff"]
    assert [ptoy.world["g%d" % i]["memory"] for i in range(6)] == [32 + i for i in range(6)]
