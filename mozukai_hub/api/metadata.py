"""What `OPTIONS` answers on every API route (REST_FRAMEWORK["DEFAULT_METADATA_CLASS"]).

DRF's SimpleMetadata describes the input of PUT and POST by calling the view's `get_object()` and
`get_serializer()`, which only a generic view backed by a queryset can answer: on any other view
(`sessions/{id}`) OPTIONS was a 500. This one says what every view can say without running it:
its name, the methods it allows and the media types it reads and writes. Field-level input
descriptions live in the OpenAPI schema (`/api/v1/schema`).
"""

from rest_framework.metadata import BaseMetadata


class APIMetadata(BaseMetadata):
    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "methods": sorted(view.allowed_methods),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
