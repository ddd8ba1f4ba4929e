"""What the outage tests publish: numbered comments, told apart by their number."""

from __future__ import annotations

from kolot.common.events import CommentSubmitted, CommentSubmittedData


def submitted(n: int) -> CommentSubmitted:
    return CommentSubmitted(
        subject="campaign",
        data=CommentSubmittedData(
            comment_id=f"c{n}", participant_id="p", text=f"comment {n}", text_sha256="0" * 64
        ),
    )
