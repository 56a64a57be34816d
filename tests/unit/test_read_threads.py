"""The API's polled reads run off the event loop on a few threads of their own (serve.deps.off_loop), each in the
request's context, so its log lines keep the request's id."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

from serve.deps import off_loop
from vigil import logcontext
from vigil.settings import Settings


def test_reads_run_on_the_read_threads_in_the_requests_context() -> None:
    ctx = SimpleNamespace(settings=Settings(api_read_threads=2, _env_file=None))
    running, most = 0, 0
    lock = threading.Lock()

    def read(n: int) -> tuple[str, str | None]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return threading.current_thread().name, logcontext.current("request_id")

    async def requests() -> list[tuple[str, str | None]]:
        async def one(n: int) -> tuple[str, str | None]:
            with logcontext.bind(request_id=f"req-{n}"):
                return await off_loop(ctx, read, n)  # type: ignore[arg-type]

        return await asyncio.gather(*(one(n) for n in range(8)))

    answers = asyncio.run(requests())
    assert [request_id for _, request_id in answers] == [f"req-{n}" for n in range(8)]
    assert all(name.startswith("vigil-read") for name, _ in answers)
    assert len({name for name, _ in answers}) <= 2 and most == 2  # eight reads at once, two threads
