"""Signup-webhook validator: validates the incoming payload with pydantic v2
and returns the normalized record or the list of validation errors.
"""
import json
from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, Field, ValidationError, field_validator


class Address(BaseModel):
    street: str = Field(min_length=1)
    city: str = Field(min_length=1)
    postcode: str = Field(pattern=r"^[0-9A-Z -]{3,10}$")
    country: str = Field(min_length=2, max_length=2)


class Signup(BaseModel):
    user_id: int = Field(gt=0)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
    name: str = Field(min_length=1, max_length=100)
    plan: Literal["free", "team", "enterprise"] = "free"
    seats: int = Field(default=1, ge=1, le=10_000)
    signed_up_at: datetime
    referrer: Optional[str] = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    address: Address

    @field_validator("email")
    @classmethod
    def lower_email(cls, v):
        return v.lower()

    @field_validator("tags")
    @classmethod
    def unique_tags(cls, v):
        return sorted(set(t.strip().lower() for t in v if t.strip()))


class Batch(BaseModel):
    source: str
    signups: list[Signup]


def handler(event, context):
    try:
        batch = Batch.model_validate(event)
    except ValidationError as e:
        errors = [{"loc": list(err["loc"]), "type": err["type"]} for err in e.errors()]
        return {"statusCode": 422, "body": json.dumps({"errors": errors})}
    return {"statusCode": 200, "body": batch.model_dump_json()}
