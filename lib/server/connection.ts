import type { WebSocket } from "ws";
import { DaggrError, ErrorCode, type Graph, NodeKind, inputId } from "../graph/index.js";
import { type ClientMessage, type ErrorMessage, type HistoryMessage, PROTOCOL_VERSION, WireErrorCode } from "../protocol.js";
import { WireError, errorPayload } from "./errors.js";
import { type Client, type Hub, sheetWire } from "./hub.js";
import { type Rate, type RunQueue, TokenBucket } from "./limits.js";
import { checkShape, parseRaw, validateMessage } from "./validate.js";
import type { Wire } from "./wire.js";

/** A tab that stops reading is cut off past this much unsent data; it reconnects and gets a fresh snapshot. */
const MAX_BUFFERED = 16 * 1024 * 1024;
/** Messages accepted but not handled yet, per socket; past it they are refused like a rate overflow. */
const MAX_PENDING = 256;
/** Refusals a socket gets per accepted message of its rate (and per burst); past them, it is read no faster. */
const REFUSALS_PER_MESSAGE = 10;
/** The longest a flooding socket is left unread at a time. */
const MAX_PAUSE_MS = 1000;
/**
 * A message's `id`, for a refusal's `re`: the first `"id": "<JSON string>"` in it (messages
 * are not parsed to refuse them; a client that nests an `id` key before its own gets that one).
 */
const ID_FIELD = /"id"\s*:\s*("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})){0,256}")/;

/** The server-wide bounds a connection applies. */
export interface ConnectionLimits {
  runs: RunQueue;
  messageRate: Rate | false;
  /** Runs each message's handling for this socket's visitor (on a Space: with their own HF token). */
  scope?: (fn: () => Promise<void>) => Promise<void>;
}
let counter = 0;

/**
 * One WebSocket: validates each message, applies it to the hub's session for the
 * client's sheet, and replies with an `ack` (when the message had an `id`) or a coded
 * `error`. Messages are handled one at a time in arrival order, so an edit followed by
 * a run runs on the edit. Nothing a client sends can close the server or another socket.
 *
 * Each socket has a message rate (a token bucket) and a bound on messages waiting to be
 * handled: a message past either is answered `E_TOO_MANY_MESSAGES` at once, without
 * being applied, and the socket stays open. Refusing costs little, but not nothing: a
 * socket that goes on flooding past {@link REFUSALS_PER_MESSAGE} times its rate is not
 * read for a while (TCP pushes back on the sender), so one tab's flood costs the server
 * a bounded share of its time. Runs take a place in the server's {@link RunQueue} until
 * they finish.
 */
