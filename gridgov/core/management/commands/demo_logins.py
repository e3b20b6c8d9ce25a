from django.conf import settings
from django.core.management.base import BaseCommand

from gridgov.accounts.demo import DEMO_LOGINS
from gridgov.accounts.models import User


class Command(BaseCommand):
    help = "Print the demo logins, one per role."

    def handle(self, *args, **options):
        users = {u.username: u for u in User.objects.filter(username__in=[d[0] for d in DEMO_LOGINS])
                 .select_related("area", "department")}
        if not users:
            self.stdout.write("No demo users in this database.")
            return
        password = settings.GRIDGOV_DEMO_PASSWORD
        self.stdout.write(f"\nDemo logins (password: {password} — demo only, set GRIDGOV_DEMO_PASSWORD):")
        for username, role, *_ in DEMO_LOGINS:
            user = users.get(username)
            if not user:
                continue
            scope = user.area.name if user.area_id else (user.department.name if user.department_id else "")
            if role == "grid_member":
                scope = ", ".join(user.grids.values_list("name", flat=True))
            self.stdout.write(f"  {username:<12} {role:<16} {scope}")
        self.stdout.write("  gm<grid code>  grid_member       every other grid has its own grid member\n")
