import pytest

from bot.victorops.limits import Budget, RateSpec, SlidingWindow
from tests.fakes import FakeClock


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [
        ("6/minute", 6, 60),
        ("1/second", 1, 1),
        ("100/hour", 100, 3600),
        ("6/10s", 6, 10),
        (" 15 / minute ", 15, 60),
        ("2/0.5s", 2, 0.5),
        ("off", 0, 60),
        ("0/minute", 0, 60),
    ],
)
def test_parse(text: str, count: int, period: float) -> None:
    assert RateSpec.parse(text) == RateSpec(count, period)


@pytest.mark.parametrize("text", ["", "6", "6/fortnight", "six/minute", "6/0s", "-1/minute", "6/minutes"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"<count>/<period>|longer than 0"):
        RateSpec.parse(text)


def test_str_round_trips() -> None:
    for text in ["6/minute", "6/10s", "1/second", "off"]:
        assert str(RateSpec.parse(text)) == text


def test_window_slides() -> None:
    clock = FakeClock()
    window = SlidingWindow(RateSpec(2, 10), clock)
    assert window.try_acquire() and window.remaining() == 1
    clock.now += 4
    assert window.try_acquire()
    assert not window.try_acquire()
    assert window.wait_time() == pytest.approx(6)
    clock.now += 6
    assert window.try_acquire()  # the first call left the window
    assert window.wait_time() == pytest.approx(4)


def test_block_for_fills_the_window() -> None:
    clock = FakeClock()
    window = SlidingWindow(RateSpec(6, 60), clock)
    window.block_for(7)
    assert window.remaining() == 0
    assert window.wait_time() == pytest.approx(7)
    clock.now += 7
    assert window.remaining() == 6


async def test_budget_never_exceeds_its_window_over_a_simulated_minute() -> None:
    clock = FakeClock()
    budget = Budget(RateSpec(6, 60), clock, clock.sleep)
    times, waited = [], 0.0
    for _ in range(20):
        waited += await budget.acquire()
        times.append(clock.now)
    for i in range(len(times) - 6):
        assert times[i + 6] - times[i] >= 60
    assert times[5] == times[0]  # the first six go at once
    assert waited == pytest.approx(times[-1] - times[0])  # acquire says how long it waited
