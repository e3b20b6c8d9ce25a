"""django-filter FilterSet for cases, shared by the UI lists and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.scope import prefix_q
from gridgov.geo.models import Area

from .choices import OPEN_STATES, Level, Source, State
from .models import Case


class CaseFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label=_("state"))
    open = django_filters.BooleanFilter(method="only_open", label=_("open cases only"))
    category = django_filters.CharFilter(method="in_category", label=_("category code"))
    source = django_filters.ChoiceFilter(choices=Source.choices, label=_("source"))
    area = django_filters.CharFilter(method="under_area", label=_("area code"))
    grid = django_filters.CharFilter(field_name="grid__code", label=_("grid code"))
    department = django_filters.CharFilter(method="for_department", label=_("department code"))
    level = django_filters.ChoiceFilter(choices=Level.choices, label=_("level"))
    overdue = django_filters.BooleanFilter(field_name="overdue", label=_("was overdue"))
    reported_from = django_filters.DateFilter(field_name="reported_at", lookup_expr="date__gte",
                                              label=_("reported from"))
    reported_to = django_filters.DateFilter(field_name="reported_at", lookup_expr="date__lte", label=_("reported to"))
    q = django_filters.CharFilter(method="search", label=_("number or text"))
    ordering = django_filters.OrderingFilter(
        fields=(("reported_at", "reported_at"), ("handle_due", "handle_due"), ("number", "number"),
                ("updated_at", "updated_at")), label=_("order"))

    class Meta:
        model = Case
        fields = ["state", "source", "grid", "level", "overdue"]

    def only_open(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(state__in=OPEN_STATES) if value else queryset.exclude(state__in=OPEN_STATES)

    def in_category(self, queryset, name, value):
        return queryset.filter(Q(category__code=value) | Q(category__parent__code=value))

    def under_area(self, queryset, name, value):
        area = Area.objects.filter(code=value).only("path").first()
        return queryset.filter(prefix_q("path", area.path)) if area else queryset.none()

    def for_department(self, queryset, name, value):
        return queryset.filter(tasks__department__code=value).distinct()

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(number__startswith=value) | Q(description__icontains=value)
                               | Q(address__icontains=value))
