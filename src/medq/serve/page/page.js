// The page for clinicians: asks the server's own API with the key the user gives.
// Everything the server returns is shown with textContent, never parsed as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const STORED = "medq-serve-key";
  const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let pipelines = [];

  function put(element, value) { element.textContent = value == null ? "" : String(value); }
  function key() { return sessionStorage.getItem(STORED) || ""; }

  function showError(message) {
    const box = $("error");
    put(box, message);
    box.hidden = !message;
  }

  async function api(path, body) {
    const options = {
      method: body ? "POST" : "GET",
      headers: { "Authorization": "Bearer " + key() },
      credentials: "omit",
      cache: "no-store",
    };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const why = data && data.error ? data.error.message : "HTTP " + response.status;
      const error = new Error(why);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function describe(pipeline) {
    const m = pipeline.medq;
    const parts = [m.strategy, "model " + m.backend.model];
    if (m.corpus.length) parts.push("corpus " + m.corpus.join(" + "));
    parts.push(m.abstain_below == null ? "never abstains on confidence"
      : "abstains below confidence " + m.abstain_below.toFixed(2));
    parts.push("hash " + m.hash.slice(0, 12));
    return parts.join(" · ");
  }

  async function loadPipelines() {
    const select = $("pipeline");
    select.replaceChildren();
    select.disabled = true;
    $("ask").disabled = true;
    put($("pipeline-info"), "");
    if (!key()) { put($("key-status"), "No key yet."); return; }
    try {
      pipelines = (await api("/v1/models")).data;
    } catch (error) {
      put($("key-status"), "This key was refused: " + error.message);
      return;
    }
    for (const p of pipelines) {
      const option = document.createElement("option");
      option.value = p.id;
      put(option, p.id);
      select.appendChild(option);
    }
    put($("key-status"), pipelines.length ? "Key accepted: " + pipelines.length +
      " pipeline(s) available." : "Key accepted, but it may use no pipeline.");
    select.disabled = !pipelines.length;
    $("ask").disabled = !pipelines.length;
    showPipeline();
  }

  function showPipeline() {
    const chosen = pipelines.find((p) => p.id === $("pipeline").value);
    put($("pipeline-info"), chosen ? describe(chosen) : "");
  }

  function addOption(value) {
    const list = $("options");
    const n = list.children.length;
    if (n >= LETTERS.length) return;
    const row = document.createElement("div");
    row.className = "option";
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "text";
    input.id = "option-" + LETTERS[n];
    input.value = value || "";
    label.htmlFor = input.id;
    put(label, LETTERS[n] + ".");
    row.append(label, input);
    list.appendChild(row);
  }

  function request() {
    const model = $("pipeline").value;
    if ($("mode-vignette").checked) {
      const stem = $("stem").value.trim();
      const options = [];
      for (const input of $("options").querySelectorAll("input")) {
        if (input.value.trim()) options.push(input.value.trim());
      }
      return { model, messages: [{ role: "user", content: stem }],
               medq: { question: { stem, options } } };
    }
    return { model, messages: [{ role: "user", content: $("question").value }] };
  }

  function render(reply) {
    const m = reply.medq;
    const verdict = $("verdict");
    verdict.className = m.abstained ? "abstained" : "answered";
    put(verdict, m.abstained ? "No answer: the pipeline abstained, because " +
      m.abstention_reason + "." : m.answer + ". " + (m.answer_text || ""));
    const fill = $("confidence-fill");
    const mark = $("threshold-mark");
    const bar = $("confidence-bar");
    const value = m.confidence;
    fill.style.width = value == null ? "0" : (100 * value).toFixed(1) + "%";
    mark.hidden = m.threshold == null;
    if (m.threshold != null) mark.style.left = (100 * m.threshold).toFixed(1) + "%";
    let said = value == null ? "No confidence: this strategy gives none."
      : "Confidence " + value.toFixed(2) + " (" + String(m.confidence_method).replace(/_/g, " ") +
        (m.confidence_basis ? ": " + m.confidence_basis : "") + ")";
    if (m.threshold != null) said += "; the pipeline answers from " + m.threshold.toFixed(2) + ".";
    put($("confidence-text"), said);
    bar.setAttribute("aria-label", said);
    put($("votes"), m.votes ? "Votes: " + Object.entries(m.votes)
      .map(([k, v]) => k + " " + v).join(" · ") : "");
    put($("reasoning"), reply.choices[0].message.content);
    const list = $("citations");
    list.replaceChildren();
    for (const c of m.citations) list.appendChild(citation(c));
    const chosen = pipelines.find((p) => p.id === m.pipeline);
    if (!m.citations.length) {
      const none = document.createElement("li");
      none.className = "muted";
      put(none, chosen && chosen.medq.corpus.length ? "No snippet of the corpus matched " +
        "this question." : "This pipeline retrieves no evidence.");
      list.appendChild(none);
    }
    const facts = [
      ["Pipeline", m.pipeline], ["Strategy", chosen ? chosen.medq.strategy : ""],
      ["Model", chosen ? chosen.medq.backend.model : ""], ["Pipeline hash", m.pipeline_hash],
      ["Model calls", m.calls.total + " (" + m.calls.upstream + " made now, " + m.calls.cached +
        " from the cache)"],
      ["Tokens", reply.usage.prompt_tokens + " prompt · " + reply.usage.completion_tokens +
        " completion"],
      ["Time", m.latency_ms.toFixed(0) + " ms"], ["Request", m.request_id],
    ];
    const dl = $("provenance");
    dl.replaceChildren();
    for (const [term, value2] of facts) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      put(dt, term);
      put(dd, value2);
      dl.append(dt, dd);
    }
    $("result").hidden = false;
  }

  function citation(c) {
    const item = document.createElement("li");
    item.value = c.rank;
    item.dataset.id = c.id;
    item.className = "citation" + (c.cited ? " cited" : "");
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    put(summary, "[" + c.rank + "] " + (c.title || c.id) + " — " + c.source);
    for (const [flag, label] of [[c.shown, "shown to the model"], [c.cited, "cited"]]) {
      if (!flag) continue;
      const mark = document.createElement("span");
      mark.className = "mark";
      put(mark, label);
      summary.appendChild(mark);
    }
    details.appendChild(summary);
    if (c.snippet != null) {
      const pre = document.createElement("pre");
      pre.className = "text snippet";
      put(pre, c.snippet);
      details.appendChild(pre);
    } else {
      const none = document.createElement("p");
      none.className = "muted";
      put(none, "No text was recorded for this snippet.");
      details.appendChild(none);
    }
    if (c.url) {
      const link = document.createElement("a");
      link.href = c.url;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      put(link, "Open in PubMed");
      details.appendChild(link);
    }
    item.appendChild(details);
    return item;
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("key").value.trim();
    if (value) sessionStorage.setItem(STORED, value);
    $("key").value = "";
    showError("");
    loadPipelines();
  });
  $("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(STORED);
    pipelines = [];
    loadPipelines();
  });
  $("pipeline").addEventListener("change", showPipeline);
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => {
      const vignette = $("mode-vignette").checked;
      $("vignette-block").hidden = !vignette;
      $("text-block").hidden = vignette;
    });
  }
  $("add-option").addEventListener("click", () => addOption(""));
  for (let i = 0; i < 4; i++) addOption("");
  $("ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    $("ask").disabled = true;
    put($("busy"), "Asking the pipeline…");
    try {
      render(await api("/v1/chat/completions", request()));
      put($("busy"), "");
      $("result-heading").focus();
    } catch (error) {
      put($("busy"), "");
      showError("The server did not answer: " + error.message);
    } finally {
      $("ask").disabled = false;
    }
  });
  loadPipelines();
})();
