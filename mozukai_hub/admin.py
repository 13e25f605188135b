"""Admin pieces the apps share."""

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList


class BoundedDateChangeList(ChangeList):
    """Django's date hierarchy steps past the date it is given (the next month, the next year):
    for `?created_at__year=9999&created_at__month=12`, or a year too large for a date at all, that
    raised OverflowError, a 500. Here it is an invalid filter, like any other: the admin's own
    redirect to the unfiltered list (`?e=1`)."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc


class BoundedDateHierarchy:
    """Mix into a ModelAdmin that has a `date_hierarchy`."""

    def get_changelist(self, request, **kwargs):
        return BoundedDateChangeList
