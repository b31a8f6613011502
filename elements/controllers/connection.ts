import { type ErrorCodeWire, type Outgoing, type ServerMessage, V } from "../wire.js";

/** Where the connection is; the canvas shows a pill for anything but OPEN. */
export const ConnStatus = {
  CONNECTING: "connecting",
  OPEN: "open",
  RECONNECTING: "reconnecting",
  CLOSED: "closed",
} as const;
export type ConnStatus = (typeof ConnStatus)[keyof typeof ConnStatus];

export interface ConnectionOptions {
  /** The server's base URL (http or https); the socket is `<base>/ws`. */
  server: string;
  /** Sent in `hello`; the connection keeps the latest sheet across reconnects. */
  sheet?: string;
  /** Appended as `?token=` when the server needs one (bound beyond loopback). */
  token?: string;
  onMessage(msg: ServerMessage): void;
  onStatus(status: ConnStatus, detail: { attempt: number; retryInMs?: number; error?: string }): void;
}

interface Pending {
  resolve(msg: ServerMessage): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** An error reply from the server, with its code. */
export class ServerError extends Error {
  constructor(readonly code: ErrorCodeWire, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Reconnect delay: immediate, then doubling from 250 ms up to 10 s, with jitter. */
export function backoffMs(attempt: number): number {
  if (attempt <= 0) return 0;
  const base = Math.min(10_000, 250 * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** `http://h:p/x` → `ws://h:p/ws` (wss for https). */
export function socketUrl(server: string, token?: string): string {
  const u = new URL("/ws", server);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  if (token) u.searchParams.set("token", token);
  return u.href;
}

/**
 * The WebSocket to a daggr server: says `hello` (with the current sheet) on every open,
 * reconnects with backoff for as long as it is wanted, and pairs requests with replies
 * by id. Runs belong to the server, so a reconnect loses nothing: the fresh snapshot
 * carries whatever happened meanwhile.
 */
export class Connection {
  sheet: string | undefined;
  private ws: WebSocket | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private wanted = false;
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly onWake = () => this.wakeUp();

  constructor(private readonly opts: ConnectionOptions) {
    this.sheet = opts.sheet;
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    addEventListener("online", this.onWake);
    document.addEventListener("visibilitychange", this.onWake);
    this.connect();
  }

  stop(): void {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    removeEventListener("online", this.onWake);
    document.removeEventListener("visibilitychange", this.onWake);
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000, "element removed");
    this.failPending(new Error("Connection closed."));
    this.opts.onStatus(ConnStatus.CLOSED, { attempt: this.attempt });
  }

  /** Fire and forget; dropped while disconnected (the next snapshot resyncs). */
  send(msg: Outgoing): boolean {
    if (!this.open) return false;
    this.ws!.send(JSON.stringify({ v: V, ...msg }));
    return true;
  }

  /** Sends with an id and resolves with the reply that echoes it (rejects on an `error` reply). */
  request<T extends ServerMessage = ServerMessage>(msg: Outgoing, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const id = `c${++this.seq}`;
    return new Promise<T>((resolve, reject) => {
      if (!this.open) return reject(new Error("Not connected to the daggr server."));
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`No reply to '${msg.type}' within ${timeoutMs / 1000} s.`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as Pending["resolve"], reject, timer });
      this.ws!.send(JSON.stringify({ v: V, id, ...msg }));
    });
  }

  private connect(): void {
    if (!this.wanted) return;
    const first = this.attempt === 0;
    this.opts.onStatus(first ? ConnStatus.CONNECTING : ConnStatus.RECONNECTING, { attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(socketUrl(this.opts.server, this.opts.token));
    } catch (e) {
      this.opts.onStatus(ConnStatus.CLOSED, { attempt: this.attempt, error: (e as Error).message });
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.opts.onStatus(ConnStatus.OPEN, { attempt: 0 });
      const hello: Outgoing = this.sheet ? { type: "hello", sheet: this.sheet } : { type: "hello" };
      ws.send(JSON.stringify({ v: V, id: `c${++this.seq}`, ...hello }));
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.failPending(new Error("Connection lost."));
      this.scheduleRetry();
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return;
    let msg: ServerMessage;
    try {
      msg = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    // A burst of events comes as one message: handled as the events one by one.
    if (msg.type === "events") {
      for (const event of msg.events) this.opts.onMessage({ v: msg.v, type: "event", sheetId: msg.sheetId, event });
      return;
    }
    const re = "re" in msg ? msg.re : undefined;
    const p = re ? this.pending.get(re) : undefined;
    if (p) {
      this.pending.delete(re!);
      clearTimeout(p.timer);
      if (msg.type === "error") p.reject(new ServerError(msg.code, msg.message, msg.details));
      else p.resolve(msg);
    }
    // Replies are also broadcast: a snapshot answering `sheet-switch` is still a snapshot.
    this.opts.onMessage(msg);
  }

  private scheduleRetry(): void {
    if (!this.wanted) return;
    this.attempt++;
    const delay = backoffMs(this.attempt);
    this.opts.onStatus(ConnStatus.RECONNECTING, { attempt: this.attempt, retryInMs: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Back online or back in front: retry now instead of waiting out the backoff. */
  private wakeUp(): void {
    if (!this.wanted || this.ws || document.visibilityState === "hidden") return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
