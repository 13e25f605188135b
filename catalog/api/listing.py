"""One page of the public product list as JSON bytes.

On PostgreSQL the page is serialised by the database (`json_agg`), so the hot path builds no
model instances and no Python dicts; the page and the total come from one statement, prepared
once per connection. The filters stay the selector's: the ORM compiles the queryset's WHERE
clause (its params and all), and the rest of the statement is fixed text around it: the two
tables, the output columns, the ordering and the page bounds. Compiling only the WHERE clause
costs a twentieth of compiling `.values(...)` of the whole queryset, which was the largest
single cost of a cache miss. Elsewhere (SQLite, the embedded default) the same shape is built
in Python from `.values()` rows. Both give the same JSON values; a test compares them.
"""

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, FullResultSet
from django.db import connection
from django.db.models import QuerySet
from rest_framework.renderers import JSONRenderer

from mozukai_hub.db import fetchone_prepared

from ..models import Category, Product
from . import serializers as s

_PRODUCT, _CATEGORY = Product._meta.db_table, Category._meta.db_table
_COLUMNS = ("id", "name", "slug", "description", "price", "currency", "category_id", "image", "external_image_url",
            "model_asset_id", "stock_quantity", "stock_reserved", "is_active", "created_at", "updated_at")


def _iso(column: str) -> str:
    # Python's datetime.isoformat() for UTC: the microseconds only when there are some.
    return (f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
            f"'.000000+', '+')")


def _where(products: QuerySet) -> tuple[str, list]:
    """The queryset's WHERE clause over the product and category tables under their own names.

    Only a plain filtered queryset of products (what `selectors.product_list` returns) reads the
    same with the fixed text around it; anything else is refused rather than misread."""
    query = products.query
    if (query.model is not Product or query.annotations or query.extra or query.distinct or query.combinator
            or query.group_by or query.is_sliced
            or any(alias not in (_PRODUCT, _CATEGORY) or join.table_name != alias
                   for alias, join in query.alias_map.items())):
        raise ValueError("product_page_json() reads filtered product querysets (selectors.product_list) only.")
    try:
        return query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:
        return "TRUE", []


def _order_by(products: QuerySet, table: str) -> str:
    terms = []
    for name in products.query.order_by:
        try:
            field = Product._meta.get_field(str(name).lstrip("-"))
        except FieldDoesNotExist:
            field = None
        if field is None or field.is_relation:  # a relation orders by the related model's ordering
            raise ValueError(f"product_page_json() orders by the product's own columns only, not {name!r}.")
        column = field.column
        terms.append(f"{table}.{connection.ops.quote_name(column)}{' DESC' if str(name).startswith('-') else ''}")
    if not terms:
        raise ValueError("product_page_json() needs an ordered queryset.")
    return ", ".join(terms)


def product_page_json(products: QuerySet, *, offset: int, limit: int) -> tuple[bytes, int]:
    """(JSON array of rows [offset, offset + limit), total row count) of an ordered queryset.

    On PostgreSQL both come from one query."""
    if connection.vendor != "postgresql":
        rows = [s.product_row_data(row) for row in products[offset: offset + limit].values(*s.PRODUCT_LIST_FIELDS)]
        return JSONRenderer().render(rows), products.count()
    try:
        where, params = _where(products)
    except EmptyResultSet:
        return b"[]", 0
    qn = connection.ops.quote_name
    product, category = qn(_PRODUCT), qn(_CATEGORY)
    foreign_key, category_key = qn(Product._meta.get_field("category").column), qn(Category._meta.pk.column)
    joined = f"{product} INNER JOIN {category} ON ({product}.{foreign_key} = {category}.{category_key})"
    columns = ", ".join(f"{product}.{qn(column)}" for column in _COLUMNS)
    image_prefix, model_prefix = s._url_prefixes()
    sql = f"""
        SELECT coalesce(json_agg(json_build_object(
            'id', t.id, 'name', t.name, 'slug', t.slug, 'description', t.description,
            'price', t.price::text, 'currency', t.currency, 'category', t.category_slug,
            'category_id', t.category_id, 'category_name', t.category_name,
            'image_url', CASE WHEN t.external_image_url <> '' THEN t.external_image_url
                              WHEN t.image = '' THEN NULL ELSE %s || regexp_replace(t.image, '^.*/', '') END,
            'model_url', CASE WHEN t.model_asset_id IS NULL THEN NULL ELSE %s || t.id || '.glb' END,
            'stock_quantity', t.stock_quantity::bigint + t.stock_reserved, 'available_quantity', t.stock_quantity,
            'in_stock', t.stock_quantity > 0, 'is_active', t.is_active,
            'created_at', {_iso('t.created_at')}, 'updated_at', {_iso('t.updated_at')}
        ) ORDER BY {_order_by(products, 't')}), '[]')::text,
        (SELECT count(*) FROM {joined if _CATEGORY in products.query.alias_map else product} WHERE {where})
        FROM (
            SELECT {columns}, {category}."slug" AS category_slug, {category}."name" AS category_name
            FROM {joined} WHERE {where} ORDER BY {_order_by(products, product)} LIMIT %s OFFSET %s
        ) t"""
    # The text only changes with the filters used and the ordering: prepared once per connection,
    # a cache miss skips PostgreSQL's parse and plan (mozukai_hub.db.fetchone_prepared).
    body, total = fetchone_prepared(sql, [image_prefix, model_prefix, *params, *params, limit, offset])
    return body.encode(), total
