/**
 * Gradio's queue, protocol `sse_v3`, as gradio 6.25's `queueing.py` and `routes.py` run
 * it: `POST queue/join` answers `{event_id}` and queues the job; one SSE stream per
 * `session_hash` (`GET queue/data`) carries every message of that session's jobs:
 * `estimation` (on join, and as the queue moves), `process_starts`, `progress`,
 * `process_generating` (full values first, then diffs), `process_completed`, a
 * `heartbeat` every 15 s, and `close_stream` once the session has nothing pending.
 * Messages sent before the stream opens are kept for it.
 *
 * Each endpoint runs one job at a time, like a Gradio event's default
 * `concurrency_limit=1`; the others wait their turn in order. Cancel is per session and
 * endpoint, as Gradio's `cancel_tasks({session_fn})`: the named job completes with an
 * empty output; other running jobs of that session on that endpoint are stopped too
 * (where Gradio leaves them hanging, they complete with an error, so no client waits
 * forever). A session whose stream drops loses its jobs (Gradio's `clean_events`).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { ErrorCode } from "../../graph/index.js";
import { callEvent } from "./call-events.js";
import type { Endpoint } from "./endpoints.js";

/** How often an open stream gets a `heartbeat` (Gradio's `GRADIO_HEARTBEAT_INTERVAL`); tests shorten it. */
export const queueTiming = { heartbeatMs: 15_000, idleSessionMs: 60_000 };

