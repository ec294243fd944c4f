"""Response time of one tutoring step: HTTP requests from concurrent clients against a real server.

``ServerProcess`` runs ``scripts/serve.py --model FOLDER`` in a child process (so the clients
that time it do not share its interpreter lock); ``time_steps`` has ``n_clients`` clients,
each its own browser session (cookie), answer the recommended exercise ``n_requests`` times
in all, concurrently, and returns each request's wall time. A session is restarted (untimed)
after ``session_length`` answers, so the steps are those of sessions of the normal length.
``time_steps_in_process`` is the reference: the same steps on a ``TutoringSession`` called
directly, with the state built as the server builds it, with no HTTP and one client.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from riley_gym.web.model import TutoringModel
from riley_gym.web.server import free_port
from riley_gym.web.tutoring import TutoringSession

__all__ = ["ServerProcess", "time_steps", "time_steps_in_process", "percentiles"]


class ServerProcess:
    """``scripts/serve.py --model FOLDER`` in a child process on a free local port.

    A separate process keeps the clients that measure it from sharing its interpreter lock.

    Attributes:
        url: ``http://127.0.0.1:port``.

    Raises:
        RuntimeError: if the server does not answer ``/api/model`` within ``timeout`` seconds.
    """

    def __init__(self, model_folder: str, timeout: float = 120.0, threads: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = Path(__file__).resolve().parents[1] / "scripts" / "serve.py"
        command = [sys.executable, str(script), "--model", str(model_folder)]
        command += ["--port", str(self.port), "--threads", str(threads)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve.py exited: {self.process.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/model", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"serve.py did not answer on {self.url} in {timeout} s")
            time.sleep(0.1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _client_run(
    url: str,
    policy: str,
    n_requests: int,
    session_length: int,
    seed: int,
    barrier: threading.Barrier,
    times: list[float],
    errors: list[str],
) -> None:
    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=url, timeout=30.0) as client:

        def start() -> None:
            reply = client.post(
                "/api/tutor/start", json={"policy": policy, "mode": "person", "seed": seed}
            )
            reply.raise_for_status()

        start()
        barrier.wait()
        for request in range(n_requests):
            if request and request % session_length == 0:
                start()
            begun = time.perf_counter()
            reply = client.post("/api/tutor/answer", json={"correct": bool(rng.random() < 0.6)})
            times.append(time.perf_counter() - begun)
            if reply.status_code != 200:
                errors.append(f"{reply.status_code}: {reply.text[:200]}")


def time_steps(
    url: str, policy: str, n_requests: int, n_clients: int, session_length: int, seed: int = 0
) -> np.ndarray:
    """(n_requests,) seconds per ``POST /api/tutor/answer``, ``n_clients`` clients at once.

    Raises:
        RuntimeError: if any request failed.
    """
    barrier = threading.Barrier(n_clients)
    times: list[float] = []
    errors: list[str] = []
    shares = [n_requests // n_clients + (i < n_requests % n_clients) for i in range(n_clients)]
    threads = [
        threading.Thread(
            target=_client_run,
            args=(url, policy, share, session_length, seed + i, barrier, times, errors),
        )
        for i, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors or len(times) != n_requests:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[:1]}")
    return np.asarray(times)


def time_steps_in_process(
    model: TutoringModel, policy: str, n_requests: int, session_length: int, seed: int = 0
) -> np.ndarray:
    """(n_requests,) seconds per step called directly: ``answer`` then the state the API returns."""
    rng = np.random.default_rng(seed)
    times = []
    session = TutoringSession(model, policy, "person", seed)
    for request in range(n_requests):
        if request and request % session_length == 0:
            session = TutoringSession(model, policy, "person", seed)
        begun = time.perf_counter()
        session.answer(bool(rng.random() < 0.6))
        session.state()
        times.append(time.perf_counter() - begun)
    return np.asarray(times)


def percentiles(seconds: np.ndarray) -> dict[str, Any]:
    """p50, p95 and max in milliseconds."""
    milliseconds = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": float(np.percentile(milliseconds, 50)),
        "p95_ms": float(np.percentile(milliseconds, 95)),
        "max_ms": float(milliseconds.max()),
        "n": int(milliseconds.size),
    }
