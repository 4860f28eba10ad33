"""A campaign's brand: the logo (a real PNG, JPEG or WebP within its bounds, never SVG; the old
file deleted once a replacement, a clearing or the campaign's deletion commits), the colours
(refused when people could not read them, with the ratio), the "Paid for by" line a political
committee must have, and where each shows: the event page, the thank-you and the emails."""

from __future__ import annotations

import importlib
import io
import re
import threading

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from PIL import Image

from donations import receipts
from events import brand, services
from events.models import Campaign
from tests.donations.factories import DonationFactory
from tests.events.support import campaign_form_data
from tests.factories import CampaignFactory, EventFactory
from tests.support import wait_for

pytestmark = pytest.mark.django_db

SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (120, 40), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(out, kind, **save)
    return out.getvalue()


def upload(content: bytes, name: str = "logo.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def form(campaign: Campaign, **fields: object) -> dict[str, object]:
    """A political campaign's form with its disclaimer; a field given as None is left out."""
    brand = {
        "political": "on",
        "paid_for_by": "Paid for by Alpha for Congress",
        "brand_color": "",
        "brand_text_color": "",
    }
    data = campaign_form_data(campaign, **{**brand, **fields})
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def owner_client(client, staff_factory):
    def login(campaign: Campaign) -> tuple[Client, str]:
        client.force_login(staff_factory(campaign, "owner"))
        return client, reverse("admin:events_campaign_change", args=[campaign.pk])

    return login


def field_errors(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def stored_files(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def unchanged(campaign: Campaign) -> bool:
    before = {f.attname: getattr(campaign, f.attname) for f in Campaign._meta.concrete_fields}
    campaign.refresh_from_db()
    after = {f.attname: getattr(campaign, f.attname) for f in Campaign._meta.concrete_fields}
    return before == after


# --- The logo ---------------------------------------------------------------------------------


def test_a_good_png_is_stored_under_a_random_name_and_served_as_png(owner_client, media_root):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, logo=upload(image_bytes(), "../../evil.html.png")))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert re.fullmatch(r"logos/[0-9a-f]{32}\.png", campaign.logo.name)
    assert stored_files(media_root) == [campaign.logo.name.split("/")[1]]
    assert campaign.logo_url == f"/media/logos/{campaign.logo.name.split('/')[1]}"
    served = client.get(campaign.logo_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == campaign.logo.open("rb").read()


def test_the_logos_size_is_kept_with_it_and_cleared_with_it(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    client.post(url, form(campaign, logo=upload(image_bytes(size=(300, 90)))))
    campaign.refresh_from_db()
    assert (campaign.logo_width, campaign.logo_height) == (300, 90)

    client.post(url, form(campaign, logo=upload(image_bytes("WEBP", size=(64, 64)), "l.webp")))
    campaign.refresh_from_db()
    assert (campaign.logo_width, campaign.logo_height) == (64, 64)

    client.post(url, form(campaign, **{"logo-clear": "on"}))
    campaign.refresh_from_db()
    assert (campaign.logo.name, campaign.logo_width, campaign.logo_height) == ("", None, None)


def test_logos_stored_before_their_size_was_kept_get_it_from_their_file(media_root):
    fill_logo_sizes = importlib.import_module(
        "events.migrations.0008_campaign_logo_size"
    ).fill_logo_sizes
    sized = CampaignFactory(logo=upload(image_bytes(size=(210, 70))))
    gone = CampaignFactory(logo=upload(image_bytes()))
    (media_root / gone.logo.name).unlink()
    bare = CampaignFactory()
    Campaign.objects.update(logo_width=None, logo_height=None)

    fill_logo_sizes(django_apps, None)

    sizes = dict(Campaign.objects.values_list("pk", "logo_width"))
    assert sizes == {sized.pk: 210, gone.pk: None, bare.pk: None}
    assert Campaign.objects.get(pk=sized.pk).logo_height == 70


def test_a_jpeg_saved_with_a_png_name_is_stored_as_jpg(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, logo=upload(image_bytes("JPEG"), "logo.png")))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.logo.name.endswith(".jpg")


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (b"%PDF-1.4 not an image at all", "logo.png", "image/png"),
        (SVG_WITH_SCRIPT, "logo.svg", "image/svg+xml"),
        (SVG_WITH_SCRIPT, "logo.png", "image/png"),
        (image_bytes()[:60], "logo.png", "image/png"),  # a truncated PNG
    ],
    ids=["not-an-image", "svg-with-script", "svg-named-png", "truncated-png"],
)
def test_a_file_that_is_not_a_logo_we_take_is_refused_and_nothing_is_saved(
    owner_client, media_root, content, name, content_type
):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, logo=upload(content, name, content_type)))

    assert response.status_code == 200
    assert field_errors(response, "logo")
    assert unchanged(campaign)
    assert campaign.logo.name == ""
    assert stored_files(media_root) == []


