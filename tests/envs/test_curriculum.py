"""Curriculum: Riley's bundled curriculum, arrays, topological order, validation, files."""

import json

import numpy as np
import pytest

from riley_gym.envs.curriculum import Curriculum, Exercise, Skill, load_curriculum


def _small(**overrides):
    data = {
        "name": "small",
        "skills": [{"name": "a"}, {"name": "b", "prerequisites": ["a"]}],
        "exercises": [
            {"name": "a1", "skill": "a", "difficulty": -1.0, "guess": 0.2, "slip": 0.1},
            {"name": "b1", "skill": "b", "difficulty": 0.5, "guess": 0.1, "slip": 0.05},
        ],
    }
    data.update(overrides)
    return data


def test_riley_curriculum_matches_the_lecture():
    curriculum = load_curriculum("riley")
    assert curriculum.skill_names == [
        "x-intercept",
        "y-intercept",
        "slope",
        "graphing linear equations",
        "square roots",
    ]
    graphing = curriculum.skill_index("graphing linear equations")
    expected = np.zeros((5, 5), dtype=bool)
    expected[graphing, curriculum.skill_index("slope")] = True
    expected[graphing, curriculum.skill_index("y-intercept")] = True
    np.testing.assert_array_equal(curriculum.prerequisites, expected)
    counts = np.bincount(curriculum.exercise_skill, minlength=5)
    assert ((counts >= 3) & (counts <= 4)).all()
    for skill_id in range(5):
        difficulty = curriculum.difficulty[curriculum.exercises_of(skill_id)]
        assert (np.diff(difficulty) > 0).all(), "exercises of a skill get harder"
    assert ((curriculum.guess >= 0.1) & (curriculum.guess <= 0.25)).all()
    assert ((curriculum.slip >= 0.05) & (curriculum.slip <= 0.1)).all()


def test_arrays_follow_the_exercise_order():
    curriculum = Curriculum.from_dict(_small())
    np.testing.assert_array_equal(curriculum.exercise_skill, [0, 1])
    np.testing.assert_allclose(curriculum.difficulty, [-1.0, 0.5])
    np.testing.assert_allclose(curriculum.guess, [0.2, 0.1])
    np.testing.assert_allclose(curriculum.slip, [0.1, 0.05])
    assert curriculum.n_skills == 2 and curriculum.n_exercises == 2
    assert curriculum.exercise_names == ["a1", "b1"]


def test_topological_order_puts_prerequisites_first():
    skills = (Skill("d", ("b", "c")), Skill("c", ("a",)), Skill("b", ("a",)), Skill("a"))
    exercises = tuple(Exercise(f"{s.name}1", s.name, 0.0, 0.1, 0.1) for s in skills)
    curriculum = Curriculum("diamond", skills, exercises)
    order = curriculum.topological_order()
    position = {curriculum.skill_names[i]: k for k, i in enumerate(order)}
    assert sorted(order) == [0, 1, 2, 3]
    assert position["a"] < position["b"] < position["d"]
    assert position["a"] < position["c"] < position["d"]


def test_round_trip_through_dict_and_file(tmp_path):
    curriculum = load_curriculum("riley")
    assert Curriculum.from_dict(curriculum.to_dict()) == curriculum
    path = tmp_path / "riley_copy.json"
    path.write_text(json.dumps(curriculum.to_dict()))
    assert load_curriculum(str(path)) == curriculum


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"skills": [{"name": "a"}, {"name": "a"}]}, "duplicate skill name 'a'"),
        (
            {"skills": [{"name": "a"}, {"name": "b", "prerequisites": ["z"]}]},
            "unknown prerequisite 'z'",
        ),
        (
            {
                "skills": [
                    {"name": "a", "prerequisites": ["b"]},
                    {"name": "b", "prerequisites": ["a"]},
                ]
            },
            "cycle among the skills ['a', 'b']",
        ),
        (
            {
                "exercises": [
                    {"name": "a1", "skill": "q", "difficulty": 0.0, "guess": 0.1, "slip": 0.1}
                ]
            },
            "exercise 'a1' names unknown skill 'q'",
        ),
        (
            {
                "exercises": [
                    {"name": "a1", "skill": "a", "difficulty": 0.0, "guess": 0.5, "slip": 0.1}
                ]
            },
            "guess=0.5 is outside the allowed range [0, 0.5)",
        ),
        (
            {
                "exercises": [
                    {"name": "a1", "skill": "a", "difficulty": 0.0, "guess": 0.1, "slip": -0.1}
                ]
            },
            "slip=-0.1 is outside",
        ),
        (
            {"exercises": [{"name": "a1", "skill": "a", "difficulty": 0.0, "guess": 0.1}]},
            "missing keys ['slip']",
        ),
        ({"exercises": []}, "needs at least one exercise"),
    ],
    ids=[
        "duplicate-skill",
        "unknown-prerequisite",
        "cycle",
        "unknown-skill",
        "guess-range",
        "slip-range",
        "missing-key",
        "no-exercises",
    ],
)
def test_validation_names_the_offending_entry(overrides, message):
    with pytest.raises(ValueError) as error:
        Curriculum.from_dict(_small(**overrides))
    assert message in str(error.value)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps(_small(skills=[{"name": "a"}, {"name": "b", "prerequisites": ["b"]}]))
    )
    with pytest.raises(ValueError, match=r"broken\.json: .*own prerequisite"):
        Curriculum.from_file(path)
    with pytest.raises(ValueError, match="neither a bundled curriculum"):
        load_curriculum("no-such-curriculum")


def test_yaml_needs_pyyaml_or_loads(tmp_path):
    path = tmp_path / "small.yaml"
    try:
        import yaml
    except ImportError:
        path.write_text("name: small\n")
        with pytest.raises(ImportError, match="PyYAML"):
            Curriculum.from_file(path)
    else:
        path.write_text(yaml.safe_dump(_small()))
        assert Curriculum.from_file(path) == Curriculum.from_dict(_small())


def test_replace_exercise_parameters_validates():
    curriculum = Curriculum.from_dict(_small())
    fitted = curriculum.replace_exercise_parameters(guess=[0.3, 0.25], slip=[0.01, 0.02])
    np.testing.assert_allclose(fitted.guess, [0.3, 0.25])
    np.testing.assert_allclose(fitted.slip, [0.01, 0.02])
    np.testing.assert_allclose(fitted.difficulty, curriculum.difficulty)
    with pytest.raises(ValueError, match="outside the allowed range"):
        curriculum.replace_exercise_parameters(guess=[0.6, 0.1])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        curriculum.replace_exercise_parameters(slip=[0.1])
