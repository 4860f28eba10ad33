"""The staff's tool for the events app (campaigns, events, registrations). Other apps'
admins build on the campaign-scoping base in events.admin.scoping."""

from django.contrib import admin

from events.admin import campaigns, event, registrations

admin.site.site_header = "Pledgecast staff"
admin.site.site_title = "Pledgecast"
admin.site.index_title = "Campaigns, events and donations"

__all__ = ["campaigns", "event", "registrations"]
