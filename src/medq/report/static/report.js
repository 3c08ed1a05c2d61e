// The per-item browser: decompresses the embedded item data and renders one page of items
// at a time, each item's details only when opened. All text goes in through textContent,
// never parsed as markup: model output is untrusted.
(() => {
  "use strict";
  const PAGE = 50;
  const VERDICT_NAMES = { c: "correct", w: "wrong", i: "invalid", e: "error", g: "graded",
    u: "ungraded" };
  const ROLES = { s: "system", u: "user", a: "assistant" };
  const $ = (id) => document.getElementById(id);
  const state = { verdict: "all", run: "any", field: "", value: "", text: "", page: 0 };
  let data = null;
  let matching = [];

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }
  const str = (index) => (index >= 0 ? data.strings[index] : null);

  async function load() {
    const node = $("item-data");
    if (typeof DecompressionStream === "undefined") {
      $("item-count").textContent = "This browser cannot unpack the item data " +
        "(it needs DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+).";
      return;
    }
    const binary = atob(node.textContent.trim());
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    data = JSON.parse(await new Response(stream).text());
    if (data.snippets) $("legend-marks").hidden = false;
    setUpFilters();
    update();
  }

  function setUpFilters() {
    const fieldSelect = $("filter-field");
    data.fields.forEach((field, f) => {
      if (data.items.some((item) => item.m[f] >= 0)) {
        fieldSelect.append(el("option", { value: String(f), text: field }));
      }
    });
    fieldSelect.addEventListener("change", () => {
      state.field = fieldSelect.value;
      state.value = "";
      fillValues();
      update();
    });
    $("filter-value").addEventListener("change", (e) => { state.value = e.target.value; update(); });
    $("filter-run").addEventListener("change", (e) => { state.run = e.target.value; update(); });
    $("filter-text").addEventListener("input", (e) => { state.text = e.target.value.toLowerCase(); update(); });
    for (const button of document.querySelectorAll("#verdict-filters button")) {
      button.addEventListener("click", () => {
        state.verdict = button.dataset.verdict;
        for (const b of document.querySelectorAll("#verdict-filters button")) {
          b.setAttribute("aria-pressed", String(b === button));
        }
        update();
      });
    }
    $("page-prev").addEventListener("click", () => { state.page--; render(); });
    $("page-next").addEventListener("click", () => { state.page++; render(); });
  }

  function fillValues() {
    const select = $("filter-value");
    select.replaceChildren(el("option", { value: "", text: "all values" }));
    select.disabled = state.field === "";
    if (state.field === "") return;
    const f = Number(state.field);
    const counts = new Map();
    for (const item of data.items) counts.set(item.m[f], (counts.get(item.m[f]) || 0) + 1);
    const values = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    for (const [value, count] of values) {
      const label = value >= 0 ? str(value) : "(none)";
      select.append(el("option", { value: String(value), text: `${label} (${count})` }));
    }
  }

  function verdictMatches(item) {
    const runs = state.run === "any" ? item.r.map((_, i) => i) : [Number(state.run)];
    const verdicts = runs.map((i) => (item.r[i] ? item.r[i][0] : null)).filter((v) => v);
    switch (state.verdict) {
      case "all": return true;
      case "wrong": return verdicts.some((v) => v === "w" || v === "i");
      case "invalid": return verdicts.includes("i");
      case "error": return verdicts.includes("e");
      case "correct": return verdicts.includes("c");
      case "disagree": {
        const scored = item.r.filter((r) => r && r[0] !== "e").map((r) => r[0] === "c");
        return scored.includes(true) && scored.includes(false);
      }
      default: return true;
    }
  }

  function matches(item) {
    if (!verdictMatches(item)) return false;
    if (state.field !== "" && state.value !== "" && item.m[Number(state.field)] !== Number(state.value)) {
      return false;
    }
    if (state.text) {
      const stem = str(item.q) || "";
      if (!item.id.toLowerCase().includes(state.text) && !stem.toLowerCase().includes(state.text)) {
        return false;
      }
    }
    return true;
  }

  function update() {
    matching = data.items.filter(matches);
    state.page = 0;
    render();
  }

  function render() {
    const pages = Math.max(1, Math.ceil(matching.length / PAGE));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    const start = state.page * PAGE;
    const shown = matching.slice(start, start + PAGE);
    const count = $("item-count");
    count.dataset.count = String(matching.length);
    count.textContent = `${matching.length} of ${data.items.length} items match` +
      (matching.length ? ` · showing ${start + 1}–${start + shown.length}` : "");
    $("item-list").replaceChildren(...shown.map(summaryRow));
    $("page-info").textContent = `page ${state.page + 1} of ${pages}`;
    $("page-prev").disabled = state.page === 0;
    $("page-next").disabled = state.page >= pages - 1;
  }

  // An answer as shown in a collapsed row: letters as they are, long open answers cut.
  const short = (text) => (text.length > 14 ? `${text.slice(0, 13)}…` : text);

  function summaryRow(item) {
    const chips = el("span", { class: "answers" });
    item.r.forEach((r, i) => {
      const v = r ? r[0] : "n";
      const name = r ? VERDICT_NAMES[v] : "not in this run";
      const answer = r ? (r[1] === null ? "—" : String(r[1])) : "";
      const chip = el("span", { class: `chip ${v}`, "data-run": String(i),
        title: `run ${i + 1}: ${name}${r ? `, answer ${answer}` : ""}`, text: String(i + 1) });
      if (r) chip.append(el("span", { class: "answer", text: short(answer) }));
      chips.append(chip, " ");
    });
    const task = data.tasks.length > 1 ? `${data.tasks[item.t]} · ` : "";
    const summary = el("summary", {},
      el("span", { class: "mono", text: task + item.id }),
      el("span", { class: "gold", title: `gold ${item.g}`, text: `gold ${short(String(item.g))}` }),
      chips,
      el("span", { class: "stem", text: str(item.q) || "(question text unavailable)" }));
    const details = el("details", { class: "item", "data-item": item.id }, summary);
    details.addEventListener("toggle", () => {
      if (details.open && details.childElementCount === 1) details.append(itemBody(item));
    }, { once: false });
    return details;
  }

  function itemBody(item) {
    const body = el("div", { class: "body" });
    if (item.fp) {
      body.append(el("p", { class: "note", text: "The task's data could not be loaded: the text below is the prompt the model saw." }));
    }
    if (item.x !== undefined) body.append(el("pre", { class: "text", text: str(item.x) }));
    for (const index of item.im || []) {
      const source = str(index) || "";
      // Only the page's own embedded images: the CSP allows data: images and nothing else.
      if (source.startsWith("data:image/")) body.append(el("img", { class: "item-image", src: source, alt: "the item's image" }));
      else body.append(el("p", { class: "note", text: source }));
    }
    body.append(el("pre", { class: "text", text: str(item.q) || "(no question text stored)" }));
    if (item.o) {
      const list = el("ul", { class: "options" });
      for (const [letter, text] of item.o) {
        const picks = item.r.map((r, i) => (r && r[1] === letter ? `run ${i + 1}` : null)).filter((x) => x);
        list.append(el("li", { class: letter === item.g ? "gold" : "" ,
          text: `${letter}. ${str(text)}${letter === item.g ? "  ✓ gold" : ""}${picks.length ? `  ← ${picks.join(", ")}` : ""}` }));
      }
      body.append(list);
    }
    const meta = data.fields.map((f, i) => (item.m[i] >= 0 ? `${f}: ${str(item.m[i])}` : null)).filter((x) => x);
    if (meta.length) body.append(el("p", { class: "muted", text: meta.join(" · ") }));
    item.r.forEach((r, i) => { if (r) body.append(runResult(r, i)); });
    return body;
  }

  function runResult(r, i) {
    const [v, choice, truncated, confidence, reason, response, calls, paper, rag, worked, talk] = r;
    const run = data.runs[i];
    const box = el("div", { class: "run-result" });
    const facts = [`extracted: ${choice === null ? "—" : choice}`, VERDICT_NAMES[v]];
    if (truncated) facts.push("truncated");
    if (confidence !== null) facts.push(`confidence ${confidence.toFixed(3)}`);
    box.append(el("div", {},
      el("span", { class: `chip ${v}`, text: String(i + 1) }), " ",
      el("strong", { text: `${run.model} · ${run.strategy}` }), " ",
      el("span", { text: facts.join(" · ") })));
    if (reason >= 0) box.append(el("div", { class: "muted", text: `reason: ${str(reason)}` }));
    if (paper >= 0) box.append(el("div", { class: "muted", text: `paper's parser: ${str(paper)}` }));
    if (rag) box.append(retrievalView(rag));
    if (worked !== undefined && worked >= 0) {
      box.append(el("div", { class: "role", text: "worked calculation" }),
        el("pre", { class: "text calculation", text: str(worked) }));
    }
    if (talk) box.append(dialogueView(talk));
    if (!calls.length && response >= 0) {
      box.append(el("div", { class: "role", text: "response" }), el("pre", { class: "text", text: str(response) }));
    }
    calls.forEach((c, k) => box.append(callView(data.calls[c], k, calls.length)));
    return box;
  }

  // An interactive consultation: [stop, timeout, [[question, reply, refused, confidence,
  // choice before asking], ...]].
  function dialogueView([stop, timeout, turns]) {
    const view = el("div", { class: "dialogue" });
    view.append(el("div", { class: "role", text: `dialogue: ${turns.length} question${turns.length === 1 ? "" : "s"}, stopped: ${str(stop)}${timeout ? " (timeout)" : ""}` }));
    const list = el("ol", { class: "turns" });
    for (const [question, reply, refused, confidence, choice] of turns) {
      const facts = [];
      if (confidence !== null && confidence !== undefined) facts.push(`confidence ${confidence.toFixed(2)}`);
      if (choice !== null && choice !== undefined) facts.push(`choice so far ${choice}`);
      list.append(el("li", {},
        el("div", { text: `Doctor: ${str(question)}` }),
        el("pre", { class: refused ? "text muted" : "text", text: `Patient: ${str(reply)}` }),
        facts.length ? el("div", { class: "muted", text: facts.join(" · ") }) : null));
    }
    view.append(list);
    return view;
  }

  // Retrieval: snippets as [table row, score, marks]; marks 1 = shown to the model (cited),
  // 2 = named by the reasoning (referenced). Texts render only when a snippet is opened.
  const SHOWN = 1, REFERENCED = 2;

  function retrievalView(rag) {
    const view = el("div", { class: "retrieval" });
    if (rag.k) view.append(snippetList(rag.k, "retrieved"));
    if (rag.u) {
      const rounds = el("ol", { class: "rounds" });
      for (const [votes, entropy, queries, shown] of rag.u) {
        const facts = [`votes ${str(votes) || "—"}`];
        if (entropy !== null && entropy !== undefined) facts.push(`entropy ${entropy.toFixed(3)}`);
        facts.push(`${shown.length} snippet${shown.length === 1 ? "" : "s"} shown`);
        const round = el("li", { text: facts.join(" · ") });
        if (queries.length) {
          round.append(el("div", { class: "muted", text: `searched: ${queries.map(str).join(" | ")}` }));
        }
        rounds.append(round);
      }
      view.append(el("div", { class: "role", text: "rounds" }), rounds);
    }
    if (rag.f) {
      view.append(el("div", { class: "role", text: `follow-up queries (${rag.f.length})` }));
      rag.f.forEach(([query, answer, snippets], n) => {
        const pair = el("div", { class: "follow-up" },
          el("div", { text: `${n + 1}. ${str(query) || ""}` }),
          el("pre", { class: "text", text: str(answer) || "" }));
        if (snippets.length) pair.append(snippetList(snippets, "shown"));
        view.append(pair);
      });
    }
    if (rag.ms !== undefined) view.append(el("div", { class: "muted", text: `retrieval ${rag.ms.toFixed(1)} ms` }));
    return view;
  }

  function snippetList(snippets, verb) {
    const shown = snippets.filter((x) => x[2] & SHOWN).length;
    const named = snippets.filter((x) => x[2] & REFERENCED).length;
    const label = [`${snippets.length} snippet${snippets.length === 1 ? "" : "s"} ${verb}`];
    if (verb !== "shown") label.push(`${shown} cited (shown to the model)`);
    label.push(`${named} referenced`);
    const view = el("details", { class: "snippets" }, el("summary", { text: label.join(" · ") }));
    view.addEventListener("toggle", () => {
      if (!view.open || view.childElementCount > 1) return;
      const list = el("ol", { class: "snippet-list" });
      snippets.forEach((x, rank) => list.append(snippetView(x, rank)));
      view.append(list);
    });
    return view;
  }

  function snippetView([row, score, marks], rank) {
    const [corpus, id, title, text, start, end] = data.snippets[row];
    const badges = el("span", { class: "marks" });
    if (marks & SHOWN) badges.append(el("span", { class: "mark cited", title: "shown to the model", text: "cited" }), " ");
    if (marks & REFERENCED) badges.append(el("span", { class: "mark referenced", title: "named by the answer's reasoning", text: "referenced" }), " ");
    const summary = el("summary", {},
      el("span", { class: "rank", text: `#${rank + 1}` }), " ", badges,
      el("span", { class: "mono", text: str(id) }), " ",
      el("span", { text: str(title) || "(untitled)" }),
      score === null ? null : el("span", { class: "muted", text: ` · score ${score}` }),
      corpus >= 0 ? el("span", { class: "muted", text: ` · ${str(corpus)}` }) : null);
    const classes = ["snippet"];
    if (marks & SHOWN) classes.push("cited");
    if (marks & REFERENCED) classes.push("referenced");
    const item = el("li", { class: classes.join(" "), "data-snippet": str(id) });
    const view = el("details", {}, summary);
    view.addEventListener("toggle", () => {
      if (!view.open || view.childElementCount > 1) return;
      // A snippet's text is usually a slice of the prompt that showed it (stored once).
      const body = start === undefined ? str(text) : str(text).slice(start, end);
      view.append(text >= 0 ? el("pre", { class: "text", text: body })
        : el("p", { class: "muted", text: "(no text stored: no prompt showed this snippet to the model)" }));
    });
    item.append(view);
    return item;
  }

  function callView(call, k, total) {
    const [kind, messages, params, outputs] = call;
    const view = el("details", { class: "call" },
      el("summary", { text: `call ${k + 1} of ${total} (${kind})` }));
    view.open = total === 1;
    for (const [role, text] of messages) {
      view.append(el("div", { class: "role", text: ROLES[role] || role }), el("pre", { class: "text", text: str(text) }));
    }
    outputs.forEach(([text, finish], j) => {
      const label = outputs.length > 1 ? `response ${j + 1}` : "response";
      view.append(el("div", { class: "role", text: finish ? `${label} (finish: ${finish})` : label }),
        el("pre", { class: "text", text: str(text) }));
    });
    view.append(el("div", { class: "muted mono", text: `parameters: ${str(params)}` }));
    return view;
  }

  load().catch((error) => {
    $("item-count").textContent = `Could not load the items: ${error}`;
    throw error;
  });
})();
