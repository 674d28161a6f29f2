"""Graph API ``fields=`` strings, including nested selections like ``items{retailer_id,quantity}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

#: A selection: a ready string, a sequence of selections, or names each with its sub-selection (None: the field alone).
FieldSpec: TypeAlias = "str | Sequence[FieldSpec] | Mapping[str, FieldSpec | None]"


def format_fields(spec: FieldSpec) -> str:
    """Render a field selection.

    ``["id", {"items": ["retailer_id", "quantity"]}, "buyer_details{email}"]`` becomes
    ``id,items{retailer_id,quantity},buyer_details{email}``. A plain string is passed through.
    """
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping):
        return ",".join(f"{name}{{{format_fields(sub)}}}" if sub else name for name, sub in spec.items())
    return ",".join(format_fields(part) for part in spec)
