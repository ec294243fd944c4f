"""Curricula: skills with prerequisite edges, and exercises tagged with a skill.

A curriculum is plain data. Each :class:`Exercise` practises exactly one :class:`Skill` and
carries a difficulty (logit scale, used by the ``irt`` dynamics) and guess and slip rates
(used by both dynamics: the chance of answering right without the skill, and of answering
wrong with it). Skills may require other skills (``prerequisites``); the prerequisite graph
must be acyclic.

Curricula are written as JSON (or YAML when PyYAML is installed)::

    {"name": "riley",
     "skills": [{"name": "slope", "prerequisites": []}, ...],
     "exercises": [{"name": "slope 1", "skill": "slope", "difficulty": -1.0,
                    "guess": 0.2, "slip": 0.05}, ...]}

``load_curriculum("riley")`` loads the bundled default, Riley's curriculum from the lecture:
x-intercept, y-intercept, slope, graphing linear equations (needs slope and y-intercept)
and square roots.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

BUNDLED_CURRICULA = ("riley", "chain", "wide", "tree")


@dataclass(frozen=True)
class Skill:
    """A skill of a curriculum.

    Attributes:
        name: unique name of the skill.
        prerequisites: names of the skills that must be mastered before this one is learned
            at the full rate.
    """

    name: str
    prerequisites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Skill: name must be a non-empty string, got {self.name!r}")
        if isinstance(self.prerequisites, str):
            raise TypeError(
                f"Skill {self.name!r}: prerequisites must be a list of skill names, got the string "
                f"{self.prerequisites!r}"
            )
        object.__setattr__(self, "prerequisites", tuple(self.prerequisites))
        for prerequisite in self.prerequisites:
            if not isinstance(prerequisite, str):
                raise TypeError(
                    f"Skill {self.name!r}: prerequisite names must be strings, got {prerequisite!r}"
                )
        if self.name in self.prerequisites:
            raise ValueError(f"Skill {self.name!r}: a skill cannot be its own prerequisite")
        if len(set(self.prerequisites)) != len(self.prerequisites):
            raise ValueError(
                f"Skill {self.name!r}: duplicate prerequisites in {list(self.prerequisites)}"
            )


@dataclass(frozen=True)
class Exercise:
    """An exercise practising one skill.

    Attributes:
        name: unique name of the exercise.
        skill: name of the skill it practises.
        difficulty: difficulty on the logit scale (``irt``: p(correct) = g + (1 - g) *
            sigmoid(ability - difficulty)); any finite float.
        guess: probability of a correct answer without the skill, in [0, 0.5).
        slip: probability of a wrong answer with the skill, in [0, 0.5).
    """

    name: str
    skill: str
    difficulty: float
    guess: float
    slip: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Exercise: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.skill, str) or not self.skill:
            raise ValueError(
                f"Exercise {self.name!r}: skill must be a skill name, got {self.skill!r}"
            )
        for field in ("difficulty", "guess", "slip"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.floating, np.integer)
            ):
                raise TypeError(f"Exercise {self.name!r}: {field} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"Exercise {self.name!r}: {field} must be finite, got {value!r}")
            object.__setattr__(self, field, float(value))
        for field in ("guess", "slip"):
            value = getattr(self, field)
            if not 0.0 <= value < 0.5:
                raise ValueError(
                    f"Exercise {self.name!r}: {field}={value} is outside the allowed range [0, 0.5)"
                )


@dataclass(frozen=True)
class Curriculum:
    """Skills, their prerequisite graph, and the exercises that practise them.

    Skills and exercises are indexed in the order given; those indices are the ``skill_id``
    and ``item_id`` of simulated logs and the actions of the student environments.

    Attributes:
        name: name of the curriculum.
        skills: the skills, at least one, unique names.
        exercises: the exercises, at least one, unique names, each naming a known skill.
        description: free text.

    Raises:
        ValueError: on duplicate names, unknown skill or prerequisite names, a cycle in the
            prerequisites, or an empty skill or exercise list.
    """

    name: str
    skills: tuple[Skill, ...]
    exercises: tuple[Exercise, ...]
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", tuple(self.skills))
        object.__setattr__(self, "exercises", tuple(self.exercises))
        where = f"curriculum {self.name!r}"
        if not self.skills:
            raise ValueError(f"{where}: needs at least one skill")
        if not self.exercises:
            raise ValueError(f"{where}: needs at least one exercise")
        for skill in self.skills:
            if not isinstance(skill, Skill):
                raise TypeError(
                    f"{where}: skills must be Skill objects, got {type(skill).__name__}"
                )
        for exercise in self.exercises:
            if not isinstance(exercise, Exercise):
                raise TypeError(
                    f"{where}: exercises must be Exercise objects, got {type(exercise).__name__}"
                )
        skill_names = [skill.name for skill in self.skills]
        _reject_duplicates(skill_names, f"{where}: duplicate skill name")
        _reject_duplicates(
            [exercise.name for exercise in self.exercises], f"{where}: duplicate exercise name"
        )
        known = set(skill_names)
        for skill in self.skills:
            for prerequisite in skill.prerequisites:
                if prerequisite not in known:
                    raise ValueError(
                        f"{where}: skill {skill.name!r} has unknown prerequisite {prerequisite!r}; "
                        f"known skills: {skill_names}"
                    )
        for exercise in self.exercises:
            if exercise.skill not in known:
                raise ValueError(
                    f"{where}: exercise {exercise.name!r} names unknown skill {exercise.skill!r}; "
                    f"known skills: {skill_names}"
                )
        self.topological_order()  # raises on a cycle

    # Sizes and names.
    @property
    def n_skills(self) -> int:
        return len(self.skills)

    @property
    def n_exercises(self) -> int:
        return len(self.exercises)

    @property
    def skill_names(self) -> list[str]:
        return [skill.name for skill in self.skills]

    @property
    def exercise_names(self) -> list[str]:
        return [exercise.name for exercise in self.exercises]

    # Arrays (fresh copies on every access; cache them if you call them in a loop).
    @property
    def exercise_skill(self) -> np.ndarray:
        """Skill index of each exercise, ``(n_exercises,)`` int64."""
        index = {name: i for i, name in enumerate(self.skill_names)}
        return np.array([index[exercise.skill] for exercise in self.exercises], dtype=np.int64)

    @property
    def difficulty(self) -> np.ndarray:
        """Difficulty of each exercise, ``(n_exercises,)`` float64."""
        return np.array([exercise.difficulty for exercise in self.exercises], dtype=np.float64)

    @property
    def guess(self) -> np.ndarray:
        """Guess rate of each exercise, ``(n_exercises,)`` float64."""
        return np.array([exercise.guess for exercise in self.exercises], dtype=np.float64)

    @property
    def slip(self) -> np.ndarray:
        """Slip rate of each exercise, ``(n_exercises,)`` float64."""
        return np.array([exercise.slip for exercise in self.exercises], dtype=np.float64)

    @property
    def prerequisites(self) -> np.ndarray:
        """``(n_skills, n_skills)`` bool; ``[i, j]`` is True when skill j is a
        prerequisite of skill i."""
        index = {name: i for i, name in enumerate(self.skill_names)}
        matrix = np.zeros((self.n_skills, self.n_skills), dtype=bool)
        for i, skill in enumerate(self.skills):
            for prerequisite in skill.prerequisites:
                matrix[i, index[prerequisite]] = True
        return matrix

    def skill_index(self, name: str) -> int:
        """Index of the skill called ``name``.

        Raises:
            KeyError: if there is no such skill.
        """
        for i, skill in enumerate(self.skills):
            if skill.name == name:
                return i
        raise KeyError(
            f"curriculum {self.name!r} has no skill {name!r}; skills: {self.skill_names}"
        )

    def exercises_of(self, skill: str | int) -> np.ndarray:
        """Indices of the exercises practising ``skill`` (a name or an index), ``(k,)`` int64."""
        skill_id = self.skill_index(skill) if isinstance(skill, str) else int(skill)
        return np.flatnonzero(self.exercise_skill == skill_id)

    def topological_order(self) -> list[int]:
        """Skill indices ordered so that every skill comes after its prerequisites.

        Ties are broken by the order of the skills in the curriculum (Kahn's algorithm with
        the smallest ready index first), so the order is deterministic.

        Raises:
            ValueError: if the prerequisites contain a cycle (the message names its skills).
        """
        names = self.skill_names
        index = {name: i for i, name in enumerate(names)}
        remaining = {
            i: {index[p] for p in skill.prerequisites if p in index}
            for i, skill in enumerate(self.skills)
        }
        order: list[int] = []
        while remaining:
            ready = sorted(i for i, needs in remaining.items() if not needs)
            if not ready:
                cycle = [names[i] for i in sorted(remaining)]
                raise ValueError(
                    f"curriculum {self.name!r}: the prerequisites contain a cycle "
                    f"among the skills {cycle}"
                )
            first = ready[0]
            order.append(first)
            del remaining[first]
            for needs in remaining.values():
                needs.discard(first)
        return order

    def replace_exercise_parameters(
        self,
        difficulty: Sequence[float] | None = None,
        guess: Sequence[float] | None = None,
        slip: Sequence[float] | None = None,
    ) -> Curriculum:
        """A copy with new per-exercise parameters (e.g. guess and slip fitted to logged data).

        Args:
            difficulty: ``(n_exercises,)`` new difficulties, or None to keep them.
            guess: ``(n_exercises,)`` new guess rates in [0, 0.5), or None to keep them.
            slip: ``(n_exercises,)`` new slip rates in [0, 0.5), or None to keep them.

        Returns:
            A new, validated :class:`Curriculum`.

        Raises:
            ValueError: if an array has the wrong length or a value is out of range.
        """
        updates = {"difficulty": difficulty, "guess": guess, "slip": slip}
        exercises = list(self.exercises)
        for field, values in updates.items():
            if values is None:
                continue
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (self.n_exercises,):
                raise ValueError(
                    f"curriculum {self.name!r}: {field} must have shape ({self.n_exercises},), got "
                    f"{values.shape}"
                )
            exercises = [
                dataclasses.replace(e, **{field: float(v)}) for e, v in zip(exercises, values)
            ]
        return dataclasses.replace(self, exercises=tuple(exercises))

    # Serialisation.
    def to_dict(self) -> dict[str, Any]:
        """The curriculum as JSON-able plain data (the file format; ``from_dict`` inverts it)."""
        return {
            "name": self.name,
            "description": self.description,
            "skills": [
                {"name": s.name, "prerequisites": list(s.prerequisites)} for s in self.skills
            ],
            "exercises": [
                {
                    "name": e.name,
                    "skill": e.skill,
                    "difficulty": e.difficulty,
                    "guess": e.guess,
                    "slip": e.slip,
                }
                for e in self.exercises
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curriculum:
        """Builds a curriculum from plain data (the format of :meth:`to_dict`).

        Raises:
            TypeError: if ``data`` or an entry is not a mapping.
            ValueError: on missing or unknown keys and every check of :class:`Curriculum`.
        """
        if not isinstance(data, Mapping):
            raise TypeError(
                "curriculum: expected a mapping with 'name', 'skills', 'exercises', got "
                f"{type(data).__name__}"
            )
        _check_keys(
            data,
            required={"name", "skills", "exercises"},
            optional={"description"},
            where="curriculum",
        )
        skills = []
        for i, entry in enumerate(_as_list(data["skills"], "curriculum 'skills'")):
            where = f"curriculum skills[{i}]"
            _check_keys(entry, required={"name"}, optional={"prerequisites"}, where=where)
            skills.append(
                Skill(name=entry["name"], prerequisites=tuple(entry.get("prerequisites") or ()))
            )
        exercises = []
        for i, entry in enumerate(_as_list(data["exercises"], "curriculum 'exercises'")):
            where = f"curriculum exercises[{i}]"
            _check_keys(
                entry,
                required={"name", "skill", "difficulty", "guess", "slip"},
                optional=set(),
                where=where,
            )
            exercises.append(Exercise(**entry))
        return cls(
            name=str(data["name"]),
            skills=tuple(skills),
            exercises=tuple(exercises),
            description=str(data.get("description", "")),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Curriculum:
        """Loads a curriculum from a ``.json`` file, or ``.yaml``/``.yml`` when PyYAML is installed.

        Raises:
            FileNotFoundError: if the file does not exist.
            ImportError: for a YAML file when PyYAML is not installed.
            ValueError: if the content is invalid; the message starts with the file path.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"curriculum file not found: {path}")
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        try:
            if suffix in (".yaml", ".yml"):
                try:
                    import yaml  # optional dependency, imported only for YAML curricula
                except ImportError as error:
                    raise ImportError(
                        f"{path}: reading a YAML curriculum needs PyYAML (pip install pyyaml); or "
                        "write it as JSON"
                    ) from error
                data = yaml.safe_load(text)
            elif suffix == ".json":
                data = json.loads(text)
            else:
                raise ValueError(
                    f"unsupported curriculum file type {suffix!r}; allowed: .json, .yaml, .yml"
                )
            return cls.from_dict(data)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{path}: {error}") from error


