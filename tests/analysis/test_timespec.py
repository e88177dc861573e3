"""--since/--until time specifications (lldecode.analysis.timespec)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from lldecode.analysis.timespec import TimeSpecError, parse_time

# POSIX TZ strings (no tz database needed): the sign is inverted, so
# "IST-05:30" is UTC+05:30 and "EST+05" is UTC-05:00.
ZONES = {
    "UTC0": dt.timedelta(0),
    "IST-05:30": dt.timedelta(hours=5, minutes=30),
    "EST+05": dt.timedelta(hours=-5),
}


@pytest.fixture(params=sorted(ZONES))
def local(request, monkeypatch):
    """Run the test in a fixed-offset local time zone; yields its tzinfo."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield dt.timezone(ZONES[request.param])
    monkeypatch.undo()
    time.tzset()


def at(tz, *fields) -> float:
    return dt.datetime(*fields, tzinfo=tz).timestamp()


# --- now and relative times -------------------------------------------------

NOW = 1_795_734_400.0  # any fixed instant


@pytest.mark.parametrize("text, seconds", [
    ("now", 0),
    ("90s", 90), ("5sec", 5),
    ("10m", 600), ("10min", 600),
    ("2h", 7200),
    ("3d", 3 * 86400),
    ("1w", 604800),
    ("1.5h", 5400),
    ("0m", 0),
    ("10 m", 600),       # a space before the unit
    ("2H", 7200),        # case does not matter
    ("  3d  ", 3 * 86400),  # surrounding blanks
    ("NOW", 0),
])
def test_relative_times_count_back_from_now(text, seconds):
    assert parse_time(text, now=NOW) == pytest.approx(NOW - seconds)


def test_now_defaults_to_the_clock():
    before = time.time()
    got_now = parse_time("now")
    got_rel = parse_time("10m")
    after = time.time()
    assert before <= got_now <= after
    assert before - 600 <= got_rel <= after - 600


