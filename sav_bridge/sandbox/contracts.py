"""Check the requests our fakes receive against the vendors' own OpenAPI documents.

The specs are read from the vendor folder (`SAV_BRIDGE_VENDOR_DIR`, passed in explicitly) and never
copied into the project. A request body that the vendor's schema rejects is a bug in our client, so
the fake answers 400 and records the violation for the test to fail on.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from sav_bridge import heap

X_SPEC = "x/x-api-v2-openapi.json"


class _OasLoader(yaml.CSafeLoader):
    """Some vendors' OAS have a `change: =` key that plain YAML reads as the 'value' tag."""


_OasLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:value"]
    for ch, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


@functools.lru_cache(maxsize=8)
def load_spec(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
    else:
        # Rebuilt through JSON: PyYAML leaves the document's objects scattered among the freed nodes of
        # its parse, which kept ~30 MB of a process's memory for a helpdesk's 1.6 MB spec; rebuilt, ~8 MB.
        # JSON has no dates: a YAML timestamp (in examples) becomes its text, which no request check reads.
        data = json.loads(json.dumps(yaml.load(text, Loader=_OasLoader), default=str))
        heap.give_back()  # and what the parse freed, 3-4 MB more
    if not isinstance(data, dict) or "paths" not in data:
        raise ValueError(f"{path} is not an OpenAPI document")
    return data


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    problem: str


class OpenApiContract:
    """Request-body validation for one OpenAPI document; `prefix` is stripped from request paths."""

    def __init__(
        self,
        spec: dict[str, Any] | Callable[[], dict[str, Any]],
        prefix: str = "",
        check_query: bool = False,
    ) -> None:
        """`spec` is the document, or what reads it when the first request comes. `check_query` also
        checks query parameters: every name declared, every value of its schema (arrays comma-separated,
        as X's `form`/`explode: false` parameters are)."""
        self._source = spec
        self.prefix = prefix
        self.check_query = check_query

    @classmethod
    def from_vendor(
        cls, vendor_dir: Path, relative: str, prefix: str = "", check_query: bool = False
    ) -> OpenApiContract:
        """The document at `vendor_dir / relative`, read when a request first needs it: a parsed spec
        costs a process 15-20 MB, which a fake that is never called (the HTTP process's, under `serve`)
        need not carry. A missing file is still said at once."""
        path = vendor_dir / relative
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such vendor spec")
        return cls(functools.partial(load_spec, path), prefix, check_query)

    @functools.cached_property
    def spec(self) -> dict[str, Any]:
        return self._source() if callable(self._source) else self._source

    @functools.cached_property
    def _registry(self) -> Registry[Any]:
        resource: Resource[Any] = Resource.from_contents(self.spec, default_specification=DRAFT4)
        registry: Registry[Any] = Registry().with_resource("urn:spec", resource)
        return registry

    @functools.cached_property
    def _routes(self) -> list[tuple[re.Pattern[str], str]]:
        return [(self._pattern(p), p) for p in self.spec["paths"]]

    @staticmethod
    def _pattern(template: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        path = path.removeprefix(self.prefix) or "/"
        matches = [t for rx, t in self._routes if rx.match(path) and method.lower() in self.spec["paths"][t]]
        if not matches:
            return None
        best = min(matches, key=lambda t: t.count("{"))  # literal segments beat parameters
        return best, self.spec["paths"][best][method.lower()]

    def check(
        self, method: str, path: str, body: Any, query: list[tuple[str, str]] | None = None
    ) -> list[Violation]:
        found = self.operation(method, path)
        if found is None:
            return [Violation(method, path, "no such operation in the vendor's spec")]
        template, op = found
        problems = self._check_query(method, template, op, query or []) if self.check_query else []
        return problems + self._check_body(method, template, op, body)

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow local `$ref`s (`#/components/...`) to the node they name."""
        while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            target: Any = self.spec
            for part in node["$ref"][2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = target if isinstance(target, dict) else {}
        return node

    def _check_query(
        self, method: str, template: str, op: dict[str, Any], query: list[tuple[str, str]]
    ) -> list[Violation]:
        params = [self._resolve(p) for p in op.get("parameters", [])]
        declared = {p["name"]: p for p in params if p.get("in") == "query"}
        problems: list[Violation] = []
        for name, raw in query:
            param = declared.get(name)
            if param is None:
                problems.append(Violation(method, template, f"query parameter {name!r} is not in the spec"))
                continue
            schema = self._resolve(param.get("schema", {}))
            is_array = schema.get("type") == "array"
            item_type = (self._resolve(schema.get("items", {})) if is_array else schema).get("type")
            values = raw.split(",") if is_array else [raw]
            try:
                typed: list[Any] = [int(v) for v in values] if item_type == "integer" else list(values)
            except ValueError:
                problems.append(Violation(method, template, f"{name}: {raw!r} is not an integer"))
                continue
            # Draft 4 `id` makes the schema's own `#/components/...` references resolve in the spec.
            validator = jsonschema.Draft4Validator({**schema, "id": "urn:spec"}, registry=self._registry)
            problems += [
                Violation(method, template, f"{name}: {e.message[:300]}")
                for e in validator.iter_errors(typed if is_array else typed[0])
            ]
        names = {n for n, _ in query}
        problems += [
            Violation(method, template, f"query parameter {n!r} is required")
            for n, p in declared.items()
            if p.get("required") and n not in names
        ]
        return problems

    def _check_body(self, method: str, template: str, op: dict[str, Any], body: Any) -> list[Violation]:
        request_body = op.get("requestBody")
        if request_body is None:
            return []
        if body is None:
            return (
                [Violation(method, template, "request body is required")]
                if request_body.get("required")
                else []
            )
        schema = (request_body.get("content", {}).get("application/json") or {}).get("schema")
        if schema is None:
            return []
        ref_schema = {"$ref": "urn:spec" + schema["$ref"]} if "$ref" in schema else schema
        validator = jsonschema.Draft4Validator(ref_schema, registry=self._registry)
        return [
            Violation(method, template, f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message[:300]}")
            for e in validator.iter_errors(body)
        ]
