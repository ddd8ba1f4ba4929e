"""Intake's HTTP routes (DESIGN.md, "Public HTTP contract v1")."""

from __future__ import annotations

from fastapi import APIRouter

from kolot.intake.api import campaigns, channels, contributions, participants, uploads

router = APIRouter()
router.include_router(campaigns.router)
router.include_router(participants.router)
router.include_router(contributions.router)
router.include_router(channels.router)
router.include_router(uploads.router)

__all__ = ["router"]