export class Connection implements Client {
  readonly id = `c${(++counter).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  sheetId?: string;
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly bucket: TokenBucket | undefined;
  private readonly refusals: TokenBucket | undefined;
  private paused = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly hub: Hub,
    private readonly graph: Graph,
    private readonly wire: Wire,
    private readonly limits: ConnectionLimits,
  ) {
    const rate = limits.messageRate;
    this.bucket = rate ? new TokenBucket(rate) : undefined;
    this.refusals = rate ? new TokenBucket({ perSecond: rate.perSecond * REFUSALS_PER_MESSAGE, burst: rate.burst * REFUSALS_PER_MESSAGE }) : undefined;
    // Without an 'error' listener an oversize or malformed frame would throw in the
    // server process; with it, ws closes this socket (1009 / 1002) and nothing else.
    ws.on("error", () => ws.terminate());
    ws.on("close", () => hub.detach(this));
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? undefined : data.toString();
      if (this.pending >= MAX_PENDING || (this.bucket && !this.bucket.take())) return this.tooMany(text);
      this.pending++;
      const scope = limits.scope;
      this.queue = this.queue.then(() => (scope ? scope(() => this.handle(text)) : this.handle(text))).finally(() => this.pending--);
    });
  }

  send(text: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED) {
      this.ws.close(1013, "Too far behind; reconnect for a fresh snapshot.");
      return;
    }
    this.ws.send(text);
  }

  private async handle(text: string | undefined): Promise<void> {
    let re: string | undefined;
    try {
      if (text === undefined) throw new WireError(WireErrorCode.BAD_JSON, "Binary frames are not part of the protocol; send JSON text.");
      const raw = parseRaw(text);
      if (raw && typeof raw === "object" && typeof (raw as { id?: unknown }).id === "string") re = (raw as { id: string }).id.slice(0, 256);
      checkShape(raw);
      const msg = validateMessage(raw);
      const result = await this.apply(msg);
      if (result !== NO_ACK && msg.id) this.send(this.wire.encode({ v: PROTOCOL_VERSION, type: "ack", re: msg.id, ...(result !== undefined ? { result } : {}) }));
    } catch (e) {
      const err: ErrorMessage = { v: PROTOCOL_VERSION, type: "error", ...(re ? { re } : {}), ...errorPayload(await this.wire.error(e)) };
      this.send(this.wire.encode(err));
    }
  }

  /**
   * Refuses a message past the rate limit: a coded reply (with its `re` when the message
   * has an id), built without parsing the message. A socket past its refusals too is
   * paused until they refill.
   */
  private tooMany(text: string | undefined): void {
    const id = text === undefined ? undefined : ID_FIELD.exec(text.slice(0, 1024))?.[1];
    const retryAfterMs = this.pending >= MAX_PENDING ? 100 : (this.bucket?.retryAfterMs() ?? 100);
    // The id is echoed as the JSON string it was sent as (validated by the pattern); nothing else here comes from the client.
    this.send(
      `{"v":${PROTOCOL_VERSION},"type":"error",${id ? `"re":${id},` : ""}"code":"${WireErrorCode.TOO_MANY_MESSAGES}",` +
        `"message":"Too many messages from this tab; this one was not applied. Send it again in ${retryAfterMs} ms.","details":{"retryAfterMs":${retryAfterMs}}}`,
    );
    if (this.refusals && !this.refusals.take() && !this.paused) {
      this.paused = true;
      this.ws.pause();
      setTimeout(() => {
        this.paused = false;
        if (this.ws.readyState === this.ws.OPEN) this.ws.resume();
      }, Math.min(MAX_PAUSE_MS, this.refusals.retryAfterMs())).unref();
    }
  }

  /** Applies one message; returns the ack's `result`, or NO_ACK when the reply is another message. */
  private async apply(msg: ClientMessage): Promise<unknown> {
    if (msg.type === "hello") {
      await this.hub.attach(this, msg.sheet, msg.id);
      return NO_ACK;
    }
    if (!this.sheetId) throw new WireError(WireErrorCode.NO_HELLO, `Send 'hello' before '${msg.type}'.`);
    const session = await this.hub.session(this);
    switch (msg.type) {
      case "set-input": {
        const node = this.graph.node(msg.nodeId);
        const value = await this.wire.decodeInput(node, msg.port, msg.value);
        // Acknowledged once on disk; a stale `rev` is refused with the current value (E_INPUT_CONFLICT).
        const rev = await session.edit(inputId(node.id, msg.port), value, { origin: this.id, expect: msg.rev });
        return { rev };
      }
      case "run": {
        if (msg.item !== undefined) checkItem(session.selected(this.graph.node(msg.nodeId!).id)?.items?.length, msg.nodeId!, msg.item);
        const leave = this.limits.runs.enter(this.sheetId);
        let started: ReturnType<typeof session.start>;
        try {
          started = session.start(msg.nodeId, msg.item === undefined ? { mode: msg.mode } : { mode: msg.mode, item: msg.item });
        } catch (e) {
          leave();
          throw e;
        }
        const { runId, done, recorded } = started;
        done.then(leave, leave); // failures arrive as events
        await recorded; // acknowledged once the run is on disk (after a crash it reads interrupted)
        return { runId };
      }
      case "edit-item": {
        const leave = this.limits.runs.enter(this.sheetId);
        let started: ReturnType<typeof session.editItem>;
        try {
          started = session.editItem(msg.nodeId, msg.item, msg.value);
        } catch (e) {
          leave();
          throw e;
        }
        started.done.then(leave, leave);
        await started.recorded;
        return { runId: started.runId };
      }
      case "cancel":
        if (msg.runId) return session.cancel(msg.runId);
        if (msg.nodeId) return session.cancelNode(msg.nodeId);
        throw new WireError(WireErrorCode.BAD_MESSAGE, "A 'cancel' message needs 'runId' or 'nodeId'.");
      case "select-result":
        await session.select(msg.nodeId, msg.resultId);
        return undefined;
      case "history": {
        const page = await session.history(msg.nodeId, { before: msg.before, limit: msg.limit ?? 20 });
        const reply: HistoryMessage = {
          v: PROTOCOL_VERSION,
          type: "history",
          ...(msg.id ? { re: msg.id } : {}),
          nodeId: this.graph.node(msg.nodeId).id,
          results: await Promise.all(page.results.map((r) => this.wire.result(r))),
          total: page.total,
        };
        this.send(this.wire.encode(reply));
        return NO_ACK;
      }
      case "sheet-create":
        return sheetWire(await session.store.createSheet(this.hub.user, msg.name));
      case "sheet-rename":
        await this.hub.ownSheet(msg.sheetId);
        return sheetWire(await session.store.updateSheet(msg.sheetId, { name: msg.name }));
      case "sheet-delete":
        await this.hub.deleteSheet(msg.sheetId);
        return undefined;
      case "sheet-switch":
        await this.hub.ownSheet(msg.sheetId);
        await this.hub.attach(this, msg.sheetId, msg.id);
        return NO_ACK;
      case "viewport":
        await session.store.updateSheet(this.sheetId, { viewport: { x: msg.x, y: msg.y, zoom: msg.zoom, ...(msg.width && msg.height ? { width: msg.width, height: msg.height } : {}) } });
        return undefined;
      case "choice": {
        const node = this.graph.node(msg.nodeId);
        if (node.kind !== NodeKind.CHOICE) throw new DaggrError(ErrorCode.BAD_OPTION, `Node '${node.id}' is a ${node.kind} node, not a choice node.`);
        const sheet = await this.hub.ownSheet(this.sheetId);
        return sheetWire(await session.store.updateSheet(this.sheetId, { choices: { ...sheet.choices, [node.id]: msg.variant } }));
      }
    }
  }
}

const NO_ACK = Symbol("no-ack");

/** A rerun of one item names an item of the node's selected result (a MAP node that has run). */
function checkItem(count: number | undefined, nodeId: string, item: number): void {
  if (count === undefined) {
    throw new WireError(WireErrorCode.BAD_MESSAGE, `Node '${nodeId}' has no items to rerun: 'item' is for a MAP node (one that runs per list item) once it has a result.`, { field: "item", node: nodeId });
  }
  if (item >= count) {
    throw new WireError(WireErrorCode.BAD_MESSAGE, `Node '${nodeId}' has ${count} item${count === 1 ? "" : "s"} (0 to ${count - 1}); there is no item ${item}.`, { field: "item", node: nodeId, items: count });
  }
}
