import numpy as np
import pytest

from sim.engine.rng import RngStreams


def test_same_seed_same_name_same_draws():
    a = RngStreams(7).stream("pool.gpu").random(5)
    b = RngStreams(7).stream("pool.gpu").random(5)
    assert np.array_equal(a, b)


def test_streams_are_independent_of_other_components():
    # Issuing more streams, in another order, never changes a stream's draws.
    s1 = RngStreams(3)
    x = s1.stream("workload.arrivals").random(4)
    s2 = RngStreams(3)
    s2.stream("apis.new_component")
    s2.stream("pools.other")
    y = s2.stream("workload.arrivals").random(4)
    assert np.array_equal(x, y)


def test_different_names_and_seeds_differ():
    s = RngStreams(1)
    assert not np.array_equal(s.stream("a").random(4), s.stream("b").random(4))
    assert not np.array_equal(
        RngStreams(1).stream("a").random(4), RngStreams(2).stream("a").random(4)
    )


def test_name_issued_twice_is_an_error():
    s = RngStreams(0)
    s.stream("x")
    with pytest.raises(ValueError, match="already issued"):
        s.stream("x")


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        RngStreams(bad)
