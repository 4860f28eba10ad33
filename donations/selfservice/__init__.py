"""The donor's self-service: an emailed single-use link (`links`, `emails`) starts a short
session (`session`) in which the donor sees their gifts and receipts (`selectors`) and changes
the amount of, pauses, resumes or cancels a monthly gift through the provider (`services`).
The pages are `views`."""
