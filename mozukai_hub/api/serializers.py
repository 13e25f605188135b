from rest_framework import serializers

from . import fields as bounded


def _bounded(field: serializers.Field) -> serializers.Field:
    """The field with the API's limits (mozukai_hub.api.fields): a plain JSONField becomes the
    size-, depth- and text-checked one, an IntegerField without a maximum gets the API's bounds.
    Rebuilt from the arguments it was declared with, as DRF itself copies fields."""
    if type(field) is serializers.JSONField:
        return bounded.JSONField(*field._args, **field._kwargs)
    if type(field) is serializers.IntegerField and (field.max_value is None or field.min_value is None):
        return bounded.BoundedIntegerField(*field._args, **field._kwargs)
    if isinstance(field, (serializers.ListField, serializers.DictField)) and field.child is not None:
        child = _bounded(field.child)
        if child is not field.child:
            field.child = child
            child.bind(field_name="", parent=field)
    return field


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know, and bounds the ones it knows.

    A typo in a field name silently ignored is a bug report waiting to happen; the API
    answers 400 naming the unknown fields instead. Every JSON and integer field declared on a
    subclass gets the API's documented limits (see `_bounded`), so no endpoint can forget them.
    """

    def get_fields(self):
        return {name: _bounded(field) for name, field in super().get_fields().items()}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)
