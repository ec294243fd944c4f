"""The web page's tutoring model: the pipeline's policies, a folder that round-trips, a cache that
refuses to mix settings."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from riley_gym.envs.curriculum import load_curriculum
from riley_gym.kt.experiments.tutor_pipeline import POLICIES
from riley_gym.web.model import (
    PAGE_POLICIES,
    default_folder,
    load_model,
    load_or_train,
    model_for_serving,
    quick_config,
    skill_average,
    web_config,
)


def test_the_page_offers_every_pipeline_policy_but_the_oracle(web_model):
    assert PAGE_POLICIES == tuple(name for name in POLICIES if name != "oracle")
    assert web_model.policies == list(PAGE_POLICIES)
    assert web_config().policies == PAGE_POLICIES


def run_policy(model, policy: str, answers: list[bool]) -> tuple[list[int], np.ndarray]:
    session = model.recommenders[policy].start(1, np.random.default_rng(4))
    chosen = []
    for correct in answers:
        exercise = session.choose()
        chosen.append(int(exercise[0]))
        session.observe(exercise, np.array([correct]))
    session.choose()
    return chosen, session.scores()


def test_a_saved_model_loads_back_with_the_same_choices_and_scores(
    trained_web_model, web_model_folder
):
    if trained_web_model is None:
        pytest.skip("RILEY_WEB_MODEL names a saved model: there is no freshly trained one")
    again = load_model(web_model_folder)
    answers = [True, False, True, True, False, True]
    for policy in PAGE_POLICIES:
        first, first_scores = run_policy(trained_web_model, policy, answers)
        second, second_scores = run_policy(again, policy, answers)
        assert first == second, policy
        assert np.array_equal(first_scores, second_scores), policy
    summary = json.loads((web_model_folder / "summary.json").read_text())
    assert summary["curriculum"] == load_curriculum(again.config.curriculum).to_dict()
    assert 0.0 <= summary["dkt_test_auc"] <= 1.0 and 0.0 <= summary["bkt_test_auc"] <= 1.0


def test_the_cache_loads_a_model_with_the_same_settings_and_refuses_other_ones(
    web_model_folder, web_model
):
    said = []
    loaded = load_or_train(web_model_folder, web_model.config, say=said.append)
    assert said and said[0].startswith("loaded the tutoring model")
    assert loaded.policies == web_model.policies
    other = replace(web_model.config, dkt_hidden=web_model.config.dkt_hidden + 1)
    with pytest.raises(ValueError, match="other settings.*dkt_hidden"):
        load_or_train(web_model_folder, other, say=said.append)


def test_the_default_folder_is_one_per_settings_and_curriculum():
    assert default_folder(web_config()) == default_folder(web_config())
    assert default_folder(web_config()) != default_folder(web_config(seed=1))
    assert default_folder(web_config()).name.startswith("riley-")
    assert default_folder(quick_config()) != default_folder(web_config())


def test_folders_that_hold_no_web_model_are_refused_clearly(tmp_path, tutor_run):
    with pytest.raises(ValueError, match="holds no web tutoring model"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="not the summary of a web tutoring model"):
        load_model(tutor_run)  # a tutor.py run's summary.json
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="--model serves a saved model"):
        model_for_serving(str(tmp_path), str(tmp_path), None, 0)


def test_skill_average_is_the_mean_over_each_skills_exercises():
    curriculum = load_curriculum("riley")
    values = np.arange(curriculum.n_exercises, dtype=float)
    # Riley's exercises are listed skill by skill: 3, 3, 3, 4 and 3 of them.
    assert np.allclose(values @ skill_average(curriculum), [1.0, 4.0, 7.0, 10.5, 14.0])


def test_a_curriculum_file_gets_its_own_trained_model(tmp_path):
    curriculum = {
        "name": "fractions",
        "skills": [{"name": "halves"}, {"name": "thirds", "prerequisites": ["halves"]}],
        "exercises": [
            {"name": "half of 4", "skill": "halves", "difficulty": -1.0, "guess": 0.2, "slip": 0.1},
            {"name": "half of 9", "skill": "halves", "difficulty": 0.5, "guess": 0.2, "slip": 0.1},
            {"name": "third of 9", "skill": "thirds", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
        ],
    }
    path = tmp_path / "fractions.json"
    path.write_text(json.dumps(curriculum))
    said = []
    model = model_for_serving(None, str(tmp_path / "model"), str(path), 0, True, said.append)
    assert said[0].startswith("training the tutoring model") and "'fractions'" in said[0]
    assert model.curriculum.exercise_names == ["half of 4", "half of 9", "third of 9"]
    assert load_model(tmp_path / "model").curriculum.to_dict() == model.curriculum.to_dict()
    session = model.recommenders["mastery"].start(1, np.random.default_rng(0))
    assert session.choose()[0] in (0, 1)  # halves first: thirds needs it


def test_the_web_model_refuses_an_attention_tracer_before_training():
    from riley_gym.web.model import train_model

    lines: list[str] = []
    with pytest.raises(ValueError, match="saves and serves a DKT; got tracer='sakt'"):
        train_model(replace(quick_config(), tracer="sakt"), lines.append)
    assert lines == []  # refused before anything was simulated or trained