def test_a_gif_is_refused_it_is_not_a_format_we_take():
    with pytest.raises(brand.ValidationError) as exc:
        brand.check_logo(upload(image_bytes("GIF"), "logo.gif", "image/gif"))
    assert exc.value.messages == ["The logo must be a PNG, JPEG or WebP image."]


def test_a_logo_over_one_megabyte_is_refused_with_its_size(owner_client, media_root):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)
    noise = Image.frombytes("RGB", (1000, 1000), bytes(range(256)) * 11719 + b"\0" * 136)
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=0)
    too_big = out.getvalue()
    assert len(too_big) > brand.MAX_LOGO_BYTES

    response = client.post(url, form(campaign, logo=upload(too_big)))

    assert response.status_code == 200
    assert field_errors(response, "logo") == [
        f"The logo is {len(too_big):,} bytes; the most a logo may be is 1,048,576 bytes."
    ]
    assert unchanged(campaign)
    assert stored_files(media_root) == []


def test_a_logo_over_2000_pixels_on_a_side_is_refused(owner_client, media_root):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, logo=upload(image_bytes(size=(2001, 10)))))

    assert response.status_code == 200
    assert field_errors(response, "logo") == [
        "The logo is 2001 by 10 pixels; the most a logo may be is 2000 by 2000."
    ]
    assert unchanged(campaign)
    assert stored_files(media_root) == []


def test_a_webp_of_exactly_2000_pixels_is_accepted():
    brand.check_logo(upload(image_bytes("WEBP", size=(2000, 2000)), "logo.webp", "image/webp"))


# --- Old logos --------------------------------------------------------------------------------


def logo_file(campaign: Campaign) -> str:
    return campaign.logo.name.split("/")[1]


