"""A finished photogrammetry model on a shop product (seed 004: staff attach it).

The pipeline app sits below catalog, so catalog's Product is reached by its label
(`apps.get_model("catalog", "Product")`) and its list cache by dotted path, never imported: the
dependency is one string, the way a model points at another app's model.
"""

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string

from mozukai_hub.api.errors import ApplicationError

from ..models import Asset, Job

CACHE_INVALIDATE = "catalog.cache.product_list_cache_invalidate"


def _product_model():
    return apps.get_model("catalog", "Product")


def product_id_check(*, owner_user, product_id) -> int | None:
    """The product a new job will attach its model to: staff only, and it must exist."""
    if product_id in (None, ""):
        return None
    if owner_user is None or not getattr(owner_user, "is_staff", False):
        raise ValidationError({"product_id": ["Only staff may attach a model to a product."]})
    try:
        product_id = int(product_id)
    except (TypeError, ValueError):
        raise ValidationError({"product_id": ["A product id is a whole number."]})
    if not _product_model().objects.filter(pk=product_id).exists():
        raise ValidationError({"product_id": [f"There is no product {product_id}."]})
    return product_id


def product_model_attach(*, job: Job, product_id: int) -> Asset:
    """Set the job's GLB as the product's 3D model. The job must be a completed photogrammetry job."""
    if job.kind != Job.Kind.PHOTOGRAMMETRY or job.status != Job.Status.COMPLETED:
        raise ApplicationError("Only a completed photogrammetry job has a model to attach.", code="job_not_completed",
                               status_code=409)
    glb = Asset.objects.filter(job=job, role=Asset.Role.OUTPUT, asset_type=Asset.Type.GLB).exclude(file="").first()
    if glb is None:
        raise ApplicationError("This job has no GLB model.", code="no_output", status_code=409)
    with transaction.atomic():
        updated = _product_model().objects.filter(pk=product_id).update(model_asset=glb)
    if not updated:
        raise ApplicationError(f"There is no product {product_id}.", code="not_found", status_code=404)
    transaction.on_commit(import_string(CACHE_INVALIDATE))
    return glb


def product_attach_on_finish(job_id) -> None:
    """Job-finished listener: a completed photogrammetry job created with `product_id` (by staff,
    checked at create) puts its model on that product."""
    job = Job.objects.filter(pk=job_id, kind=Job.Kind.PHOTOGRAMMETRY, status=Job.Status.COMPLETED).first()
    if job is None or not job.params.get("product_id"):
        return
    product_model_attach(job=job, product_id=int(job.params["product_id"]))
