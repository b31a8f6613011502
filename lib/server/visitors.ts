import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { LRUCache } from "lru-cache";
import type { Store } from "../engine/index.js";
import { MemoryStore } from "../store/memory.js";
import type { Hub } from "./hub.js";
import type { OAuth } from "./oauth.js";
import { hubEndpoint } from "./users.js";

/** How long a token's account is remembered (a revoked token keeps working at most this long). */
const BEARER_TTL_MS = 10 * 60_000;

/** The user name of a visitor who has not signed in (their sheets live in memory, for one tab). */
export const ANONYMOUS_USER = "anonymous";

/** What a request or socket acts as. */
export interface Visitor {
  user: string;
  /** Signed in (on a Space) or the machine's user: their sheets persist. */
  persistent: boolean;
  /**
   * On a Space, the token remote calls made for this visitor use: their OAuth access
   * token, or none (`undefined`) when anonymous. Absent off a Space: the machine's own.
   */
  scope?: { token: string | undefined };
}

/** A hub for one WebSocket, and what to do when the socket closes. */
export interface Seat {
  hub: Hub;
  visitor: Visitor;
  leave(): void;
}

/**
 * Who is on the other end, and which hub serves them.
 *
 * Off a Space there is one user, the machine's (see `localUser`), and one hub. On a
 * Space each signed-in visitor has their own hub over the shared store, keyed by their
 * Hugging Face username: a sheet of another user answers exactly as an unknown sheet,
 * since a hub only ever looks up its own user's sheets. An anonymous visitor (when
 * allowed) gets a hub over a store of their own in memory whose files go to the shared
 * files store (so `/files/<id>` serves them): they can view and run, nothing of theirs
 * is kept once the tab closes.
 */
export class Visitors {
  private readonly hubs = new Map<string, Hub>();
  private readonly seats = new Set<{ hub: Hub; store: Store }>();
  /** Hugging Face accounts of bearer tokens, by a hash of the token ("" for a token the Hub refused). */
  private readonly bearers = new LRUCache<string, Promise<string>>({ max: 1000, ttl: BEARER_TTL_MS });

  constructor(
    private readonly store: Store,
    private readonly makeHub: (store: Store, user: string) => Hub,
    private readonly o: { user: string; space: boolean; oauth?: OAuth; anonymous: "run" | "refuse" },
  ) {}

  /** The visitor of a request, or undefined when anonymous visitors are refused. */
  identify(req: IncomingMessage): Visitor | undefined {
    if (!this.o.space) return { user: this.o.user, persistent: true };
    const login = this.o.oauth?.visitor(req);
    if (login) return { user: login.user, persistent: true, scope: { token: login.token } };
    return this.o.anonymous === "run" ? { user: ANONYMOUS_USER, persistent: false, scope: { token: undefined } } : undefined;
  }

  /** On a Space, a Hugging Face token the request carries (`Authorization: Bearer hf_…`), as API clients send theirs. */
  bearer(req: IncomingMessage): string | undefined {
    if (!this.o.space) return undefined;
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
    return token && /^hf_[\w-]{8,}$/.test(token) ? token : undefined;
  }

  /**
   * On a Space, the visitor a Hugging Face token names (`whoami`, cached for ten minutes
   * by a hash of the token): an API client (`@gradio/client`, `gradio_client`, curl) is
   * then that user, with their sheets and their token. Undefined for no token, or one
   * the Hub refuses.
   */
  async identifyBearer(req: IncomingMessage): Promise<Visitor | undefined> {
    const token = this.bearer(req);
    if (!token) return undefined;
    const key = createHash("sha256").update(token).digest("hex");
    let name = this.bearers.get(key);
    if (!name) {
      name = import("@huggingface/hub")
        .then(({ whoAmI }) => whoAmI({ accessToken: token as `hf_${string}`, hubUrl: hubEndpoint(), fetch: (u, i) => fetch(u, { ...i, signal: AbortSignal.timeout(10_000) }) }))
        .then(
          (me) => (me.type === "user" && me.name ? me.name : ""),
          (e: { statusCode?: number }) => {
            // A refusal is remembered; a Hub that could not be reached is asked again next time.
            if (e?.statusCode !== 401) this.bearers.delete(key);
            return "";
          },
        );
      this.bearers.set(key, name);
    }
    const user = await name;
    return user ? { user, persistent: true, scope: { token } } : undefined;
  }

  /** The hub for a new WebSocket of this visitor. */
  seat(visitor: Visitor): Seat {
    if (visitor.persistent) {
      let hub = this.hubs.get(visitor.user);
      if (!hub) this.hubs.set(visitor.user, (hub = this.makeHub(this.store, visitor.user)));
      return { hub, visitor, leave: () => {} };
    }
    const store = ephemeralStore(this.store);
    const seat = { hub: this.makeHub(store, visitor.user), store };
    this.seats.add(seat);
    return {
      hub: seat.hub,
      visitor,
      leave: () => {
        this.seats.delete(seat);
        void seat.hub.close().then(() => store.close());
      },
    };
  }

  async close(): Promise<void> {
    const all = [...this.hubs.values(), ...[...this.seats].map((s) => s.hub)];
    this.hubs.clear();
    await Promise.all(all.map((h) => h.close()));
    await Promise.all([...this.seats].map((s) => s.store.close()));
    this.seats.clear();
  }
}

/** Sheets in memory; files and the API-info cache in the server's store. */
function ephemeralStore(shared: Store): Store {
  const s = new MemoryStore({ filesDir: shared.filesDir });
  s.putFile = (input) => shared.putFile(input);
  s.getFile = (id) => shared.getFile(id);
  s.fileForPath = (path) => shared.fileForPath(path);
  s.getMeta = (k) => shared.getMeta(k);
  s.setMeta = (k, v) => shared.setMeta(k, v);
  return s;
}
