import type { Subscription } from "rxjs";
import { type EngineEvent, type Freshness, type NodeState, type Session, type SheetInfo, type Store, openSession } from "../engine/index.js";
import { DaggrError, ErrorCode, type Graph } from "../graph/index.js";
import { PROTOCOL_VERSION, type SheetWire, type SheetsMessage, type SnapshotMessage, type SnapshotPageMessage } from "../protocol.js";
import type { Wire } from "./wire.js";

/** A connected client as the hub sees it. */
export interface Client {
  readonly id: string;
  /** The sheet this client is on, once it said `hello`. */
  sheetId?: string;
  send(text: string): void;
}

/** Above this many nodes a snapshot leaves default node states, zero counts and stale edges out. */
export const SNAPSHOT_COMPACT_NODES = 500;
/** Selected results sent with a snapshot; the others follow in pages of {@link SNAPSHOT_PAGE}. */
export const SNAPSHOT_RESULTS = 100;
export const SNAPSHOT_PAGE = 250;

/** A node state the snapshot may leave out: what the canvas assumes for an absent node. */
function isDefaultState(st: NodeState): boolean {
  return (
    st.freshness === "empty" && st.activity === "idle" && st.selectedId === null && !st.count &&
    !st.runId && st.startedAt === undefined && st.lastMs === undefined && !st.progress && !st.partial && !st.error && !(st as { items?: unknown }).items
  );
}

/** An event on its way out, and the clients it goes to (fixed when it was emitted). */
export interface Outgoing {
  event: EngineEvent;
  to: Client[];
}

/** The most a message of several events holds (characters of its events' JSON, ~bytes): a longer burst is split. */
export const EVENTS_MESSAGE_BYTES = 1 << 20;

/** One open sheet: the server's own handle on its session, and who listens to it. */
interface Entry {
  sheetId: string;
  session: Session;
  clients: Set<Client>;
  sub: Subscription;
  /** Outgoing messages of this sheet, serialised in emission order (file lookups are async). */
  queue: Promise<void>;
  /** Events gathering for the next message of the queue (see `send`), until another message is queued. */
  outbox?: Outgoing[];
  /** The promise stored in the hub's map for this entry. */
  opened?: Promise<Entry>;
  /** Waiting for its runs to finish before closing (nobody watches). */
  idle?: Promise<void>;
  /** Closing for good; a newcomer waits for it, then reopens the sheet. */
  closing?: Promise<void>;
  /** A selection held back until the completion it belongs to has been sent (see `publish`). */
  held?: { event: Extract<EngineEvent, { type: "selection-changed" }>; to: Client[] };
}

/**
 * Keeps one session per open sheet and fans its events out to every client on it.
 *
 * Runs belong to the server, not to a socket: the hub holds its own handle on each
 * session, so a closed tab cancels nothing. A sheet nobody watches is released once its
 * runs have finished; a tab that comes back reopens it from the store and sees their
 * results. Every tab on a sheet gets the same events, in the order the engine emitted them.
 */
