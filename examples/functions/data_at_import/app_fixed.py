"""Checkout address normalizer: fills in country name, currency and dialling
code for the shipping address; when the request carries a postal code and
asks for it, also checks the code and returns the place name.
"""
import json

import vendor_pkg_lazy as vendor_pkg  # vendor_pkg with the postal table loaded on first use


def handler(event, context):
    address = event["address"]
    country = vendor_pkg.country(address["country"])
    if country is None:
        return {"statusCode": 422, "body": json.dumps({"error": "unknown country"})}
    result = {"country": address["country"].upper(), "country_name": country["name"],
              "currency": country["currency"], "dial": country["dial"]}
    if event.get("verify_postal_code") and address.get("postal_code"):
        place = vendor_pkg.postal_code(address["country"], address["postal_code"])
        result["postal_code_valid"] = place is not None
        if place:
            result["place"] = place["place"]
    return {"statusCode": 200, "body": json.dumps(result, sort_keys=True)}
