// Shared by the three pages: JSON calls to /api/ and the error box.
"use strict";

// Every error the server sends is {"detail": "..."}; the page shows it as it is.
async function api(method, url, body, raw) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (raw !== undefined) {
    options.body = raw;
    options.headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new Error(`the server did not answer (${error.message})`);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch (error) {
    payload = null;
  }
  if (!response.ok) {
    const detail = payload && payload.detail ? payload.detail : response.statusText;
    const text = typeof detail === "string" ? detail : JSON.stringify(detail);
    const error = new Error(`${response.status}: ${text}`);
    error.status = response.status;
    throw error;
  }
  return payload;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  const box = document.getElementById("error");
  box.textContent = "";
  box.hidden = true;
}

// Run an async action with the error box cleared first and filled on failure;
// the page's busy flag tells tests (and people) when an answer has come back.
async function guarded(action) {
  clearError();
  document.body.dataset.busy = "1";
  try {
    await action();
  } catch (error) {
    showError(error.message);
  } finally {
    document.body.dataset.busy = "0";
  }
}

function fillDatalist(id, values) {
  const list = document.getElementById(id);
  list.replaceChildren(
    ...values.map((value) => {
      const option = document.createElement("option");
      option.value = value;
      return option;
    })
  );
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fixed(value, digits) {
  return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
}

const PLOT_CONFIG = { displayModeBar: false, responsive: true };
