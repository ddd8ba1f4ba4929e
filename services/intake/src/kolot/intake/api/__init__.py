"""Intake's HTTP routes (DESIGN.md, "Public HTTP contract v1")."""

from __future__ import annotations

from fastapi import APIRouter

from kolot.intake.api import campaigns, channels, contributions, pages, participants, uploads

# contributions first: routes are matched in order, and comments are the flash crowd's path
routers: list[APIRouter] = [
    contributions.router,
    campaigns.router,
    participants.router,
    channels.router,
    uploads.router,
    pages.router,
]

__all__ = ["routers"]