def test_replacing_the_logo_deletes_the_old_file_once_the_change_commits(
    owner_client, media_root, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    old = logo_file(campaign)
    client, url = owner_client(campaign)

    with django_capture_on_commit_callbacks(execute=True):
        new_logo = upload(image_bytes("JPEG"), "new.jpg", "image/jpeg")
        response = client.post(url, form(campaign, logo=new_logo))
        assert response.status_code == 302
        campaign.refresh_from_db()
        assert stored_files(media_root) == sorted([old, logo_file(campaign)])  # not yet

    assert campaign.logo.name.endswith(".jpg")
    assert stored_files(media_root) == [logo_file(campaign)]
    assert client.get(campaign.logo_url).status_code == 200


def test_clearing_the_logo_deletes_its_file(
    owner_client, media_root, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    client, url = owner_client(campaign)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form(campaign, **{"logo-clear": "on"}))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.logo.name == ""
    assert stored_files(media_root) == []


def test_a_save_that_leaves_the_logo_alone_keeps_its_file(
    owner_client, media_root, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    client, url = owner_client(campaign)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form(campaign, name="Alpha for Senate"))

    assert response.status_code == 302
    assert stored_files(media_root) == [logo_file(campaign)]
    assert Campaign.objects.get().logo.name == campaign.logo.name


def test_a_replacement_rolled_back_keeps_the_old_file(media_root):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    old = campaign.logo.name

    def change_that_fails() -> None:
        with transaction.atomic():
            campaign.logo = upload(image_bytes("WEBP"), "new.webp", "image/webp")
            campaign.save()
            raise RuntimeError("the rest of the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert Campaign.objects.get().logo.name == old
    assert old.split("/")[1] in stored_files(media_root)


def test_deleting_a_campaign_deletes_its_logo(media_root, django_capture_on_commit_callbacks):
    one = CampaignFactory(logo=upload(image_bytes()))
    others = [CampaignFactory(logo=upload(image_bytes())) for _ in range(2)]
    kept = CampaignFactory(logo=upload(image_bytes()))

    with django_capture_on_commit_callbacks(execute=True):
        one.delete()
        Campaign.objects.filter(pk__in=[c.pk for c in others]).delete()

    assert stored_files(media_root) == [logo_file(kept)]


def test_a_file_another_campaign_still_names_is_kept(
    media_root, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    twin = CampaignFactory(logo=campaign.logo.name)  # a copy that shares the stored file

    with django_capture_on_commit_callbacks(execute=True):
        campaign.logo = ""
        campaign.save()

    assert stored_files(media_root) == [logo_file(twin)]


def test_a_save_from_a_campaign_read_before_the_logo_was_replaced_keeps_the_new_logo(
    media_root, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    stale = Campaign.objects.get(pk=campaign.pk)  # another owner's form, opened earlier
    fresh = Campaign.objects.get(pk=campaign.pk)

    with django_capture_on_commit_callbacks(execute=True):
        fresh.logo = upload(image_bytes("JPEG", size=(90, 30)), "new.jpg", "image/jpeg")
        fresh.save()
        stale.name = "Alpha for Senate"
        stale.save()

    stored = Campaign.objects.get()
    assert (stored.name, stored.logo.name) == ("Alpha for Senate", fresh.logo.name)
    assert (stored.logo_width, stored.logo_height) == (90, 30)
    assert stored_files(media_root) == [logo_file(stored)]


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_two_logos_saved_at_once_leave_only_the_last_one_stored(media_root):
    campaign = CampaignFactory(logo=upload(image_bytes()))
    first = Campaign.objects.get(pk=campaign.pk)
    second = Campaign.objects.get(pk=campaign.pk)
    errors: list[BaseException] = []

    def save_second() -> None:
        try:
            second.logo = upload(image_bytes("WEBP"), "second.webp", "image/webp")
            second.save()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        first.logo = upload(image_bytes("JPEG"), "first.jpg", "image/jpeg")
        first.save()
        # The second save runs while the first holds the campaign's row.
        thread = threading.Thread(target=save_second)
        thread.start()
        wait_for(_waiting_on_a_lock, 10, what="the second save waiting for the row")
    thread.join(timeout=30)

    assert errors == []
    stored = Campaign.objects.get()
    assert stored.logo.name == second.logo.name
    assert stored.logo.name.endswith(".webp")
    assert stored_files(media_root) == [logo_file(stored)]


@pytest.mark.parametrize(
    "name", ["x.png", "../secret.png", f"{'a' * 32}.svg", f"{'a' * 32}.png", f"{'A' * 32}.png"]
)
def test_the_logo_view_serves_only_stored_logos_by_their_generated_names(client, name):
    assert client.get(f"/media/logos/{name}").status_code == 404


# --- The colours ------------------------------------------------------------------------------


def test_the_contrast_ratio_follows_wcag():
    assert brand.contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert brand.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert brand.contrast_ratio("#0a3a99", "#0a3a99") == pytest.approx(1)


def test_readable_colours_are_saved(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, brand_color="#7A1F2B", brand_text_color="#FFFFFF"))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.brand_color, campaign.brand_text_color) == ("#7A1F2B", "#FFFFFF")
    assert campaign.brand_style == "--brand: #7a1f2b; --brand-text: #ffffff;"


def test_text_that_cannot_be_read_on_the_brand_colour_is_refused_with_the_ratio(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, brand_color="#0a3a99", brand_text_color="#1a3a99"))

    assert response.status_code == 200
    assert field_errors(response, "brand_text_color") == [
        "#1a3a99 on #0a3a99 has a contrast ratio of 1.01:1; text needs at least 4.5:1 to be "
        "readable."
    ]
    assert unchanged(campaign)


def test_a_brand_colour_too_pale_for_the_white_page_is_refused_with_the_ratio(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, brand_color="#ffe066", brand_text_color="#000000"))

    assert response.status_code == 200
    assert field_errors(response, "brand_color") == [
        "#ffe066 against the white page has a contrast ratio of 1.30:1; buttons and bars "
        "need at least 3:1. Choose a darker colour."
    ]
    assert field_errors(response, "brand_text_color") == []
    assert unchanged(campaign)


def test_a_colour_that_is_not_rrggbb_is_refused(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, brand_color="#12345g"))

    assert response.status_code == 200
    assert field_errors(response, "brand_color") == [
        "Enter a colour as #rrggbb, for example #0a3a99."
    ]
    assert unchanged(campaign)


def test_a_brand_colour_too_faint_for_text_leaves_text_on_the_page_in_ink():
    assert brand.contrast_ratio("#d9534f", "#ffffff") == pytest.approx(3.96, abs=0.01)

    assert brand.check_brand_colors("#d9534f", "#000000") == {}
    assert brand.brand_style("#d9534f", "#000000") == (
        "--brand: #d9534f; --brand-on-page: #1a1d24; --brand-text: #000000;"
    )


def test_a_colour_that_reached_the_row_unchecked_never_reaches_the_css():
    assert brand.brand_style("red;}x{", "#ffffff") == "--brand-text: #ffffff;"


# --- "Paid for by" ----------------------------------------------------------------------------


def test_a_political_campaign_without_a_paid_for_by_line_is_refused(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, paid_for_by="   "))

    assert response.status_code == 200
    assert field_errors(response, "paid_for_by") == [
        "A political committee must show who paid for its pages and emails: enter its "
        "“Paid for by” line."
    ]
    assert unchanged(campaign)


