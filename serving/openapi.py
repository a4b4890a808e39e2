"""The API's documentation: the OpenAPI document and the Swagger UI page, as this service serves them.

BentoML writes the document from the mounted FastAPI app (each endpoint's reply model and error
replies, declared on its route); here the request bodies, which the endpoints read themselves, are
added to it, and it is written as the OpenAPI 3.0 it declares.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from pydantic import BaseModel

REF_TEMPLATE = "#/components/schemas/{model}"
# The Swagger UI page loads only what this server serves (its inline script and styles included).
SAME_ORIGIN_ONLY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                    "img-src 'self' data:; connect-src 'self'; frame-src 'none'; object-src 'none'")


@functools.cache
def offline_index_page() -> str:
    """BentoML's Swagger UI page (the index, /docs) without its Google Tag Manager: a bank's intranet
    reaches no other host, and an API page must not report its users to one."""
    from _bentoml_impl.server import app as bentoml_app

    page = (Path(bentoml_app.__file__).parent / "main-openapi.html").read_text(encoding="utf-8")
    return re.sub(r"<(script|noscript)\b[^>]*>.*?</\1>",
                  lambda block: "" if "googletagmanager" in block.group(0) else block.group(0), page, flags=re.S)


def request_body(model: type[BaseModel], required: bool = True) -> dict:
    """A route's `openapi_extra`: its JSON body is `model` (added to the components by `openapi_document`)."""
    return {"requestBody": {"required": required, "content": {"application/json": {
        "schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}}}}


def openapi_document(spec: dict, request_models: list[type[BaseModel]]) -> dict:
    """BentoML's OpenAPI document with the request bodies' schemas, as OpenAPI 3.0 where it declares 3.0."""
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema([(m, "validation") for m in request_models], ref_template=REF_TEMPLATE)
    spec.setdefault("components", {}).setdefault("schemas", {}).update(top.get("$defs", {}))
    return as_openapi_30(spec) if str(spec.get("openapi", "")).startswith("3.0") else spec


def as_openapi_30(node):
    """pydantic writes JSON Schema of OpenAPI 3.1; the document BentoML declares is 3.0. An optional
    value, `anyOf: [X, {"type": "null"}]`, is X with `nullable: true`; a `const` is a one-value `enum`
    (a schema, not a field that happens to be called "const")."""
    if isinstance(node, list):
        return [as_openapi_30(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: as_openapi_30(v) for k, v in node.items()}
    if "const" in node and not isinstance(node["const"], dict):
        node["enum"] = [node.pop("const")]
    if node.get("type") == "null":
        return {"nullable": True, "enum": [None]}
    options = node.get("anyOf")
    if isinstance(options, list) and any(o == {"nullable": True, "enum": [None]} for o in options):
        rest = [o for o in options if o != {"nullable": True, "enum": [None]}]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**rest[0], **node}
        elif len(rest) == 1:
            node["allOf"] = rest              # a $ref takes no siblings in 3.0
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    return node
