// Live token counts while the user types: the browser half of ui/live_counter.py.
//
// ui/live_counter.py puts js-tiktoken's Tiktoken class (ui/vendor/js-tiktoken, unchanged but for
// its one import) in front of this file and mounts the result as a components-v2 module. The
// module is imported once per page, so the loaded rank tables below survive every rerun.
//
// data (from Python): text_key (the st.text_area's key), special (count special-token text as
// special tokens), debounce_ms, max_chars, live (one entry per encoding counted here: name,
// label, url, format and sha256 of its rank file, the browser form of its split pattern, its
// special tokens), later (labels of the chosen encodings only the server counts).

const loads = new Map(); // rank-file url -> Promise<Tiktoken>
const ready = new Map(); // rank-file url -> Tiktoken, once loaded
const failed = new Map(); // rank-file url -> why it did not load; retried on the next mount

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function fetchEncoder(spec) {
  // The URL names the file's SHA-256, so a copy in the browser's cache is the right one: reuse it
  // across visits even though Streamlit sends no freshness for component files.
  const response = await fetch(new URL(spec.url, document.baseURI), { cache: "force-cache" });
  if (!response.ok) throw new Error(`${spec.file}: HTTP ${response.status}`);
  const buffer = await response.arrayBuffer();
  // The server verified this file (its SHA-256) before offering it; where the browser can hash
  // (a secure context: https or localhost), the download is checked against the same hash.
  if (globalThis.crypto?.subtle) {
    const digest = hex(await crypto.subtle.digest("SHA-256", buffer));
    if (digest !== spec.sha256) {
      throw new Error(`${spec.file} is altered: sha256 ${digest.slice(0, 12)}… expected ${spec.sha256.slice(0, 12)}…`);
    }
  }
  // To js-tiktoken's "! rank base64-token" lines (one token per line).
  const text = new TextDecoder().decode(buffer);
  let ranks;
  if (spec.format === "tekken") {
    // As llm_calc/tokenizers.py reads Tekken: the vocabulary's first default_vocab_size minus
    // default_num_special_tokens entries are the ranks; special tokens are never parsed from text.
    const { config, vocab } = JSON.parse(text);
    const inner = config.default_vocab_size - config.default_num_special_tokens;
    ranks = vocab.slice(0, inner).map((entry) => `! ${entry.rank} ${entry.token_bytes}`);
  } else {
    // "base64-token rank" lines
    ranks = text.split("\n").filter(Boolean).map((line) => {
      const [token, rank] = line.split(" ");
      return `! ${rank} ${token}`;
    });
  }
  // Only the number of tokens is shown, so a special token's id is never used; any distinct id will do.
  const special = Object.fromEntries(spec.special_tokens.map((token, i) => [token, -1 - i]));
  return new Tiktoken({ pat_str: spec.pattern, special_tokens: special, bpe_ranks: ranks.join("\n") });
}

function load(spec) {
  if (!loads.has(spec.url)) {
    const loading = fetchEncoder(spec);
    loading.then(
      (encoder) => ready.set(spec.url, encoder),
      (error) => failed.set(spec.url, error.message),
    );
    loads.set(spec.url, loading);
  }
  return loads.get(spec.url);
}

const MEMO_PIECES = 100_000; // remembered piece counts per tokenizer before the memo starts afresh
const memos = new Map(); // Tiktoken -> Map(piece -> tokens)

// Tiktoken.encode's loop (the vendored chunk above, in this same module), counting instead of
// collecting ids, with each piece's count remembered: a keystroke changes one piece and the
// others are looked up, so a count does not redo the merges (quadratic in a piece's length) of
// the whole text. Special tokens are matched as encode(text, "all", []) matches them.
function countTokens(encoder, text, special) {
  if (!memos.has(encoder)) memos.set(encoder, new Map());
  const memo = memos.get(encoder);
  if (memo.size > MEMO_PIECES) memo.clear();
  const names = Object.keys(encoder.specialTokens);
  const specials = special && names.length ? Tiktoken.specialTokenRegex(names) : null;
  const pieces = new RegExp(encoder.patStr, "ug");
  let total = 0;
  let start = 0;
  while (true) {
    let next = null;
    if (specials) {
      specials.lastIndex = start;
      next = specials.exec(text);
    }
    const end = next ? next.index : text.length;
    for (const match of text.substring(start, end).matchAll(pieces)) {
      let n = memo.get(match[0]);
      if (n === undefined) {
        const bytes = encoder.textEncoder.encode(match[0]);
        n = encoder.rankMap.has(bytes.join(",")) ? 1 : bytePairEncode(bytes, encoder.rankMap).length;
        memo.set(match[0], n);
      }
      total += n;
    }
    if (!next) return total;
    total += 1; // the special token
    start = next.index + next[0].length;
  }
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
  for (const url of failed.keys()) loads.delete(url); // a file that failed to load is tried again
  failed.clear();

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
    if (!textarea) return;
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
    // Each figure appears as soon as its tokenizer has loaded; the others follow.
    const waiting = data.live.filter((spec) => !ready.has(spec.url) && !failed.has(spec.url));
    const again = () => mine === generation && count();
    for (const spec of waiting) load(spec).then(again, again);
    const entries = data.live.map((spec) => {
      const encoder = ready.get(spec.url);
      if (!encoder) return [spec, failed.has(spec.url) ? "—" : "…"];
      return [spec, countTokens(encoder, text, data.special).toLocaleString("en-US")];
    });
    const broken = data.live.filter((spec) => failed.has(spec.url));
    let message = "tokens, counted in your browser as you type.";
    if (waiting.length) message += ` Loading ${waiting.map((spec) => spec.label).join(", ")}…`;
    for (const spec of broken) message += ` ${spec.label} cannot count here (${failed.get(spec.url)}); its count follows when you apply.`;
    show(waiting.length ? "loading" : broken.length ? "error" : "ready", chars, entries, message + later);
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
