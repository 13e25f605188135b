"""Pagination that keeps the seeds' response shapes.

The seeds document list endpoints as returning JSON arrays ("Array of message objects"), so
the body stays an array and paging travels in headers, as in GitHub's API:
`X-Total-Count`, `X-Page`, `X-Page-Size` and an RFC 8288 `Link` header with `next`/`prev`.
Query parameters: `page` (1-based) and `page_size` (at most `max_page_size`).
"""

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class HeaderPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response(self, data):
        return Response(data, headers=self.get_paging_headers())

    def get_paging_headers(self) -> dict[str, str]:
        """The paging headers of the current page (after `paginate_queryset`)."""
        page = self.page
        links = []
        if page.has_next():
            links.append(f'<{self.get_next_link()}>; rel="next"')
        if page.has_previous():
            links.append(f'<{self.get_previous_link()}>; rel="prev"')
        headers = {
            "X-Total-Count": str(page.paginator.count),
            "X-Page": str(page.number),
            "X-Page-Size": str(page.paginator.per_page),
        }
        if links:
            headers["Link"] = ", ".join(links)
        return headers

    def get_paginated_response_schema(self, schema):
        return schema
