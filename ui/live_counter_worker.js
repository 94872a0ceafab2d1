// Live token counts, the worker half: loads the rank files and counts, off the page's main thread.
//
// ui/live_counter.py puts js-tiktoken's Tiktoken class (ui/vendor/js-tiktoken, unchanged but for
// its one import) in front of this file and hands the result to ui/live_counter.js, which starts
// it as a module worker. Building a rank map (Tekken's vocabulary is 14.8 MB of JSON) and merging
// a pasted text's pieces take long enough to freeze typing if they ran on the page.
//
// Messages in: {type: "count", id, text, special, live} (live: one spec per encoding: url, file,
// format, sha256, pattern, special_tokens) and {type: "retry"} (forget failed loads). Out:
// {type: "counts", id, results: [{url, count, error, waiting}]}, and {type: "settled"} whenever a
// rank file has loaded or failed, so that the page asks again.

const loads = new Map(); // rank-file url -> Promise<Tiktoken>
const ready = new Map(); // rank-file url -> Tiktoken, once loaded
const failed = new Map(); // rank-file url -> why it did not load; retried on the next mount

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function fetchEncoder(spec) {
  // The URL names the file's SHA-256, so a copy in the browser's cache is the right one: reuse it
  // across visits even though Streamlit sends no freshness for component files.
  const response = await fetch(spec.url, { cache: "force-cache" }); // absolute: a worker has no page base
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
    ).finally(() => postMessage({ type: "settled" }));
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

onmessage = ({ data: message }) => {
  if (message.type === "retry") {
    for (const url of failed.keys()) loads.delete(url); // a file that failed to load is tried again
    failed.clear();
    return;
  }
  const results = message.live.map((spec) => {
    const encoder = ready.get(spec.url);
    if (encoder) return { url: spec.url, count: countTokens(encoder, message.text, message.special) };
    if (failed.has(spec.url)) return { url: spec.url, error: failed.get(spec.url) };
    load(spec);
    return { url: spec.url, waiting: true };
  });
  postMessage({ type: "counts", id: message.id, results });
};
