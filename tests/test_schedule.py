"""Cron slots in time zones: fields as Debian's cron reads them, and daylight saving without doubles or skips."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.schedule import fire_times, missed_slot, next_slot, previous_slot, slot_key

BERLIN, NEW_YORK, KOLKATA, LORD_HOWE = "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"


def at(zone: str, local: str) -> datetime:
    """An aware datetime from a local wall time (the first occurrence, when it happens twice)."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))


def shown(times: list[datetime], zone: str) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%a %m-%d %H:%M %z") for t in times]


# (schedule, zone, start, end (local, exclusive, inclusive), the slots in between as local times)
CASES = {
    "weekdays 1-5 are Monday to Friday": (
        "0 9 * * 1-5", "UTC", "2025-01-01 00:00", "2025-01-08 00:00",
        ["Wed 01-01 09:00 +0000", "Thu 01-02 09:00 +0000", "Fri 01-03 09:00 +0000",
         "Mon 01-06 09:00 +0000", "Tue 01-07 09:00 +0000"],
    ),
    "Sunday is 0": ("0 9 * * 0,6", "UTC", "2025-01-01 00:00", "2025-01-08 00:00",
                    ["Sat 01-04 09:00 +0000", "Sun 01-05 09:00 +0000"]),
    "Sunday is 7 too": ("0 9 * * 7", "UTC", "2025-01-01 00:00", "2025-01-08 00:00", ["Sun 01-05 09:00 +0000"]),
    "a range may end on Sunday": ("0 18 * * 5-7", "UTC", "2025-01-01 00:00", "2025-01-08 00:00",
                                  ["Fri 01-03 18:00 +0000", "Sat 01-04 18:00 +0000", "Sun 01-05 18:00 +0000"]),
    "names": ("0 18 * * FRI-sun", "UTC", "2025-01-01 00:00", "2025-01-08 00:00",
              ["Fri 01-03 18:00 +0000", "Sat 01-04 18:00 +0000", "Sun 01-05 18:00 +0000"]),
    "a weekday step counts from Sunday": ("0 12 * * */3", "UTC", "2025-01-01 00:00", "2025-01-08 00:00",
                                          ["Wed 01-01 12:00 +0000", "Sat 01-04 12:00 +0000", "Sun 01-05 12:00 +0000"]),
    # cron: a restricted day of month and a restricted day of week, and either one is enough
    "the 1st or a Monday": ("0 9 1 * 1", "UTC", "2025-01-01 00:00", "2025-01-15 00:00",
                            ["Wed 01-01 09:00 +0000", "Mon 01-06 09:00 +0000", "Mon 01-13 09:00 +0000"]),
    "the 13th or a Friday": ("0 9 13 * fri", "UTC", "2025-06-01 00:00", "2025-06-21 00:00",
                             ["Fri 06-06 09:00 +0000", "Fri 06-13 09:00 +0000", "Fri 06-20 09:00 +0000"]),
    "the 10th to 12th or a weekend day": ("0 9 10-12 * 0,6", "UTC", "2025-01-09 00:00", "2025-01-13 00:00",
                                          ["Fri 01-10 09:00 +0000", "Sat 01-11 09:00 +0000",
                                           "Sun 01-12 09:00 +0000"]),
    # as in Debian's cron, a field starting with * is not a restriction: then both must match
    "odd days that are Mondays": ("0 9 */2 * 1", "UTC", "2025-01-01 00:00", "2025-02-01 00:00",
                                  ["Mon 01-13 09:00 +0000", "Mon 01-27 09:00 +0000"]),
    "Mondays in the first week, with a * weekday step": ("0 9 1-7 * */1", "UTC", "2025-01-01 00:00",
                                                         "2025-01-03 00:00",
                                                         ["Wed 01-01 09:00 +0000", "Thu 01-02 09:00 +0000"]),
    "minute steps and hour ranges": ("*/20 8-9 * * *", "UTC", "2025-01-01 08:00", "2025-01-01 12:00",
                                     ["Wed 01-01 08:20 +0000", "Wed 01-01 08:40 +0000", "Wed 01-01 09:00 +0000",
                                      "Wed 01-01 09:20 +0000", "Wed 01-01 09:40 +0000"]),
    "Berlin weekdays": ("0 9 * * 1-5", BERLIN, "2025-01-03 00:00", "2025-01-07 00:00",
                        ["Fri 01-03 09:00 +0100", "Mon 01-06 09:00 +0100"]),
    "New York weekdays in summer": ("15 17 * * mon-fri", NEW_YORK, "2025-07-04 00:00", "2025-07-08 00:00",
                                    ["Fri 07-04 17:15 -0400", "Mon 07-07 17:15 -0400"]),
    "Kolkata, half an hour off": ("0 9,18 * * *", KOLKATA, "2025-01-01 00:00", "2025-01-02 00:00",
                                  ["Wed 01-01 09:00 +0530", "Wed 01-01 18:00 +0530"]),
    # spring: 02:00-03:00 does not exist; its 02:30 runs once, at 03:00
    "Berlin spring, hourly": ("30 * * * *", BERLIN, "2025-03-30 00:00", "2025-03-30 05:00",
                              ["Sun 03-30 00:30 +0100", "Sun 03-30 01:30 +0100", "Sun 03-30 03:00 +0200",
                               "Sun 03-30 03:30 +0200", "Sun 03-30 04:30 +0200"]),
    "Berlin spring, daily 02:30": ("30 2 * * *", BERLIN, "2025-03-29 00:00", "2025-04-01 00:00",
                                   ["Sat 03-29 02:30 +0100", "Sun 03-30 03:00 +0200", "Mon 03-31 02:30 +0200"]),
    # autumn: 02:00-03:00 happens twice; it runs the first time only
    "Berlin autumn, hourly": ("30 * * * *", BERLIN, "2025-10-26 00:00", "2025-10-26 05:00",
                              ["Sun 10-26 00:30 +0200", "Sun 10-26 01:30 +0200", "Sun 10-26 02:30 +0200",
                               "Sun 10-26 03:30 +0100", "Sun 10-26 04:30 +0100"]),
    "Berlin autumn, daily 02:30": ("30 2 * * *", BERLIN, "2025-10-25 00:00", "2025-10-28 00:00",
                                   ["Sat 10-25 02:30 +0200", "Sun 10-26 02:30 +0200", "Mon 10-27 02:30 +0100"]),
    "New York spring, hourly": ("30 * * * *", NEW_YORK, "2025-03-09 00:00", "2025-03-09 05:00",
                                ["Sun 03-09 00:30 -0500", "Sun 03-09 01:30 -0500", "Sun 03-09 03:00 -0400",
                                 "Sun 03-09 03:30 -0400", "Sun 03-09 04:30 -0400"]),
    "New York spring, daily 02:30": ("30 2 * * *", NEW_YORK, "2025-03-08 00:00", "2025-03-11 00:00",
                                     ["Sat 03-08 02:30 -0500", "Sun 03-09 03:00 -0400", "Mon 03-10 02:30 -0400"]),
    # New York repeats 01:00-02:00
    "New York autumn, hourly": ("30 * * * *", NEW_YORK, "2025-11-02 00:00", "2025-11-02 04:00",
                                ["Sun 11-02 00:30 -0400", "Sun 11-02 01:30 -0400", "Sun 11-02 02:30 -0500",
                                 "Sun 11-02 03:30 -0500"]),
    "New York autumn, daily 02:30": ("30 2 * * *", NEW_YORK, "2025-11-01 00:00", "2025-11-04 00:00",
                                     ["Sat 11-01 02:30 -0400", "Sun 11-02 02:30 -0500", "Mon 11-03 02:30 -0500"]),
    "New York autumn, daily 01:30": ("30 1 * * *", NEW_YORK, "2025-11-01 00:00", "2025-11-04 00:00",
                                     ["Sat 11-01 01:30 -0400", "Sun 11-02 01:30 -0400", "Mon 11-03 01:30 -0500"]),
    # Lord Howe moves its clocks by 30 minutes: 02:00-02:30 is skipped in spring, 01:30-02:00 repeated in autumn
    "Lord Howe spring": ("15 2 * * *", LORD_HOWE, "2025-10-04 00:00", "2025-10-07 00:00",
                         ["Sat 10-04 02:15 +1030", "Sun 10-05 02:30 +1100", "Mon 10-06 02:15 +1100"]),
    "Lord Howe spring, slots in the gap run once": ("*/15 2 * * *", LORD_HOWE, "2025-10-05 00:00",
                                                    "2025-10-05 12:00",
                                                    ["Sun 10-05 02:30 +1100", "Sun 10-05 02:45 +1100"]),
    "Lord Howe autumn": ("45 1 * * *", LORD_HOWE, "2025-04-05 00:00", "2025-04-08 00:00",
                         ["Sat 04-05 01:45 +1100", "Sun 04-06 01:45 +1100", "Mon 04-07 01:45 +1030"]),
}  # fmt: skip


