"""Database helpers shared by the apps."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from psycopg import errors as psycopg_errors
from psycopg.pq import TransactionStatus


class PreparedCursor(ServerBindingCursor):
    """Binds on the server and prepares each statement on its first run on a connection."""

    # Set once the session was told to keep one generic plan per prepared statement.
    generic_plans = False

    def execute(self, query, params=None, **kwargs):
        kwargs.setdefault("prepare", settings.DATABASE_PREPARED_STATEMENTS)
        try:
            return super().execute(query, params, **kwargs)
        except psycopg_errors.FeatureNotSupported as exc:
            # "cached plan must not change result type": a migration on another connection
            # changed a column this statement returns. Outside a transaction nothing is lost:
            # forget the prepared statements (psycopg clears its own list when it sees
            # DEALLOCATE ALL) and run it once more. Inside one the caller's transaction has
            # failed and rolls back, and the rollback clears them as well.
            if (not kwargs["prepare"] or "cached plan" not in str(exc)
                    or self.connection.info.transaction_status != TransactionStatus.IDLE):
                raise
            self.connection.execute("DEALLOCATE ALL")
            return super().execute(query, params, **kwargs)


def _session_cursor(db) -> PreparedCursor:
    """The one `PreparedCursor` of db's current database session, made on first use.

    Kept on the psycopg connection (which the pool hands from one Django connection to the
    next), so a hot statement does not pay for a new cursor and its adapters on every call.
    """
    db.ensure_connection()
    session = db.connection
    cursor = getattr(session, "mozukai_prepared_cursor", None)
    if cursor is None or cursor.closed:
        cursor = session.mozukai_prepared_cursor = PreparedCursor(session)
    if settings.DATABASE_PREPARED_STATEMENTS and not cursor.generic_plans and db.get_autocommit():
        # Left to itself PostgreSQL re-plans a prepared statement for each set of parameter
        # values when it cannot show that one plan fits all (`plan_cache_mode = auto`), which
        # saves nothing. Set only outside a transaction, where it cannot be rolled back with
        # it; until then (tests, ATOMIC_REQUESTS) PostgreSQL keeps choosing its plans itself.
        with db.wrap_database_errors:
            session.execute("SET plan_cache_mode = force_generic_plan")
        cursor.generic_plans = True
    return cursor


def fetchone_prepared(sql: str, params, db=None):
    """Run `sql` (PostgreSQL) as a statement parsed and planned once per connection; return its
    first row, or None when it returned none.

    Django's psycopg cursors bind parameters on the client, so every execution of a statement is
    parsed and planned again; for a hot statement planning can cost as much as running it. This
    binds on the server and prepares `sql` on its first run on a connection
    (`DATABASE_PREPARED_STATEMENTS`; off behind a pooler in transaction mode), with one generic
    plan per statement (that session setting only concerns prepared statements: Django's own
    client-bound queries are planned as before). Same connection and transaction as every other
    query, still wrapped by Django (error translation, query log). Use it for a few fixed
    statement shapes: psycopg keeps up to 100 per connection.
    """
    db = db or connections[DEFAULT_DB_ALIAS]
    cursor = db._prepare_cursor(_session_cursor(db))  # Django's wrapper; never closed: reused
    cursor.execute(sql, params)
    return cursor.fetchone() if cursor.description is not None else None
