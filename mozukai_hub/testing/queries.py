"""Query counts of list endpoints: a list must cost the same number of queries whatever the
number of rows on its page (an N+1 shows as a count that grows), and no more than its pin."""

from collections.abc import Callable

from django.db import connection
from django.test.utils import CaptureQueriesContext


def list_queries_pinned(client, url: str, *, add_rows: Callable[[int], object], pin: int) -> list:
    """GET `url` with 2 rows, then with 6 (`add_rows(n)` adds n more): both answers cost the
    same number of queries, at most `pin`. Returns the second answer's JSON."""
    counts, body = [], None
    for more in (2, 4):
        add_rows(more)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1], f"{url}: {counts[0]} queries with 2 rows, {counts[1]} with 6 (N+1):\n" + "\n".join(
        q["sql"] for q in queries.captured_queries)
    assert counts[1] <= pin, f"{url}: {counts[1]} queries, pinned at {pin}:\n" + "\n".join(
        q["sql"] for q in queries.captured_queries)
    return body
