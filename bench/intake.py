"""Intake's comment write path over HTTP vs a bare FastAPI + nats-py endpoint, same load.

Starts NATS and MongoDB-wire (devstack) on free ports unless --nats-url/--mongo-url are given,
runs intake as in production (``kolot-intake``: uvicorn, uvloop + httptools, one worker) with
rate limits out of the way, creates and opens a campaign, registers participants, then drives
``POST /v1/campaigns/{id}/comments`` (he/ar/en texts of 200-600 characters, an Idempotency-Key on
every fourth) over keep-alive connections. The baseline is a bare FastAPI app served the same
way whose endpoint validates a similar body with pydantic and publishes it to JetStream with
nats-py, awaiting the ack. Load comes from ``wrk`` when it is on PATH (Debian: ``apt-get install
wrk``), else from a Python generator (uvloop, raw HTTP/1.1) in a process of its own, which tops
out near 1,300 req/s on these 2-core machines: below the bare endpoint, so with it the ratio
flatters intake. Beside each server's figures: its CPU time per request, the figure to compare
when the machine is shared and throughput is noisy. Targets (intake's issue): intake/bare
>= 0.8 and intake's p99 <= 100 ms at 64 connections.

    .venv/bin/python bench/intake.py --duration 10 --warmup 2 --connections 64
    .venv/bin/python bench/intake.py --profile   # intake under cProfile: where its time goes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field

from kolot.common.auth import Role, issue_staff_token
from kolot.common.settings import DEV_JWT_SECRET, development_environment

HOST = "127.0.0.1"

# -- what participants write ------------------------------------------------------------------

_SENTENCES = {
    "he": [
        "הקו שעובר ליד בית הספר מגיע באיחור של רבע שעה כמעט כל בוקר.",
        "אני מבקשת להוסיף תחנה ליד המרפאה, כי קשישים רבים הולכים ברגל בחום.",
        "התדירות בערב נמוכה מדי ואנשים שעובדים במשמרות נשארים בלי דרך לחזור.",
        "כדאי לפרסם את לוח הזמנים גם בערבית וברוסית בכל התחנות.",
        "הנתיב הייעודי בשדרה הראשית עובד מצוין ומקצר את הנסיעה בחצי.",
        "יש לשקול מחדש את ביטול הקו הלילי, הוא חיוני לסטודנטים.",
    ],
    "ar": [
        "الحافلة التي تمر بجانب المدرسة تتأخر ربع ساعة تقريبا كل صباح.",
        "أطلب إضافة محطة قرب العيادة لأن كثيرا من كبار السن يمشون في الحر.",
        "عدد الرحلات في المساء قليل جدا والعمال في الورديات لا يجدون طريقا للعودة.",
        "يجب نشر جدول المواعيد باللغة العربية في جميع المحطات.",
        "المسار المخصص في الشارع الرئيسي يعمل بشكل ممتاز ويختصر الرحلة إلى النصف.",
        "أرجو إعادة النظر في إلغاء الخط الليلي فهو ضروري للطلاب.",
    ],
    "en": [
        "The line past the school arrives about fifteen minutes late almost every morning.",
        "Please add a stop near the clinic: many older people walk there in the heat.",
        "Evening frequency is too low, and shift workers are left with no way home.",
        "The timetable should be posted in Arabic and Russian at every stop as well.",
        "The bus lane on the main avenue works very well and halves the journey.",
        "Please reconsider cancelling the night line; students depend on it.",
    ],
}


def comment_texts(count: int, seed: int = 7) -> list[str]:
    """Texts of 200-600 characters, each in one language, some mixing in a second."""
    rng = random.Random(seed)
    texts = []
    for i in range(count):
        language = ("he", "ar", "en")[i % 3]
        target = rng.randint(200, 600)
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            pool = _SENTENCES["en" if rng.random() < 0.1 else language]
            parts.append(rng.choice(pool))
        texts.append(" ".join(parts)[:target].rstrip())
    return texts


# -- the baseline: validate with pydantic, publish with nats-py, answer 202 -------------------


class CommentIn(BaseModel):
    """The body intake takes (CommentCreate), validated the same way."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=50_000)
    parent_id: str | None = Field(default=None, max_length=64)
    circle: str | None = Field(default=None, max_length=64)


