"""vendor_pkg fixed by hand: the same API and data (read from
../vendor_pkg/data), but the multi-MB postal table is parsed on first use
instead of at import (PEP 562 module __getattr__ for POSTAL_CODES).
"""
import functools
import json
import os

_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vendor_pkg", "data")

with open(os.path.join(_DATA, "countries.json")) as _f:
    COUNTRIES = json.load(_f)

__version__ = "2.3.1"


@functools.cache
def _postal_codes():
    with open(os.path.join(_DATA, "postal_codes.json")) as f:
        return json.load(f)


def __getattr__(name):
    if name == "POSTAL_CODES":
        return _postal_codes()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def country(code):
    """The country record for an ISO 3166 alpha-2 code, or None."""
    return COUNTRIES.get(code.upper())


def postal_code(country_code, code):
    """The place record for a postal code in a country, or None."""
    return _postal_codes().get(country_code.upper(), {}).get(code.strip().upper())
