"""The ``fields=`` parameter: a small parser and a projection of model objects onto the requested fields.

``fields=id,items{retailer_id,quantity},estimated_payment_details{subtotal{items}}`` parses to
``{"id": None, "items": {"retailer_id": None, "quantity": None}, "estimated_payment_details": {...}}``.
Modifiers such as ``.limit(5)`` are accepted and ignored (every nested edge here is short).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..world.errors import invalid_param

FieldSpec = dict[str, "FieldSpec | None"]
Getter = Callable[[Any, Any], Any]


def parse_fields(text: str | None) -> FieldSpec | None:
    """Parse a ``fields`` value; None when absent or blank (the node's default fields apply)."""
    if text is None or not text.strip():
        return None
    spec, pos = _parse_list(text, 0)
    if pos != len(text):
        raise invalid_param(f"Syntax error in fields near position {pos}: {text[pos : pos + 20]!r}")
    return spec


def _parse_list(text: str, pos: int) -> tuple[FieldSpec, int]:
    spec: FieldSpec = {}
    while pos < len(text):
        start = pos
        while pos < len(text) and text[pos] not in ",{}.":
            pos += 1
        name = text[start:pos].strip()
        while pos < len(text) and text[pos] == ".":  # modifiers: .limit(5), .as(alias) ... skipped
            close = text.find(")", pos)
            if close < 0:
                raise invalid_param("Syntax error in fields: unclosed modifier")
            pos = close + 1
        sub: FieldSpec | None = None
        if pos < len(text) and text[pos] == "{":
            sub, pos = _parse_list(text, pos + 1)
            if pos >= len(text) or text[pos] != "}":
                raise invalid_param("Syntax error in fields: missing '}'")
            pos += 1
        if name:
            spec[name] = sub
        elif sub is not None:
            raise invalid_param("Syntax error in fields: '{' without a field name")
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "}":
            return spec, pos
    return spec, pos


@dataclass
class Schema:
    """How one Graph node type is rendered: a getter per field, the default fields, and nested node types.

    ``edges`` maps a field to the schema of the objects it holds; when ``as_edge`` is set the list is wrapped as
    ``{"data": [...]}``, the way Graph returns an edge requested through field expansion.
    """

    node_type: str
    getters: dict[str, Getter]
    defaults: tuple[str, ...]
    edges: dict[str, tuple[Schema, bool]] = field(default_factory=dict)

    @property
    def field_names(self) -> set[str]:
        return set(self.getters)

    def render(self, obj: Any, spec: FieldSpec | None, ctx: Any = None) -> dict[str, Any]:
        names: Iterable[str] = spec.keys() if spec else self.defaults
        out: dict[str, Any] = {}
        for name in names:
            getter = self.getters.get(name)
            if getter is None:
                raise invalid_param(f"Tried accessing nonexisting field ({name}) on node type ({self.node_type})")
            value = getter(obj, ctx)
            if value is None:
                continue  # Graph leaves unset fields out instead of sending null
            sub = spec.get(name) if spec else None
            if name in self.edges:
                child, as_edge = self.edges[name]
                if isinstance(value, list):
                    rendered = [child.render(v, sub, ctx) for v in value]
                    out[name] = {"data": rendered} if as_edge else rendered
                else:
                    out[name] = child.render(value, sub, ctx)
            elif sub is not None:
                out[name] = project_plain(value, sub)
            else:
                out[name] = value
        return out


def project_plain(value: Any, spec: FieldSpec) -> Any:
    """Select keys of plain JSON values (nested objects such as ``buyer_details{email}``)."""
    if isinstance(value, list):
        return [project_plain(v, spec) for v in value]
    if isinstance(value, dict):
        if "data" in value and isinstance(value["data"], list) and "data" not in spec:
            return {"data": project_plain(value["data"], spec)}
        out = {}
        for key, sub in spec.items():
            if key in value and value[key] is not None:
                out[key] = value[key] if sub is None else project_plain(value[key], sub)
        return out
    return value


def attr(name: str) -> Getter:
    """A getter that reads an attribute of the model object."""
    return lambda obj, ctx: getattr(obj, name)


def key(name: str) -> Getter:
    """A getter that reads a key of a plain dict record."""
    return lambda obj, ctx: obj.get(name)