def bare_app(nats_url: str, prefix: str) -> FastAPI:
    import nats

    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.add_stream(name=prefix.upper(), subjects=[f"{prefix}.>"], duplicate_window=120.0)
        state["js"] = js
        yield
        await nc.drain()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/campaigns/{campaign_id}/comments", status_code=202)
    async def submit(
        campaign_id: str,
        body: CommentIn,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> dict[str, str]:
        comment_id = str(uuid.uuid4())
        payload = json.dumps(
            {"id": comment_id, "campaign_id": campaign_id, **body.model_dump()},
            ensure_ascii=False,
        ).encode()
        await state["js"].publish(
            f"{prefix}.{campaign_id}",
            payload,
            headers={"Nats-Msg-Id": idempotency_key or comment_id},
            timeout=2.0,
        )
        return {"id": comment_id, "status": "pending"}

    return app


def serve_bare(args: argparse.Namespace) -> None:
    import uvicorn

    uvicorn.run(
        bare_app(args.nats_url, args.prefix),
        host=HOST,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )


# -- load ------------------------------------------------------------------------------------


@dataclass
class Load:
    url: str
    path: str
    tokens: list[str]
    bodies: list[str]
    connections: int
    warmup: float
    duration: float
    run: str


@dataclass
class Figures:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: int
    server_cpu: float = 0.0
    """CPU seconds the server process spent while ``cpu_requests`` were answered..."""
    cpu_requests: int = 0
    cpu_window: float = 0.0
    """...over this many seconds (the Python generator's warm-up is in the same run)."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        return self.socket_errors + sum(n for s, n in self.statuses.items() if s >= 300)


def _lua_string(data: bytes) -> str:
    return (
        '"'
        + "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:03d}" for b in data)
        + '"'
    )


_WRK_SCRIPT = """
local bodies = {%(bodies)s}
local tokens = {%(tokens)s}
local path = %(path)s
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  run = args[1] or "run"
  counter = 0
  statuses = {}
end
function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter * 7 + id) %% #tokens + 1],
  }
  if counter %% 4 == 0 then
    headers["Idempotency-Key"] = "w" .. run .. "-" .. id .. "-" .. counter
  end
  return wrk.format("POST", path, headers, bodies[counter %% #bodies + 1])
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KOLOT requests %%d\\n", summary.requests))
  io.write(string.format("KOLOT micros %%d\\n", summary.duration))
  io.write(string.format("KOLOT p50 %%d\\n", latency:percentile(50)))
  io.write(string.format("KOLOT p99 %%d\\n", latency:percentile(99)))
  io.write(string.format("KOLOT socket %%d\\n", e.connect + e.read + e.write + e.timeout))
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("KOLOT status %%d %%d\\n", status, n))
    end
  end
end
"""


def run_wrk(load: Load, workdir: Path, *, seconds: float, run: str) -> Figures:
    script = workdir / "comments.lua"
    script.write_text(
        _WRK_SCRIPT
        % {
            "bodies": ",".join(_lua_string(b.encode()) for b in load.bodies),
            "tokens": ",".join(_lua_string(t.encode()) for t in load.tokens),
            "path": _lua_string(load.path.encode()),
        }
    )
    wrk = shutil.which("wrk")
    assert wrk is not None
    out = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{load.connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            load.url,
            "--",
            run,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values: dict[str, int] = {}
    statuses: Counter[int] = Counter()
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] == ["KOLOT", "status"]:
            statuses[int(parts[2])] += int(parts[3])
        elif parts and parts[0] == "KOLOT":
            values[parts[1]] = int(parts[2])
    return Figures(
        requests=values["requests"],
        seconds=values["micros"] / 1e6,
        p50_ms=values["p50"] / 1000,
        p99_ms=values["p99"] / 1000,
        statuses=dict(statuses),
        socket_errors=values["socket"],
    )


def drive(spec_file: str) -> None:
    """The Python load generator: one process, uvloop, raw HTTP/1.1 keep-alive connections."""
    import uvloop

    spec = json.loads(Path(spec_file).read_text())
    load = Load(**spec["load"])
    host, port = re.match(r"http://([^:/]+):(\d+)", load.url).groups()  # type: ignore[union-attr]
    bodies = [b.encode() for b in load.bodies]
    head = (
        f"POST {load.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    ).encode()
    auth = [f"Authorization: Bearer {t}\r\n".encode() for t in load.tokens]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    socket_errors = 0
    answered = 0  # warm-up included, for the server's CPU time per request
    started = time.perf_counter()
    measure_from = started + load.warmup
    stop_at = measure_from + load.duration
    header_end = re.compile(rb"\r\n\r\n")
    content_length = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)

    class Connection(asyncio.Protocol):
        def __init__(self, index: int, finished: asyncio.Future[None]) -> None:
            self.index = index
            self.count = 0
            self.buffer = b""
            self.sent = 0.0
            self.finished = finished
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]  # uvloop's own class
            self.send()

        def send(self) -> None:
            assert self.transport is not None
            self.sent = time.perf_counter()
            if self.sent >= stop_at:
                self.transport.close()
                return
            self.count += 1
            n = self.count * load.connections + self.index
            body = bodies[n % len(bodies)]
            key = (
                f"Idempotency-Key: p{load.run}-{self.index}-{self.count}\r\n".encode()
                if self.count % 4 == 0
                else b""
            )
            self.transport.write(
                b"".join(
                    (
                        head,
                        auth[n % len(auth)],
                        key,
                        b"Content-Length: ",
                        str(len(body)).encode(),
                        b"\r\n\r\n",
                        body,
                    )
                )
            )

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            found = header_end.search(self.buffer)
            if not found:
                return
            length = content_length.search(self.buffer, 0, found.start() + 2)
            end = found.end() + (int(length.group(1)) if length else 0)
            if len(self.buffer) < end:
                return
            status = int(self.buffer[9:12])
            self.buffer = self.buffer[end:]
            now = time.perf_counter()
            nonlocal answered
            answered += 1
            if self.sent >= measure_from:
                latencies.append(now - self.sent)
                statuses[status] += 1
            self.send()

        def connection_lost(self, exc: Exception | None) -> None:
            nonlocal socket_errors
            if exc is not None or time.perf_counter() < stop_at:
                socket_errors += 1
            if not self.finished.done():
                self.finished.set_result(None)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = []
        for index in range(load.connections):
            finished: asyncio.Future[None] = loop.create_future()
            await loop.create_connection(
                lambda i=index, f=finished: Connection(i, f),
                host,
                int(port),
            )
            done.append(finished)
        await asyncio.wait_for(asyncio.gather(*done), timeout=load.warmup + load.duration + 30)

    uvloop.run(main())
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
        )

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "cpu_requests": answered,
                "cpu_window": load.warmup + load.duration,
                "seconds": load.duration,
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "statuses": statuses,
                "socket_errors": socket_errors,
            }
        )
    )


def run_python(load: Load, workdir: Path) -> Figures:
    spec = workdir / f"load-{load.run}.json"
    spec.write_text(json.dumps({"load": load.__dict__}))
    done = subprocess.run(
        [sys.executable, __file__, "--drive", str(spec)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{done.stderr}")
    out = done.stdout
    raw = json.loads(out)
    raw["statuses"] = {int(k): v for k, v in raw["statuses"].items()}
    return Figures(**raw)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(load: Load, workdir: Path, generator: str, pid: int, *, profile: bool) -> Figures:
    """Warm up, then measure; the server's CPU time is read around the measured run, which is
    also when a profiled server is told to profile (SIGUSR1) and to write its stats (SIGUSR2)."""
    if generator == "wrk":
        # wrk has no warm-up: a short run first, thrown away
        run_wrk(load, workdir, seconds=load.warmup, run=f"{load.run}w")
    if profile:
        os.kill(pid, signal.SIGUSR1)
    cpu = cpu_seconds(pid)
    if generator == "wrk":
        figures = run_wrk(load, workdir, seconds=load.duration, run=load.run)
    else:
        figures = run_python(load, workdir)  # warms up in the same run, so that is counted too
    figures.server_cpu = cpu_seconds(pid) - cpu
    if not figures.cpu_requests:  # wrk: the measured run only
        figures.cpu_requests, figures.cpu_window = figures.requests, figures.seconds
    if profile:
        os.kill(pid, signal.SIGUSR2)
    return figures


# -- setting up --------------------------------------------------------------------------------


def prepare_intake(url: str, participants: int) -> tuple[str, list[str]]:
    """An open campaign and registered participants' tokens, through the public API."""
    admin = {"Authorization": f"Bearer {issue_staff_token(DEV_JWT_SECRET, roles=[Role.ADMIN])}"}
    with httpx.Client(base_url=url, timeout=10) as client:
        created = client.post(
            "/v1/campaigns",
            headers=admin,
            json={
                "title": {"he": "תחבורה ציבורית", "ar": "المواصلات العامة", "en": "Buses"},
                "purpose": {"en": "Hear riders before the timetable changes"},
                "use_of_input": {"en": "Read by the planners; a summary is published"},
            },
        )
        created.raise_for_status()
        campaign_id = str(created.json()["id"])
        client.post(f"/v1/campaigns/{campaign_id}/open", headers=admin).raise_for_status()
        tokens = []
        for _ in range(participants):
            registered = client.post("/v1/participants", json={"source": "bench"})
            registered.raise_for_status()
            tokens.append(str(registered.json()["token"]))
        # the campaign reaches every replica's directory through the bus: wait until it has
        deadline = time.monotonic() + 15
        while True:
            probe = client.post(
                f"/v1/campaigns/{campaign_id}/comments",
                headers={"Authorization": f"Bearer {tokens[0]}"},
                json={"text": "בדיקה"},
            )
            if probe.status_code == 202:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"intake does not accept comments: {probe.text}")
            time.sleep(0.2)
    return campaign_id, tokens


