"""The FastAPI application: three pages and the JSON API under /api/ they use.

Pages (static HTML + JavaScript in ``web/static``, charts by Plotly.js served from the
``plotly`` package's own ``plotly.min.js``, nothing fetched from elsewhere):

- ``/``: a tutoring session (``/api/tutor/*``);
- ``/replay``: replay a logged student under a trained knowledge tracer (``/api/replay/*``);
- ``/compare``: a ``scripts/tutor.py`` run's policy comparison (``/api/compare``).

Each browser gets its own state, found by the ``riley_session`` cookie (a random id the
server hands out on the first API call); one person's requests never read another's state.
Bad requests get a 4xx status with ``{"detail": "<what is wrong>"}``, which the pages show;
an unexpected failure gets 500 with the error's type only (the traceback stays in the
server's log). The API is documented at ``/docs`` (OpenAPI: ``/openapi.json``).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StrictBool, StrictInt

from riley_gym.kt.data import default_data_dir
from riley_gym.web.comparison import read_comparison
from riley_gym.web.errors import InputError
from riley_gym.web.model import TutoringModel, exercise_table
from riley_gym.web.replay import (
    LOG_FORMATS,
    MAX_REPLAY_ATTEMPTS,
    Cache,
    LoadedLog,
    LoadedModel,
    load_kt_model,
    load_log,
    replay_student,
)
from riley_gym.web.tutoring import MODES, TutoringSession, policy_description

__all__ = ["create_app", "COOKIE", "MAX_SESSIONS", "MAX_UPLOAD_BYTES", "plotly_js_path"]

COOKIE = "riley_session"
MAX_SESSIONS = 1000
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page opens on the mastery policy: the best real policy of the README's default run
# (bkt dynamics); any policy of the model can be chosen.
DEFAULT_POLICY = "mastery"
logger = logging.getLogger("riley_gym.web")


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` that ships inside the ``plotly`` wheel (``plotly/package_data``).

    Raises:
        RuntimeError: if the plotly package (the ``web`` extra) is not installed.
    """
    spec = importlib.util.find_spec("plotly")  # finds the file without importing plotly
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the web pages need plotly: pip install 'riley-gym[web]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"the plotly package has no {path}: reinstall plotly")
    return path


