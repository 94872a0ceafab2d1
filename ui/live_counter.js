// Live token counts while the user types: the browser half of ui/live_counter.py.
//
// ui/live_counter.py mounts this file as a components-v2 module, with WORKER_SOURCE defined in
// front of it: js-tiktoken and ui/live_counter_worker.js, which load the rank files and count in a
// worker, off the main thread. The module is imported once per page, so the worker and the rank
// tables it has loaded survive every rerun.
//
// data (from Python): text_key (the st.text_area's key), special (count special-token text as
// special tokens), debounce_ms, max_chars, live (one entry per encoding counted here: name,
// label, url, format and sha256 of its rank file, the browser form of its split pattern, its
// special tokens), later (labels of the chosen encodings only the server counts).

let worker = null; // one per page, started on the first count
let broken = null; // why the worker could not start or run; every count then says so
let asked = 0; // id of the last count asked of the worker
const answers = new Map(); // count id -> [resolve(results), the encodings asked]
const listeners = new Set(); // called when a rank file has loaded or failed

const unavailable = (live) => live.map((spec) => ({ url: spec.url, error: broken }));

function counter() {
  if (worker || broken) return worker;
  try {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    worker = new Worker(url, { type: "module" });
  } catch (error) {
    // no Worker at all, or a policy that forbids blob: workers (CSP worker-src): counts follow on apply
    broken = `the counting worker could not start: ${error.message || error}`;
    return null;
  }
  worker.onmessage = ({ data: message }) => {
    if (message.type === "settled") {
      for (const listener of listeners) listener();
      return;
    }
    answers.get(message.id)?.[0](message.results);
    answers.delete(message.id);
  };
  // a browser without module workers, or a worker that failed: the counts follow on apply
  worker.onerror = (event) => {
    broken = `the counting worker failed${event.message ? `: ${event.message}` : ""}`;
    for (const [resolve, live] of answers.values()) resolve(unavailable(live));
    answers.clear();
  };
  return worker;
}

function countInWorker(text, special, live) {
  const started = counter();
  if (broken || !started) return Promise.resolve(unavailable(live));
  const id = ++asked;
  return new Promise((resolve) => {
    answers.set(id, [resolve, live]);
    started.postMessage({ type: "count", id, text, special, live });
  });
}

function codePoints(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export default function ({ data, parentElement }) {
  const root = parentElement.querySelector(".live-counter");
  const items = root.querySelector(".items");
  const note = root.querySelector(".note");
  const field = `.st-key-${data.text_key}`;
  const later = data.later.length ? ` ${data.later.join(", ")}: counted when you apply (Ctrl+Enter).` : "";
  let timer = null;
  let generation = 0;
  // the worker fetches by absolute URL (a worker's own base is its blob URL)
  const live = data.live.map((spec) => ({ ...spec, url: new URL(spec.url, document.baseURI).href }));
  if (live.length) counter()?.postMessage({ type: "retry" }); // a file that failed to load is tried again

  const show = (status, chars, entries, message) => {
    root.dataset.status = status;
    root.dataset.chars = String(chars);
    items.replaceChildren(
      ...entries.map(([spec, value]) => {
        const item = document.createElement("span");
        item.className = "count";
        item.dataset.encoding = spec.name;
        const figure = document.createElement("b");
        figure.textContent = value;
        item.append(`${spec.label}: `, figure);
        return item;
      }),
    );
    note.textContent = message;
  };

  const count = () => {
    const textarea = document.querySelector(`${field} textarea`);
    if (!textarea) {
      // the component can be drawn before the text area it counts: look again shortly, or its
      // line would stay empty until a keystroke (nothing else asks for a count)
      clearTimeout(timer);
      timer = setTimeout(count, 100);
      return;
    }
    const text = textarea.value;
    const mine = ++generation;
    const chars = codePoints(text);
    if (!data.live.length) {
      show("ready", chars, [], later.trim());
      return;
    }
    if (chars > data.max_chars) {
      const limit = data.max_chars.toLocaleString("en-US");
      show("paused", chars, data.live.map((spec) => [spec, "…"]),
        `Live counting pauses above ${limit} characters; counts follow when you apply.${later}`);
      return;
    }
    // Each figure appears as soon as its tokenizer has loaded; the others follow (the worker says
    // "settled" when a file has loaded or failed, and the count is asked again).
    countInWorker(text, data.special, live).then((results) => {
      if (mine !== generation) return; // a newer keystroke's count is on its way
      const entries = live.map((spec, i) => {
        const result = results[i];
        if (result.count !== undefined) return [spec, result.count.toLocaleString("en-US")];
        return [spec, result.error ? "—" : "…"];
      });
      const waiting = live.filter((_, i) => results[i].waiting);
      const broken = live.map((spec, i) => [spec, results[i].error]).filter(([, error]) => error);
      let message = "tokens, counted in your browser as you type.";
      if (waiting.length) message += ` Loading ${waiting.map((spec) => spec.label).join(", ")}…`;
      for (const [spec, error] of broken) message += ` ${spec.label} cannot count here (${error}); its count follows when you apply.`;
      show(waiting.length ? "loading" : broken.length ? "error" : "ready", chars, entries, message + later);
    });
  };

  const settled = () => {
    if (root.dataset.status === "loading") count();
  };
  listeners.add(settled);

  const onInput = (event) => {
    if (!event.target?.closest?.(field)) return;
    root.dataset.status = "typing";
    clearTimeout(timer);
    timer = setTimeout(count, data.debounce_ms);
  };
  document.addEventListener("input", onInput, true);
  count();
  return () => {
    document.removeEventListener("input", onInput, true);
    listeners.delete(settled);
    clearTimeout(timer);
    generation++;
  };
}
