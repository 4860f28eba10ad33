from django.db import migrations, models

import donations.models


def backfill(apps, schema_editor):
    Donation = apps.get_model("donations", "Donation")
    seen: set[str] = set()
    for pk in Donation.objects.filter(reference=None).values_list("pk", flat=True).iterator():
        ref = donations.models.new_reference()
        while ref in seen:
            ref = donations.models.new_reference()
        seen.add(ref)
        Donation.objects.filter(pk=pk).update(reference=ref)


class Migration(migrations.Migration):
    # The backfill's updates and the ALTER that follows in separate transactions (PostgreSQL
    # refuses an ALTER TABLE with pending deferred-constraint trigger events).
    atomic = False

    dependencies = [
        ("donations", "0005_ticker_hidden"),
    ]

    operations = [
        migrations.AddField(
            model_name="donation",
            name="reference",
            field=models.CharField(editable=False, max_length=20, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="donation",
            name="reference",
            field=models.CharField(
                default=donations.models.new_reference, editable=False, max_length=20, unique=True
            ),
        ),
    ]
