// The replay page: a log and a model loaded on the server, one student's history fetched once,
// then scrubbed here: the charts show the first t attempts.
"use strict";

let replay = null;
let timer = null;

function showLog(summary) {
  document.getElementById("log-info").textContent =
    `${summary.path}: ${summary.n_rows} rows, ${summary.n_students} students, ${summary.n_skills} skills\n${summary.report}`;
  const select = document.getElementById("student");
  select.replaceChildren(
    ...summary.students.map((student) => {
      const option = document.createElement("option");
      option.value = student.user_id;
      option.textContent = `${student.user_id} (${student.attempts} attempts)`;
      return option;
    })
  );
}

function draw(shown) {
  const attempts = replay.attempts.slice(0, shown);
  const labels = replay.skills.map((skill) => `skill ${skill.name}`);
  const columns = Array.from({ length: shown + 1 }, (_, t) => t);
  const z = replay.knowledge.map((row) => row.slice(0, shown + 1));
  const ticktext = ["start"].concat(
    attempts.map((a) => `${a.skill_id}${a.correct ? "✓" : "✗"}${a.model_wrong ? "!" : ""}`)
  );
  Plotly.react("replay-heatmap", [{
    type: "heatmap", z, x: columns, y: labels, zmin: 0, zmax: 1, colorscale: "Viridis",
    hovertemplate: "%{y} after %{x} attempts: p = %{z:.3f}<extra></extra>",
    colorbar: { title: { text: "p(correct)" } },
  }], {
    xaxis: shown <= 40 ? { tickvals: columns, ticktext, title: "attempt (skill, ✓/✗, ! = model wrong)" } : { title: "attempt" },
    yaxis: { autorange: "reversed" },
    margin: { t: 10, r: 10, b: 60, l: 120 },
  }, PLOT_CONFIG);

  const steps = attempts.map((_, i) => i + 1);
  const wrong = attempts.map((a, i) => (a.model_wrong ? i + 1 : null)).filter((v) => v !== null);
  Plotly.react("replay-predictions", [
    { type: "scatter", mode: "lines+markers", name: "predicted p(correct)", x: steps, y: attempts.map((a) => a.p_correct) },
    { type: "scatter", mode: "markers", name: "answer (1 right, 0 wrong)", x: steps, y: attempts.map((a) => a.correct), marker: { symbol: "circle-open", size: 9 } },
    { type: "scatter", mode: "markers", name: "model wrong", x: wrong, y: wrong.map((i) => attempts[i - 1].correct), marker: { symbol: "x", size: 12, color: "#c0392b" } },
  ], {
    xaxis: { title: "attempt", range: [0.5, Math.max(shown, 1) + 0.5] },
    yaxis: { range: [-0.05, 1.05] },
    shapes: [{ type: "line", x0: 0, x1: 1, xref: "paper", y0: 0.5, y1: 0.5, line: { dash: "dot", color: "#999" } }],
    margin: { t: 10, r: 10, b: 50, l: 50 },
    legend: { orientation: "h", y: 1.15 },
  }, PLOT_CONFIG);

  const body = document.querySelector("#attempts tbody");
  body.replaceChildren(
    ...attempts.map((a, i) => {
      const row = document.createElement("tr");
      if (a.model_wrong) row.className = "model-wrong";
      cell(row, String(i + 1));
      cell(row, String(a.skill_id));
      cell(row, String(a.item_id));
      cell(row, a.correct ? "right" : "wrong");
      cell(row, fixed(a.p_correct, 3), "num");
      cell(row, a.model_wrong ? "wrong" : "right");
      return row;
    })
  );
  const missed = attempts.filter((a) => a.model_wrong).length;
  document.getElementById("scrub-label").textContent = `${shown} of ${replay.n_attempts}`;
  document.getElementById("replay-summary").textContent =
    `Student ${replay.user_id}, model ${replay.model}: wrong on ${missed} of the ${shown} attempts shown` +
    ` (${replay.n_attempts_in_log} in the log` +
    (replay.n_unknown_skills ? `; ${replay.n_unknown_skills} practised skills unknown to the model` : "") + ").";
  document.getElementById("replay-page").dataset.shown = String(shown);
}

function stop() {
  if (timer !== null) clearInterval(timer);
  timer = null;
  document.getElementById("play").textContent = "Play";
}

async function init() {
  await guarded(async () => {
    const found = await api("GET", "/api/suggestions");
    fillDatalist("log-list", found.logs);
    fillDatalist("model-list", found.kt_runs);
  });
}

document.getElementById("load-log").addEventListener("click", () => guarded(async () => {
  const body = { path: document.getElementById("log-path").value, format: document.getElementById("log-format").value };
  showLog(await api("POST", "/api/replay/log", body));
}));
document.getElementById("upload-log").addEventListener("click", () => guarded(async () => {
  const file = document.getElementById("log-file").files[0];
  if (!file) throw new Error("choose a file to upload first");
  const query = new URLSearchParams({ filename: file.name, format: document.getElementById("log-format").value });
  showLog(await api("POST", `/api/replay/upload?${query}`, undefined, await file.arrayBuffer()));
}));
document.getElementById("load-model").addEventListener("click", () => guarded(async () => {
  const loaded = await api("POST", "/api/replay/model", { path: document.getElementById("model-path").value });
  document.getElementById("model-info").textContent = `${loaded.model} over ${loaded.n_skills} skills`;
}));
document.getElementById("replay").addEventListener("click", () => guarded(async () => {
  stop();
  const query = new URLSearchParams({
    user_id: document.getElementById("student").value,
    max_attempts: document.getElementById("max-attempts").value,
  });
  replay = await api("GET", `/api/replay/student?${query}`);
  const scrub = document.getElementById("scrub");
  scrub.max = String(replay.n_attempts);
  scrub.value = String(replay.n_attempts);
  document.getElementById("scrubber").hidden = false;
  document.getElementById("replay-charts").hidden = false;
  draw(replay.n_attempts);
}));
document.getElementById("scrub").addEventListener("input", (event) => {
  if (replay) draw(Number(event.target.value));
});
document.getElementById("play").addEventListener("click", () => {
  if (!replay) return;
  if (timer !== null) return stop();
  const scrub = document.getElementById("scrub");
  if (Number(scrub.value) >= replay.n_attempts) scrub.value = "0";
  document.getElementById("play").textContent = "Pause";
  timer = setInterval(() => {
    const next = Number(scrub.value) + 1;
    if (next > replay.n_attempts) return stop();
    scrub.value = String(next);
    draw(next);
  }, 400);
});
init();
