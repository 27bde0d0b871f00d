"""geokit (vendored): country and postal-code reference data.

Like several real reference-data packages, it parses its whole database when
imported: data/postal_codes.json (several MB, built by make_data.py) and
data/countries.json (small).
"""
import json
import os

_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

with open(os.path.join(_DATA, "countries.json")) as _f:
    COUNTRIES = json.load(_f)

with open(os.path.join(_DATA, "postal_codes.json")) as _f:
    POSTAL_CODES = json.load(_f)

__version__ = "2.3.1"


def country(code):
    """The country record for an ISO 3166 alpha-2 code, or None."""
    return COUNTRIES.get(code.upper())


def postal_code(country_code, code):
    """The place record for a postal code in a country, or None."""
    return POSTAL_CODES.get(country_code.upper(), {}).get(code.strip().upper())
