"""Database helpers shared by the apps."""

import weakref

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from psycopg import errors as psycopg_errors
from psycopg.pq import TransactionStatus

# Database sessions (psycopg connections, kept by the pool) already told to plan prepared
# statements once.
_generic_plan_sessions = weakref.WeakSet()


class PreparedCursor(ServerBindingCursor):
    """Binds on the server and prepares each statement on its first run on a connection."""

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


def prepared_cursor(db=None):
    """A Django cursor (PostgreSQL) whose statements are parsed and planned once per connection.

    Django's psycopg cursors bind parameters on the client, so every execution of a statement is
    parsed and planned again; for a hot statement planning can cost as much as running it. This
    cursor binds on the server and prepares each statement on its first run on a connection
    (`DATABASE_PREPARED_STATEMENTS`; off behind a pooler in transaction mode). Left to itself
    PostgreSQL still re-plans a prepared statement for each set of parameter values when it
    cannot show that one plan fits all (`plan_cache_mode = auto`), which saves nothing; so the
    session is set to keep one generic plan per statement. That setting only concerns prepared
    statements: Django's own (client-bound) queries are never prepared and are planned as before.
    Same connection and transaction as every other query, still wrapped by Django (error
    translation, query log). Use it for a few fixed statement shapes: psycopg keeps up to 100 per
    connection.
    """
    db = db or connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    session = db.connection
    if settings.DATABASE_PREPARED_STATEMENTS and session not in _generic_plan_sessions and db.get_autocommit():
        # Only outside a transaction, where the setting cannot be rolled back with it; until
        # then (tests, ATOMIC_REQUESTS) PostgreSQL keeps choosing its plans itself.
        with db.wrap_database_errors:
            session.execute("SET plan_cache_mode = force_generic_plan")
        _generic_plan_sessions.add(session)
    with db.wrap_database_errors:
        return db._prepare_cursor(PreparedCursor(session))
