"""Known native work: `native` validates records with pydantic-core's
SchemaValidator (compiled Rust) for ~1.5 s, called from `main` here, so no
Python frame of pydantic_core is ever on the stack while it works;
`python` imports pydantic_core the same way and then spins in pure Python
(the control: pydantic_core's code never runs after its import)."""
import sys
import time

from pydantic_core import SchemaValidator

VALIDATOR = SchemaValidator(
    {
        "type": "list",
        "items_schema": {
            "type": "typed-dict",
            "fields": {
                "id": {"type": "typed-dict-field", "schema": {"type": "int"}},
                "name": {"type": "typed-dict-field", "schema": {"type": "str"}},
                "tags": {
                    "type": "typed-dict-field",
                    "schema": {"type": "list", "items_schema": {"type": "str"}},
                },
            },
        },
    }
)
RECORDS = [{"id": str(i), "name": f"n{i}", "tags": ["a", "b", "c"]} for i in range(20_000)]


def main(mode):
    deadline = time.monotonic() + 1.5
    n = 0
    while time.monotonic() < deadline:
        if mode == "native":
            VALIDATOR.validate_python(RECORDS)  # line 34: all in the extension
        else:
            n += sum(len(r["name"]) for r in RECORDS[:200])
    return n


if __name__ == "__main__":
    main(sys.argv[1])