@dataclass
class UserState:
    """One browser's state; ``lock`` serialises that browser's requests."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tutoring: TutoringSession | None = None
    log: LoadedLog | None = None
    model: LoadedModel | None = None
    last_seen: float = field(default_factory=time.monotonic)


class SessionStore:
    """Session id -> state, the least recently used dropped beyond ``max_sessions``."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self.max_sessions = max_sessions
        self._states: OrderedDict[str, UserState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> UserState | None:
        with self._lock:
            state = self._states.get(session_id) if session_id else None
            if state is not None:
                self._states.move_to_end(session_id)
                state.last_seen = time.monotonic()
            return state

    def create(self) -> tuple[str, UserState]:
        session_id = secrets.token_urlsafe(24)
        state = UserState()
        with self._lock:
            self._states[session_id] = state
            while len(self._states) > self.max_sessions:
                self._states.popitem(last=False)
        return session_id, state

    def __len__(self) -> int:
        return len(self._states)


class StartRequest(BaseModel):
    policy: str = Field(description="a policy from GET /api/model's 'policies'")
    mode: str = Field(
        default="person",
        description="'person': you answer (POST /api/tutor/answer); 'simulated': a simulated "
        "student answers (POST /api/tutor/simulate) and its hidden truth is shown",
    )
    seed: StrictInt | None = Field(
        default=None,
        ge=0,
        description="seed of the policy and the simulated student, >= 0 (default: drawn)",
    )


class AnswerRequest(BaseModel):
    correct: StrictBool = Field(description="whether the answer was right")
    exercise: StrictInt | None = Field(
        default=None, description="the exercise answered (default: the recommended one)"
    )


class SimulateRequest(BaseModel):
    steps: StrictInt | None = Field(
        default=1, description="answers to simulate; null: to the end of the session"
    )


class PathRequest(BaseModel):
    path: str = Field(description="a path on the server's machine")


class LogRequest(PathRequest):
    format: str = Field(default="auto", description=f"one of {list(LOG_FORMATS)}")


def _validation_message(error: RequestValidationError) -> tuple[int, str]:
    """(status, one readable sentence) for a request FastAPI could not parse or validate."""
    problems = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            context = item.get("ctx", {}).get("error", "")
            return 400, f"malformed JSON in the request body: {context}".rstrip(": ")
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        if not where and item.get("type") == "missing":
            return 422, "the request body is missing: a JSON object is expected"
        if not where and item.get("type") in ("model_attributes_type", "dict_type"):
            return 422, "the request body must be a JSON object (see /docs for its fields)"
        problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return 422, "invalid request: " + "; ".join(problems)


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[:80].lstrip(".")
    return cleaned or "upload"


def _suggestions(runs_dir: Path) -> dict[str, list[str]]:
    """Files the replay and comparison pages offer: the shared logs and the run folders found."""
    logs: list[str] = []
    data = default_data_dir()
    if data.is_dir():
        logs = sorted(
            str(path)
            for path in data.rglob("*")
            if path.is_file()
            and path.suffix in (".csv", ".txt", ".parquet")
            and not path.name.endswith("_info.txt")
        )[:50]
    kt_runs, tutor_runs = [], []
    if runs_dir.is_dir():
        for summary in sorted(runs_dir.glob("**/summary.json"))[:500]:
            folder = summary.parent
            if (folder / "model").is_dir():
                kt_runs.append(str(folder))
            elif (folder / "learning_curves.csv").is_file():
                tutor_runs.append(str(folder))
    return {"logs": logs, "kt_runs": kt_runs[:50], "tutor_runs": tutor_runs[:50]}


def create_app(model: TutoringModel, seed: int = 0, runs_dir: str | Path = "runs") -> FastAPI:
    """The application serving ``model``.

    Args:
        model: the tutoring model (``web.model.load_or_train``).
        seed: seed of the sessions' default seeds (the n-th session started gets the n-th).
        runs_dir: where the replay and comparison pages look for run folders to suggest.
    """
    plotly_js = plotly_js_path()
    store = SessionStore()
    logs, models = Cache(size=4), Cache(size=4)
    seeds = iter(np.random.SeedSequence(seed).generate_state(1_000_000, dtype=np.uint32))
    seed_lock = threading.Lock()

    app = FastAPI(
        title="riley-gym",
        description=(
            "Watch what a student knows, play the student, and see why the tutor chose. "
            "Every endpoint keeps its state per browser session (the riley_session cookie); "
            "errors come as {detail: message} with a 4xx status."
        ),
        version="1",
    )
    app.state.model = model
    app.state.sessions = store

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError) -> JSONResponse:
        return JSONResponse({"detail": error.message}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(error)
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error ({type(error).__name__}); the server log has details"},
            status_code=500,
        )

    def user(request: Request, response: Response) -> UserState:
        state = store.get(request.cookies.get(COOKIE))
        if state is None:
            session_id, state = store.create()
            response.set_cookie(COOKIE, session_id, httponly=True, samesite="strict")
        return state

    def tutoring_of(state: UserState) -> TutoringSession:
        if state.tutoring is None:
            raise InputError(
                "no tutoring session in this browser session: POST /api/tutor/start first",
                status=409,
            )
        return state.tutoring

    def page_route(page: str):
        def serve_page() -> FileResponse:
            return FileResponse(STATIC_DIR / page, headers={"Cache-Control": "no-cache"})

        return serve_page

    pages = {"/": "tutor.html", "/replay": "replay.html", "/compare": "compare.html"}
    for route, page in pages.items():
        app.add_api_route(route, page_route(page), methods=["GET"], include_in_schema=False)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(
            plotly_js,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/model")
    def describe_model() -> dict[str, Any]:
        """The curriculum, the policies offered and how the tutoring model was trained."""
        curriculum = model.curriculum
        return {
            "curriculum": {
                "name": curriculum.name,
                "description": curriculum.description,
                "skills": [
                    {"id": i, "name": skill.name, "prerequisites": list(skill.prerequisites)}
                    for i, skill in enumerate(curriculum.skills)
                ],
                "exercises": exercise_table(curriculum),
            },
            "policies": [
                {"name": name, "description": policy_description(recommender)}
                for name, recommender in model.recommenders.items()
            ],
            "default_policy": DEFAULT_POLICY if DEFAULT_POLICY in model.recommenders else None,
            "modes": list(MODES),
            "session_length": model.config.session_length,
            "settings": model.config.to_dict(),
            "training": model.info,
        }

    @app.get("/api/suggestions")
    def suggestions() -> dict[str, list[str]]:
        """Logs under the shared data folder, and train_kt.py / tutor.py run folders found."""
        return _suggestions(Path(runs_dir))

    @app.post("/api/tutor/start")
    def start(body: StartRequest, state: UserState = Depends(user)) -> dict[str, Any]:
        """Start a tutoring session (replacing this browser's previous one); returns its state."""
        if body.seed is None:
            with seed_lock:
                session_seed = int(next(seeds))
        else:
            session_seed = body.seed
        session = TutoringSession(model, body.policy, body.mode, session_seed)
        with state.lock:
            state.tutoring = session
            return session.state()

    @app.get("/api/tutor/state")
    def tutor_state(state: UserState = Depends(user)) -> dict[str, Any]:
        """This browser's tutoring session: recommendation, candidates, estimates, heatmap."""
        with state.lock:
            return tutoring_of(state).state()

    @app.post("/api/tutor/answer")
    def answer(body: AnswerRequest, state: UserState = Depends(user)) -> dict[str, Any]:
        """Record your answer (to the recommended exercise unless ``exercise`` says otherwise)."""
        with state.lock:
            session = tutoring_of(state)
            session.answer(body.correct, body.exercise)
            return session.state()

    @app.post("/api/tutor/simulate")
    def simulate(body: SimulateRequest, state: UserState = Depends(user)) -> dict[str, Any]:
        """Let the simulated student answer ``steps`` recommended exercises (null: to the end)."""
        with state.lock:
            session = tutoring_of(state)
            session.simulate(body.steps)
            return session.state()

    @app.post("/api/replay/log")
    def replay_log(body: LogRequest, state: UserState = Depends(user)) -> dict[str, Any]:
        """Read a log on the server's machine (any supported format); lists its students."""
        loaded = load_log(body.path, body.format, logs)
        with state.lock:
            state.log = loaded
        return loaded.summary()

    @app.post(
        "/api/replay/upload",
        openapi_extra={
            "requestBody": {
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                "required": True,
            }
        },
    )
    async def replay_upload(
        request: Request,
        filename: str = Query(description="the file's name (its extension may tell the format)"),
        format: str = Query(default="auto", description=f"one of {list(LOG_FORMATS)}"),
        state: UserState = Depends(user),
    ) -> dict[str, Any]:
        """Upload a log file (the raw bytes as the body); lists its students."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            raise InputError(
                f"the upload is {int(declared)} bytes; at most {MAX_UPLOAD_BYTES} are accepted "
                "(give a path on the server instead)",
                status=413,
            )
        data = await request.body()
        if len(data) > MAX_UPLOAD_BYTES:
            raise InputError(f"the upload is over {MAX_UPLOAD_BYTES} bytes", status=413)
        if not data:
            raise InputError("the upload is empty")
        name = _safe_name(filename)
        # The file lives only while it is read: the table is kept in memory, not the upload.
        with tempfile.TemporaryDirectory(prefix="riley-web-upload-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            loaded = await run_in_threadpool(load_log, str(path), format, logs, name)
        with state.lock:
            state.log = loaded
        return loaded.summary()

    @app.post("/api/replay/model")
    def replay_model(body: PathRequest, state: UserState = Depends(user)) -> dict[str, Any]:
        """Load a trained knowledge tracer: a run folder of scripts/train_kt.py."""
        loaded = load_kt_model(body.path, models)
        with state.lock:
            state.model = loaded
        return loaded.summary()

    @app.get("/api/replay/student")
    def replay(
        user_id: str = Query(description="a user_id of the loaded log"),
        max_attempts: int = Query(default=100, description=f"1..{MAX_REPLAY_ATTEMPTS}"),
        state: UserState = Depends(user),
    ) -> dict[str, Any]:
        """One student's history with the model's predictions and knowledge after each attempt."""
        with state.lock:
            loaded_log, loaded_model = state.log, state.model
        if loaded_log is None or loaded_model is None:
            missing = [
                name
                for name, value in (("a log", loaded_log), ("a model", loaded_model))
                if value is None
            ]
            raise InputError(
                f"load {' and '.join(missing)} first (POST /api/replay/log, /api/replay/model)",
                status=409,
            )
        return replay_student(loaded_log, loaded_model, user_id, max_attempts)

    @app.get("/api/compare")
    def compare(
        path: str = Query(description="a run folder of scripts/tutor.py (or its summary.json)"),
    ) -> dict[str, Any]:
        """A tutor.py run's policies: post-test with CIs, learning curves, gap to the oracle."""
        return read_comparison(path)

    return app


def describe_routes(app: FastAPI) -> str:
    """The API's routes, one per line (for the server's console)."""
    schema = app.openapi()
    return "\n".join(
        f"  {method.upper():6s} {route}"
        for route, methods in schema["paths"].items()
        for method in methods
    )
