"""The participation page (``GET /c/{campaign_id}``): its strings, forms, templates and static
files. The routes are in ``kolot.intake.api.pages``; every rule they apply is the service's."""
