"""One page of the public product list as JSON bytes.

On PostgreSQL the page is serialised by the database (`json_agg` over the selector's own
query), so the hot path builds no model instances and no Python dicts. Elsewhere (SQLite, the
embedded default) the same shape is built in Python from `.values()` rows. Both give the same
JSON values; a test compares them.
"""

from django.db import connection
from django.db.models import F, QuerySet
from rest_framework.renderers import JSONRenderer

from . import serializers as s

_ROW_FIELDS = ("id", "name", "slug", "description", "price", "currency", "category_id", "image", "model_asset_id",
               "stock_quantity", "is_active", "created_at", "updated_at")


def _iso(column: str) -> str:
    # Python's datetime.isoformat() for UTC: microseconds only when there are some.
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"CASE WHEN date_part('microseconds', {column})::bigint %% 1000000 = 0 "
            f"THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"') "
            f"ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"') END")


def _order_by(ordering: tuple[str, ...]) -> str:
    return ", ".join(f"t.{name.lstrip('-')} DESC" if name.startswith("-") else f"t.{name}" for name in ordering)


def product_page_json(products: QuerySet, *, offset: int, limit: int) -> tuple[bytes, int]:
    """(JSON array of rows [offset, offset + limit), total row count) of an ordered queryset.

    On PostgreSQL both come from one query."""
    page = products[offset: offset + limit]
    if connection.vendor != "postgresql":
        rows = [s.product_row_data(row) for row in page.values(*s.PRODUCT_LIST_FIELDS)]
        return JSONRenderer().render(rows), products.count()
    ordering = products.query.order_by
    counted, count_params = products.values("id").order_by().query.sql_with_params()
    inner, params = page.values(*_ROW_FIELDS, category_slug=F("category__slug"),
                                category_name=F("category__name")).query.sql_with_params()
    image_prefix, model_prefix = s._url_prefixes()
    sql = f"""
        SELECT coalesce(json_agg(json_build_object(
            'id', t.id, 'name', t.name, 'slug', t.slug, 'description', t.description,
            'price', t.price::text, 'currency', t.currency, 'category', t.category_slug,
            'category_id', t.category_id, 'category_name', t.category_name,
            'image_url', CASE WHEN t.image = '' THEN NULL ELSE %s || regexp_replace(t.image, '^.*/', '') END,
            'model_url', CASE WHEN t.model_asset_id IS NULL THEN NULL ELSE %s || t.id || '.glb' END,
            'stock_quantity', t.stock_quantity, 'in_stock', t.stock_quantity > 0, 'is_active', t.is_active,
            'created_at', {_iso('t.created_at')}, 'updated_at', {_iso('t.updated_at')}
        ) ORDER BY {_order_by(tuple(ordering))}), '[]')::text,
        (SELECT count(*) FROM ({counted}) c)
        FROM ({inner}) t"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [image_prefix, model_prefix, *params, *count_params])
        body, total = cursor.fetchone()
    return body.encode(), total
