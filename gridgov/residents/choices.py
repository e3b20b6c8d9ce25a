from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", _("Registered resident (户籍)")
    FLOATING = "floating", _("Floating population (流动)")
    FOREIGN = "foreign", _("From abroad (境外)")


class Presence(models.TextChoices):
    """人户一致 / 人在户不在 / 户在人不在: does the person live where their household is registered?"""

    CONSISTENT = "consistent", _("Lives at the registered address (人户一致)")
    PERSON_ONLY = "person_only", _("Lives here, registered elsewhere (人在户不在)")
    REGISTRATION_ONLY = "registration_only", _("Registered here, lives elsewhere (户在人不在)")


class PersonStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    MOVED_OUT = "moved_out", _("Moved out")
    DECEASED = "deceased", _("Deceased")


class PoliticalStatus(models.TextChoices):
    MASSES = "masses", _("Ordinary citizen (群众)")
    CPC = "cpc", _("CPC member (中共党员)")
    PROBATIONARY = "probationary", _("Probationary CPC member (中共预备党员)")
    CYL = "cyl", _("Communist Youth League member (共青团员)")
    OTHER_PARTY = "other_party", _("Member of another party (民主党派)")


class HouseUse(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential")
    COMMERCIAL = "commercial", _("Shop")
    OFFICE = "office", _("Office")
    MIXED = "mixed", _("Mixed use")
    OTHER = "other", _("Other")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household (户主)")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    SIBLING = "sibling", _("Sibling")
    OTHER = "other", _("Other relative")
    TENANT = "tenant", _("Tenant")


class Frequency(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")


FREQUENCY_DAYS = {Frequency.WEEKLY: 7, Frequency.MONTHLY: 30, Frequency.QUARTERLY: 91}


class VisitForm(models.TextChoices):
    HOME = "home", _("Home visit (入户)")
    PHONE = "phone", _("Phone call")
    VIDEO = "video", _("Video call")
    OFFICE = "office", _("At the office")
