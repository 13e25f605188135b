"""`mozukai_hub.db.fetchone_prepared`: the hot statements' path (PostgreSQL)."""

import pytest
from django.db import connection

from mozukai_hub.db import _session_cursor, fetchone_prepared

pytestmark = pytest.mark.django_db


def test_prepared_statements_are_still_counted_and_translated_by_django(django_assert_num_queries):
    from django.db import ProgrammingError

    with django_assert_num_queries(2):
        assert fetchone_prepared("SELECT %s::int + 1", [1]) == (2,)
        assert fetchone_prepared("SELECT 1 WHERE false", []) is None
    with pytest.raises(ProgrammingError):  # Django's exception, not psycopg's
        fetchone_prepared("SELECT * FROM no_such_table", [])


@pytest.mark.django_db(transaction=True)
def test_one_cursor_per_database_session_and_a_new_one_after_reconnecting():
    fetchone_prepared("SELECT 1", [])
    cursor = _session_cursor(connection)
    fetchone_prepared("SELECT 2", [])
    assert _session_cursor(connection) is cursor
    connection.close()
    fetchone_prepared("SELECT 1", [])
    assert _session_cursor(connection) is not cursor
    assert _session_cursor(connection).connection is connection.connection
    with connection.cursor() as plain:
        plain.execute("SHOW plan_cache_mode")
        assert plain.fetchone() == ("force_generic_plan",)
