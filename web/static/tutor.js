// The tutoring page: start a session, answer (or let a simulated student answer), and draw
// what the models believe after each answer. All numbers come from /api/tutor/*.
"use strict";

let policyDescriptions = {};

function setMode(mode) {
  document.getElementById("person-controls").hidden = mode !== "person";
  document.getElementById("simulated-controls").hidden = mode !== "simulated";
}

function drawBars(state) {
  const skills = state.skills;
  const traces = [
    { type: "bar", name: "DKT estimate (mean p(correct))", x: skills, y: state.knowledge.dkt },
    { type: "bar", name: "BKT mastery", x: skills, y: state.knowledge.bkt_mastery },
  ];
  if (state.knowledge.truth) {
    traces.push({
      type: "bar", name: "hidden truth (mean true p(correct))", x: skills, y: state.knowledge.truth,
    });
  }
  Plotly.react("bars", traces, {
    barmode: "group",
    yaxis: { range: [0, 1], title: "probability" },
    margin: { t: 10, r: 10, b: 80, l: 50 },
    legend: { orientation: "h", y: 1.12 },
  }, PLOT_CONFIG);

  const body = document.querySelector("#estimates tbody");
  body.replaceChildren(
    ...skills.map((skill, k) => {
      const row = document.createElement("tr");
      row.dataset.skill = skill;
      cell(row, skill);
      cell(row, fixed(state.knowledge.dkt[k], 3), "num dkt");
      cell(row, fixed(state.knowledge.bkt_mastery[k], 3), "num bkt");
      cell(row, state.knowledge.truth ? fixed(state.knowledge.truth[k], 3) : "hidden", "num truth");
      return row;
    })
  );
}

function heatmapTrace(z, state, colorbarTitle) {
  const columns = state.answers.map((_, i) => i + 1);
  const hover = state.skills.map((skill) =>
    state.answers.map((answer, i) =>
      `${skill} after answer ${i + 1}<br>(${answer.name}, ${answer.correct ? "right" : "wrong"})`
    )
  );
  return {
    type: "heatmap",
    z,
    x: columns,
    y: state.skills.map((skill, k) => `${k + 1}. ${skill}`),
    zmin: 0,
    zmax: 1,
    colorscale: "Viridis",
    text: hover,
    hovertemplate: "%{text}<br>p = %{z:.3f}<extra></extra>",
    colorbar: { title: { text: colorbarTitle } },
  };
}

function drawHeatmaps(state) {
  const answers = state.answers;
  const ticks = {
    tickvals: answers.map((_, i) => i + 1),
    ticktext: answers.map((answer) => `${answer.skill + 1}${answer.correct ? "✓" : "✗"}`),
    title: "answer (skill number, right ✓ / wrong ✗)",
  };
  const layout = {
    xaxis: answers.length <= 40 ? ticks : { title: ticks.title },
    yaxis: { autorange: "reversed" },
    margin: { t: 10, r: 10, b: 60, l: 170 },
  };
  Plotly.react("heatmap", [heatmapTrace(state.heatmap.dkt, state, "p(correct)")], layout, PLOT_CONFIG);
  const truth = document.getElementById("truth-heatmap");
  truth.hidden = !state.heatmap.truth;
  if (state.heatmap.truth) {
    Plotly.react(
      "truth-heatmap",
      [heatmapTrace(state.heatmap.truth, state, "true p")],
      { ...layout, title: { text: "hidden truth: the simulated student's mean true p(correct)", font: { size: 13 } }, margin: { t: 30, r: 10, b: 60, l: 170 } },
      PLOT_CONFIG
    );
  }
}

function drawCandidates(state) {
  const body = document.querySelector("#candidates tbody");
  body.replaceChildren(
    ...state.candidates.map((candidate) => {
      const row = document.createElement("tr");
      if (candidate.recommended) row.className = "recommended-row";
      cell(row, candidate.name);
      cell(row, candidate.skill_name);
      cell(row, candidate.score === null ? "-inf" : Number(candidate.score).toPrecision(4), "num");
      cell(row, fixed(candidate.p_correct, 2), "num");
      cell(row, candidate.reason);
      return row;
    })
  );
}

function drawHistory(state) {
  const body = document.querySelector("#history tbody");
  body.replaceChildren(
    ...state.answers.map((answer, i) => {
      const row = document.createElement("tr");
      cell(row, String(i + 1));
      cell(row, answer.name);
      cell(row, answer.skill_name);
      cell(row, answer.correct ? "right" : "wrong");
      cell(row, answer.recommended ? "yes" : "no");
      return row;
    }).reverse()
  );
}

function render(state) {
  for (const id of ["now", "charts", "heatmap-section", "history-section"]) {
    document.getElementById(id).hidden = false;
  }
  setMode(state.mode);
  document.getElementById("recommended-exercise").textContent = state.recommendation.name;
  document.getElementById("recommended-skill").textContent = state.recommendation.skill_name;
  document.getElementById("explanation").textContent = state.recommendation.explanation;
  const atEnd = state.n_answers >= state.session_length;
  document.getElementById("answer-count").textContent =
    `${state.n_answers} answers (session length ${state.session_length}; policy ${state.policy}, seed ${state.seed})`;
  document.getElementById("simulate-end").disabled = atEnd;
  drawBars(state);
  drawCandidates(state);
  drawHeatmaps(state);
  drawHistory(state);
  // Set last: tests wait on it to know that everything above is drawn.
  document.getElementById("tutor").dataset.answers = String(state.n_answers);
}

async function post(url, body) {
  await guarded(async () => render(await api("POST", url, body)));
}

async function init() {
  await guarded(async () => {
    const model = await api("GET", "/api/model");
    const select = document.getElementById("policy");
    select.replaceChildren(
      ...model.policies.map((policy) => {
        const option = document.createElement("option");
        option.value = policy.name;
        option.textContent = policy.name;
        return option;
      })
    );
    policyDescriptions = Object.fromEntries(model.policies.map((p) => [p.name, p.description]));
    if (model.default_policy) select.value = model.default_policy;
    const describe = () => {
      document.getElementById("policy-description").textContent = policyDescriptions[select.value];
    };
    select.addEventListener("change", describe);
    describe();
    const training = model.training;
    document.getElementById("model-info").textContent =
      `Curriculum ${model.curriculum.name}: ${model.curriculum.skills.length} skills, ` +
      `${model.curriculum.exercises.length} exercises. Models trained on ` +
      `${model.settings.log_students} simulated students (DKT test AUC ${fixed(training.dkt_test_auc, 3)}, ` +
      `BKT ${fixed(training.bkt_test_auc, 3)}).`;
  });
}

document.getElementById("start").addEventListener("click", () => {
  const mode = document.getElementById("mode-simulated").checked ? "simulated" : "person";
  const seedText = document.getElementById("seed").value.trim();
  const body = { policy: document.getElementById("policy").value, mode };
  if (seedText !== "") body.seed = Number(seedText);
  post("/api/tutor/start", body);
});
document.getElementById("right").addEventListener("click", () => post("/api/tutor/answer", { correct: true }));
document.getElementById("wrong").addEventListener("click", () => post("/api/tutor/answer", { correct: false }));
document.getElementById("simulate-step").addEventListener("click", () => post("/api/tutor/simulate", { steps: 1 }));
document.getElementById("simulate-end").addEventListener("click", () => post("/api/tutor/simulate", { steps: null }));
init();
