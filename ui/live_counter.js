// Live token counts while the user types: the browser half of ui/live_counter.py.
//
// ui/live_counter.py puts js-tiktoken's Tiktoken class (ui/vendor/js-tiktoken, unchanged but for
// its one import) in front of this file and mounts the result as a components-v2 module. The
// module is imported once per page, so the loaded rank tables below survive every rerun.
//
// data (from Python): text_key (the st.text_area's key), special (count special-token text as
// special tokens), debounce_ms, max_chars, live (one entry per encoding counted here: name,
// label, url and sha256 of its .tiktoken file, the browser form of its split pattern, its special
// tokens), later (labels of the chosen encodings only the server counts).

const encoders = new Map(); // rank-file url -> Promise<Tiktoken>

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function loadEncoder(spec) {
  if (!encoders.has(spec.url)) {
    const loading = (async () => {
      const response = await fetch(new URL(spec.url, document.baseURI));
      if (!response.ok) throw new Error(`${spec.file}: HTTP ${response.status}`);
      const buffer = await response.arrayBuffer();
      // The server verified this file against data/tokenizers/SHA256SUMS before offering it;
      // where the browser can hash (a secure context: https or localhost), the download is checked too.
      if (globalThis.crypto?.subtle) {
        const digest = hex(await crypto.subtle.digest("SHA-256", buffer));
        if (digest !== spec.sha256) {
          throw new Error(`${spec.file} is altered: sha256 ${digest.slice(0, 12)}… expected ${spec.sha256.slice(0, 12)}…`);
        }
      }
      // "base64-token rank" lines to js-tiktoken's "! rank base64-token" form (one token per line).
      const lines = new TextDecoder().decode(buffer).split("\n").filter(Boolean);
      const ranks = lines.map((line) => {
        const [token, rank] = line.split(" ");
        return `! ${rank} ${token}`;
      });
      // Only the number of tokens is shown, so a special token's id is never used; any distinct id will do.
      const special = Object.fromEntries(spec.special_tokens.map((token, i) => [token, -1 - i]));
      return new Tiktoken({ pat_str: spec.pattern, special_tokens: special, bpe_ranks: ranks.join("\n") });
    })();
    loading.catch(() => encoders.delete(spec.url)); // a failed load is retried on the next render
    encoders.set(spec.url, loading);
  }
  return encoders.get(spec.url);
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
  let timer = null;
  let generation = 0;

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

  const later = data.later.length ? ` ${data.later.join(", ")}: counted when you apply (Ctrl+Enter).` : "";

  const count = async () => {
    const textarea = document.querySelector(`${field} textarea`);
    if (!textarea) return;
    const text = textarea.value;
    const mine = ++generation;
    const chars = codePoints(text);
    if (!data.live.length) {
      show("ready", chars, [], later.trim());
      return;
    }
    if (chars > data.max_chars) {
      show("paused", chars, data.live.map((spec) => [spec, "…"]),
        `Live counting pauses above ${data.max_chars.toLocaleString("en-US")} characters; counts follow when you apply.${later}`);
      return;
    }
    let tokenizers;
    try {
      if (data.live.some((spec) => !encoders.has(spec.url))) show("loading", chars, data.live.map((spec) => [spec, "…"]), "Loading tokenizers…");
      tokenizers = await Promise.all(data.live.map(loadEncoder));
    } catch (error) {
      if (mine === generation) show("error", chars, [], `Live counting is unavailable (${error.message}); counts follow when you apply.`);
      return;
    }
    if (mine !== generation) return; // a newer keystroke has started its own count
    const counted = data.live.map((spec, i) => {
      const ids = data.special ? tokenizers[i].encode(text, "all", []) : tokenizers[i].encode(text, [], []);
      return [spec, ids.length.toLocaleString("en-US")];
    });
    show("ready", chars, counted, `tokens, counted in your browser as you type.${later}`);
  };

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
    clearTimeout(timer);
    generation++;
  };
}
