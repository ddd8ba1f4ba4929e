"""No personal data and no unmoderated text reach KOLOT_PUBLIC or the logs (DESIGN.md, "Security
and privacy"), proven on the whole stack as ``make up`` runs it.

Participants register with contact details and write comments carrying e-mail addresses, phone
numbers, Israeli ID numbers and card numbers; some comments are published (redacted), some are
abusive (rejected, some in disguise), some wait for a moderator (a pre-moderated consultation);
flags and appeals carry personal data too. Then every message on the public stream and every
line the four services logged is read, and none may hold any of the personal data (as written
or as bare digits) nor the text of a comment that was not published. Contact details may not
be on the internal stream in clear either.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kolot.common.auth import Role
from kolot.devstack import ServiceGroup
from tests.conftest import staff_headers
from tests.e2e.stack import QUICK_ENV, eventually, service_group
from tests.security.streams import stream_messages

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ADMIN = staff_headers(Role.ADMIN)
MODERATOR = staff_headers(Role.MODERATOR)

# contact details given at registration: sealed, never on any stream in clear, never logged
CONTACTS = [
    {"email": "dana.levi.pii@example.org", "phone": "+972 52-555-0137", "name": "Dana Levi-Kolot"},
    {"email": "rami.haddad.pii@example.net", "phone": "054-777-1290", "name": "Rami Haddad-Kolot"},
]
# personal data written into comments, flags and appeals: redacted before publication
IN_TEXT = {
    "email": "moshe.cohen.pii@example.com",
    "phone": "050-7654321",
    "international phone": "+972-3-6401234",
    "id number": "123456782",  # a valid check digit
    "card": "4580 1111 1111 1113",  # Luhn-valid
}

PUBLISHED = [  # civil, so published unless moderation holds one for a person to see
    "Night buses to the Negev would change my life, alpha-1001. Write to me at "
    f"{IN_TEXT['email']} or call {IN_TEXT['phone']}.",
    f"My ID is {IN_TEXT['id number']} and I support the plan for line 40, beta-1002.",
    f"I paid for the pilot with my card {IN_TEXT['card']}; please keep it running, gamma-1003.",
    f"Office number {IN_TEXT['international phone']}: the stop needs a shelter, delta-1004.",
    "Hidden \u202eevil\u202c direction marks and zero\u200bwidth spaces, civil, nu-1005.",
]
REJECTED = [
    "You fucking moron, the bus plan kappa-7731 is for idiots",
    "I will kill you if line lambda-5520 is cancelled",
    "you f\u200bucking id1ot, sigma-9047 is a piece of sh!t",
    "уоu аrе а whоrе, omega-3318",  # Cyrillic look-alikes
    f"you are a dickhead, call me on {IN_TEXT['phone']} theta-6604",
]
HELD = [  # in a pre-moderated consultation: nothing is published before a moderator decides
    f"Waiting for review: epsilon-2291, my mail is {IN_TEXT['email']}",
    f"Also waiting: zeta-8815 with ID {IN_TEXT['id number']}",
]
FLAG_DETAIL = f"This person's phone is {IN_TEXT['phone']} eta-4410"
APPEAL = f"I did not mean it, call {IN_TEXT['international phone']} iota-1197"


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def secrets_to_find() -> dict[str, str]:
    """Everything that must appear nowhere public or logged, by a name for the report."""
    found: dict[str, str] = {}
    for n, contact in enumerate(CONTACTS):
        for field, value in contact.items():
            found[f"contact {n} {field}"] = value
        found[f"contact {n} phone digits"] = digits(contact["phone"])
        found[f"contact {n} phone digits, local"] = "0" + digits(contact["phone"]).removeprefix(
            "972"
        )
    for name, value in IN_TEXT.items():
        found[f"{name} in text"] = value
        found[f"{name} in text, digits"] = digits(value) if name != "email" else value
    return found


def unpublished_texts(also: dict[str, str]) -> dict[str, str]:
    texts = {f"rejected {n}": t for n, t in enumerate(REJECTED)}
    texts.update({f"held {n}": t for n, t in enumerate(HELD)})
    texts.update(also)
    texts["flag detail"] = FLAG_DETAIL
    texts["appeal"] = APPEAL
    # a distinctive word of each, in case the text is logged in part or re-spaced
    for name, text in list(texts.items()):
        marker = re.search(r"[a-z]+-\d{4}", text)
        assert marker is not None, name
        texts[f"{name} marker"] = marker.group()
    return texts


@pytest.fixture(scope="module")
def logged_stack(
    nats_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceGroup, Path]]:
    log_dir = tmp_path_factory.mktemp("pii-logs")
    group = service_group(
        nats_url,
        mongo_url,
        prefix="p",
        log_dir=log_dir,
        env={
            **QUICK_ENV,
            "KOLOT_LOG_LEVEL": "INFO",  # production's level
            "KOLOT_CONSUMER_BATCH_TIMEOUT": "0.3",
        },
    )
    with group:
        yield group, log_dir


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.request.url}: {response.text[:300]}"
    return response.json()


async def test_no_personal_data_or_unpublished_text_reaches_the_public_stream_or_the_logs(
    logged_stack: tuple[ServiceGroup, Path], nats_url: str
) -> None:
    stack, log_dir = logged_stack
    urls = stack.urls
    async with httpx.AsyncClient(timeout=15) as http:

        async def campaign(mode: str) -> str:
            created = ok(
                await http.post(
                    f"{urls['intake']}/v1/campaigns",
                    json={
                        "title": {"en": f"Night buses ({mode})"},
                        "purpose": {"en": "To hear the public"},
                        "use_of_input": {"en": "The ministry reports what it changed"},
                        "moderation_mode": mode,
                    },
                    headers=ADMIN,
                )
            )
            ok(
                await http.post(
                    f"{urls['intake']}/v1/campaigns/{created['id']}/open", headers=ADMIN
                )
            )
            return str(created["id"])

        auto, pre = await campaign("auto"), await campaign("pre")
        authors = []
        for contact in CONTACTS:
            registered = ok(
                await http.post(
                    f"{urls['intake']}/v1/participants",
                    json={"contact": contact, "consent": {"notifications": True}},
                )
            )
            authors.append({"Authorization": f"Bearer {registered['token']}"})
        anonymous = {
            "Authorization": "Bearer "
            + ok(await http.post(f"{urls['intake']}/v1/participants", json={}))["token"]
        }

        async def submit(campaign_id: str, text: str, author: dict[str, str]) -> str:
            accepted = ok(
                await http.post(
                    f"{urls['intake']}/v1/campaigns/{campaign_id}/comments",
                    json={"text": text},
                    headers=author,
                )
            )
            return str(accepted["id"])

        submitted: dict[str, tuple[str, dict[str, str]]] = {}
        for n, text in enumerate(PUBLISHED + REJECTED):
            author = authors[n % len(authors)]
            submitted[await submit(auto, text, author)] = (text, author)
        held = [await submit(pre, text, authors[0]) for text in HELD]

        async def status(comment_id: str, author: dict[str, str]) -> str:
            view = ok(await http.get(f"{urls['intake']}/v1/comments/{comment_id}", headers=author))
            return str(view["status"])

        async def all_decided() -> dict[str, str] | None:
            found = {cid: await status(cid, author) for cid, (_, author) in submitted.items()}
            return found if "pending" not in found.values() else None

        statuses = await eventually(all_decided, timeout=30, what="moderation of every comment")
        by_text = {submitted[cid][0]: s for cid, s in statuses.items()}
        assert all(by_text[t] == "rejected" for t in REJECTED), by_text
        # the civil ones a person must look at first (e.g. a card number) are not published yet
        not_published = {
            f"civil {n}, {by_text[t]}": t
            for n, t in enumerate(PUBLISHED)
            if by_text[t] != "published"
        }
        assert len(not_published) <= 2, by_text

        async def queued() -> bool:
            queue = ok(
                await http.get(
                    f"{urls['moderation']}/v1/queue", params={"campaign_id": pre}, headers=MODERATOR
                )
            )
            return {item.get("comment_id", item.get("id")) for item in queue["items"]} >= set(held)

        await eventually(queued, timeout=30, what="the held comments in the moderators' queue")

        published_id = next(cid for cid, (t, _) in submitted.items() if t == PUBLISHED[0])
        rejected_id, (_, rejected_author) = next(
            (cid, v) for cid, v in submitted.items() if v[0] == REJECTED[0]
        )
        ok(
            await http.post(
                f"{urls['intake']}/v1/comments/{published_id}/flags",
                json={"reason": "other", "detail": FLAG_DETAIL},
                headers=anonymous,
            )
        )
        ok(
            await http.post(
                f"{urls['intake']}/v1/comments/{rejected_id}/appeals",
                json={"text": APPEAL},
                headers=rejected_author,
            )
        )

        async def appeal_queued() -> bool:
            appeals = ok(await http.get(f"{urls['moderation']}/v1/appeals", headers=MODERATOR))
            return any(a.get("comment_id") == rejected_id for a in appeals["items"])

        await eventually(appeal_queued, timeout=30, what="the appeal in the moderators' list")

        # what the public sees of the published ones: redacted, and no bidi controls
        page = ok(await http.get(f"{urls['intake']}/v1/campaigns/{auto}/comments"))
        public_texts = [item["text"] for item in page["items"]]
        assert len(public_texts) == len(PUBLISHED) - len(not_published), public_texts
        assert any("[email]" in t for t in public_texts), public_texts
        assert not any("\u202e" in t or "\u200b" in t for t in public_texts), public_texts

    await asyncio.sleep(1.0)  # let notify and metrics finish what these events started
    namespace = stack.namespace.upper()
    public = await stream_messages(nats_url, f"{namespace}_PUBLIC")
    assert any(".comment.published." in subject for subject, _ in public), "nothing published?"
    internal = await stream_messages(nats_url, f"{namespace}_EVENTS")
    logs = {path.name: path.read_text("utf-8", "replace") for path in log_dir.glob("*.log")}
    assert set(logs) == {f"{s}.log" for s in ("intake", "moderation", "notify", "metrics")}

    # the search would find them: the unpublished texts are on the internal stream, where
    # moderation reads them, and the logs are not empty
    everything_internal = "\n".join(text for _, text in internal)
    markers = {k: v for k, v in unpublished_texts(not_published).items() if k.endswith("marker")}
    assert [k for k, v in markers.items() if v not in everything_internal] == []
    assert all(text.count("\n") > 3 for text in logs.values()), logs
    assert any("[email]" in text for _, text in public), "no redacted comment on KOLOT_PUBLIC"

    leaks: list[str] = []
    forbidden = {**secrets_to_find(), **unpublished_texts(not_published)}
    hidden = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060\u00ad\ufeff]")
    for subject, text in public:
        leaks += [f"KOLOT_PUBLIC {subject}: {name}" for name, v in forbidden.items() if v in text]
        if hidden.search(text):
            leaks.append(f"KOLOT_PUBLIC {subject}: a bidi control or invisible character")
    contacts = {k: v for k, v in secrets_to_find().items() if k.startswith("contact")}
    for subject, text in internal:
        leaks += [f"KOLOT_EVENTS {subject}: {name}" for name, v in contacts.items() if v in text]
    for name, text in logs.items():
        for number, line in enumerate(text.splitlines(), start=1):
            leaks += [f"{name}:{number}: {what}" for what, v in forbidden.items() if v in line]
    assert not leaks, "\n".join(leaks)
