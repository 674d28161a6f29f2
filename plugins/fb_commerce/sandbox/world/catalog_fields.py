"""Checks of feed-style product values, shared by feed uploads and items_batch.

The rules are the product's own rule table (:mod:`fb_commerce.catalog.rules`), so the sandbox refuses exactly
what the feed validator quarantines before upload; the sandbox only adds Meta's stance on top (the SDK's extra
enum values pass, a zero price passes: that is the merchant's choice) and what Meta does with a bad value
(``fatal``: the item is refused; ``warning``: the field is dropped, the rest ingested).
"""

from __future__ import annotations

from fb_commerce.catalog import rules

REQUIRED = rules.REQUIRED_FIELDS
AVAILABILITY = rules.AVAILABILITY | rules.AVAILABILITY_SDK_EXTRA
CONDITION = rules.CONDITION | rules.CONDITION_SDK_EXTRA
#: ``inventory`` is the former name of quantity_to_sell_on_facebook; Meta still reads it.
_ALIASES = {"inventory": "quantity_to_sell_on_facebook"}
OPTIONAL = frozenset(rules.KNOWN_FIELDS - set(REQUIRED)) | frozenset(_ALIASES)
KNOWN = frozenset(REQUIRED) | OPTIONAL
#: Meta's own stance: values its SDK lists pass, and so does a zero price.
_META = {"accept_sdk_values": True, "allow_zero_price": True}

FATAL, WARNING = rules.FATAL, rules.WARNING


def _problem(name: str, value: str, reason: str) -> tuple[str, str, str]:
    return rules.meta_severity(name), f"Invalid {name}", f"{name} {value[:200]!r}: {reason}"


def check(name: str, value: str) -> tuple[str, str, str] | None:
    """(severity, summary, description) when ``value`` is not acceptable for ``name``; None when it is."""
    reason = rules.check_field(_ALIASES.get(name, name), value, **_META)
    return None if reason is None else _problem(name, value, reason)


def check_row(values: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(field, severity, summary, description) for each problem of a whole feed row (missing required fields,
    bad values, sale price against price)."""
    canonical = {_ALIASES.get(name, name): value for name, value in values.items()}
    problems = []
    for name, reason in rules.check_row(canonical, checkout=False, **_META).items():
        if reason == rules.Reason.MISSING:
            problems.append((name, FATAL, f"Missing {name}", f"The required field {name} is missing or empty"))
        else:
            field = name if name in values else next((k for k, v in _ALIASES.items() if v == name), name)
            problems.append((field, *_problem(field, values.get(field, ""), reason)))
    return problems


def missing_required(values: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED if not values.get(name)]
