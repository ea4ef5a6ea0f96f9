"""Create (or reset) the demo account of the embedded default and print how to log in."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo user (DEMO_USERNAME / DEMO_PASSWORD, default demo / demo-pass-123)."

    def handle(self, *args, **options):
        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD", "demo-pass-123")
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        verb = "Created" if created else "Reset"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} demo user — log in at http://127.0.0.1:{os.environ.get('PORT', '8000')}/ "
                f"as {username} / {password} (also an admin)"
            )
        )
