"""The rules of a request body, stated in the OpenAPI document.

Request schemas are typed loosely on purpose (the domain checks the values and answers one
422 problem naming every bad field), so their types alone would not tell a client the rules.
A request schema states them in a ``__rules__`` class attribute (:class:`Rules`), built from
the same constants the domain checks with, and :class:`RulesSchemaPlugin` writes them into the
schema's OpenAPI component: unknown fields refused (``additionalProperties: false``), the
fields really required, each field's limits, and alternatives of the whole object ("exactly
one of").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar._openapi.schema_generation.plugins import DataclassSchemaPlugin, StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Reference, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition
from msgspec import Struct

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

__all__ = ["Rules", "RulesSchemaPlugin"]


@dataclass(frozen=True)
class Rules:
    """What a request schema's types do not say. ``fields`` maps a field to attributes of its
    litestar :class:`~litestar.openapi.spec.Schema` (``pattern``, ``max_length``, ``enum``,
    ``max_items``, ``items`` ...); ``required`` names the fields the domain requires although
    the type has a default (so that one problem names all missing ones); ``one_of`` lists
    alternatives of the whole object; ``closed`` says unknown fields are refused."""

    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    one_of: tuple[Schema, ...] = ()
    closed: bool = False


def _rules_of(field_definition: FieldDefinition) -> Rules | None:
    rules = getattr(field_definition.type_, "__rules__", None)
    return rules if isinstance(rules, Rules) else None


def _value_schema(schema: Schema | Reference) -> Schema:
    """Where a field's limits go: the schema of its value (for an optional field, the one arm
    of its ``oneOf`` that is not ``null``)."""
    assert isinstance(schema, Schema), "a field with rules is not a reference"
    arms = [
        arm
        for arm in schema.one_of or ()
        if not (isinstance(arm, Schema) and arm.type == OpenAPIType.NULL)
    ]
    if len(arms) == 1 and isinstance(arms[0], Schema):
        return arms[0]
    return schema


class RulesSchemaPlugin(OpenAPISchemaPlugin):
    """Builds a struct's or dataclass's component as litestar does, then adds its rules."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return not field_definition.is_union and _rules_of(field_definition) is not None

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        rules = _rules_of(field_definition)
        assert rules is not None
        plain = (
            StructSchemaPlugin()
            if field_definition.is_subclass_of(Struct)
            else DataclassSchemaPlugin()
        )
        schema = plain.to_openapi_schema(field_definition, schema_creator)
        properties = schema.properties or {}
        for name, attributes in rules.fields.items():
            target = _value_schema(properties[name])
            for attribute, value in attributes.items():
                setattr(target, attribute, value)
        if rules.required:
            schema.required = sorted({*(schema.required or ()), *rules.required})
        if rules.one_of:
            schema.one_of = list(rules.one_of)
        if rules.closed:
            schema.additional_properties = False
        return schema