/** An SSE answer's headers (Starlette's StreamingResponse adds the charset to a `text/` media type). */
const SSE_HEADERS = { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" };

/** Jobs waiting per endpoint before a join is refused with 503 ("Queue is full"). */
export const MAX_QUEUE = 256;
/** Sessions held at once (each is a few small maps until its stream takes its messages). */
export const MAX_SESSIONS = 10_000;
/** Bytes of messages a session may hold for a stream that has not opened; past it its jobs are cancelled. */
export const MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/** One entry of a `progress` message (server_messages.py ProgressUnit). */
export interface ProgressUnit {
  index: number | null;
  length: number | null;
  unit: string | null;
  progress: number | null;
  desc: string | null;
}

export interface JobReport {
  progress(unit: ProgressUnit): void;
  /** A partial result of the endpoint's outputs, in order. */
  partial(data: unknown[]): void;
}

/** Runs one job: resolves with the endpoint's outputs in order; rejects with a message for the caller. */
export type JobRunner = (endpoint: Endpoint, data: unknown[], o: { root: string; signal: AbortSignal; report: JobReport }) => Promise<unknown[]>;

interface Job {
  id: string;
  /** The session whose stream carries the job's messages; none for a `run/` call. */
  session: Session | undefined;
  /** Where a `run/` call's messages go instead (it answers once, with no stream). */
  sink?: (msg: Record<string, unknown>) => void;
  /** Joined through `call/`: generating messages carry full values, not diffs (blocks.py simple_format). */
  simple: boolean;
  endpoint: Endpoint;
  data: unknown[];
  root: string;
  state: "queued" | "running" | "done";
  abort: AbortController;
  /**
   * Runs in the context the job was joined in: on a Space, the joining visitor's token
   * scope (see `withHfToken`), whichever job's end starts it.
   */
  within: <R>(fn: () => R) => R;
}

interface Session {
  hash: string;
  /** Messages for a stream that has not opened yet, with their `queue/data` line. */
  buffer: Array<{ msg: Record<string, unknown>; line: string }>;
  bytes: number;
  pending: Map<string, Job>;
  /** Finished jobs whose completion waits in the buffer (routes.py keeps them in pending_event_ids_session until sent). */
  unread: Set<string>;
  res?: ServerResponse;
  /** How the open stream writes a message: `queue/data` lines, or `call/` events (undefined: not written). */
  format?: (msg: Record<string, unknown>) => string | undefined;
  heartbeat?: ReturnType<typeof setInterval>;
  idle?: ReturnType<typeof setTimeout>;
}

interface Lane {
  waiting: Job[];
  running: Job | undefined;
  /** Mean seconds of the endpoint's finished runs, once there is one (Gradio's `avg_time`). */
  avg: number | undefined;
  runs: number;
}

/** A refusal of a join, as Gradio answers it: `{detail}` with this status. */
export class JoinError extends Error {
  constructor(
    readonly status: number,
    readonly detail: unknown,
  ) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
}

export class GradioQueue {
  private readonly sessions = new Map<string, Session>();
  private readonly jobs = new Map<string, Job>();
  private readonly lanes = new Map<number, Lane>();
  private closed = false;
  /** Open `heartbeat/<session>` streams. */
  private readonly beats = new Set<ServerResponse>();

  constructor(
    private readonly endpoints: Endpoint[],
    private readonly runner: JobRunner,
    /** JSON text of a message (the server's encoder, which redacts the HF token). */
    private readonly encode: (o: object) => string,
  ) {}

  /** `POST queue/join`: queues a job; returns its event id. */
  join(body: unknown, root: string): string {
    const b = body as { data?: unknown; fn_index?: unknown; session_hash?: unknown };
    if (!b || typeof b !== "object" || !Array.isArray(b.data)) throw new JoinError(422, [{ type: "missing", loc: ["body", "data"], msg: "Field required", input: body ?? null }]);
    if (typeof b.session_hash !== "string" || !b.session_hash) throw new JoinError(400, "Session hash not found.");
    if (b.session_hash.length > 128) throw new JoinError(400, `A session_hash is at most 128 characters (got ${b.session_hash.length}).`);
    if (b.fn_index === undefined || b.fn_index === null) throw new JoinError(400, "No function index provided.");
    const endpoint = this.endpoints.find((e) => e.index === b.fn_index);
    if (!endpoint) {
      const names = this.endpoints.map((e) => `${e.index} (/${e.leaf})`).join(", ");
      throw new JoinError(400, `No endpoint with fn_index ${JSON.stringify(b.fn_index).slice(0, 40)}; this app has ${names || "none"}.`);
    }
    if (b.data.length > endpoint.parameters.length) {
      throw new JoinError(422, `Endpoint /${endpoint.leaf} takes ${endpoint.parameters.length} value(s) (${endpoint.parameters.map((p) => p.name).join(", ")}); got ${b.data.length}.`);
    }
    return this.enqueue(endpoint, b.data, b.session_hash, root, false);
  }

  /**
   * `POST call/<api_name>` (routes.py simple_predict_post): the same queue, with an
   * optional `session_hash`; without one the job's own id is its session (queueing.py
   * `Event`). Its messages are read with {@link callStream}.
   */
  callJoin(endpoint: Endpoint, data: unknown[], sessionHash: string | undefined, root: string): string {
    if (sessionHash !== undefined && sessionHash.length > 128) throw new JoinError(400, `A session_hash is at most 128 characters (got ${sessionHash.length}).`);
    checkCount(endpoint, data);
    return this.enqueue(endpoint, data, sessionHash, root, true);
  }

  /**
   * `POST run/<api_name>`: the job waits its turn on the endpoint's lane like any other
   * (one run at a time per endpoint's sheet) but has no session and no stream. Resolves
   * with the output of the first `process_generating` (a generator answers with its first
   * chunk, `is_generating: true`, and stops, as routes.py `predict` returns after one
   * step of the iterator) or of `process_completed`.
   */
  direct(endpoint: Endpoint, data: unknown[], root: string): Promise<{ success: boolean; output: Record<string, unknown> }> {
    checkCount(endpoint, data);
    const lane = this.lane(endpoint.index);
    if (lane.waiting.length >= MAX_QUEUE) throw new JoinError(503, `Queue is full. Max size is ${MAX_QUEUE} and size is ${lane.waiting.length}.`);
    return new Promise((resolve) => {
      const job = this.newJob(endpoint, data, undefined, root, false);
      job.sink = (msg) => {
        if (msg.msg === "process_generating") {
          resolve({ success: true, output: msg.output as Record<string, unknown> });
          // The iterator is left where it stopped: nothing asks for its next chunk.
          this.finish(job);
        } else if (msg.msg === "process_completed") {
          resolve({ success: msg.success === true, output: msg.output as Record<string, unknown> });
        }
      };
      this.jobs.set(job.id, job);
      lane.waiting.push(job);
      queueMicrotask(() => this.next(lane));
    });
  }

  /**
   * `GET call/<api_name>/<event_id>` (routes.py simple_predict_get): the stream of the
   * event's session, each message as `event: <kind>` and `data: <json.dumps>`. The
   * session is the event's while it is held, else the one still holding its unread
   * completion, else the id itself (a caller who sent no session_hash); none of these is
   * the 404 Gradio raises inside the stream: `event: error`, `data: "404: Not Found"`.
   */
  callStream(res: ServerResponse, eventId: string): void {
    let s = this.jobs.get(eventId)?.session;
    if (!s) for (const x of this.sessions.values()) if (x.unread.has(eventId)) s = x;
    s ??= this.sessions.get(eventId);
    res.writeHead(200, SSE_HEADERS);
    if (!s) return void res.end(callEvent(this.encode, { msg: "unexpected_error", event_id: null, message: "404: Not Found", session_not_found: true, success: false }));
    this.attach(s, res, (m) => callEvent(this.encode, m));
  }

  private newJob(endpoint: Endpoint, data: unknown[], session: Session | undefined, root: string, simple: boolean): Job {
    return { id: randomBytes(16).toString("hex"), session, simple, endpoint, data, root, state: "queued", abort: new AbortController(), within: AsyncLocalStorage.snapshot() };
  }

  private enqueue(endpoint: Endpoint, data: unknown[], sessionHash: string | undefined, root: string, simple: boolean): string {
    const lane = this.lane(endpoint.index);
    if (lane.waiting.length >= MAX_QUEUE) throw new JoinError(503, `Queue is full. Max size is ${MAX_QUEUE} and size is ${lane.waiting.length}.`);
    if ((sessionHash === undefined || !this.sessions.has(sessionHash)) && this.sessions.size >= MAX_SESSIONS) throw new JoinError(503, `Queue is full. Max size is ${MAX_SESSIONS} sessions.`);
    const job = this.newJob(endpoint, data, undefined, root, simple);
    const session = this.session(sessionHash ?? job.id);
    job.session = session;
    this.jobs.set(job.id, job);
    session.pending.set(job.id, job);
    lane.waiting.push(job);
    this.estimations(lane);
    // Answer the join before anything runs: the client opens the stream on the answer.
    queueMicrotask(() => this.next(lane));
    return job.id;
  }


  /** `GET queue/data?session_hash=`: the session's stream. */
  stream(res: ServerResponse, hash: string): void {
    res.writeHead(200, SSE_HEADERS);
    const s = this.sessions.get(hash);
    if (!s || (s.pending.size === 0 && s.buffer.length === 0)) {
      // routes.py: the 404 is raised inside the already-200 stream.
      return void res.end(this.line({ msg: "unexpected_error", event_id: null, message: "404: Not Found", session_not_found: true, success: false }));
    }
    this.attach(s, res, this.lineFormat);
  }

  /**
   * Makes `res` the session's stream: what waited in the buffer goes out, then each
   * message as it comes, and a heartbeat each interval. It ends once a completion has
   * gone out and nothing is pending (routes.py queue_data_helper), or with nothing
   * pending from the start for `queue/data`; a `call/` stream with nothing to send stays
   * open on its heartbeats, as Gradio's does for a session it still holds.
   */
  private attach(s: Session, res: ServerResponse, format: (m: Record<string, unknown>) => string | undefined): void {
    if (s.res && !s.res.writableEnded) s.res.end();
    clearTimeout(s.idle);
    clearInterval(s.heartbeat);
    s.res = res;
    s.format = format;
    let completed = false;
    for (const { msg, line } of s.buffer.splice(0)) {
      const text = format === this.lineFormat ? line : format(msg);
      if (text !== undefined) res.write(text);
      if (msg.msg === "process_completed") completed = true;
    }
    s.unread.clear();
    s.bytes = 0;
    if (s.pending.size === 0 && (completed || format === this.lineFormat)) return this.endStream(s);
    s.heartbeat = setInterval(() => this.push(s, { msg: "heartbeat", event_id: null }), queueTiming.heartbeatMs);
    res.on("close", () => {
      if (s.res !== res) return;
      clearInterval(s.heartbeat);
      s.res = undefined;
      s.format = undefined;
      // The client went away with jobs pending: they are dropped (queueing.py clean_events).
      if (!res.writableEnded) for (const job of [...s.pending.values()]) this.stop(job, "The caller disconnected.");
      this.idleLater(s);
    });
  }

  /**
   * `GET heartbeat/<session_hash>`: `data: ALIVE` now and at every heartbeat interval,
   * until the client goes. Python's `gradio_client` holds one open for its whole life
   * (and reconnects at once when it ends). daggr keeps no per-session state, so closing
   * it changes nothing.
   */
  heartbeat(res: ServerResponse): void {
    res.writeHead(200, SSE_HEADERS);
    res.write("data: ALIVE\n\n");
    const beat = setInterval(() => res.write("data: ALIVE\n\n"), queueTiming.heartbeatMs);
    this.beats.add(res);
    res.on("close", () => {
      clearInterval(beat);
      this.beats.delete(res);
    });
  }

  /**
   * `POST /cancel` `{event_id, session_hash, fn_index}`: stops every job of that session
   * on that endpoint; the named one completes with `output: {}`.
   */
  cancel(body: unknown): void {
    const b = body as { event_id?: unknown; session_hash?: unknown; fn_index?: unknown };
    const s = typeof b?.session_hash === "string" ? this.sessions.get(b.session_hash) : undefined;
    if (!s) return;
    for (const job of [...s.pending.values()]) {
      if (job.endpoint.index !== b.fn_index) continue;
      if (job.id === b.event_id) this.finish(job, { msg: "process_completed", event_id: job.id, output: {}, success: true, title: null, used_cache: null, cache_duration: null, avg_time: null });
      else if (job.state === "running") this.stop(job, "Cancelled: another job of this session on this endpoint was cancelled.");
    }
  }

  /** Jobs waiting or running, on one endpoint or all. */
  size(endpoint?: number): number {
    let n = 0;
    for (const [i, lane] of this.lanes) if (endpoint === undefined || endpoint === i) n += lane.waiting.length + (lane.running ? 1 : 0);
    return n;
  }

  close(): void {
    this.closed = true;
    for (const job of [...this.jobs.values()]) this.stop(job, "The server is shutting down.");
    for (const s of this.sessions.values()) {
      clearInterval(s.heartbeat);
      clearTimeout(s.idle);
      s.res?.end();
    }
    this.sessions.clear();
    for (const res of this.beats) res.end();
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private lane(index: number): Lane {
    let lane = this.lanes.get(index);
    if (!lane) this.lanes.set(index, (lane = { waiting: [], running: undefined, avg: undefined, runs: 0 }));
    return lane;
  }

  private session(hash: string): Session {
    let s = this.sessions.get(hash);
    if (!s) this.sessions.set(hash, (s = { hash, buffer: [], bytes: 0, pending: new Map(), unread: new Set() }));
    clearTimeout(s.idle);
    return s;
  }

  /** Each waiting job's place (queueing.py broadcast_estimations). */
  private estimations(lane: Lane): void {
    lane.waiting.forEach((job, rank) => {
      const eta = lane.avg === undefined ? null : (rank + 1 + (lane.running ? 1 : 0)) * lane.avg;
      this.emit(job, { msg: "estimation", event_id: job.id, rank, queue_size: lane.waiting.length, rank_eta: eta });
    });
  }

  private next(lane: Lane): void {
    if (this.closed || lane.running) return;
    const job = lane.waiting.shift();
    if (!job) return;
    lane.running = job;
    job.state = "running";
    this.estimations(lane);
    void job.within(() => this.execute(job, lane)).finally(() => {
      lane.running = undefined;
      this.next(lane);
    });
  }

  private async execute(job: Job, lane: Lane): Promise<void> {
    const started = performance.now();
    this.emit(job, { msg: "process_starts", event_id: job.id, eta: lane.avg ?? null });
    let previous: unknown[] | undefined;
    const report: JobReport = {
      progress: (unit) => {
        if (job.state !== "running") return;
        this.emit(job, { msg: "progress", event_id: job.id, progress_data: [unit] });
      },
      partial: (data) => {
        if (job.state !== "running") return;
        // blocks.py handle_streaming_diffs: the first chunk in full, then per output a diff
        // (full values throughout for a `call/` job: simple_format).
        const sent = previous && !job.simple ? data.map((v, i) => diff(previous![i], v)) : data;
        previous = structuredClone(data);
        const seconds = (performance.now() - started) / 1000;
        this.emit(job, {
          msg: "process_generating", event_id: job.id,
          output: { data: sent, is_generating: true, duration: seconds, average_duration: lane.avg ?? seconds, render_config: null, changed_state_ids: [], used_cache: null },
          success: true, time_limit: null,
        });
      },
    };
    try {
      const data = await this.runner(job.endpoint, job.data, { root: job.root, signal: job.abort.signal, report });
      const seconds = (performance.now() - started) / 1000;
      lane.avg = ((lane.avg ?? 0) * lane.runs + seconds) / (lane.runs + 1);
      lane.runs++;
      this.finish(job, {
        msg: "process_completed", event_id: job.id,
        output: { data, is_generating: false, duration: seconds, average_duration: lane.avg, render_config: null, changed_state_ids: [], used_cache: null },
        success: true, title: null, used_cache: null, cache_duration: seconds, avg_time: lane.avg,
      });
    } catch (e) {
      this.fail(job, (e as Error)?.message ?? String(e), (e as { code?: string }).code);
    }
  }

  /**
   * The error form of `process_completed` (utils.py error_payload, as a `gr.Error` with
   * its default duration of 10 s, exceptions.py): the message, and the daggr error code
   * as its title (the client keeps it as `title`).
   */
  private fail(job: Job, message: string, code?: string): void {
    const title = code ?? "Error";
    this.finish(job, {
      msg: "process_completed", event_id: job.id,
      output: { error: message, duration: 10, visible: true, title },
      success: false, title, used_cache: null, cache_duration: null, avg_time: null,
    });
  }

  /** Aborts a job (waiting or running) and completes it with an error. */
  private stop(job: Job, why: string): void {
    if (job.state === "done") return;
    this.fail(job, why, ErrorCode.CANCELLED);
  }

  /** Ends a job: its last message (none for a `run/` call answered by its first chunk). */
  private finish(job: Job, message?: Record<string, unknown>): void {
    if (job.state === "done") return;
    const lane = this.lane(job.endpoint.index);
    const at = lane.waiting.indexOf(job);
    if (at >= 0) {
      lane.waiting.splice(at, 1);
      this.estimations(lane);
    }
    job.state = "done";
    job.abort.abort(new Error("cancelled"));
    this.jobs.delete(job.id);
    if (message) this.emit(job, message);
  }

  private line(msg: object): string {
    return `data: ${this.encode(msg)}\n\n`;
  }

  private readonly lineFormat = (msg: Record<string, unknown>): string => this.line(msg);

  /** A job's message: to its session's stream, or to a `run/` call's sink. */
  private emit(job: Job, msg: Record<string, unknown>): void {
    if (job.sink) job.sink(msg);
    else this.push(job.session!, msg);
  }

  private push(s: Session, msg: Record<string, unknown>): void {
    if (s.res && !s.res.writableEnded) {
      const text = s.format!(msg);
      if (text !== undefined) s.res.write(text);
    } else if (msg.msg !== "heartbeat") {
      const line = this.line(msg);
      s.buffer.push({ msg, line });
      s.bytes += line.length;
      if (msg.msg === "process_completed") s.unread.add(msg.event_id as string);
      if (s.bytes > MAX_BUFFER_BYTES) {
        // Nobody reads this session: stop its work rather than hold its messages without bound.
        s.buffer.length = 0;
        s.bytes = 0;
        s.unread.clear();
        for (const job of [...s.pending.values()]) if (job.state !== "done") job.abort.abort(new Error("cancelled"));
      }
    }
    if (msg.msg === "process_completed") {
      s.pending.delete(msg.event_id as string);
      if (s.pending.size === 0) {
        if (s.res && !s.res.writableEnded) this.endStream(s);
        else this.idleLater(s);
      }
    }
  }

  private endStream(s: Session): void {
    clearInterval(s.heartbeat);
    s.res!.end(s.format!({ msg: "close_stream", event_id: null }));
    s.res = undefined;
    s.format = undefined;
    this.idleLater(s);
  }

  /** Forgets a session that has had nothing pending and no stream for a while. */
  private idleLater(s: Session): void {
    clearTimeout(s.idle);
    s.idle = setTimeout(() => {
      if (s.pending.size === 0 && !s.res) this.sessions.delete(s.hash);
    }, queueTiming.idleSessionMs);
    s.idle.unref();
  }
}

/** More values than the endpoint has parameters: refused as queue/join refuses them. */
function checkCount(endpoint: Endpoint, data: unknown[]): void {
  if (data.length > endpoint.parameters.length) {
    throw new JoinError(422, `Endpoint /${endpoint.leaf} takes ${endpoint.parameters.length} value(s) (${endpoint.parameters.map((p) => p.name).join(", ")}); got ${data.length}.`);
  }
}

/** The protocol's diff of one output: `append` for a growing string, `replace` otherwise, none when equal. */
function diff(prev: unknown, next: unknown): unknown[] {
  if (JSON.stringify(prev) === JSON.stringify(next)) return [];
  if (typeof prev === "string" && typeof next === "string" && next.startsWith(prev)) return [["append", [], next.slice(prev.length)]];
  return [["replace", [], next]];
}
