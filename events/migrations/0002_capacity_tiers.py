"""The capacity tiers of the design, with the two prices known from the webinar market."""

from django.db import migrations

TIERS = [
    ("10k", 10_000, 900_000),
    ("50k", 50_000, None),
    ("100k", 100_000, None),
    ("250k", 250_000, None),
    ("500k", 500_000, None),
    ("1M", 1_000_000, 10_000_000),
]


def add_tiers(apps, schema_editor):
    CapacityTier = apps.get_model("events", "CapacityTier")
    for name, attendees, price in TIERS:
        CapacityTier.objects.get_or_create(
            max_attendees=attendees,
            defaults={"name": name, "price_minor": price, "price_currency": "usd"},
        )


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunPython(add_tiers, migrations.RunPython.noop)]
