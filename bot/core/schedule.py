"""Cron schedules in a time zone: the instants a digest is due (its slots), and the key each slot is claimed under.

APScheduler 3.11's CronTrigger, given a zoneinfo zone, gets daylight saving wrong both ways:
- when clocks go back, a local time that happens twice fires twice (02:30 CEST and 02:30 CET);
- when clocks go forward, a local time that does not exist is read with the old offset: a daily 02:30 fires
  at 03:30 local, and an hourly :30 loses a run (its 02:30 and 03:30 fall on one instant).
So the cron expression is matched here against local wall-clock times (a CronTrigger in UTC, which has no
daylight saving), and each wall time is then placed in the zone: a time that happens twice at its first
occurrence, a time that does not exist at the first instant after the gap (02:30 -> 03:00).

APScheduler 3's `from_crontab` also numbers weekdays from Monday = 0, where cron counts from Sunday = 0 (or 7):
"1-5" would be Tuesday to Saturday. The day-of-week field is translated to day names first. As in
APScheduler, a restricted day of month and day of week must both match (cron would take either).
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

LOOKBACK = timedelta(days=8)  # how far previous_slot looks back: a weekly schedule always has a slot in it

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: sun = 0 (and 7)


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
    """The first slot after `now`; None for a schedule that never fires (such as 30 February)."""
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
    """The slots after `after` (aware), in UTC, in order; endless unless the schedule ends."""
    zone = ZoneInfo(timezone)
    trigger = _wall_clock_trigger(schedule)
    # A wall time earlier than `after`'s happens before `after`, so the search can start from it.
    wall = trigger.get_next_fire_time(None, after.astimezone(zone).replace(tzinfo=UTC, fold=0))
    last = after
    while wall is not None:
        instant = _instant(wall.replace(tzinfo=None), zone)
        # Skips the wall times before `after` in a repeated hour, and fires once for all those in a gap.
        if instant > last:
            yield instant
            last = instant
        wall = trigger.get_next_fire_time(wall, wall)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """When the naive local time `wall` happens in `zone`, in UTC: the first time when it happens twice;
    when clocks skip it, the first instant after the gap."""
    while True:
        instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)  # fold=0: the earlier of two
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            return instant
        wall += timedelta(minutes=1)  # not a real local time: walk to the end of the gap


def _wall_clock_trigger(schedule: str) -> CronTrigger:
    """The five-field cron expression as a trigger on a clock without daylight saving, with cron's weekdays."""
    fields = schedule.split()
    if len(fields) == 5:  # else from_crontab says what is wrong
        fields[4] = _weekday_names(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=UTC)


def _weekday_names(field: str) -> str:
    """Cron's day-of-week field (numbers, names, ranges, steps) as a list of day names, which APScheduler
    reads as cron does. A range may end on Sunday: `5-7`, `5-0` and `fri-sun` are Friday to Sunday."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step = part.partition("/")
        first, _, last = span.partition("-")
        if first == "*" and not last:
            low, high = 0, 6
        else:
            low = _weekday(first)
            high = _weekday(last) if last else 6 if step else low
            if last and high == 0:
                high = 7
        if high < low:
            raise ValueError(f"day-of-week range {span!r} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, int(step or 1)))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    raise ValueError(f"{token!r} is not a day of the week (0-7 or sun-sat)")
