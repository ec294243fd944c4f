"""The gain model's on-policy (DAgger) rounds in the tutoring pipeline: they change what the
planners learn from and nothing else, reproducibly."""

from __future__ import annotations

from riley_gym.kt.experiments.tutor_pipeline import TutorConfig, run_tutor

POLICIES = ("random", "mastery", "greedy", "expectimax")


def post_tests(summary):
    return {name: row["post_test_mean"] for name, row in summary["policies"].items()}


def test_on_policy_rounds_change_only_the_planners_and_reproduce(tmp_path):
    offline = run_tutor(TutorConfig.quick(policies=POLICIES), tmp_path / "offline")
    config = TutorConfig.quick(policies=POLICIES, gain_rounds=1)
    online, again = (run_tutor(config, tmp_path / name) for name in ("online", "again"))
    before, after = post_tests(offline), post_tests(online)
    assert after == post_tests(again)  # same seed, same figures
    assert [after["random"], after["mastery"]] == [before["random"], before["mastery"]]
    assert after["greedy"] != before["greedy"] or after["expectimax"] != before["expectimax"]
    assert online["settings"]["gain_rounds"] == 1
