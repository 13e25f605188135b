"""Database helpers shared by the apps."""

import weakref

from django.db import DEFAULT_DB_ALIAS, connections

# Database sessions (psycopg connections, kept by the pool) already told to plan prepared
# statements once.
_generic_plan_sessions = weakref.WeakSet()


def prepared_cursor(db=None):
    """A Django cursor (PostgreSQL) whose statements are parsed and planned once per connection.

    Django's psycopg cursors bind parameters on the client, so every execution of a statement is
    parsed and planned again; for a hot statement planning can cost as much as running it. This
    cursor binds on the server, so psycopg prepares a statement it has run `prepare_threshold`
    times on a connection (DATABASES OPTIONS; Django's default `None` never prepares). Left to
    itself PostgreSQL still re-plans a prepared statement for each set of parameter values when
    it cannot show that one plan fits all (`plan_cache_mode = auto`), which saves nothing; so the
    session is set to keep one generic plan per statement. That setting only concerns prepared
    statements: Django's own (client-bound) queries are never prepared and are planned as before.
    Same connection and transaction as every other query, still wrapped by Django (error
    translation, query counting; the logged SQL of a server-bound statement is None). Use it for
    a few fixed statement shapes: psycopg keeps up to 100 per connection.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    db = db or connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    session = db.connection
    preparing = session.prepare_threshold is not None  # off behind a pooler that cannot keep them
    if preparing and session not in _generic_plan_sessions and db.get_autocommit():
        # Only outside a transaction, where the setting cannot be rolled back with it; until
        # then (tests, ATOMIC_REQUESTS) PostgreSQL keeps choosing its plans itself.
        session.execute("SET plan_cache_mode = force_generic_plan")
        _generic_plan_sessions.add(session)
    return db._prepare_cursor(ServerBindingCursor(session))