export class Hub {
  private readonly entries = new Map<string, Promise<Entry>>();
  private readonly clients = new Set<Client>();
  private readonly unlisten: () => void;
  /** Sees every engine event of every sheet (the `daggr` command prints node failures). */
  onEvent: ((event: EngineEvent) => void) | undefined;
  private sheetsSignature = "";
  private sheetsTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly graph: Graph,
    private readonly store: Store,
    private readonly wire: Wire,
    readonly user: string,
  ) {
    this.unlisten = store.onChange((c) => {
      if (c.type === "sheets" && c.user === user) this.sheetsChanged();
    });
  }

  /** Puts a client on a sheet (the one asked for if it is this user's, else the newest) and sends it a snapshot. */
  async attach(client: Client, requested: string | undefined, re?: string): Promise<void> {
    this.clients.add(client);
    const sheetId = await this.resolveSheet(requested);
    const entry = await this.entry(sheetId);
    if (!this.clients.has(client)) return; // disconnected meanwhile
    // From here to the enqueue everything is synchronous: the snapshot reflects exactly
    // the events emitted before it, and the client receives exactly those emitted after.
    if (client.sheetId && client.sheetId !== sheetId) this.leave(client);
    client.sheetId = sheetId;
    entry.clients.add(client);
    const s = entry.session;
    const inputs = s.inputValues();
    const inputRevs = s.inputRevisions();
    const states = this.graph.nodes.map((n) => s.nodeState(n.id));
    const selected = this.graph.nodes.map((n) => s.selected(n.id)).filter((r) => r !== undefined);
    // A big graph's snapshot leaves defaults out (an empty, idle node with no result; a
    // stale edge): it carries only what differs.
    const compact = this.graph.nodes.length > SNAPSHOT_COMPACT_NODES;
    const edges = Object.fromEntries(this.graph.edges.flatMap((e) => (s.edgeFresh(e.id) ? [[e.id, true]] : compact ? [] : [[e.id, false]])));
    // The first results go with the snapshot; the rest follow in `snapshot-page` messages,
    // ahead of any later event (one queue), so the canvas can lay out without them.
    const first = selected.slice(0, SNAPSHOT_RESULTS);
    const rest = selected.slice(SNAPSHOT_RESULTS);
    this.enqueue(entry, async () => {
      const [sheet, sheets, graph] = await Promise.all([this.store.getSheet(sheetId), this.store.listSheets(this.user), this.wire.graphDescription()]);
      const msg: SnapshotMessage = {
        v: PROTOCOL_VERSION,
        type: "snapshot",
        ...(re ? { re } : {}),
        user: this.user,
        client: client.id,
        graph,
        sheet: sheetWire(sheet ?? s.sheet),
        sheets: sheets.map(sheetWire),
        inputs: await this.wire.inputs(inputs),
        inputRevs,
        nodes: Object.fromEntries(await Promise.all(states.filter((st) => !compact || !isDefaultState(st)).map(async (st) => [st.nodeId, await this.wire.nodeState(st)] as const))),
        edges,
        results: Object.fromEntries(await Promise.all(first.map(async (r) => [r.nodeId, await this.wire.result(r)] as const))),
        counts: Object.fromEntries(states.flatMap((st) => (st.count || !compact ? [[st.nodeId, st.count]] : []))),
        ...(rest.length ? { pendingResults: rest.length } : {}),
      };
      if (client.sheetId === sheetId) client.send(this.wire.encode(msg));
    });
    for (let i = 0; i < rest.length; i += SNAPSHOT_PAGE) {
      const page = rest.slice(i, i + SNAPSHOT_PAGE);
      const last = i + SNAPSHOT_PAGE >= rest.length;
      this.enqueue(entry, async () => {
        if (client.sheetId !== sheetId) return;
        const results = Object.fromEntries(await Promise.all(page.map(async (r) => [r.nodeId, await this.wire.result(r)] as const)));
        const msg: SnapshotPageMessage = { v: PROTOCOL_VERSION, type: "snapshot-page", sheetId, results, last };
        if (client.sheetId === sheetId) client.send(this.wire.encode(msg));
      });
    }
  }

  /** The session a client is on. */
  async session(client: Client): Promise<Session> {
    if (!client.sheetId) throw new DaggrError(ErrorCode.UNKNOWN_SHEET, "Say hello first.");
    return (await this.entry(client.sheetId)).session;
  }

  /** A sheet of this server's user, or a coded error (no sheet of another user is reachable). */
  async ownSheet(sheetId: string): Promise<SheetInfo> {
    const sheet = await this.store.getSheet(sheetId);
    if (!sheet || sheet.user !== this.user) {
      const choices = (await this.store.listSheets(this.user)).map((s) => s.id);
      throw new DaggrError(ErrorCode.UNKNOWN_SHEET, `Unknown sheet '${sheetId.slice(0, 100)}'.`, { got: sheetId.slice(0, 100), choices });
    }
    return sheet;
  }

  /** Deletes a sheet: its runs are cancelled and its clients move to another sheet. */
  async deleteSheet(sheetId: string): Promise<void> {
    await this.ownSheet(sheetId);
    const open = this.entries.get(sheetId);
    const moving = open ? [...(await open).clients] : [];
    if (open) await this.release(await open, true);
    await this.store.deleteSheet(sheetId);
    for (const c of moving) {
      c.sheetId = undefined;
      await this.attach(c, undefined);
    }
  }

  /** Forgets a client (its tab closed). Its sheet's runs go on. */
  detach(client: Client): void {
    this.clients.delete(client);
    this.leave(client);
    client.sheetId = undefined;
  }

  private leave(client: Client): void {
    const id = client.sheetId;
    const open = id && this.entries.get(id);
    if (!open) return;
    void open.then((entry) => {
      entry.clients.delete(client);
      if (entry.clients.size === 0) void this.release(entry, false);
    });
  }

  /**
   * Closes a sheet's session: at once (deletion, shutdown: runs are cancelled), or, when
   * nobody watches any more, once its runs have finished, if still nobody watches then.
   * A tab arriving while the runs go on joins the live session and sees them progress.
   */
  private release(entry: Entry, now: boolean): Promise<void> {
    if (entry.closing) return entry.closing;
    if (!now) {
      entry.idle ??= entry.session.settled().then(() => {
        entry.idle = undefined;
        if (entry.clients.size === 0) return this.release(entry, true);
      });
      return entry.idle;
    }
    entry.closing = (async () => {
      entry.sub.unsubscribe();
      await entry.session.close();
      await entry.queue;
      if (this.entries.get(entry.sheetId) === entry.opened) this.entries.delete(entry.sheetId);
    })();
    return entry.closing;
  }

  private async resolveSheet(requested: string | undefined): Promise<string> {
    if (requested) {
      const sheet = await this.store.getSheet(requested);
      if (sheet && sheet.user === this.user) return sheet.id;
    }
    const [newest] = await this.store.listSheets(this.user);
    return newest ? newest.id : (await this.store.createSheet(this.user)).id;
  }

  private async entry(sheetId: string): Promise<Entry> {
    for (;;) {
      const open = this.entries.get(sheetId);
      if (!open) break;
      const entry = await open;
      if (!entry.closing) return entry;
      await entry.closing; // closing for good: wait, then open it afresh
    }
    let opening!: Promise<Entry>;
    opening = (async () => {
      const session = await openSession(this.graph, this.store, { sheet: sheetId, user: this.user, runOnOpen: true });
      const entry: Entry = { sheetId, session, clients: new Set(), queue: Promise.resolve(), sub: undefined as unknown as Subscription };
      entry.sub = session.events.subscribe((event) => {
        this.publish(entry, event);
        this.onEvent?.(event);
      });
      entry.opened = opening;
      return entry;
    })();
    this.entries.set(sheetId, opening);
    opening.catch(() => this.entries.delete(sheetId));
    return opening;
  }

  /**
   * Sends an event to everyone on the sheet now (recipients are fixed at emission, so a
   * client attached later, whose snapshot already holds the event's effect, skips it).
   *
   * One saving: when a node completes, the engine emits `selection-changed` (with the
   * result), `freshness-changed`, then `node-completed` (with the same result). The
   * selection is held back until the completion has gone out, then sent without the
   * result, so each result crosses the wire once.
   */
  private publish(entry: Entry, event: EngineEvent): void {
    const held = entry.held;
    if (event.type === "selection-changed" && event.result) {
      if (held) this.send(entry, held.event, held.to);
      entry.held = { event, to: [...entry.clients] };
      queueMicrotask(() => {
        if (entry.held?.event !== event) return;
        entry.held = undefined;
        this.send(entry, event, [...entry.clients]);
      });
      return;
    }
    if (held && event.type !== "freshness-changed") {
      entry.held = undefined;
      const same = "result" in event && event.result?.id === held.event.resultId;
      if (same) {
        this.send(entry, event, [...entry.clients]);
        this.send(entry, { ...held.event, result: undefined }, held.to);
        return;
      }
      this.send(entry, held.event, held.to);
    }
    this.send(entry, event, [...entry.clients]);
  }

  /**
   * Queues an event for the clients in `to`. The events of one turn of the event loop go
   * out together, one message per client (`events`; a lone one as `event`): a 1,000-wide
   * fan-out emits ~4,000 events a run, and a frame each cost more than the run itself
   * (a write to the socket, and a message for the browser to handle, per event).
   * A message queued after them (a snapshot) closes the batch: events emitted after it
   * follow it, as they would one by one.
   */
  private send(entry: Entry, event: EngineEvent, to: Client[]): void {
    if (!to.length) return;
    let box = entry.outbox;
    if (!box) {
      const mine: Outgoing[] = (box = entry.outbox = []);
      this.chain(entry, async () => {
        await new Promise<void>((r) => setImmediate(r));
        if (entry.outbox === mine) entry.outbox = undefined;
        await this.flush(entry, mine);
      });
    }
    box.push({ event, to });
  }

  /** Sends a batch of events: each client gets those addressed to it, in order. */
  private async flush(entry: Entry, all: Outgoing[]): Promise<void> {
    const box = mergeFreshness(all);
    const texts = await Promise.all(
      box.map(async (o) => {
        try {
          return JSON.stringify(await this.wire.event(o.event));
        } catch (e) {
          // A value that cannot be serialised must not stop the sheet's stream.
          process.emitWarning(`daggr: could not send an update: ${(e as Error).message}`);
          return undefined;
        }
      }),
    );
    const byClient = new Map<Client, string[]>();
    for (const [i, o] of box.entries()) {
      if (texts[i] === undefined) continue;
      for (const c of o.to) {
        let list = byClient.get(c);
        if (!list) byClient.set(c, (list = []));
        list.push(texts[i]!);
      }
    }
    const head = `{"v":${PROTOCOL_VERSION},"type":"events","sheetId":${JSON.stringify(entry.sheetId)},"events":[`;
    for (const [c, events] of byClient) {
      for (const part of parts(events)) {
        if (c.sheetId !== entry.sheetId) break;
        const text = part.length === 1 ? `{"v":${PROTOCOL_VERSION},"type":"event","sheetId":${JSON.stringify(entry.sheetId)},"event":${part[0]}}` : `${head}${part.join(",")}]}`;
        c.send(this.wire.redact(text));
      }
    }
  }

  /** Queues a message after every one queued before it; events emitted later go after it. */
  private enqueue(entry: Entry, job: () => Promise<void>): void {
    entry.outbox = undefined;
    this.chain(entry, job);
  }

  private chain(entry: Entry, job: () => Promise<void>): void {
    entry.queue = entry.queue.then(job).catch((e) => {
      // A value that cannot be serialised must not stop the sheet's stream.
      process.emitWarning(`daggr: could not send an update: ${(e as Error).message}`);
    });
  }

  /** The sheet list changed (created, renamed, deleted): tell every client, once per real change. */
  private sheetsChanged(): void {
    clearTimeout(this.sheetsTimer);
    this.sheetsTimer = setTimeout(async () => {
      if (this.closed) return;
      const sheets = (await this.store.listSheets(this.user)).map(sheetWire);
      // Viewport moves also touch a sheet; only names and membership are news to other tabs.
      const signature = JSON.stringify(sheets.map((s) => [s.id, s.name]));
      if (signature === this.sheetsSignature) return;
      this.sheetsSignature = signature;
      for (const c of this.clients) {
        if (!c.sheetId) continue;
        const msg: SheetsMessage = { v: PROTOCOL_VERSION, type: "sheets", sheets, current: c.sheetId };
        c.send(this.wire.encode(msg));
      }
    }, 10);
  }

  /** Cancels every run and closes every session (server shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.sheetsTimer);
    this.unlisten();
    const entries = await Promise.all([...this.entries.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(entries.map((e) => e && this.release(e, true)));
  }
}

/**
 * A batch with its `freshness-changed` events made one, in the place of the last of them,
 * holding each node's and edge's last value: a fan-out's completions each change a node's
 * and two edges' freshness, and as 1,000 events of a turn they were a quarter of its bytes
 * and a restyle each in the tab. A client applies the batch's events in one go, and
 * nothing else in it sets freshness, so the state it ends in is the same. Left alone when
 * the events went to different clients (one attached between them). @internal
 */