def test_the_disclaimer_must_begin_with_paid_for_by(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, paid_for_by="Alpha for Congress"))

    assert response.status_code == 200
    assert field_errors(response, "paid_for_by") == [
        "The disclaimer must begin with the words “Paid for by”."
    ]
    assert unchanged(campaign)


def test_a_campaign_that_is_not_political_needs_no_disclaimer(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    response = client.post(url, form(campaign, political=None, paid_for_by=""))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.political, campaign.paid_for_by) == (False, "")


def test_the_model_refuses_a_political_campaign_without_a_disclaimer():
    campaign = CampaignFactory.build(political=True, paid_for_by="")
    with pytest.raises(brand.ValidationError) as exc:
        campaign.full_clean()
    assert list(exc.value.message_dict) == ["paid_for_by"]


def test_the_admin_shows_the_brand_fieldset(owner_client):
    campaign = CampaignFactory()
    client, url = owner_client(campaign)

    page = client.get(url).content.decode()

    assert "<h2>Brand</h2>" in page or ">Brand<" in page
    for field in ("logo", "brand_color", "brand_text_color", "political", "paid_for_by"):
        assert f'name="{field}"' in page


# --- Where it shows ---------------------------------------------------------------------------


def branded_campaign(**fields: object) -> Campaign:
    defaults: dict[str, object] = {
        "name": "Alpha for Congress",
        "paid_for_by": "Paid for by Alpha for Congress",
        "brand_color": "#7a1f2b",
        "brand_text_color": "#ffffff",
    }
    defaults.update(fields)
    return CampaignFactory(**defaults)


def test_the_event_page_shows_the_name_logo_colours_and_disclaimer(client, settings):
    settings.ALLOW_SIMULATED_PAYMENTS = True  # the donate panel, with its thank-you
    campaign = branded_campaign(logo=upload(image_bytes()))
    event = EventFactory(campaign=campaign, status="live")

    page = client.get(event.get_absolute_url()).content.decode()

    assert "<span data-brand-name>Alpha for Congress</span>" in page
    # Its size in pixels: the browser keeps the logo's box from the first paint.
    assert (
        f'<img class="brand-logo" src="{campaign.logo_url}" alt="" width="120" height="40" '
        "data-brand-logo>"
    ) in page
    assert 'style="--brand: #7a1f2b; --brand-text: #ffffff;"' in page
    assert '<p class="brand-paid-for" data-paid-for-by>Paid for by Alpha for Congress</p>' in page
    assert (
        '<p class="donate-paid-for" data-donate-paid-for>Paid for by Alpha for Congress</p>' in page
    )
    assert "Live on Pledgecast" not in page
    assert page.count("Pledgecast") == 1  # "Powered by Pledgecast", small, at the foot
    assert "Powered by Pledgecast" in page


def test_an_unbranded_event_page_has_no_style_and_no_disclaimer(client):
    campaign = CampaignFactory(political=False)
    event = EventFactory(campaign=campaign, status="live")

    page = client.get(event.get_absolute_url()).content.decode()

    assert "--brand" not in page
    assert "data-paid-for-by" not in page
    assert "data-donate-paid-for" not in page
    assert "data-brand-logo" not in page


def succeeded_donation(campaign: Campaign):
    event = EventFactory(campaign=campaign, status="live")
    return DonationFactory(event=event, status="succeeded", net_minor=2_500)


def test_the_receipt_ends_with_the_paid_for_by_line():
    donation = succeeded_donation(branded_campaign())

    assert receipts.send_receipt(donation_id=donation.pk) is True

    [receipt] = mail.outbox
    assert receipt.body.endswith("\n\nPaid for by Alpha for Congress\n")


def test_a_receipt_without_a_disclaimer_has_no_such_line():
    donation = succeeded_donation(CampaignFactory(political=False))

    assert receipts.send_receipt(donation_id=donation.pk) is True

    [receipt] = mail.outbox
    assert "Paid for by" not in receipt.body


@pytest.mark.usefixtures("eager_celery")
def test_the_registration_confirmation_ends_with_the_paid_for_by_line(
    django_capture_on_commit_callbacks,
):
    campaign = branded_campaign(paid_for_by="Paid for by Alpha & Co <for Congress>")
    event = EventFactory(campaign=campaign, status="scheduled", registration_required=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.register_attendee(event=event, name="Ada Lovelace", email="ada@example.org")

    [message] = mail.outbox
    assert message.body.endswith("\n\nPaid for by Alpha & Co <for Congress>\n")
    [(html, _)] = message.alternatives
    assert str(html).endswith(
        "<p>Paid for by Alpha &amp; Co &lt;for Congress&gt;</p></body></html>"
    )
