"""One suite every kernel family passes (as optuna's samplers share one): parameters, space,
starting points, compile, verify, workload. Parametrised over every registered family and
the test-only toy family; a family whose kernels this CPU cannot run is skipped with why."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from gemmtune.families import families
from gemmtune.problem import Problem

from .toy import ToyFamily


def _all_families():
    return [*families(), ToyFamily()]


@pytest.fixture(params=_all_families(), ids=lambda f: f.name)
def family(request):
    if not request.param.available():
        pytest.skip(f"{request.param.name} cannot run on this machine")
    return request.param


def _problem(family) -> Problem:
    op, dtype = family.handles[0]
    return Problem(23, 17, 29, dtype, 1, op=op)


def test_handles_what_it_accepts(family):
    assert family.handles and family.name
    for op, dtype in family.handles:
        assert family.accepts(Problem(8, 8, 8, dtype, 1, op=op))


def test_default_params_are_valid_and_round_trip(family):
    p = _problem(family)
    params = family.default_params(p)
    assert family.params_problems(params, p) == []
    again = family.parse_params(params.to_dict())
    assert again == params and again.key() == params.key() and again.label() == params.label()


def test_unknown_or_bad_parameters_are_refused_with_a_sentence(family):
    p = _problem(family)
    data = {**family.default_params(p).to_dict(), "no_such_knob": 1}
    with pytest.raises(ValueError) as e:
        family.check_params(data, p)
    assert str(e.value).endswith(".") and "\n" not in str(e.value)


def test_space_proposes_valid_kernels_and_starts_are_inside_it(family):
    p = _problem(family)
    space = family.space(p)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    valid = 0
    for _ in range(30):
        trial = study.ask()
        try:
            params = space.suggest(trial)
        except ValueError:  # Rejected: a point the space refuses before compiling
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        assert family.params_problems(params, p) == []
        assert space.decode(space.encode(params)) == params
        study.tell(trial, 1.0)
        valid += 1
    assert valid > 0
    starts = family.starting_points(space, p)
    assert starts and len({s.params.key() for s in starts}) == len(starts)
    for s in starts:
        assert space.snap(s.params) == s.params and s.source


def test_compiled_default_passes_its_check_and_a_wrong_one_fails(family, compiled_root):
    p = _problem(family)
    kernel = family.compile(family.default_params(p), p, str(compiled_root))
    assert family.verify(kernel, p).ok

    def wrong(A, B, out=None, **kw):
        C = kernel(A, B, out, **kw)
        C.flat[-1] += 1
        return C

    assert not family.verify(wrong, p).ok


def test_workload_runs_the_kernel_and_its_peer(family, compiled_root):
    p = _problem(family)
    kernel = family.compile(family.default_params(p), p, str(compiled_root))
    work = family.workload(p)
    assert work.flops == p.flops
    work.run(kernel)()
    work.peer()
