"""Every endpoint of the web API through FastAPI's TestClient: results checked against the models
stepped by hand, bad input answered with 4xx and a message, two sessions kept apart."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from riley_gym.envs.curriculum import load_curriculum
from riley_gym.kt.data import read_log
from riley_gym.kt.data.attempts import sort_canonical
from riley_gym.kt.experiments.saved_runs import load_saved
from riley_gym.kt.tutoring.simulation import SimulatedClass
from riley_gym.web.app import COOKIE, SessionStore, create_app, plotly_js_path
from riley_gym.web.model import PAGE_POLICIES, skill_average


@pytest.fixture(scope="module")
def app(web_model, tmp_path_factory):
    return create_app(web_model, seed=0, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def test_pages_and_plotly_are_served_from_the_package(client):
    for route in ("/", "/replay", "/compare"):
        page = client.get(route)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="/vendor/plotly.min.js"></script>' in page.text
        assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200
    assert plotly.content == plotly_js_path().read_bytes()
    assert plotly.text.startswith("/**\n* plotly.js")
    for name in ("common.js", "tutor.js", "replay.js", "compare.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/nothing.js").status_code == 404


def test_model_describes_the_curriculum_and_the_pipeline_policies(client, web_model):
    described = client.get("/api/model").json()
    riley = load_curriculum("riley")
    assert [skill["name"] for skill in described["curriculum"]["skills"]] == riley.skill_names
    assert [e["name"] for e in described["curriculum"]["exercises"]] == riley.exercise_names
    assert [policy["name"] for policy in described["policies"]] == list(PAGE_POLICIES)
    assert all(policy["description"] for policy in described["policies"])
    assert described["session_length"] == web_model.config.session_length


def bkt_step(mastery, exercise, correct, belief):
    """One BKT step done by hand: Bayes' rule on the exercise's skill, then learn/forget."""
    skill = belief.exercise_skill[exercise]
    m, guess, slip = mastery[skill], belief.guess[exercise], belief.slip[exercise]
    right, wrong = (1 - slip, guess) if correct else (slip, 1 - guess)
    posterior = m * right / (m * right + (1 - m) * wrong)
    after = mastery.copy()
    after[skill] = posterior * (1 - belief.forget[skill]) + (1 - posterior) * belief.learn[skill]
    return after


def test_a_tutoring_step_shows_what_the_models_believe(client, web_model):
    state = client.post("/api/tutor/start", json={"policy": "mastery", "seed": 3}).json()
    assert state["n_answers"] == 0 and state["mode"] == "person" and state["seed"] == 3
    first = state["recommendation"]["exercise"]
    answers = [True, True, False, True]
    for correct in answers:
        state = client.post("/api/tutor/answer", json={"correct": correct}).json()
    done = [answer["exercise"] for answer in state["answers"]]
    assert done[0] == first and [a["correct"] for a in state["answers"]] == answers
    assert all(answer["recommended"] for answer in state["answers"])
    # The heatmap: one column per answer; column t is the DKT's belief after answer t.
    belief = web_model.dkt_belief
    average = skill_average(web_model.curriculum)
    dkt_state = belief.init(1)
    heatmap = np.asarray(state["heatmap"]["dkt"])
    assert heatmap.shape == (web_model.curriculum.n_skills, len(answers))
    for t, (exercise, correct) in enumerate(zip(done, answers)):
        dkt_state = belief.update(dkt_state, np.array([exercise]), np.array([correct]))
        assert np.allclose(heatmap[:, t], belief.p_correct(dkt_state)[0] @ average)
    assert np.allclose(state["knowledge"]["dkt"], heatmap[:, -1])
    mastery = web_model.bkt_belief.prior.copy()
    for exercise, correct in zip(done, answers):
        mastery = bkt_step(mastery, exercise, correct, web_model.bkt_belief)
    assert np.allclose(state["knowledge"]["bkt_mastery"], mastery)
    assert state["knowledge"]["truth"] is None and state["heatmap"]["truth"] is None
    # Candidates: best score first, the recommended one among the best, with the policy's reason.
    candidates = state["candidates"]
    scores = [candidate["score"] for candidate in candidates]
    assert len(candidates) == 5 and scores == sorted(scores, reverse=True)
    recommended = [c for c in candidates if c["recommended"]]
    assert recommended[0]["exercise"] == state["recommendation"]["exercise"]
    assert recommended[0]["score"] == scores[0]
    assert recommended[0]["reason"] == state["recommendation"]["explanation"]
    assert all(candidate["reason"] for candidate in candidates)
    assert client.get("/api/tutor/state").json() == state


def test_a_person_may_answer_another_exercise_than_the_recommended_one(client):
    state = client.post("/api/tutor/start", json={"policy": "blocked", "seed": 0}).json()
    riley = load_curriculum("riley")
    other = (state["recommendation"]["exercise"] + 5) % riley.n_exercises
    state = client.post("/api/tutor/answer", json={"correct": False, "exercise": other}).json()
    skill = int(riley.exercise_skill[other])
    assert state["answers"] == [
        {
            "exercise": other,
            "skill": skill,
            "correct": False,
            "recommended": False,
            "name": riley.exercise_names[other],
            "skill_name": riley.skill_names[skill],
        }
    ]


def test_a_simulated_student_answers_to_the_end_and_its_truth_is_shown(client, web_model):
    state = client.post(
        "/api/tutor/start", json={"policy": "dqn", "mode": "simulated", "seed": 11}
    ).json()
    assert state["knowledge"]["truth"] is not None
    state = client.post("/api/tutor/simulate", json={"steps": 2}).json()
    assert state["n_answers"] == 2
    state = client.post("/api/tutor/simulate", json={"steps": None}).json()
    length = web_model.config.session_length
    assert state["n_answers"] == length
    # The same simulated student (its seed), given the same exercises, gives the same answers
    # and ends with the truth the page shows.
    student = SimulatedClass(web_model.dynamics, 1, 11)
    average = skill_average(web_model.curriculum)
    truth = np.asarray(state["heatmap"]["truth"])
    assert truth.shape == (web_model.curriculum.n_skills, length)
    for t, answer in enumerate(state["answers"]):
        assert bool(student.step(np.array([answer["exercise"]]))[0]) == answer["correct"]
        assert answer["recommended"]
        assert np.allclose(truth[:, t], web_model.dynamics.p_correct(student.state)[0] @ average)
    again = client.post("/api/tutor/simulate", json={"steps": None})
    assert again.status_code == 409 and "at its end" in again.json()["detail"]


def test_expectimax_candidates_outside_the_beam_are_shown_as_ruled_out(client):
    state = client.post("/api/tutor/start", json={"policy": "expectimax", "seed": 0}).json()
    # Horizon 2, beam 2: only two first exercises are searched; the other 14 score -inf.
    ruled_out = [c for c in state["candidates"] if c["score"] is None]
    assert len(ruled_out) == 3 and all("ruled out" in c["reason"] for c in ruled_out)


@pytest.mark.parametrize(
    "method, url, body, status, message",
    [
        ("post", "/api/tutor/start", {"policy": "nope"}, 400, "unknown policy 'nope'; allowed"),
        ("post", "/api/tutor/start", {"policy": "dqn", "mode": "x"}, 400, "unknown mode 'x'"),
        ("post", "/api/tutor/start", {"policy": "dqn", "seed": "s"}, 422, "seed"),
        ("post", "/api/tutor/start", {"policy": "dqn", "seed": -1}, 422, "seed: Input should be"),
        ("post", "/api/tutor/start", {}, 422, "policy: Field required"),
        ("post", "/api/tutor/start", [1, 2], 422, "must be a JSON object"),
        ("post", "/api/tutor/start", b"{bad json", 400, "malformed JSON"),
        (
            "post",
            "/api/tutor/answer",
            {"correct": True, "exercise": 99},
            400,
            "unknown exercise 99",
        ),
        (
            "post",
            "/api/tutor/answer",
            {"correct": True, "exercise": -1},
            400,
            "exercises are 0..15",
        ),
        ("post", "/api/tutor/answer", {"correct": "yes"}, 422, "correct: Input should be"),
        ("post", "/api/tutor/answer", b"{'correct': true}", 400, "malformed JSON"),
        ("post", "/api/tutor/simulate", {"steps": 1}, 409, "this is a 'person' session"),
        ("get", "/api/replay/student?user_id=1", None, 409, "load a log and a model first"),
        ("post", "/api/replay/log", {"path": "/no/such.csv"}, 404, "no such log file"),
        ("post", "/api/replay/log", {"path": ""}, 400, "path is empty"),
        ("post", "/api/replay/log", {"path": ".", "format": "xml"}, 400, "unknown log format"),
        ("post", "/api/replay/model", {"path": "/no/such/run"}, 404, "no such model folder"),
        ("post", "/api/replay/upload?filename=a.csv", b"", 400, "the upload is empty"),
        ("get", "/api/compare?path=/no/such/run", None, 404, "no such folder"),
        ("get", "/api/compare", None, 422, "path: Field required"),
    ],
)
def test_bad_requests_get_a_4xx_status_and_a_clear_message(
    client, method, url, body, status, message
):
    client.post("/api/tutor/start", json={"policy": "random", "seed": 0})  # a 'person' session
    if isinstance(body, bytes):
        reply = client.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
    else:
        reply = client.request(method, url, json=body)
    assert reply.status_code == status, reply.text
    detail = reply.json()["detail"]
    assert isinstance(detail, str) and message in detail
    assert "Traceback" not in reply.text


def test_a_new_browser_has_no_session_until_it_starts_one(client):
    for reply in (
        client.get("/api/tutor/state"),
        client.post("/api/tutor/answer", json={"correct": True}),
    ):
        assert reply.status_code == 409 and "POST /api/tutor/start" in reply.json()["detail"]


def test_a_simulated_session_refuses_a_persons_answer(client):
    client.post("/api/tutor/start", json={"policy": "zpd", "mode": "simulated", "seed": 0})
    reply = client.post("/api/tutor/answer", json={"correct": True})
    assert reply.status_code == 409 and "simulated student" in reply.json()["detail"]
    reply = client.post("/api/tutor/simulate", json={"steps": 0})
    assert reply.status_code == 400 and "steps must be >= 1" in reply.json()["detail"]


def test_two_concurrent_sessions_never_see_each_others_answers(app):
    with TestClient(app) as alice, TestClient(app) as bob:
        alice.post("/api/tutor/start", json={"policy": "greedy", "seed": 1})
        bob.post("/api/tutor/start", json={"policy": "mastery", "seed": 1})
        assert alice.cookies[COOKIE] != bob.cookies[COOKIE]
        barrier = threading.Barrier(2)
        failures = []

        def play(client, correct):
            barrier.wait()
            for _ in range(12):
                reply = client.post("/api/tutor/answer", json={"correct": correct})
                if reply.status_code != 200:
                    failures.append(reply.text)

        threads = [
            threading.Thread(target=play, args=(alice, True)),
            threading.Thread(target=play, args=(bob, False)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        alice_state = alice.get("/api/tutor/state").json()
        bob_state = bob.get("/api/tutor/state").json()
    assert alice_state["policy"] == "greedy" and bob_state["policy"] == "mastery"
    assert [a["correct"] for a in alice_state["answers"]] == [True] * 12
    assert [a["correct"] for a in bob_state["answers"]] == [False] * 12


def test_the_session_store_forgets_the_least_recently_used_browser():
    store = SessionStore(max_sessions=2)
    first, _ = store.create()
    second, _ = store.create()
    store.get(first)  # used: second is now the least recent
    third, _ = store.create()
    assert store.get(first) is not None and store.get(third) is not None
    assert store.get(second) is None and len(store) == 2


def expected_replay(log, run, user_id, max_attempts):
    """p(correct) and 'model wrong' of each attempt, computed with the model directly."""
    _, model = load_saved(run)
    table = sort_canonical(read_log(log)[0])
    history = table[table["user_id"].astype(str) == user_id].head(max_attempts)
    p = model.predict(history)["p_correct"].to_numpy()
    correct = history["correct"].to_numpy()
    return model, history, p, (p >= 0.5) != (correct == 1)


def test_replay_of_a_logged_student_gives_the_models_predictions(client, kt_run):
    log, run = kt_run
    loaded = client.post("/api/replay/log", json={"path": str(log)}).json()
    assert loaded["n_students"] == 30 and loaded["format"] == "interactions"
    student = max(loaded["students"], key=lambda s: s["attempts"])
    model_info = client.post("/api/replay/model", json={"path": str(run)}).json()
    assert model_info["model"] == "dkt" and model_info["n_skills"] == 3
    query = {"user_id": student["user_id"], "max_attempts": 15}
    replay = client.get("/api/replay/student", params=query).json()
    model, history, p, wrong = expected_replay(log, run, student["user_id"], 15)
    assert replay["n_attempts"] == len(history) == 15
    assert replay["n_attempts_in_log"] == student["attempts"]
    assert np.allclose([a["p_correct"] for a in replay["attempts"]], p)
    assert [a["model_wrong"] for a in replay["attempts"]] == wrong.tolist()
    assert replay["n_model_wrong"] == int(wrong.sum())
    knowledge = np.asarray(replay["knowledge"])  # (shown skills, attempts + 1)
    shown = [skill["skill_id"] for skill in replay["skills"]]
    assert knowledge.shape == (len(shown), 16)
    index = [list(model.skill_ids).index(skill) for skill in shown]
    assert np.allclose(knowledge[:, 0], model.knowledge_state(history.iloc[:0])[index])
    assert np.allclose(knowledge[:, 7], model.knowledge_state(history.iloc[:7])[index])
    assert np.allclose(knowledge[:, -1], model.knowledge_state(history)[index])
    unknown = client.get("/api/replay/student", params={"user_id": "nobody"})
    assert unknown.status_code == 404 and "no student 'nobody'" in unknown.json()["detail"]
    too_many = client.get("/api/replay/student", params={**query, "max_attempts": 0})
    assert too_many.status_code == 400 and "max_attempts must be in 1..500" in too_many.text


def test_an_uploaded_log_is_the_same_as_the_file(client, kt_run):
    log, _ = kt_run
    by_path = client.post("/api/replay/log", json={"path": str(log)}).json()
    uploaded = client.post(
        "/api/replay/upload",
        params={"filename": "../../my log.csv"},
        content=log.read_bytes(),
        headers={"content-type": "application/octet-stream"},
    ).json()
    assert uploaded["path"] == "my_log.csv"  # the name is cleaned, no folders
    assert uploaded["students"] == by_path["students"] and uploaded["n_rows"] == by_path["n_rows"]
    garbage = client.post(
        "/api/replay/upload", params={"filename": "x.csv"}, content=b"\x00\x01 not a log"
    )
    assert garbage.status_code == 400 and "cannot read x.csv as a student log" in garbage.text


def test_files_that_are_not_logs_or_riley_gym_models_are_refused(client, tmp_path, tutor_run):
    not_a_log = client.post("/api/replay/log", json={"path": str(tutor_run / "summary.json")})
    assert not_a_log.status_code == 400 and "cannot read" in not_a_log.json()["detail"]
    folder = client.post("/api/replay/log", json={"path": str(tmp_path)})
    assert folder.status_code == 400 and "is a folder" in folder.json()["detail"]
    # A folder shaped like a run whose checkpoint is not a riley-gym one (a plain torch file).
    fake = tmp_path / "fake-run"
    (fake / "model").mkdir(parents=True)
    (fake / "summary.json").write_text(json.dumps({"model": "dkt"}))
    (fake / "model" / "model.pt").write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    for path in (fake, tutor_run, tmp_path):
        reply = client.post("/api/replay/model", json={"path": str(path)})
        assert reply.status_code == 400, reply.text
        assert "not a riley-gym knowledge-tracing model" in reply.json()["detail"]
    (fake / "summary.json").write_text(json.dumps({"model": "transformer"}))
    reply = client.post("/api/replay/model", json={"path": str(fake)})
    assert reply.status_code == 400 and "unknown model 'transformer'" in reply.json()["detail"]


def test_compare_reads_a_tutor_run(client, tutor_run):
    data = client.get("/api/compare", params={"path": str(tutor_run)}).json()
    summary = json.loads((tutor_run / "summary.json").read_text())
    assert [row["name"] for row in data["policies"]] == list(summary["policies"])
    oracle = summary["policies"]["oracle"]["post_test_mean"]
    for row in data["policies"]:
        assert row["post_test_mean"] == summary["policies"][row["name"]]["post_test_mean"]
        if row["name"] != "oracle":
            # Same students under every policy: the mean paired gap is the gap of the means.
            assert row["oracle_gap"] == pytest.approx(oracle - row["post_test_mean"], abs=1e-9)
            assert row["oracle_gap_ci95"] > 0
    length = summary["settings"]["session_length"]
    assert set(data["curves"]) == set(summary["policies"])
    assert all(curve["step"] == list(range(length + 1)) for curve in data["curves"].values())
    same = client.get("/api/compare", params={"path": str(tutor_run / "summary.json")})
    assert same.json()["policies"] == data["policies"]


def test_compare_refuses_other_summaries(client, tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"mode": "interactive", "answers": []}))
    reply = client.get("/api/compare", params={"path": str(tmp_path)})
    assert reply.status_code == 400 and "from a 'interactive' run" in reply.json()["detail"]
    (tmp_path / "summary.json").write_text("{")
    reply = client.get("/api/compare", params={"path": str(tmp_path)})
    assert reply.status_code == 400 and "not valid JSON" in reply.json()["detail"]
    reply = client.get("/api/compare", params={"path": str(tmp_path / "empty")})
    assert reply.status_code == 404


def test_suggestions_list_the_run_folders_found(web_model, kt_run, tutor_run, monkeypatch):
    monkeypatch.setenv("RILEY_DATA_DIR", str(kt_run[0].parent))
    app = create_app(web_model, runs_dir=kt_run[1].parent.parent)
    with TestClient(app) as client:
        found = client.get("/api/suggestions").json()
    assert str(kt_run[1]) in found["kt_runs"]
    assert str(kt_run[0]) in found["logs"]


def test_the_api_is_documented_by_openapi(client):
    schema = client.get("/openapi.json").json()
    documented = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert documented == {
        ("/api/model", "get"),
        ("/api/suggestions", "get"),
        ("/api/tutor/start", "post"),
        ("/api/tutor/state", "get"),
        ("/api/tutor/answer", "post"),
        ("/api/tutor/simulate", "post"),
        ("/api/replay/log", "post"),
        ("/api/replay/upload", "post"),
        ("/api/replay/model", "post"),
        ("/api/replay/student", "get"),
        ("/api/compare", "get"),
    }
    assert all(
        item[method].get("description") for path, item in schema["paths"].items() for method in item
    )
    assert client.get("/docs").status_code == 200


def test_an_unexpected_failure_is_a_500_with_the_errors_type_only(web_model, monkeypatch):
    app = create_app(web_model)

    def broken(self):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("riley_gym.web.tutoring.TutoringSession.state", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        reply = client.post("/api/tutor/start", json={"policy": "random"})
    assert reply.status_code == 500
    assert reply.json() == {"detail": "internal error (RuntimeError); the server log has details"}
