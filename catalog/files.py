"""Public files of the shop: product photos and the 3D model of a product.

Media is private by default (ARCHITECTURE.md): these views hand out only what a public product
page shows, by generated name (photos) or through an active product (models).
"""

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from .models import Product, product_image_upload_to

IMAGE_DIR = product_image_upload_to(None, "x.png").rsplit("/", 1)[0]
ONE_YEAR = 31536000


def _serve(name: str, *, max_age: int):
    try:
        local_path = default_storage.path(name)
    except NotImplementedError:
        # Remote storage (S3): a presigned, expiring URL.
        return HttpResponseRedirect(default_storage.url(name))
    try:
        handle = open(local_path, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
    response["Cache-Control"] = f"public, max-age={max_age}, immutable"
    return response


@require_safe
def product_image(request, name: str):
    # Names are generated (uuid hex) and never reused, so the answer may be cached for a year.
    return _serve(f"{IMAGE_DIR}/{name}", max_age=ONE_YEAR)


@require_safe
def product_model(request, product_id: int):
    product = get_object_or_404(Product.objects.select_related("model_asset"), pk=product_id, is_active=True,
                                model_asset__isnull=False)
    if not product.model_asset.file:
        raise Http404("This product's model has no file.")
    response = _serve(product.model_asset.file.name, max_age=3600)
    if isinstance(response, FileResponse):
        response["Content-Type"] = "model/gltf-binary"
        response["Cache-Control"] = "public, max-age=3600"
    return response