def load_curriculum(
    curriculum: str | Path | Curriculum | Mapping[str, Any] = "riley",
) -> Curriculum:
    """Returns a curriculum given by bundled name, file path, plain dict, or as is.

    Args:
        curriculum: ``"riley"`` (bundled in ``envs/curricula``), a path to a JSON/YAML
            file, a dict in the :meth:`Curriculum.to_dict` format, or a :class:`Curriculum`.

    Raises:
        ValueError: for a string that is neither a bundled name nor an existing file.
        TypeError: for any other type.
    """
    if isinstance(curriculum, Curriculum):
        return curriculum
    if isinstance(curriculum, Mapping):
        return Curriculum.from_dict(curriculum)
    if isinstance(curriculum, str) and curriculum in BUNDLED_CURRICULA:
        resource = resources.files("riley_gym.envs").joinpath("curricula", f"{curriculum}.json")
        with resources.as_file(resource) as path:
            return Curriculum.from_file(path)
    if isinstance(curriculum, (str, Path)):
        if Path(curriculum).is_file():
            return Curriculum.from_file(curriculum)
        raise ValueError(
            f"curriculum {str(curriculum)!r} is neither a bundled curriculum "
            f"{list(BUNDLED_CURRICULA)} nor an existing file"
        )
    raise TypeError(
        "curriculum must be a bundled name, a path, a dict or a Curriculum, got "
        f"{type(curriculum).__name__}"
    )


def _reject_duplicates(names: list[str], message: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{message} {name!r}")
        seen.add(name)


def _as_list(value: Any, where: str) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{where}: expected a list, got {type(value).__name__}")
    return list(value)


def _check_keys(entry: Any, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(entry, Mapping):
        raise TypeError(f"{where}: expected a mapping, got {type(entry).__name__}")
    missing = sorted(required - set(entry))
    if missing:
        raise ValueError(f"{where} ({entry.get('name', 'unnamed')!r}): missing keys {missing}")
    unknown = sorted(set(entry) - required - optional)
    if unknown:
        raise ValueError(
            f"{where} ({entry.get('name', 'unnamed')!r}): unknown keys {unknown}; allowed: "
            f"{sorted(required | optional)}"
        )
