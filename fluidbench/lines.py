"""Checking a guest's serial lines (``TAG {json}``) against the boot protocol's schemas.

The schemas are data of the generated :mod:`fluidbench.protocol` (``LINES``);
this module is the one place that reads them.
"""

from __future__ import annotations

import re
from typing import Any

from fluidbench.protocol import LINES

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


def line_errors(tag: str, obj: Any) -> list[str]:
    """What is wrong with the JSON object of a ``TAG {json}`` serial line
    against its schema: [] when nothing is."""
    schema = LINES.get(tag)
    if schema is None:
        return [f"unknown line tag {tag!r}"]
    if not isinstance(obj, dict):
        return [f"{tag}: not a JSON object"]
    fields = schema["fields"]
    errors = [f"{tag}: unknown field {name!r}" for name in obj if name not in fields]
    for name, field in fields.items():
        if name not in obj:
            if field["required"]:
                errors.append(f"{tag}: missing field {name!r}")
            continue
        value = obj[name]
        if not isinstance(value, _JSON_TYPES[field["type"]]) or (
                isinstance(value, bool) and field["type"] != "boolean"):
            errors.append(f"{tag}: field {name!r} is {type(value).__name__}, expected {field['type']}")
        elif field["enum"] is not None and value not in field["enum"]:
            errors.append(f"{tag}: field {name!r} is {value!r}, expected one of {field['enum']}")
        elif field["pattern"] is not None and not re.fullmatch(field["pattern"], value):
            errors.append(f"{tag}: field {name!r} is {value!r}, expected {field['pattern']}")
    return errors
