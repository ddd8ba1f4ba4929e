"""The demo seeding against a stand-in intake that checks what the contract asks of callers."""

import json
from collections.abc import Callable

import httpx

from kolot.devstack.demo import PARTICIPANTS, seed

ADMIN = "admin-token"
INTAKE = "http://127.0.0.1:8001"


class FakeIntake:
    def __init__(self, *, fail: Callable[[httpx.Request], httpx.Response | None] | None = None):
        self.fail = fail
        self.comments: list[dict[str, object]] = []
        self.campaign: dict[str, object] | None = None
        self.opened = False
        self.participants = 0
        self.visits: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail is not None and (response := self.fail(request)) is not None:
            return response
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else {}
        auth = request.headers.get("Authorization", "")
        if (method, path) == ("POST", "/v1/campaigns"):
            assert auth == f"Bearer {ADMIN}"
            self.campaign = body
            return httpx.Response(201, json={"id": "c1", "status": "draft", **body})
        if (method, path) == ("POST", "/v1/campaigns/c1/open"):
            assert auth == f"Bearer {ADMIN}"
            self.opened = True
            return httpx.Response(200, json={"id": "c1", "status": "open"})
        if (method, path) == ("POST", "/v1/campaigns/c1/visits"):
            self.visits.append(body["source"])
            return httpx.Response(202)
        if (method, path) == ("POST", "/v1/participants"):
            self.participants += 1
            n = self.participants
            return httpx.Response(201, json={"participant_id": f"p{n}", "token": f"pt{n}"})
        if (method, path) == ("POST", "/v1/campaigns/c1/comments"):
            assert auth.startswith("Bearer pt")
            assert request.headers["Idempotency-Key"]
            self.comments.append({"author": auth.removeprefix("Bearer "), **body})
            n = len(self.comments)
            return httpx.Response(202, json={"id": f"m{n}", "status": "pending", "receipt": "r"})
        return httpx.Response(404, json={"title": "Not Found"})


def test_seed_creates_opens_and_fills_a_trilingual_campaign() -> None:
    intake = FakeIntake()
    said: list[str] = []

    campaign_id = seed(
        {"intake": INTAKE}, ADMIN, echo=said.append, transport=httpx.MockTransport(intake)
    )

    assert campaign_id == "c1"
    assert intake.campaign is not None
    for field in ("title", "description", "purpose", "use_of_input"):
        assert set(intake.campaign[field]) == {"he", "ar", "en"}  # type: ignore[call-overload]
    assert intake.opened
    assert intake.participants == 3
    assert [c["author"] for c in intake.comments] == ["pt1", "pt2", "pt3"]
    assert [c["text"] for c in intake.comments] == [text for _, _, text in PARTICIPANTS]
    assert any("3 of 3 comments posted" in line for line in said)


def test_seed_reports_a_refused_campaign_and_stops_without_raising() -> None:
    def refuse(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/v1/campaigns":
            return httpx.Response(422, json={"title": "Unprocessable", "detail": "purpose.he"})
        return None

    intake = FakeIntake(fail=refuse)
    said: list[str] = []

    result = seed(
        {"intake": INTAKE}, ADMIN, echo=said.append, transport=httpx.MockTransport(intake)
    )

    assert result is None

    assert intake.participants == 0
    message = "\n".join(said)
    assert "could not create the demo campaign" in message
    assert "422" in message
    assert "purpose.he" in message


def test_seed_goes_on_after_one_comment_fails() -> None:
    def refuse_arabic(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/comments") and "نقترح" in request.content.decode():
            return httpx.Response(503, text="busy")
        return None

    intake = FakeIntake(fail=refuse_arabic)
    said: list[str] = []

    seed({"intake": INTAKE}, ADMIN, echo=said.append, transport=httpx.MockTransport(intake))

    assert len(intake.comments) == 2
    assert any("could not post the ar comment" in line and "503" in line for line in said)
    assert any("2 of 3 comments posted" in line for line in said)


def test_seed_reports_an_unreachable_intake() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    said: list[str] = []

    result = seed(
        {"intake": INTAKE}, ADMIN, echo=said.append, transport=httpx.MockTransport(unreachable)
    )

    assert result is None
    assert "connection refused" in said[-1]
    assert f"{INTAKE}/v1/campaigns" in said[-1]
