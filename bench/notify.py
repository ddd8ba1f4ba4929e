"""Webhook fan-out: signed deliveries/s from notify to a local receiver vs a bare httpx POST loop.

Starts its own NATS and MongoDB-wire servers (devstack) on free ports, unless --nats-url and
--mongo-url are given, and a local HTTP receiver (uvicorn) that answers 204. Kolot's figure runs
the whole path: public events on the bus -> the webhooks consumer records the deliveries (outbox)
-> the delivery worker claims each one (a guarded store write), signs it (Standard Webhooks),
POSTs it through the SSRF-guarded pooled client and records the result (a second store write).
The baseline POSTs the same bodies to the same receiver with one pooled httpx client at the same
concurrency, signing nothing and storing nothing.

    .venv/bin/python bench/notify.py --events 500 --subscriptions 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn
from standardwebhooks.webhooks import Webhook

from kolot.common.auth import Role, issue_staff_token
from kolot.common.events import CommentPublished, CommentPublishedData
from kolot.common.settings import DEV_JWT_SECRET, development_environment
from kolot.notify.app import create_app
from kolot.notify.settings import NotifySettings


class Receiver:
    """Counts requests per path and keeps one (headers, body) per path to verify a signature."""

    def __init__(self) -> None:
        self.count = 0
        self.sample: dict[str, tuple[dict[str, str], bytes]] = {}
        self.reached: Callable[[], None] = lambda: None
        self.target = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] not in self.sample:
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.sample[scope["path"]] = (headers, body)
        self.count += 1
        if self.count == self.target:
            self.reached()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r  {label}: {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")


async def serve(receiver: Receiver) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=0, lifespan="off", log_level="warning", ws="none",
        access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def wait_for(receiver: Receiver, target: int, within: float) -> None:
    reached = asyncio.Event()
    receiver.target = target
    receiver.reached = reached.set
    if receiver.count >= target:
        return
    await asyncio.wait_for(reached.wait(), timeout=within)


async def baseline(url: str, bodies: list[bytes], concurrency: int, receiver: Receiver) -> float:
    """Bare httpx: POST every body with ``concurrency`` in flight on one pooled client."""
    receiver.count = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post(
                    f"{url}/raw", content=body, headers={"content-type": "application/json"}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(bodies) / elapsed


async def kolot(
    settings: NotifySettings,
    url: str,
    events: list[CommentPublished],
    subscriptions: int,
    receiver: Receiver,
) -> tuple[float, int]:
    receiver.count = 0
    receiver.sample.clear()
    app = create_app(settings)
    token = issue_staff_token(DEV_JWT_SECRET, roles=[Role.INTEGRATOR])
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
            secrets_by_path: dict[str, str] = {}
            for n in range(subscriptions):
                created = await client.post(
                    "/v1/subscriptions",
                    json={"url": f"{url}/hook{n}", "event_types": ["kolot.comment.published"]},
                    headers={"Authorization": f"Bearer {token}"},
                )
                created.raise_for_status()
                secrets_by_path[f"/hook{n}"] = created.json()["secret"]
            runtime = app.state.runtime
            total = len(events) * subscriptions
            waiting = asyncio.create_task(wait_for(receiver, total, within=900))
            started = time.perf_counter()
            for i in range(0, len(events), 256):
                await runtime.publisher.publish_public(*events[i : i + 256])
            while not waiting.done():
                progress("deliveries", receiver.count, total)
                await asyncio.sleep(1)
            await waiting
            progress("deliveries", receiver.count, total)
            elapsed = time.perf_counter() - started
    verified = 0
    for path, (headers, body) in receiver.sample.items():
        Webhook(secrets_by_path[path]).verify(body, headers)
        verified += 1
    return total / elapsed, verified


async def main(args: argparse.Namespace) -> None:
    from kolot.devstack import LocalStack

    receiver = Receiver()
    server, task, url = await serve(receiver)
    try:
        with LocalStack(nats_url=args.nats_url, mongo_url=args.mongo_url) as stack:
            os.environ.update(development_environment())
            settings = NotifySettings(
                nats_url=stack.nats_url,
                mongodb_url=stack.mongo_url,
                namespace=f"b{secrets.token_hex(4)}",
                log_json=False,
                log_level="WARNING",
                webhook_allowed_hosts="127.0.0.1",
                webhook_concurrency=args.concurrency,
                webhook_endpoint_concurrency=args.concurrency,
                webhook_poll_interval=0.05,
            )
            events = [
                CommentPublished(
                    subject=f"campaign-{i % 10}",
                    data=CommentPublishedData(comment_id=f"c{i}", text="ש" * 200),
                )
                for i in range(args.events)
            ]
            bodies = [event.to_json() for event in events] * args.subscriptions
            print(
                f"deliveries: {len(bodies)} ({args.events} events x {args.subscriptions} "
                f"subscriptions), concurrency {args.concurrency}; 2-core figures are noisy"
            )
            raw = await baseline(url, bodies, args.concurrency, receiver)
            signed, verified = await kolot(settings, url, events, args.subscriptions, receiver)
            print(f"{'stage':<44}{'per s':>10}{'ratio':>8}")
            print(f"{'bare httpx POST loop (baseline)':<44}{raw:>10.0f}{1:>8.2f}")
            print(
                f"{'kolot: bus -> outbox -> signed delivery':<44}{signed:>10.0f}"
                f"{signed / raw:>8.2f}"
            )
            print(f"signatures verified on a sample: {verified}")
    finally:
        server.should_exit = True
        await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    parser.add_argument("--mongo-url", default=os.environ.get("MONGODB_URL"))
    asyncio.run(main(parser.parse_args()))
