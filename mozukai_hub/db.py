"""Database helpers shared by the apps."""

import weakref

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from psycopg import errors as psycopg_errors
from psycopg.pq import ExecStatus, TransactionStatus

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


def _session_cursor(db) -> PreparedCursor:
    """The one `PreparedCursor` of db's current database session, made on first use.

    A hot statement does not pay for a new cursor and its adapters on every call. Kept on the
    Django connection with the session it belongs to (a pool hands out another session after
    each checkout), not on the session itself: the cursor refers to its session, and that cycle
    would keep a session dropped without `close()` (a thread ending) open until Python's cyclic
    garbage collection ran.
    """
    session = db.connection
    cursor = getattr(db, "mozukai_prepared_cursor", None)
    if session is None or cursor is None or cursor.connection is not session or cursor.closed:
        db.ensure_connection()
        session = db.connection
        cursor = db.mozukai_prepared_cursor = PreparedCursor(session)
    if session not in _generic_plan_sessions and settings.DATABASE_PREPARED_STATEMENTS and db.get_autocommit():
        # Left to itself PostgreSQL re-plans a prepared statement for each set of parameter
        # values when it cannot show that one plan fits all (`plan_cache_mode = auto`), which
        # saves nothing. Set only outside a transaction, where it cannot be rolled back with
        # it; until then (tests, ATOMIC_REQUESTS) PostgreSQL keeps choosing its plans itself.
        with db.wrap_database_errors:
            session.execute("SET plan_cache_mode = force_generic_plan")
        _generic_plan_sessions.add(session)
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
    query, with Django's checks and error translation, and its query log when that is on. Use it
    for a few fixed statement shapes: psycopg keeps up to 100 per connection.
    """
    db = db or connections[DEFAULT_DB_ALIAS]
    cursor = _session_cursor(db)
    if db.queries_logged or db.execute_wrappers:
        # Debugging, tests counting queries, instrumentation: through Django's cursor wrapper.
        db._prepare_cursor(cursor).execute(sql, params)  # the wrapper is never closed: the cursor is reused
    else:
        # The same checks and error translation as Django's wrapper, without building one per
        # call (under load that cost a third of a bare UPDATE's throughput, bench/credits.py).
        db.validate_thread_sharing()
        db.validate_no_broken_transaction()
        with db.wrap_database_errors:
            cursor.execute(sql, params)
    return cursor.fetchone() if cursor.pgresult.status == ExecStatus.TUPLES_OK else None
