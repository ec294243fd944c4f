"""scripts/evaluate_agent.py in a subprocess on a tiny GridWorld run: evaluation.json, episode GIF.

(GridWorld renders in numpy; CartPole would need pygame, not a dependency.)
"""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
from PIL import Image

import riley_gym  # noqa: F401  (registers the riley/ environments)

ROOT = Path(__file__).resolve().parents[2]


def test_evaluate_agent_reports_returns_and_writes_a_gif(tmp_path):
    train = [
        sys.executable,
        str(ROOT / "scripts" / "train_agent.py"),
        "--env",
        "riley/GridWorld-v0",
        "--total-steps",
        "600",
        "--learning-starts",
        "200",
        "--train-freq",
        "4",
        "--gradient-steps",
        "1",
        "--hidden-sizes",
        "16",
        "--eval-interval",
        "600",
        "--eval-episodes",
        "1",
        "--final-eval-episodes",
        "1",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
    ]
    assert subprocess.run(train, capture_output=True, timeout=200, cwd=ROOT).returncode == 0
    command = [
        sys.executable,
        str(ROOT / "scripts" / "evaluate_agent.py"),
        "--run",
        str(tmp_path / "run"),
        "--episodes",
        "3",
        "--video",
        str(tmp_path / "episode.gif"),
        "--fps",
        "25",
        "--threads",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=200, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert evaluation["episodes"] == 3 and len(evaluation["returns"]) == 3
    assert abs(evaluation["mean_return"] - sum(evaluation["returns"]) / 3) < 1e-9
    assert all(
        -1.0 <= value <= 1.0 for value in evaluation["returns"]
    )  # one goal (+1) or trap (-1) at most
    gif = Image.open(tmp_path / "episode.gif")
    assert 2 <= evaluation["video_frames"] <= 101  # reset frame + up to 100 steps
    durations = []
    for index in range(gif.n_frames):  # PIL merges repeated frames, adding up their durations
        gif.seek(index)
        durations.append(gif.info["duration"])
    assert sum(durations) == evaluation["video_frames"] * 40  # 25 fps; GIF stores centiseconds
    frame = gym.make("riley/GridWorld-v0", render_mode="rgb_array")
    frame.reset(seed=0)
    assert gif.size == frame.render().shape[1::-1]


def test_compare_random_with_too_few_episodes_fails_before_evaluating(tmp_path):
    # The paired CI needs 30 episodes: say so at once (nothing to load: the run folder does not even
    # exist).
    command = [
        sys.executable,
        str(ROOT / "scripts" / "evaluate_agent.py"),
        "--run",
        str(tmp_path / "missing"),
        "--episodes",
        "20",
        "--compare-random",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert (
        result.returncode == 2
        and "--compare-random needs --episodes >= 30" in result.stderr
        and "Traceback" not in result.stderr
    )
