#!/usr/bin/env python3
"""Writes examples/statistics.jsonl: 300 fictional case records of the ZVH Drenthe,
enough for `privacy-gate aggregate` to show cells of at least the threshold as
well as suppressed ones (the 23 records of records.jsonl give only suppressed
cells). Deterministic: the same file on every run.

    python3 examples/gen_statistics.py > examples/statistics.jsonl
"""
import json
import random

rng = random.Random(20260302)

GIVEN = ["Anna", "Andrei", "Blessing", "Maria", "Minh", "Lotte", "Olena", "Tomasz", "Ahmed", "Eva"]
FAMILY = ["Jansen", "Popescu", "Okafor", "Kowalska", "Nguyen", "de Vries", "Bakker", "Visser"]
CITIES = [("Assen", "9401"), ("Emmen", "7811"), ("Hoogeveen", "7901"), ("Meppel", "7941"), ("Coevorden", "7741")]
TYPES = [("labour", 45), ("sexual", 35), ("criminal", 18), ("organ-removal", 2)]
SECTORS = {
    "labour": ["agriculture", "construction", "distribution", "meat-processing", "hospitality", "care"],
    "sexual": ["prostitution", "escort", "online"],
    "criminal": ["cannabis-cultivation", "drug-trafficking", "shoplifting"],
    "organ-removal": ["other"],
}
ROUTINGS = [("care", 40), ("both", 20), ("criminal", 15), ("none", 15), ("none-with-conditions", 10)]


def pick(weighted):
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def bsn(n):
    """A 9-digit number in the test range 9999xxxxx passing the 11-proof."""
    while True:
        digits = [9, 9, 9, 9] + [int(d) for d in f"{n:05d}"]
        total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1))) - digits[8]
        if total % 11 == 0:
            return "".join(map(str, digits))
        n += 1


for i in range(300):
    year = rng.choice([2024, 2025])
    opened = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    kind = pick(TYPES)
    minor = rng.random() < 0.12
    birth_year = year - (rng.randint(13, 17) if minor else rng.randint(18, 60))
    city, pc4 = rng.choice(CITIES)
    record = {
        "case": {
            "id": f"zvh-dr-{year}-s{i:03d}",
            "opened_on": opened,
            "province": "drenthe",
            "status": rng.choice(["in-assessment", "open", "closed"]),
            "exploitation_type": kind,
            "sector": rng.choice(SECTORS[kind]),
            "routing": pick(ROUTINGS),
        },
        "subject": {
            "bsn": bsn(rng.randint(0, 99000)),
            "name": {"given": rng.choice(GIVEN), "family": rng.choice(FAMILY)},
            "birth_date": f"{birth_year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "is_minor": minor,
            "sex": rng.choice(["female", "male"]),
            "address": {"postcode": f"{pc4} {rng.choice(['AB', 'CK', 'BE', 'GJ'])}", "city": city},
        },
        "notes": "Fictional record for the statistics example.",
    }
    print(json.dumps(record, separators=(", ", ": ")))
