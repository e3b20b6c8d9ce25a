"""django-filter FilterSet for disputes, shared by the UI lists and the API."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core.scope import prefix_q
from gridgov.geo.models import Area

from .choices import OPEN_STATES, DisputeSource, DisputeType, Grade, Level, State
from .models import Dispute


class DisputeFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label=_("state"))
    open = django_filters.BooleanFilter(method="only_open", label=_("open disputes only"))
    type = django_filters.ChoiceFilter(choices=DisputeType.choices, label=_("type"))
    source = django_filters.ChoiceFilter(choices=DisputeSource.choices, label=_("source"))
    grade = django_filters.MultipleChoiceFilter(choices=Grade.choices, label=_("risk grade"))
    level = django_filters.ChoiceFilter(choices=Level.choices, label=_("level"))
    area = django_filters.CharFilter(method="under_area", label=_("area code"))
    grid = django_filters.CharFilter(field_name="grid__code", label=_("grid code"))
    mediator = django_filters.NumberFilter(field_name="mediator_id", label=_("mediator (user id)"))
    overdue = django_filters.BooleanFilter(field_name="overdue", label=_("was overdue"))
    registered_from = django_filters.DateFilter(field_name="registered_at", lookup_expr="date__gte",
                                                label=_("registered from"))
    registered_to = django_filters.DateFilter(field_name="registered_at", lookup_expr="date__lte",
                                              label=_("registered to"))
    q = django_filters.CharFilter(method="search", label=_("number or text"))
    ordering = django_filters.OrderingFilter(
        fields=(("registered_at", "registered_at"), ("due_at", "due_at"), ("number", "number"),
                ("updated_at", "updated_at")), label=_("order"))

    class Meta:
        model = Dispute
        fields = ["state", "type", "source", "grade", "level", "grid", "overdue"]

    def only_open(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(state__in=OPEN_STATES) if value else queryset.exclude(state__in=OPEN_STATES)

    def under_area(self, queryset, name, value):
        area = Area.objects.filter(code=value).only("path").first()
        return queryset.filter(prefix_q("path", area.path)) if area else queryset.none()

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(number__startswith=value) | Q(title__icontains=value)
                               | Q(description__icontains=value) | Q(parties__name=value)).distinct()
