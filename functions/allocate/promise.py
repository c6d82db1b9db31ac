"""Promised delivery dates: when a node can hand the parcel over, plus transit.

A node ships the same business day when the order reaches it before its cut-off (UTC, as
stored on the node), otherwise the next business day. Transit is counted in business days
by shipping method and whether the parcel crosses a border. Weekends are not business days;
public holidays are not modelled yet.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

#: (method, domestic) -> business days in transit
TRANSIT_DAYS = {("standard", True): 2, ("express", True): 1, ("standard", False): 4, ("express", False): 2}


def _next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def ship_date(now: datetime, cutoff: str) -> date:
    hours, minutes = (int(p) for p in cutoff.split(":"))
    today = now.date()
    if today.weekday() < 5 and now.time() < time(hours, minutes):
        return today
    return _next_business_day(today)


def promised_delivery(now: datetime, *, cutoff: str, method: str, domestic: bool) -> date:
    day = ship_date(now, cutoff)
    for _ in range(TRANSIT_DAYS[(method, domestic)]):
        day = _next_business_day(day)
    return day
