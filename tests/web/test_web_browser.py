"""The three pages in headless Chromium against the real server on a free local port.

Asserts on what the page shows (text, tables, the data of the drawn Plotly charts and their
SVG), and takes a screenshot of each page into ``$RILEY_SCREENSHOTS`` (default: a temp
folder). The README's screenshots were taken with the default model and a full tutor.py run:

    RILEY_SCREENSHOTS=docs/web RILEY_WEB_MODEL=runs/web-model/riley-... \\
        RILEY_TUTOR_RUN=runs/tutor-bkt pytest tests/web/test_web_browser.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from riley_gym.kt.data import default_data_dir, read_log
from riley_gym.kt.data.attempts import sort_canonical
from riley_gym.kt.experiments.saved_runs import load_saved
from riley_gym.web.app import create_app
from riley_gym.web.server import Running
from tests.helpers.scripts import run_script
from tests.helpers.web import (
    chromium_driver,
    quit_driver,
    save_page,
    screenshot_folder,
    wait_until,
)

BUILDER = default_data_dir() / "assist2009_builder" / "builder_test.csv"


@pytest.fixture(scope="module")
def server(web_model, tmp_path_factory):
    with Running(create_app(web_model, seed=0, runs_dir=tmp_path_factory.mktemp("runs"))) as up:
        yield up


@pytest.fixture(scope="module")
def browser():
    driver = chromium_driver()
    driver.set_page_load_timeout(30)
    yield driver
    quit_driver(driver)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshot_folder(tmp_path_factory.mktemp("shots"))


def by_id(driver, element_id):
    return driver.find_element("id", element_id)


def text(driver, element_id) -> str:
    return by_id(driver, element_id).text


def answers_shown(driver) -> int:
    return int(by_id(driver, "tutor").get_attribute("data-answers"))


def click_and_wait_for(driver, button, answers):
    by_id(driver, button).click()
    wait_until(lambda: answers_shown(driver) == answers, what=f"{answers} answers on the page")


def estimates(driver) -> dict[str, dict[str, str]]:
    """The knowledge table as shown: skill -> {dkt, bkt, truth} texts."""
    table = {}
    for row in driver.find_elements("css selector", "#estimates tbody tr"):
        cells = [cell.text for cell in row.find_elements("tag name", "td")]
        table[cells[0]] = {"dkt": cells[1], "bkt": cells[2], "truth": cells[3]}
    return table


def open_page(driver, url):
    driver.get(url)
    wait_until(lambda: driver.execute_script("return document.readyState") == "complete")
    assert driver.execute_script("return typeof Plotly") == "object"  # served by us, loaded


def test_a_person_plays_a_session_and_the_page_follows_every_answer(browser, server, shots):
    open_page(browser, server.url + "/")
    wait_until(lambda: browser.find_elements("css selector", "#policy option"), what="policies")
    by_id(browser, "policy").send_keys("mastery")
    assert by_id(browser, "policy").get_attribute("value") == "mastery"
    by_id(browser, "seed").send_keys("5")
    click_and_wait_for(browser, "start", 0)
    first_skill = text(browser, "recommended-skill")
    dkt_before = float(estimates(browser)[first_skill]["dkt"])
    recommended = [text(browser, "recommended-exercise")]
    answers = ["right"] * 4 + [
        "wrong",
        "right",
        "wrong",
        "right",
        "right",
        "wrong",
        "right",
        "right",
    ]
    on_first_skill = 0  # the run of right answers on the first skill the mastery rule practises
    for count, answer in enumerate(answers, start=1):
        skill = text(browser, "recommended-skill")
        bkt_before = float(estimates(browser)[skill]["bkt"])
        click_and_wait_for(browser, answer, count)
        recommended.append(text(browser, "recommended-exercise"))
        bkt_after = float(estimates(browser)[skill]["bkt"])
        if answer == "right":
            # BKT's mastery of a skill rises with each right answer on it (guess, slip <= 0.5).
            assert bkt_after > bkt_before, (skill, bkt_before, bkt_after)
        if on_first_skill == count - 1 and answer == "right" and skill == first_skill:
            on_first_skill = count
    assert not by_id(browser, "error").is_displayed()
    assert len(set(recommended)) > 1, recommended  # the recommendation changes as she answers
    # The DKT's estimate of the first skill after the right answers on it, as the heatmap shows it.
    assert on_first_skill >= 2
    labels, column = browser.execute_script(
        "const d = document.getElementById('heatmap').data[0];"
        "return [d.y, d.z.map(row => row[arguments[0] - 1])];",
        on_first_skill,
    )
    row = [label.split(". ", 1)[1] for label in labels].index(first_skill)
    assert column[row] > dkt_before
    # The heatmap: one column per answer, drawn (one tick per answer on its SVG axis).
    z_columns = browser.execute_script(
        "return document.getElementById('heatmap').data[0].z.map(row => row.length)"
    )
    assert z_columns == [len(answers)] * len(labels)
    ticks = browser.find_elements("css selector", "#heatmap .xaxislayer-above .xtick text")
    marks = [tick.text[-1] for tick in ticks]
    assert marks == ["✓" if answer == "right" else "✗" for answer in answers]
    assert len(browser.find_elements("css selector", "#history tbody tr")) == len(answers)
    rows = browser.find_elements("css selector", "#candidates tbody tr")
    assert len(rows) == 5 and "recommended-row" in rows[0].get_attribute("class")
    assert rows[0].find_elements("tag name", "td")[4].text == text(browser, "explanation")
    save_page(browser, shots / "tutoring-person.png")


def test_a_simulated_student_answers_with_the_hidden_truth_beside_the_estimate(
    browser, server, shots, web_model
):
    open_page(browser, server.url + "/")
    wait_until(lambda: browser.find_elements("css selector", "#policy option"), what="policies")
    by_id(browser, "policy").send_keys("dqn")
    by_id(browser, "mode-simulated").click()
    by_id(browser, "seed").send_keys("2")
    click_and_wait_for(browser, "start", 0)
    assert by_id(browser, "simulate-step").is_displayed()
    assert not by_id(browser, "right").is_displayed()
    truth = {skill: row["truth"] for skill, row in estimates(browser).items()}
    assert all(value != "hidden" for value in truth.values())
    click_and_wait_for(browser, "simulate-step", 1)
    length = web_model.config.session_length
    click_and_wait_for(browser, "simulate-end", length)
    assert by_id(browser, "truth-heatmap").is_displayed()
    columns = browser.execute_script(
        "return document.getElementById('truth-heatmap').data[0].z[0].length"
    )
    assert columns == length
    assert not by_id(browser, "simulate-end").is_enabled()
    bars = browser.execute_script("return document.getElementById('bars').data.length")
    assert bars == 3  # DKT estimate, BKT mastery, hidden truth
    save_page(browser, shots / "tutoring.png")


def test_an_error_is_shown_in_the_page(browser, server, tmp_path):
    open_page(browser, server.url + "/replay")
    by_id(browser, "model-path").send_keys(str(tmp_path))
    by_id(browser, "load-model").click()
    error = wait_until(lambda: by_id(browser, "error").is_displayed() and text(browser, "error"))
    assert error.startswith("400: not a riley-gym knowledge-tracing model")


def replay_in_page(browser, server, log, run, attempts):
    """Load ``log`` and ``run`` on the replay page, replay its longest student; returns the id."""
    open_page(browser, server.url + "/replay")
    by_id(browser, "log-path").send_keys(str(log))
    by_id(browser, "load-log").click()
    wait_until(lambda: browser.find_elements("css selector", "#student option"), what="students")
    by_id(browser, "model-path").send_keys(str(run))
    by_id(browser, "load-model").click()
    wait_until(lambda: text(browser, "model-info"), what="the model loaded")
    longest = max(
        browser.find_elements("css selector", "#student option"),
        key=lambda option: int(option.text.split("(")[1].split()[0]),
    )
    user_id = longest.get_attribute("value")
    longest.click()
    count = by_id(browser, "max-attempts")
    count.clear()
    count.send_keys(str(attempts))
    by_id(browser, "replay").click()
    wait_until(
        lambda: by_id(browser, "replay-page").get_attribute("data-shown") == str(attempts),
        what="the replay drawn",
    )
    assert not by_id(browser, "error").is_displayed(), text(browser, "error")
    return user_id


def model_wrong(log, run, user_id, attempts) -> np.ndarray:
    _, model = load_saved(run)
    table = sort_canonical(read_log(log)[0])
    history = table[table["user_id"].astype(str) == user_id].head(attempts)
    p = model.predict(history)["p_correct"].to_numpy()
    return (p >= 0.5) != (history["correct"].to_numpy() == 1)


def scrub_to(browser, shown):
    browser.execute_script(
        "const s = document.getElementById('scrub'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        str(shown),
    )
    wait_until(lambda: by_id(browser, "replay-page").get_attribute("data-shown") == str(shown))


def test_replay_one_logged_student_and_scrub_through_the_history(browser, server, kt_run, shots):
    log, run = kt_run
    user_id = replay_in_page(browser, server, log, run, 16)
    wrong = model_wrong(log, run, user_id, 16)
    rows = browser.find_elements("css selector", "#attempts tbody tr")
    assert len(rows) == 16
    marked = [row.get_attribute("class") == "model-wrong" for row in rows]
    assert marked == wrong.tolist()
    assert f"wrong on {int(wrong.sum())} of the 16 attempts shown" in text(
        browser, "replay-summary"
    )
    scrub_to(browser, 5)
    assert len(browser.find_elements("css selector", "#attempts tbody tr")) == 5
    columns = browser.execute_script(
        "return document.getElementById('replay-heatmap').data[0].z[0].length"
    )
    assert columns == 6  # before any attempt, then one per attempt shown
    crosses = browser.execute_script(
        "return document.getElementById('replay-predictions').data[2].x.length"
    )
    assert crosses == int(wrong[:5].sum())
    if not BUILDER.is_file():
        save_page(browser, shots / "replay.png")


@pytest.mark.skipif(
    not BUILDER.is_file(), reason=f"no {BUILDER}: the ASSISTments 2009 builder split is absent"
)
def test_replay_a_student_of_the_assistments_2009_builder_log(browser, server, shots, tmp_path):
    done = run_script(
        "train_kt.py",
        *("--data", str(BUILDER), "--model", "bkt", "--threads", "1", "--no-progress"),
        *("--out", str(tmp_path / "bkt")),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    user_id = replay_in_page(browser, server, BUILDER, tmp_path / "bkt", 60)
    wrong = model_wrong(BUILDER, tmp_path / "bkt", user_id, 60)
    rows = browser.find_elements("css selector", "#attempts tbody tr.model-wrong")
    assert len(rows) == int(wrong.sum()) > 0
    scrub_to(browser, 40)
    save_page(browser, shots / "replay.png")


def test_the_policy_comparison_page_charts_a_tutor_run(browser, server, tutor_run, shots):
    open_page(browser, f"{server.url}/compare?run={tutor_run}")
    wait_until(
        lambda: int(by_id(browser, "compare-page").get_attribute("data-policies")) > 0,
        what="the comparison drawn",
    )
    summary = json.loads((tutor_run / "summary.json").read_text())
    names = list(summary["policies"])
    rows = browser.find_elements("css selector", "#policy-table tbody tr")
    assert [row.get_attribute("data-policy") for row in rows] == names
    for row in rows:
        shown = float(row.find_elements("tag name", "td")[1].text)
        assert shown == pytest.approx(
            summary["policies"][row.get_attribute("data-policy")]["post_test_mean"], abs=5e-4
        )
    assert len(browser.find_elements("css selector", "#posttest .point")) == len(names)
    assert len(browser.find_elements("css selector", "#gap .point")) == len(names) - 1
    lines = browser.execute_script(
        "return document.getElementById('curves').data.filter(t => t.name).map(t => t.name)"
    )
    assert lines == names
    save_page(browser, shots / "compare.png")
