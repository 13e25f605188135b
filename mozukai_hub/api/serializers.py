from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know.

    A typo in a field name silently ignored is a bug report waiting to happen; the API
    answers 400 naming the unknown fields instead.
    """

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)
