"""A synthetic event log of a district, for demos, tests and benchmarks (deterministic for a seed).

Households of one to four members with incomes around the dibao standard join on the first day;
those under the standard are enrolled in dibao by one of the district's offices; every day a share
of households report a new income (some of them a sudden drop), a few members are added or
removed, rescue stations record check-ins by a population of people on the move (some of them
often), documents are registered with their expiry dates, and a `day` event marks each midnight.
A few events arrive up to an hour late, within the monitor's lateness. Nothing here is real data.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator

_OFFICES = tuple(f"440114{n:03d}" for n in range(1, 11))
_STATIONS = ("HD-01", "HD-02", "BY-01", "TH-01")


def _line(obj: dict[str, object]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _time(day: dt.date, seconds: int) -> str:
    t = dt.datetime(day.year, day.month, day.day) + dt.timedelta(seconds=seconds)
    return t.isoformat() + "+08:00"


def _member(rng: random.Random, hid: str, k: int, start: dt.date) -> dict[str, object]:
    age = rng.choice((rng.randint(1, 17), rng.randint(18, 59), rng.randint(18, 59), rng.randint(60, 90)))
    birth = start - dt.timedelta(days=age * 365 + rng.randint(0, 364))
    rec: dict[str, object] = {"id": f"m{k}", "birth_date": birth.isoformat(), "sex": rng.choice(("male", "female")),
                              "relation": "applicant" if k == 1 else rng.choice(("spouse", "child", "parent")),
                              "guangdong_hukou": True, "hukou_local": True}
    if age < 18 or rng.random() < 0.05:
        rec["full_time_student"] = age >= 6
    return rec


def generate(households: int, days: int = 30, *, start: dt.date = dt.date(2024, 9, 1), seed: int = 0,
             facts_per_day: float = 0.02, checkin_people: int | None = None, checkins_per_day: float = 0.1,
             late_share: float = 0.01) -> Iterator[str]:
    """Yield the JSONL lines of a synthetic log of `households` households over `days` days."""
    rng = random.Random(seed)
    people = checkin_people if checkin_people is not None else max(households // 100, 10)
    seq = 0
    incomes: dict[str, int] = {}
    sizes: dict[str, int] = {}
    held: list[tuple[int, str]] = []  # (release second, line): events that arrive late

    def emit(day: dt.date, second: int, obj: dict[str, object]) -> Iterator[str]:
        nonlocal seq
        seq += 1
        obj = {"id": f"e{seq}", "time": _time(day, second), **obj}
        text = _line(obj)
        now = (day - start).days * 86400 + second
        if late_share and rng.random() < late_share:
            held.append((now + rng.randint(60, 3600), text))
            held.sort()
            return
        while held and held[0][0] <= now:
            yield held.pop(0)[1]
        yield text

    for d in range(days):
        day = start + dt.timedelta(days=d)
        yield from emit(day, 0, {"type": "day"})
        if d == 0:
            for n in range(households):
                hid = f"h{n:06d}"
                size = rng.choice((1, 1, 2, 2, 3, 3, 4))
                sizes[hid] = size
                second = 3600 + n * 40000 // max(households, 1)
                for k in range(1, size + 1):
                    yield from emit(day, second, {"type": "member_added", "household": hid,
                                                  "person": f"P{n:06d}{k}", "member": _member(rng, hid, k, start)})
                income = rng.randint(0, 1600) * size
                incomes[hid] = income
                yield from emit(day, second, {"type": "facts", "household": hid, "source": "入户调查",
                                              "as_of": (start - dt.timedelta(days=1)).isoformat(),
                                              "set": {"assessed_monthly_income": f"{income}.00",
                                                      "financial_assets": f"{rng.randint(0, 40000)}.00"}})
                if rng.random() < 0.03:
                    yield from emit(day, second, {"type": "document", "household": hid, "member": "m1",
                                                  "document": rng.choice(("disability_certificate",
                                                                          "residence_permit")),
                                                  "valid_until": (start + dt.timedelta(days=rng.randint(10, 400))
                                                                  ).isoformat()})
        elif d == 1:
            for n in range(households):
                hid = f"h{n:06d}"
                if incomes[hid] < 1282 * sizes[hid]:
                    yield from emit(day, 3600 + n * 40000 // max(households, 1),
                                    {"type": "enrolment", "household": hid, "program": "dibao",
                                     "office": _OFFICES[n % len(_OFFICES)], "status": "approved"})
        else:
            changes = sorted(rng.sample(range(households), min(households, int(households * facts_per_day))))
            for i, n in enumerate(changes):
                hid = f"h{n:06d}"
                second = 3600 + i * 70000 // max(len(changes), 1)
                r = rng.random()
                if r < 0.01:
                    sizes[hid] += 1
                    k = sizes[hid]
                    yield from emit(day, second, {"type": "member_added", "household": hid,
                                                  "person": f"P{n:06d}{k}", "member": _member(rng, hid, k, start)})
                    continue
                old = incomes[hid]
                new = old * rng.randint(30, 65) // 100 if r < 0.1 else max(0, old + rng.randint(-300, 300))
                incomes[hid] = new
                yield from emit(day, second, {"type": "facts", "household": hid, "source": "人社工资记录",
                                              "set": {"assessed_monthly_income": f"{new}.00"}})
        for i in range(int(people * checkins_per_day)):
            # a few people check in often: repeat use of rescue stations
            who = rng.randint(0, people // 20) if rng.random() < 0.3 else rng.randint(0, people - 1)
            yield from emit(day, 1000 + i * 80000 // max(int(people * checkins_per_day), 1),
                            {"type": "checkin", "person": f"R{who:05d}", "station": rng.choice(_STATIONS)})
    for _, text in held:
        yield text


__all__ = ["generate"]