# --- epoch seconds -------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1795734400", 1795734400.0),
    ("1795734400.25", 1795734400.25),
    ("123456789", 123456789.0),      # nine digits: the shortest epoch read as such
    (" 1700000000 ", 1700000000.0),
])
def test_epoch_seconds(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_epoch_does_not_depend_on_now_or_zone(local):
    assert parse_time("1795734400", now=0.0) == parse_time("1795734400", now=NOW) == 1795734400.0


# --- ISO 8601 ------------------------------------------------------------------

def test_iso_with_zone_is_absolute(local):
    utc = dt.timezone.utc
    assert parse_time("2026-11-26T23:06:41Z") == at(utc, 2026, 11, 26, 23, 6, 41)
    assert parse_time("2026-11-26T23:06:41+00:00") == at(utc, 2026, 11, 26, 23, 6, 41)
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert parse_time("2026-11-26T23:06:41+02:00") == at(plus2, 2026, 11, 26, 23, 6, 41)
    assert parse_time("2026-11-26T23:06:41+02:00") == at(utc, 2026, 11, 26, 21, 6, 41)
    assert parse_time("2026-11-26T23:06:41.5Z") == pytest.approx(
        at(utc, 2026, 11, 26, 23, 6, 41) + 0.5)


def test_iso_without_zone_is_local_time(local):
    assert parse_time("2026-11-26T23:06:41") == at(local, 2026, 11, 26, 23, 6, 41)
    assert parse_time("2026-11-26 23:06:41") == at(local, 2026, 11, 26, 23, 6, 41)
    assert parse_time("2026-11-26T23:06") == at(local, 2026, 11, 26, 23, 6)
    assert parse_time("2026-11-26") == at(local, 2026, 11, 26)
    assert parse_time("2026-11-26T23:06:41.250000") == pytest.approx(
        at(local, 2026, 11, 26, 23, 6, 41) + 0.25)


def test_iso_local_and_utc_differ_by_the_zone_offset(local):
    offset = local.utcoffset(None).total_seconds()
    assert (parse_time("2026-11-26T12:00:00Z") - parse_time("2026-11-26T12:00:00")) == offset


# --- times of today, today, yesterday -----------------------------------------

def test_clock_times_are_today_local(local):
    now = at(local, 2026, 11, 26, 15, 30, 7)
    assert parse_time("23:06", now=now) == at(local, 2026, 11, 26, 23, 6)
    assert parse_time("23:06:41", now=now) == at(local, 2026, 11, 26, 23, 6, 41)
    assert parse_time("7:05", now=now) == at(local, 2026, 11, 26, 7, 5)
    assert parse_time("00:00", now=now) == at(local, 2026, 11, 26)
    assert parse_time("23:59:59", now=now) == at(local, 2026, 11, 26, 23, 59, 59)


def test_today_and_yesterday_are_local_midnights(local):
    now = at(local, 2026, 11, 26, 15, 30, 7)
    assert parse_time("today", now=now) == at(local, 2026, 11, 26)
    assert parse_time("Today", now=now) == at(local, 2026, 11, 26)
    assert parse_time("yesterday", now=now) == at(local, 2026, 11, 25)


def test_today_follows_the_local_date_not_the_utc_date(local):
    # Just after local midnight: in zones east of UTC the UTC date is still
    # the day before, in zones west of it the same day.
    now = at(local, 2026, 11, 26, 0, 15)
    assert parse_time("today", now=now) == at(local, 2026, 11, 26)
    assert parse_time("yesterday", now=now) == at(local, 2026, 11, 25)
    assert parse_time("01:00", now=now) == at(local, 2026, 11, 26, 1)
    # Just before local midnight.
    now = at(local, 2026, 11, 26, 23, 45)
    assert parse_time("today", now=now) == at(local, 2026, 11, 26)


def test_yesterday_crosses_month_and_year_boundaries(local):
    assert parse_time("yesterday", now=at(local, 2026, 3, 1, 12)) == at(local, 2026, 2, 28)
    assert parse_time("yesterday", now=at(local, 2028, 3, 1, 12)) == at(local, 2028, 2, 29)
    assert parse_time("yesterday", now=at(local, 2027, 1, 1, 0, 0, 1)) == at(local, 2026, 12, 31)


# --- rejected forms --------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "", "   ", "garbage", "m", "10x", "10 monts", "3 dayz", "-5m", "+5m", "now-1h",
    "1h from now", "ago", "this-decade",
    "1e9", "1795734400.", "1234", "12345678",
    "24:00", "25:00", "12:60", "12:30:60", "12:5", "1:2:3",
    "2026-13-01", "2026-02-30", "2026-11-26T25:00", "2026/11/26",
    "tomorrow", "yesterday-ish",
])
def test_rejected_forms(text):
    with pytest.raises(TimeSpecError) as info:
        parse_time(text, now=NOW)
    message = str(info.value)
    assert repr(text) in message
    assert "epoch seconds" in message and "ISO 8601" in message


def test_time_spec_error_is_a_value_error():
    assert issubclass(TimeSpecError, ValueError)
    with pytest.raises(ValueError):
        parse_time("nonsense")


# --- the words and forms of issue 13 -----------------------------------------------

@pytest.mark.parametrize("text, seconds_before", [
    ("recent", 600), ("1h ago", 3600), ("2 days ago", 2 * 86400), ("10 minutes", 600),
    ("3 days", 3 * 86400), ("90 sec ago", 90), ("1 week ago", 604800), ("2  hours  ago", 7200),
    ("week-ago", 7 * 86400),
])
def test_relative_words(text, seconds_before):
    assert parse_time(text, now=NOW) == NOW - seconds_before


def test_calendar_words(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        now = at(None, 2026, 11, 26, 23, 51, 31)  # a Thursday
        assert parse_time("this-week", now=now) == at(None, 2026, 11, 23)
        assert parse_time("this-month", now=now) == at(None, 2026, 11, 1)
        assert parse_time("this-year", now=now) == at(None, 2026, 1, 1)
        assert parse_time("23:51:31", now=now) == now
        assert parse_time("23:51", now=now) == now - 31
    finally:
        monkeypatch.undo()
        time.tzset()


def test_boot_is_read_from_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nbtime 1795730000\nprocesses 5\n")
    assert parse_time("boot", now=NOW, proc_stat=str(stat)) == 1795730000
    stat.write_text("cpu 1\n")
    with pytest.raises(TimeSpecError, match="boot time"):
        parse_time("boot", now=NOW, proc_stat=str(stat))


def test_boot_on_this_machine_is_before_now():
    import os

    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat")
    assert 0 < parse_time("boot") < time.time()
