"""Builds vendor_pkg/data/*.json deterministically (run by ../prepare.sh).

postal_codes.json: ~120,000 synthetic postal codes across 12 countries
(about 8 MB); countries.json: those 12 countries.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTRIES = {
    "DE": ("Germany", "EUR", "+49"), "FR": ("France", "EUR", "+33"), "US": ("United States", "USD", "+1"),
    "GB": ("United Kingdom", "GBP", "+44"), "NL": ("Netherlands", "EUR", "+31"), "ES": ("Spain", "EUR", "+34"),
    "IT": ("Italy", "EUR", "+39"), "PL": ("Poland", "PLN", "+48"), "SE": ("Sweden", "SEK", "+46"),
    "CH": ("Switzerland", "CHF", "+41"), "JP": ("Japan", "JPY", "+81"), "CA": ("Canada", "CAD", "+1"),
}
SYLLABLES = ["ber", "lin", "ham", "burg", "ford", "ville", "sta", "dt", "mont", "ro", "sa", "na", "kai", "to"]


def main():
    rng = random.Random(20240501)
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    countries = {c: {"name": n, "currency": cur, "dial": d} for c, (n, cur, d) in COUNTRIES.items()}
    postal = {}
    for c in sorted(COUNTRIES):
        table = {}
        for i in range(10000):
            code = "%05d" % rng.randrange(100000)
            place = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).title()
            table[code] = {"place": place, "lat": round(rng.uniform(-60, 70), 4),
                           "lon": round(rng.uniform(-170, 170), 4), "admin": "R%02d" % rng.randrange(40)}
        postal[c] = table
    with open(os.path.join(HERE, "data", "countries.json"), "w") as f:
        json.dump(countries, f, sort_keys=True)
    with open(os.path.join(HERE, "data", "postal_codes.json"), "w") as f:
        json.dump(postal, f, sort_keys=True)
    print("wrote %d bytes" % os.path.getsize(os.path.join(HERE, "data", "postal_codes.json")))


if __name__ == "__main__":
    main()