@pytest.mark.parametrize(("schedule", "zone", "start", "end", "expected"), CASES.values(), ids=CASES.keys())
def test_fire_times(schedule: str, zone: str, start: str, end: str, expected: list[str]) -> None:
    times = fire_times(schedule, zone, at(zone, start), at(zone, end))
    assert shown(times, zone) == expected
    assert all(t.tzinfo is UTC for t in times)


@settings(max_examples=40, deadline=None)
@given(day=st.integers(1, 28), weekday=st.integers(0, 7), hour=st.integers(0, 23))
def test_a_restricted_day_of_month_or_day_of_week_is_enough(day: int, weekday: int, hour: int) -> None:
    start, end = at("UTC", "2024-12-31 23:59"), at("UTC", "2025-12-31 23:59")
    times = fire_times(f"0 {hour} {day} * {weekday}", "UTC", start, end)
    days = [t.date() for t in times]
    year = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
    assert days == [d for d in year if d.day == day or d.isoweekday() % 7 == weekday % 7]  # cron: Sunday 0 or 7
    assert all(t.hour == hour and t.minute == 0 for t in times)


DST_ZONES = [BERLIN, NEW_YORK, LORD_HOWE, "America/Santiago", "Australia/Sydney", "Europe/London", "Asia/Tehran"]


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@settings(max_examples=20, deadline=None)
@given(zone=st.sampled_from(DST_ZONES), year=st.integers(2020, 2030), hour=st.integers(0, 3), minute=st.integers(0, 59))
def test_a_daily_time_runs_once_a_day_across_daylight_saving(zone: str, year: int, hour: int, minute: int) -> None:
    """Each local day has one run: at its time, the first time when clocks repeat it, else just after the gap."""
    tz = ZoneInfo(zone)
    start, end = at(zone, f"{year - 1}-12-31 23:59"), at(zone, f"{year}-12-31 23:59")
    times = fire_times(f"{minute} {hour} * * *", zone, start, end)
    days = [date(year, 1, 1) + timedelta(days=n) for n in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]
    assert [t.astimezone(tz).date() for t in times] == days
    for run in times:
        local = run.astimezone(tz).replace(tzinfo=None)
        wall = local.replace(hour=hour, minute=minute)
        if _exists(wall, tz):
            assert run == wall.replace(tzinfo=tz, fold=0).astimezone(UTC), f"{wall}: at its time, the first time"
        else:  # in the gap: the first minute after it
            assert local > wall and not _exists(local - timedelta(minutes=1), tz), f"{wall} runs at {local}"


