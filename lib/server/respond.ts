import type { IncomingMessage, ServerResponse } from "node:http";
import { WireErrorCode } from "../protocol.js";
import { WireError, errorPayload, statusOf } from "./errors.js";

/** Headers every response carries. */
export function baseHeaders(res: ServerResponse): void {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
}

/** Sends JSON text (already encoded and redacted by the caller). */
export function sendJson(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** A plain-text refusal: the status says it all, the text says why. */
export function refuse(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** A coded error as `{ error: { code, message, … } }` with the status its code maps to. */
export function sendError(res: ServerResponse, e: unknown, encode: (o: object) => string, status?: number): void {
  const p = errorPayload(e);
  sendJson(res, status ?? statusOf(p.code), encode({ error: { code: p.code, message: p.message, ...p.details } }));
}

/** Reads a request body up to `limit` bytes; a larger one is an error with status 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        fail(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => ok(Buffer.concat(chunks)));
    req.on("error", fail);
  });
}

export function tooLarge(limit: number): WireError & { status: number } {
  const e = new WireError(WireErrorCode.BAD_MESSAGE, `The request body is larger than this server accepts (${limit} bytes).`, { limit }) as WireError & { status: number };
  e.status = 413;
  return e;
}
