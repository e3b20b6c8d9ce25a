"""django-filter FilterSets shared by the UI and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.scope import prefix_q

from .choices import AreaLevel, GridKind
from .models import Area, Grid


class AreaFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=AreaLevel.choices, label=_("level"))
    parent = django_filters.CharFilter(field_name="parent__code", label=_("parent code"))
    q = django_filters.CharFilter(method="search", label=_("code or name"))

    class Meta:
        model = Area
        fields = ["level", "parent", "q"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__startswith=value) | Q(name__icontains=value))


class GridFilter(django_filters.FilterSet):
    area = django_filters.CharFilter(method="under_area", label=_("area code"))
    kind = django_filters.ChoiceFilter(choices=GridKind.choices, label=_("type"))
    q = django_filters.CharFilter(method="search", label=_("code or name"))

    class Meta:
        model = Grid
        fields = ["area", "kind", "q"]

    def under_area(self, queryset, name, value):
        area = Area.objects.filter(code=value).only("path").first()
        if area is None:
            return queryset.none()
        return queryset.filter(prefix_q("path", area.path))

    def search(self, queryset, name, value):
        return queryset.filter(Q(code__startswith=value) | Q(name__icontains=value))
