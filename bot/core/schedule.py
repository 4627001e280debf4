"""Cron schedules in a time zone: the instants a digest is due (its slots), and the key each slot is claimed under.

A schedule is read as Debian's cron reads it, by cronsim: five fields, Sunday is 0 or 7, and when both the day of
month and the day of week are restricted (neither starts with `*`) a day matching either is due. A range may also
end on Sunday (`fri-sun`, `5-0`), which cron would refuse; digests stored with one before keep working.

Daylight saving is cronsim's handling of a job at a fixed time, as in Debian's cron: a local time that happens
twice runs at its first occurrence only, and one the clocks skip runs at the first minute after the gap. Cron gives
a `*` in the minute or hour field no such care (an hourly job loses its run in the skipped hour and runs twice in
the repeated one); a digest must neither double nor skip, so those fields reach cronsim as the explicit ranges
they stand for, which it treats as fixed times.
"""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

LOOKBACK = timedelta(days=8)  # how far previous_slot looks back: a weekly schedule always has a slot in it

_RANGE_TO_SUNDAY = re.compile(r"-(0|sun)\b", re.IGNORECASE)


def fire_times(schedule: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every slot in (start, end], in UTC, oldest first."""
    return list(takewhile(lambda t: t <= end, _slots(schedule, timezone, start)))


def slot_key(fire_time: datetime, timezone: str) -> str:
    """The local wall-clock time of a slot, `YYYY-MM-DDTHH:MM`: the key it is claimed under.

    Keys of one schedule sort as its slots do; both occurrences of a repeated local time have the same key.
    """
    return fire_time.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def previous_slot(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The latest slot at or before `now`, within LOOKBACK; None when there is none."""
    # Widening windows, so that a frequent schedule is answered without listing eight days of slots.
    for span in (timedelta(hours=1), timedelta(days=1), LOOKBACK):
        if times := fire_times(schedule, timezone, now - span, now):
            return times[-1]
    return None


def next_slot(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The first slot after `now`; None for a schedule that never fires."""
    return next(_slots(schedule, timezone, now), None)


def missed_slot(schedule: str, timezone: str, now: datetime, grace: timedelta, last_key: str | None) -> datetime | None:
    """The one slot still worth posting late: the latest in (now - grace, now], if later than `last_key`.

    However many slots were missed, only the latest is returned; the others are old news.
    """
    times = fire_times(schedule, timezone, now - grace, now)
    if not times or (last_key is not None and slot_key(times[-1], timezone) <= last_key):
        return None
    return times[-1]


def _slots(schedule: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The slots after `after` (aware), in UTC, in order; endless unless the schedule ends. ValueError, saying
    why, for a schedule that is not five-field cron."""
    last = after
    for local in _cron(schedule, after.astimezone(ZoneInfo(timezone))):
        instant = local.astimezone(UTC)
        # cronsim walks wall-clock times: in a repeated hour it may start before `after`, and every time in a gap
        # comes out as the minute after it; each instant is a slot once.
        if instant > last:
            yield instant
            last = instant


def _cron(schedule: str, start: datetime) -> CronSim:
    fields = schedule.split()
    if len(fields) != 5:  # cronsim would take a sixth, for seconds
        raise ValueError("Wrong number of fields")
    minute, hour, day, month, weekday = fields
    minute, hour, weekday = minute.replace("*", "0-59"), hour.replace("*", "0-23"), _RANGE_TO_SUNDAY.sub("-7", weekday)
    try:
        return CronSim(f"{minute} {hour} {day} {month} {weekday}", start)
    except CronSimError as exc:
        raise ValueError(str(exc)) from None
