"""Print the age of the oldest queued row per queue, for people or for an autoscaler."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops import autoscale


class Command(BaseCommand):
    help = (
        "Print each queue's oldest queued age (read from the database, no message touched): "
        "as text, as HireFire's info JSON, or as a Judoscale report (--post sends it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["text", "hirefire", "judoscale"], default="text")
        parser.add_argument(
            "--post", action="store_true", help="Post the Judoscale report to $JUDOSCALE_URL."
        )

    def handle(self, *args, format: str, post: bool, **options):
        if post:
            if not settings.JUDOSCALE_URL:
                raise CommandError("--post needs JUDOSCALE_URL (set by Judoscale's add-on).")
            try:
                report = autoscale.post_judoscale_report(settings.JUDOSCALE_URL)
            except Exception as error:  # say what went wrong, one line, non-zero exit
                raise CommandError(f"Judoscale did not take the report: {error}") from error
            self.stdout.write(json.dumps(report))
        elif format == "hirefire":
            self.stdout.write(json.dumps(autoscale.hirefire_info()))
        elif format == "judoscale":
            self.stdout.write(json.dumps(autoscale.judoscale_report()))
        else:
            for line in autoscale.text_lines():
                self.stdout.write(line)
