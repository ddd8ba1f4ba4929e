"""Intake's HTTP routes (DESIGN.md, "Public HTTP contract v1")."""

from __future__ import annotations

from fastapi import APIRouter

from kolot.intake.api import campaigns, contributions, participants

router = APIRouter()
router.include_router(campaigns.router)
router.include_router(participants.router)
router.include_router(contributions.router)

__all__ = ["router"]