# intake under cProfile, switched on and off by the bench (SIGUSR1, SIGUSR2) around the measured
# run, so that start-up and imports stay out of the figures
_PROFILED = """
import cProfile, runpy, signal, sys
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, lambda *_: (profile.disable(), profile.dump_stats(sys.argv[1])))
runpy.run_module("kolot.intake", run_name="__main__")
"""


def print_profile(path: Path, limit: int = 30) -> None:
    stats = pstats.Stats(str(path))
    stats.strip_dirs()
    print(f"\nintake under cProfile, measured run only: top {limit} by own time (inflated)")
    stats.sort_stats("tottime").print_stats(limit)
    print("who calls the top 8")
    stats.print_callers(8)
    print("by cumulative time, Kolot's code only")
    pstats.Stats(str(path)).sort_stats("cumulative").print_stats(r"/kolot/", limit)


def main(args: argparse.Namespace) -> None:
    from kolot.devstack import LocalStack, ServiceGroup, ServiceProcess, free_port

    generator = "python" if args.python_generator or not shutil.which("wrk") else "wrk"
    with (
        tempfile.TemporaryDirectory(prefix="kolot-bench-") as tmp,
        LocalStack(nats_url=args.nats_url, mongo_url=args.mongo_url) as stack,
    ):
        workdir = Path(tmp)
        namespace = f"b{secrets.token_hex(4)}"
        profile = Path(args.profile_out) if args.profile_out else workdir / "intake.prof"
        commands = (
            {"intake": [sys.executable, "-c", _PROFILED, str(profile)]} if args.profile else None
        )
        limits = "1000000000"
        intake = ServiceGroup(
            nats_url=stack.nats_url,
            mongo_url=stack.mongo_url,
            namespace=namespace,
            services=["intake"],
            ports={"intake": free_port()},
            commands=commands,
            # the bench's participants post far faster than people: keep the limiter's cost,
            # not its refusals
            extra_env={
                "KOLOT_RATE_PARTICIPANT_PER_MINUTE": limits,
                "KOLOT_RATE_PARTICIPANT_BURST": limits,
                "KOLOT_RATE_ADDRESS_PER_MINUTE": limits,
                "KOLOT_RATE_ADDRESS_BURST": limits,
                "KOLOT_LOG_LEVEL": "WARNING",
                # as deployed (deploy/k8s/base): a tenth of the traces kept
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
            },
            log_dir=workdir,
        )
        bare = ServiceProcess(
            "bare",
            [
                sys.executable,
                __file__,
                "--serve-bare",
                "--port",
                str(port := free_port()),
                "--nats-url",
                stack.nats_url,
                "--prefix",
                f"bare{secrets.token_hex(3)}",
            ],
            port=port,
            env={**os.environ, **development_environment()},
            log_file=workdir / "bare.log",
        )
        with intake:
            bare.start().wait_ready()
            try:
                campaign_id, tokens = prepare_intake(intake["intake"].url, args.connections)
                texts = comment_texts(200)
                bodies = [json.dumps({"text": t}, ensure_ascii=False) for t in texts]
                path = f"/v1/campaigns/{campaign_id}/comments"
                print(
                    f"{args.connections} connections, {args.warmup:g} s warm-up + "
                    f"{args.duration:g} s, bodies {min(map(len, texts))}-"
                    f"{max(map(len, texts))} chars he/ar/en, load: {generator}"
                    + (" (intake under cProfile)" if args.profile else "")
                )
                results: dict[str, Figures] = {}
                for name, url in (("intake", intake["intake"].url), ("bare", bare.url)):
                    load = Load(
                        url=url,
                        path=path,
                        tokens=tokens,
                        bodies=bodies,
                        connections=args.connections,
                        warmup=args.warmup,
                        duration=args.duration,
                        run=f"{name}{secrets.token_hex(2)}",
                    )
                    server = intake["intake"] if name == "intake" else bare
                    assert server.pid is not None
                    results[name] = measure(
                        load,
                        workdir,
                        generator,
                        server.pid,
                        profile=args.profile and name == "intake",
                    )
            finally:
                bare.stop()
        print(
            f"{'':<8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'CPU %':>7}{'CPU ms/req':>11}  errors"
        )
        for name, figures in results.items():
            errors = ", ".join(f"{s}: {n}" for s, n in sorted(figures.statuses.items()) if s >= 300)
            if figures.socket_errors:
                errors += f"{', ' if errors else ''}socket: {figures.socket_errors}"
            print(
                f"{name:<8}{figures.requests:>10}{figures.rate:>9.0f}{figures.p50_ms:>9.1f}"
                f"{figures.p99_ms:>9.1f}{100 * figures.server_cpu / figures.cpu_window:>7.0f}"
                f"{1000 * figures.server_cpu / max(1, figures.cpu_requests):>11.2f}"
                f"  {errors or 'none'}"
            )
        ratio = results["intake"].rate / results["bare"].rate
        p99 = results["intake"].p99_ms
        print(
            f"intake/bare {ratio:.2f} (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'}); "
            f"intake p99 {p99:.1f} ms (target <= 100: {'met' if p99 <= 100 else 'NOT met'})"
        )
        if args.profile:
            print_profile(profile)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not measured first")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--python-generator", action="store_true", help="even if wrk is there")
    parser.add_argument("--profile", action="store_true", help="run intake under cProfile")
    parser.add_argument("--profile-out", help="keep intake's cProfile stats in this file")
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    parser.add_argument("--mongo-url", default=os.environ.get("MONGODB_URL"))
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="bare", help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_bare:
        serve_bare(parsed)
    elif parsed.drive:
        drive(parsed.drive)
    else:
        main(parsed)