export function mergeFreshness(box: Outgoing[]): Outgoing[] {
  let last = -1;
  let count = 0;
  for (let i = 0; i < box.length; i++) if (box[i]!.event.type === "freshness-changed") [last, count] = [i, count + 1];
  if (count < 2) return box;
  const to = box[last]!.to;
  const same = (o: Outgoing) => o.to.length === to.length && o.to.every((c, i) => c === to[i]);
  if (!box.every((o) => o.event.type !== "freshness-changed" || same(o))) return box;
  const nodes: Record<string, Freshness> = {};
  const edges: Record<string, boolean> = {};
  const merged: Outgoing[] = [];
  for (const [i, o] of box.entries()) {
    const e = o.event;
    if (e.type !== "freshness-changed") merged.push(o);
    else {
      Object.assign(nodes, e.nodes);
      Object.assign(edges, e.edges);
      if (i === last) merged.push({ event: { ...e, nodes, edges }, to });
    }
  }
  return merged;
}

/** Event texts in runs of at most `EVENTS_MESSAGE_BYTES`, each run one message. */
function* parts(texts: string[]): Generator<string[]> {
  let run: string[] = [];
  let bytes = 0;
  for (const t of texts) {
    if (run.length && bytes + t.length > EVENTS_MESSAGE_BYTES) {
      yield run;
      run = [];
      bytes = 0;
    }
    run.push(t);
    bytes += t.length + 1;
  }
  if (run.length) yield run;
}

export function sheetWire(s: SheetInfo): SheetWire {
  return {
    id: s.id,
    name: s.name,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    revision: s.revision,
    ...(s.viewport ? { viewport: s.viewport } : {}),
    ...(s.choices ? { choices: s.choices } : {}),
  };
}
