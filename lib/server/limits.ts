import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { WireErrorCode } from "../protocol.js";
import { WireError } from "./errors.js";
import { refuse } from "./respond.js";

/**
 * The server's bounds, so one tab (or one script) cannot starve the others: a message
 * rate per socket, a bounded number of runs per sheet and per server, a connection cap
 * per client address and in total, and a minimum upload rate. Each is one small
 * mechanism applied where every request or message passes, not a check per route.
 */

/** A rate: `perSecond` on average, up to `burst` at once. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * A token bucket: `burst` tokens, refilled continuously at `perSecond`. Each message
 * takes one; an empty bucket refuses until it refills.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: Rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = rate.burst;
    this.at = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((t - this.at) / 1000) * this.rate.perSecond);
    this.at = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token. */
  retryAfterMs(): number {
    return Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000);
  }
}

/**
 * Runs in progress (waiting for a slot or executing), per sheet and in total. A run
 * takes a place when it is accepted and gives it back when it finishes; past either
 * bound the run is refused with `E_RUN_QUEUE_FULL`, before anything starts.
 */
export class RunQueue {
  private total = 0;
  private readonly perSheet = new Map<string, number>();

  constructor(
    readonly maxTotal: number,
    readonly maxPerSheet: number,
  ) {}

  /** Runs in progress: on one sheet, or on the whole server. */
  size(sheetId?: string): number {
    return sheetId === undefined ? this.total : (this.perSheet.get(sheetId) ?? 0);
  }

  /**
   * Takes a place for one run on `sheetId` (none for a REST call, which has no sheet);
   * returns the function that gives it back (idempotent).
   */
  enter(sheetId: string | undefined): () => void {
    const onSheet = sheetId === undefined ? 0 : (this.perSheet.get(sheetId) ?? 0);
    if (sheetId !== undefined && onSheet >= this.maxPerSheet) {
      throw new WireError(
        WireErrorCode.RUN_QUEUE_FULL,
        `This sheet already has ${onSheet} runs in progress (the limit is ${this.maxPerSheet}). Wait for some to finish, or cancel them.`,
        { limit: this.maxPerSheet, scope: "sheet" },
      );
    }
    if (this.total >= this.maxTotal) {
      throw new WireError(
        WireErrorCode.RUN_QUEUE_FULL,
        `The server already has ${this.total} runs in progress (the limit is ${this.maxTotal}). Try again when some have finished.`,
        { limit: this.maxTotal, scope: "server" },
      );
    }
    this.total++;
    if (sheetId !== undefined) this.perSheet.set(sheetId, onSheet + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.total--;
      if (sheetId === undefined) return;
      const n = (this.perSheet.get(sheetId) ?? 1) - 1;
      if (n > 0) this.perSheet.set(sheetId, n);
      else this.perSheet.delete(sheetId);
    };
  }
}

/**
 * Open TCP connections (HTTP keep-alive and WebSockets alike), per client address and in
 * total. A connection past either cap gets a 503 and is closed before any request on it
 * is read. Behind a reverse proxy every client shares the proxy's address: raise
 * `maxConnectionsPerIp` there.
 */
export class ConnectionCap {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly refused = new WeakSet<Socket>();

  constructor(
    readonly maxTotal: number,
    readonly maxPerIp: number,
  ) {}

  /** Counts a new connection, or refuses it (answering 503 and closing it). */
  admit(socket: Socket): boolean {
    const ip = clientAddress(socket);
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp || this.total >= this.maxTotal) {
      this.refused.add(socket);
      const scope = n >= this.maxPerIp ? `from one address (${this.maxPerIp})` : `in total (${this.maxTotal})`;
      const text = `E_TOO_MANY_CONNECTIONS: this server has as many connections open ${scope} as it accepts. Close some tabs, or try again shortly.`;
      socket.on("error", () => socket.destroy());
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
      return false;
    }
    this.total++;
    this.perIp.set(ip, n + 1);
    socket.once("close", () => {
      this.total--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    });
    return true;
  }

  /** Whether this connection was refused (nothing on it is served). */
  isRefused(socket: Socket): boolean {
    return this.refused.has(socket);
  }

  /** Connections open now, in total or from one address. */
  open(ip?: string): number {
    return ip === undefined ? this.total : (this.perIp.get(ip) ?? 0);
  }
}

/** The client's address, IPv4-mapped IPv6 (`::ffff:1.2.3.4`) spelt as IPv4. */
function clientAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? "?";
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** How slowly a request body may arrive: `minBytesPerSecond` on average, once `graceMs` have passed. */
export interface BodyRate {
  graceMs: number;
  minBytesPerSecond: number;
}

/**
 * Watches a request body arrive and answers 408 (closing the connection) when it is too
 * slow: after `graceMs`, the average rate since the headers must be at least
 * `minBytesPerSecond`. So a client that trickles one byte a second (slowloris) is cut
 * off, while a large upload on a slow but real link is not. Bytes are read off the
 * socket's counter, so the body stream itself is left alone for its handler.
 */
export function watchBody(req: IncomingMessage, res: ServerResponse, rate: BodyRate): void {
  const socket = req.socket;
  const start = performance.now();
  const base = socket.bytesRead;
  const stop = () => clearInterval(timer);
  const timer = setInterval(
    () => {
      if (req.complete || res.headersSent || socket.destroyed) return stop();
      const elapsed = performance.now() - start;
      if (elapsed < rate.graceMs) return;
      const received = socket.bytesRead - base;
      if (received >= (rate.minBytesPerSecond * elapsed) / 1000) return;
      stop();
      res.setHeader("Connection", "close");
      refuse(res, 408, `The request body arrived too slowly (${received} bytes in ${Math.round(elapsed / 1000)} s; at least ${rate.minBytesPerSecond} bytes/s are needed).`);
    },
    Math.max(10, Math.min(1000, rate.graceMs / 4)),
  );
  timer.unref();
  req.once("end", stop);
  res.once("close", stop);
}
