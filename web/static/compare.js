// The comparison page: a tutor.py run's summary.json and learning_curves.csv as charts.
"use strict";

// One color per policy, the same in every chart (Plotly's default cycle has 10).
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function translucent(hex, alpha) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function render(data) {
  // Shown before drawing: Plotly sizes a chart to its container, which is 0 wide when hidden.
  document.getElementById("results").hidden = false;
  const policies = data.policies;
  const names = policies.map((p) => p.name);
  const colors = names.map((name) => (name === "oracle" ? "#999999" : "#3a6ea5"));
  Plotly.react("posttest", [{
    type: "bar", x: names, y: policies.map((p) => p.post_test_mean), marker: { color: colors },
    error_y: { type: "data", array: policies.map((p) => p.post_test_ci95 || 0), visible: true },
    hovertemplate: "%{x}: %{y:.3f}<extra></extra>",
  }], { yaxis: { title: "expected post-test" }, margin: { t: 10, r: 10, b: 70, l: 60 } }, PLOT_CONFIG);

  const withGap = policies.filter((p) => p.oracle_gap !== null);
  Plotly.react("gap", [{
    type: "bar", x: withGap.map((p) => p.name), y: withGap.map((p) => p.oracle_gap),
    error_y: { type: "data", array: withGap.map((p) => p.oracle_gap_ci95 || 0), visible: true },
    marker: { color: "#c0792b" }, hovertemplate: "%{x}: %{y:.3f} below the oracle<extra></extra>",
  }], {
    yaxis: { title: "oracle minus policy" }, margin: { t: 10, r: 10, b: 70, l: 60 },
    annotations: data.has_oracle ? [] : [{ text: "this run has no oracle", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
  }, PLOT_CONFIG);

  const curves = [];
  Object.entries(data.curves).forEach(([name, curve], index) => {
    const color = PALETTE[index % PALETTE.length];
    const upper = curve.mean.map((m, i) => m + curve.ci95[i]);
    const lower = curve.mean.map((m, i) => m - curve.ci95[i]);
    curves.push({
      type: "scatter", mode: "lines", x: curve.step.concat([...curve.step].reverse()),
      y: upper.concat([...lower].reverse()), fill: "toself", fillcolor: translucent(color, 0.12),
      line: { width: 0 }, showlegend: false, hoverinfo: "skip", legendgroup: name,
    });
    curves.push({
      type: "scatter", mode: "lines", name, x: curve.step, y: curve.mean, legendgroup: name,
      line: { color, dash: name === "oracle" ? "dot" : "solid" },
    });
  });
  Plotly.react("curves", curves, {
    xaxis: { title: "exercises done" }, yaxis: { title: "mean expected post-test" },
    margin: { t: 10, r: 10, b: 50, l: 60 },
    annotations: curves.length ? [] : [{ text: "no learning_curves.csv in this folder", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }],
  }, PLOT_CONFIG);

  const body = document.querySelector("#policy-table tbody");
  body.replaceChildren(
    ...policies.map((p) => {
      const row = document.createElement("tr");
      row.dataset.policy = p.name;
      cell(row, p.name);
      cell(row, fixed(p.post_test_mean, 3), "num");
      cell(row, fixed(p.post_test_ci95, 3), "num");
      cell(row, fixed(p.gain_mean, 3), "num");
      cell(row, fixed(p.mastered_fraction, 2), "num");
      cell(row, p.oracle_gap === null ? "" : `${fixed(p.oracle_gap, 3)} ± ${fixed(p.oracle_gap_ci95, 3)}`, "num");
      return row;
    })
  );
  const settings = data.settings;
  document.getElementById("run-info").textContent =
    `${data.path}: ${settings.students ?? "?"} students per policy, ${settings.session_length ?? "?"} exercises, ` +
    `${settings.dynamics ?? "?"} dynamics; best heuristic ${data.verdicts.best_heuristic ?? "n/a"}, ` +
    `best LSTM-based policy ${data.verdicts.best_kt_policy ?? "n/a"}; ` +
    `DKT test AUC ${fixed(data.dkt_test_auc, 3)}, BKT ${fixed(data.bkt_test_auc, 3)}.`;
  document.getElementById("compare-page").dataset.policies = String(policies.length);
}

async function load(path) {
  render(await api("GET", `/api/compare?${new URLSearchParams({ path })}`));
}

async function init() {
  await guarded(async () => {
    const found = await api("GET", "/api/suggestions");
    fillDatalist("run-list", found.tutor_runs);
    const given = new URLSearchParams(window.location.search).get("run");
    if (given) {
      document.getElementById("run-path").value = given;
      await load(given);
    }
  });
}

document.getElementById("load-run").addEventListener("click", () =>
  guarded(() => load(document.getElementById("run-path").value))
);
init();
