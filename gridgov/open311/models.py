"""What an Open311 client sent besides the case itself: the media URL (the case has no field for a link)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Open311Request(models.Model):
    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="open311")
    media_url = models.URLField(_("media URL"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("Open311 request")
        verbose_name_plural = _("Open311 requests")

    def __str__(self) -> str:
        return f"Open311 {self.case_id}"
