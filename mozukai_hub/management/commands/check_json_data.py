"""Find rows whose text or JSON holds what the API now refuses at its door: a lone UTF-16
surrogate (SQLite stored such JSON; reading the row back then fails to encode, so the owner's
list and the admin page answer 500), a NUL character (PostgreSQL refuses it; SQLite keeps it) or, in
JSON, a number that is not finite (SQLite keeps the text `1e999`; read back it is inf, which
the API cannot render as JSON, so every read of the row answers 500).

Reads every JSON, char and text column of the project's own models with plain SQL (so a row
Django could not decode is still read) and exits non-zero naming each poisoned row, for cron
like `billing_check_ledger`. Repair by hand (admin shell or SQL), then run it again.
"""

import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, models

from mozukai_hub.api.fields import JSONInputError, check_json_value

_TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)
_DEEP = 10**6  # the data check reports text and numbers, not depth (the API bounds depth on the way in)


def project_models():
    base = Path(settings.BASE_DIR).resolve()
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if base in path.parents and ".venv" not in path.parts:
            yield from config.get_models()


def row_problem(field: models.Field, raw) -> str | None:
    """What is wrong with one stored value (its column's raw text), or None."""
    if raw is None:
        return None
    if isinstance(raw, (bytes, memoryview)):
        raw = bytes(raw).decode("utf-8", "surrogatepass")
    if not isinstance(field, models.JSONField):
        raw = raw if isinstance(raw, str) else str(raw)
        if "\x00" in raw:
            return "contains a NUL character"
        if any("\ud800" <= char <= "\udfff" for char in raw):
            return "contains a lone UTF-16 surrogate"
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except RecursionError:
        return "is JSON nested too deeply to read"
    except ValueError:
        return "is not valid JSON"
    try:
        check_json_value(value, max_depth=_DEEP)
    except JSONInputError as exc:
        return f"at {exc.path or '(top)'}: {exc.message}"
    return None


class Command(BaseCommand):
    help = ("Report rows whose text or JSON columns hold a NUL character or a lone UTF-16 surrogate, "
            "or whose JSON holds a number that is not finite.")

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database, **options):
        connection = connections[database]
        quote = connection.ops.quote_name
        found = scanned = 0
        for model in project_models():
            meta = model._meta
            if meta.proxy or not meta.managed:
                continue
            text_fields = [f for f in meta.concrete_fields if isinstance(f, _TEXT_FIELDS)]
            if not text_fields:
                continue
            columns = ", ".join(quote(f.column) for f in [meta.pk, *text_fields])
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {columns} FROM {quote(meta.db_table)}")
                while rows := cursor.fetchmany(1000):
                    for pk, *values in rows:
                        scanned += 1
                        for field, raw in zip(text_fields, values):
                            problem = row_problem(field, raw)
                            if problem:
                                found += 1
                                self.stderr.write(f"{meta.label} {meta.pk.name}={pk} {field.name} {problem}")
        if found:
            raise CommandError(f"{found} stored values hold a NUL character, a lone UTF-16 surrogate or a number "
                               f"that is not finite ({scanned} rows read).")
        self.stdout.write(f"OK: {scanned} rows read; no NUL character or lone UTF-16 surrogate in text or JSON, "
                          "no number in JSON that is not finite.")
