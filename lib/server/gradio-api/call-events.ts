/**
 * The messages of a session as the REST "call" API streams them (gradio 6.25 routes.py
 * `simple_predict_get`): `event: <kind>` then `data: <JSON>` written as Python's
 * `json.dumps` writes it, for the kinds that API shows.
 */

/**
 * A queue message as `simple_predict_get`'s `process_msg` writes it: a completion is
 * `complete` with its output's data (or `error` with the error payload), a generating
 * message `generating` with its full values, a heartbeat `heartbeat` with `null`, an
 * unexpected error `error` with its message; undefined for the kinds it skips
 * (estimation, process_starts, progress, log, close_stream). `encode` is the server's
 * JSON encoder (it redacts the HF token).
 */
export function callEvent(encode: (o: object) => string, m: Record<string, unknown>): string | undefined {
  let event: string;
  let data: unknown;
  const output = (m.output ?? {}) as Record<string, unknown>;
  if (m.msg === "process_completed") {
    event = m.success ? "complete" : "error";
    data = m.success ? (output.data ?? null) : output;
  } else if (m.msg === "process_generating") {
    event = m.success ? "generating" : "error";
    data = m.success ? (output.data ?? null) : output;
  } else if (m.msg === "heartbeat") {
    event = "heartbeat";
    data = null;
  } else if (m.msg === "unexpected_error") {
    event = "error";
    data = m.message;
  } else return undefined;
  return `event: ${event}\ndata: ${pythonJson(encode(data as object))}\n\n`;
}

/**
 * JSON text as Python's `json.dumps` writes it (what routes.py simple_predict_get sends):
 * `", "` and `": "` between items, and every character outside printable ASCII escaped
 * as `\uXXXX` (ensure_ascii; a character past U+FFFF as its two surrogates). `text` is
 * compact JSON (`JSON.stringify`); one pass over it, no recursion.
 */
export function pythonJson(text: string): string {
  let out = "";
  let inString = false;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // an escape: its next character is part of it
      else if (c === 0x22) inString = false;
      else if (c < 0x20 || c > 0x7e) {
        out += text.slice(from, i) + "\\u" + c.toString(16).padStart(4, "0");
        from = i + 1;
      }
    } else if (c === 0x22) inString = true;
    else if (c === 0x2c || c === 0x3a) {
      out += text.slice(from, i + 1) + " ";
      from = i + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && /[0-9.eE+-]/.test(text[end]!)) end++;
      out += text.slice(from, i) + pythonNumber(text.slice(i, end));
      from = end;
      i = end - 1;
    }
  }
  return out + text.slice(from);
}

/**
 * A JSON number as Python writes it. A whole number stays as it is (Python has it as an
 * int); a fraction is a float, whose repr uses an exponent below 1e-4 with at least two
 * digits (`1e-05`), where JavaScript writes `0.00001` or `1e-7`.
 */
function pythonNumber(token: string): string {
  const n = Number(token);
  if (Number.isInteger(n) || !Number.isFinite(n) || Math.abs(n) >= 1e-4) return token;
  return n.toExponential().replace(/e([+-])(\d)$/, "e$10$2");
}