# A 02:30 schedule on the days clocks change: (zone, spring-forward day, its one run, fall-back day, its one run)
DST_DAYS = [
    (BERLIN, "2025-03-30", "03:00 +0200", "2025-10-26", "02:30 +0200"),
    (NEW_YORK, "2025-03-09", "03:00 -0400", "2025-11-02", "02:30 -0500"),  # New York repeats 01:00-02:00
    ("Europe/London", "2025-03-30", "02:30 +0100", "2025-10-26", "02:30 +0000"),  # London skips 01:00-02:00
    (LORD_HOWE, "2025-10-05", "02:30 +1100", "2025-04-06", "02:30 +1030"),
]


@pytest.mark.parametrize(("zone", "spring", "spring_run", "autumn", "autumn_run"), DST_DAYS)
def test_a_0230_schedule_on_the_days_clocks_change(
    zone: str, spring: str, spring_run: str, autumn: str, autumn_run: str
) -> None:
    for day, expected in [(spring, spring_run), (autumn, autumn_run)]:
        times = fire_times("30 2 * * *", zone, at(zone, f"{day} 00:00"), at(zone, f"{day} 23:59"))
        assert [t.astimezone(ZoneInfo(zone)).strftime("%H:%M %z") for t in times] == [expected]


def test_fire_times_are_in_utc_and_the_range_is_open_at_the_start() -> None:
    nine = datetime(2025, 1, 1, 3, 30, tzinfo=UTC)  # 09:00 in Kolkata
    assert fire_times("0 9 * * *", KOLKATA, nine - timedelta(minutes=1), nine) == [nine]
    assert fire_times("0 9 * * *", KOLKATA, nine, nine + timedelta(hours=1)) == []


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, LORD_HOWE])
@pytest.mark.parametrize("schedule", ["30 2 * * *", "30 1 * * *", "0 2 * * *"])
def test_a_daily_schedule_runs_once_every_local_day_of_the_year(zone: str, schedule: str) -> None:
    times = fire_times(schedule, zone, at(zone, "2025-01-01 00:00"), at(zone, "2026-01-01 00:00"))
    days = [t.astimezone(ZoneInfo(zone)).date() for t in times]
    assert days == [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_an_hourly_schedule_runs_once_for_every_local_hour_of_the_year(zone: str) -> None:
    times = fire_times("30 * * * *", zone, at(zone, "2025-01-01 00:00"), at(zone, "2026-01-01 00:00"))
    keys = [slot_key(t, zone) for t in times]
    assert len(times) == 365 * 24  # the skipped hour's run moved to the end of the gap, the repeated one once
    assert keys == sorted(set(keys))


def test_slot_key_is_the_local_wall_time() -> None:
    assert slot_key(datetime(2025, 1, 1, 3, 30, tzinfo=UTC), KOLKATA) == "2025-01-01T09:00"
    # both 02:30s of the autumn night in Berlin are one slot
    first, second = datetime(2025, 10, 26, 0, 30, tzinfo=UTC), datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
    assert slot_key(first, BERLIN) == slot_key(second, BERLIN) == "2025-10-26T02:30"


WEEKDAYS_9 = "0 9 * * 1-5"


@pytest.mark.parametrize(
    ("now", "previous", "following"),
    [
        ("2025-01-06 08:59", "2025-01-03 09:00", "2025-01-06 09:00"),  # Monday morning: Friday, then today
        ("2025-01-06 09:00", "2025-01-06 09:00", "2025-01-07 09:00"),  # a slot is its own previous, not its next
        ("2025-01-04 12:00", "2025-01-03 09:00", "2025-01-06 09:00"),  # over the weekend
    ],
)
def test_previous_and_next_slot(now: str, previous: str, following: str) -> None:
    assert previous_slot(WEEKDAYS_9, BERLIN, at(BERLIN, now)) == at(BERLIN, previous)
    assert next_slot(WEEKDAYS_9, BERLIN, at(BERLIN, now)) == at(BERLIN, following)


def test_previous_slot_looks_back_eight_days() -> None:
    monthly = "0 9 1 * *"
    assert previous_slot(monthly, "UTC", at("UTC", "2025-01-08 23:59")) == at("UTC", "2025-01-01 09:00")
    assert previous_slot(monthly, "UTC", at("UTC", "2025-01-20 00:00")) is None
    assert previous_slot("* * * * *", "UTC", at("UTC", "2025-01-01 12:34:56")) == at("UTC", "2025-01-01 12:34")


@pytest.mark.parametrize("schedule", ["0 0 30 2 *", "0 9 31 4,6 *"])
def test_a_schedule_that_would_never_fire_is_refused(schedule: str) -> None:
    """cronsim refuses a day of month that none of the months has, rather than a schedule with no slot."""
    now = at("UTC", "2025-01-01 00:00")
    with pytest.raises(ValueError, match="day-of-month"):
        next_slot(schedule, "UTC", now)
    with pytest.raises(ValueError, match="day-of-month"):
        previous_slot(schedule, "UTC", now)


def test_previous_and_next_slot_across_dst() -> None:
    daily = "30 2 * * *"
    assert next_slot(daily, BERLIN, at(BERLIN, "2025-03-29 12:00")) == at(BERLIN, "2025-03-30 03:00")
    first, second = datetime(2025, 10, 26, 0, 30, tzinfo=UTC), datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # 02:30 twice
    assert next_slot(daily, BERLIN, first) == at(BERLIN, "2025-10-27 02:30")
    assert previous_slot(daily, BERLIN, second) == first


@pytest.mark.parametrize("schedule", ["0 9 * *", "0 9 * * 8", "0 9 * * sat-mon", "0 9 * * funday", "61 * * * *"])
def test_invalid_schedules_are_refused(schedule: str) -> None:
    with pytest.raises(ValueError):
        next_slot(schedule, "UTC", at("UTC", "2025-01-01 00:00"))


DAILY_9 = "0 9 * * *"
SLOT = at(BERLIN, "2025-01-06 09:00")
GRACE = timedelta(minutes=30)


@pytest.mark.parametrize(
    ("late", "last_key", "expected"),
    [
        (timedelta(minutes=10), "2025-01-05T09:00", SLOT),  # within grace: posted late
        (timedelta(minutes=10), None, SLOT),  # never posted before
        (timedelta(0), "2025-01-05T09:00", SLOT),  # the scheduler on time
        (timedelta(minutes=31), "2025-01-05T09:00", None),  # beyond grace: old news
        (GRACE, "2025-01-05T09:00", None),  # (now - grace, now]
        (timedelta(minutes=10), "2025-01-06T09:00", None),  # claimed already
        (timedelta(minutes=10), "2025-01-07T09:00", None),  # a later one was claimed (a clock ahead)
    ],
)
def test_missed_slot(late: timedelta, last_key: str | None, expected: datetime | None) -> None:
    assert missed_slot(DAILY_9, BERLIN, SLOT + late, GRACE, last_key) == expected


def test_of_several_missed_slots_only_the_latest_is_posted() -> None:
    now = at(BERLIN, "2025-01-06 09:35")
    every_10 = "*/10 * * * *"
    assert missed_slot(every_10, BERLIN, now, timedelta(hours=1), "2025-01-06T08:40") == at(BERLIN, "2025-01-06 09:30")
    assert missed_slot(every_10, BERLIN, now, timedelta(hours=1), "2025-01-06T09:30") is None
