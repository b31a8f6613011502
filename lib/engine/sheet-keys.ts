import { type Graph, type Node, initialValue, inputId } from "../graph/index.js";
import { FN_INPUT_MARKER, canonical, hashText, hashedIdentity, isTextKey, keyOfText, legacyRecipeKey, quote, recipeText } from "./recipe-key.js";
import { ResultStatus } from "./records.js";
import { NO_VALUES, type Slot, type Source, hasStaticPorts, parentsOf, readsOf } from "./slot.js";
import { SheetTables } from "./sheet-tables.js";
import type { SheetState } from "./store.js";

/*
 * The third layer of `SheetView` (state.ts): input values and recipe keys. A node's key
 * is made of its fingerprint, its own inputs and the hashes of the upstream values it
 * reads; a fixed read's upstream hash is kept per read (`readNow`), so a key is one pass
 * over the node's reads.
 */

/** What a skipped node's outputs hash to: downstream keys see "skipped", not a value. */
export const SKIPPED_HASH = "$skipped";

export abstract class SheetKeys extends SheetTables {
  readonly inputs = new Map<string, unknown>();
  /** Revision of each edited input (`node__port`): how many writes it has had. */
  readonly inputRevs = new Map<string, number>();
  /** @internal Edge checks, freshness evaluations and reads hashed into keys so far (what a refresh costs, counted). */
  work = 0;
  /**
   * The oldest recipe key scheme the sheet's store may hold results of (1 or 2; see
   * `olderKeys`), or 0 when every stored key is of the current scheme.
   */
  readonly legacyScheme: number;

  constructor(graph: Graph, sheetId: string, loaded: SheetState) {
    super(graph, sheetId, loaded);
    this.legacyScheme = loaded.legacyKeys ?? 0;
    for (const [id, v] of Object.entries(loaded.inputs)) this.inputs.set(id, v);
    for (const [id, rev] of Object.entries(loaded.inputRevs ?? {})) this.inputRevs.set(id, rev);
    for (let i = 0; i < this.readLabel.length; i++) this.readNow[i] = this.readHash(i);
  }

  /** The value an editable port holds (the component's initial value until edited). */
  inputValue(node: Node, port: string): unknown {
    const id = inputId(node.id, port);
    if (this.inputs.has(id)) return this.inputs.get(id);
    const c = node.editableComponent(port);
    return c ? initialValue(c) : undefined;
  }

  /** Own values of editable ports (defaults included), before choosing active ports. Read-only. */
  editableValues(node: Node): Record<string, unknown> {
    const ports = node.editablePorts();
    if (ports.length === 0) return NO_VALUES;
    const own: Record<string, unknown> = {};
    for (const port of ports) own[port] = this.inputValue(node, port);
    return own;
  }

  /** Own inputs as they enter the recipe key (active ports only): function inputs become a marker. */
  ownInputsForKey(node: Node): Record<string, unknown> {
    const editable = this.editableValues(node);
    const own: Record<string, unknown> = {};
    for (const port of node.activePorts(editable)) {
      const spec = node.inputs[port];
      if (!spec || spec.kind === "component") {
        if (port in editable) own[port] = editable[port];
      } else if (spec.kind === "fixed") own[port] = spec.value;
      else if (spec.kind === "fn") own[port] = FN_INPUT_MARKER;
    }
    return own;
  }

  /** The revision of an editable input (0 until first written). */
  inputRev(id: string): number {
    return this.inputRevs.get(id) ?? 0;
  }

  setInput(node: Node, port: string, value: unknown): void {
    const id = inputId(node.id, port);
    this.inputRevs.set(id, this.inputRev(id) + 1);
    this.inputs.set(id, value);
    this.valueSubjects.get(`${node.id}.in.${port}`)?.next(value);
  }

  /** The hash a downstream key takes from one upstream output: its content hash, or "skipped". */
  private hashOf(from: { node: Node; port: string }): string | undefined {
    const sel = this.selected.get(from.node.id);
    if (!sel) return undefined;
    return sel.status === ResultStatus.SKIPPED ? SKIPPED_HASH : sel.outputHashes[from.port];
  }

  /**
   * Content hashes of the selected upstream values a node would consume (active ports
   * and a branch condition), or undefined while one of them has no result.
   */
  upstreamHashes(node: Node, hashOf = (from: Source) => this.hashOf(from)): Record<string, string> | undefined {
    const hashes: Record<string, string> = {};
    if (node.guard) {
      const h = hashOf(node.guard.from);
      if (h === undefined) return undefined;
      hashes.$when = h;
    }
    const ports = hasStaticPorts(node) ? node.activePorts(NO_VALUES) : node.activePorts(this.editableValues(node));
    for (const port of ports) {
      const spec = node.inputs[port];
      if (spec?.kind === "port") {
        const h = hashOf(spec.from);
        if (h === undefined) return undefined;
        hashes[port] = spec.scatter ? `${h}|each:${spec.scatter.key ?? ""}` : h;
      } else if (spec?.kind === "first") {
        let picked: string | undefined;
        for (const p of spec.from) {
          const h = hashOf(p);
          if (h === undefined) return undefined;
          if (picked === undefined && h !== SKIPPED_HASH) picked = h;
        }
        hashes[port] = picked ?? SKIPPED_HASH;
      }
    }
    return hashes;
  }

  /** The nodes a node reads from right now (a choice node: only its selected variant's sources). */
  activeParents(node: Node): readonly string[] {
    return parentsOf(node, this.slot(node.id).fixed ? node.activePorts(NO_VALUES) : node.activePorts(this.editableValues(node)));
  }

  /**
   * The recipe key the node would run with now; undefined while an upstream has no result.
   * It is `recipeKey(fingerprint, ownInputsForKey(node), upstreamHashes(node))`, with the
   * canonical JSON of the upstream hashes written straight from the presorted reads.
   */
  currentKey(node: Node): string | undefined {
    return this.keyText(this.slot(node.id));
  }

  /**
   * The key of `currentKey`, from the slot. The text is built by concatenation, not an
   * array join (a join of a few short strings costs more than the rest of the key): the
   * hash reads it once, flattened.
   */
  private keyText(s: Slot): string | undefined {
    const node = s.node;
    let text: string;
    if (s.hasOwn) text = `${s.fingerprint}|${(s.ownText = canonical(this.ownInputsForKey(node)))}|{`;
    else {
      s.ownText = "{}";
      text = s.fingerprint + NO_OWN_TEXT; // one concatenation, not three
    }
    if (s.fixed) {
      // A fixed read's upstream hash now is kept by the view (`now`): nothing to look up.
      const start = this.readOff[s.order]!;
      const end = this.readOff[s.order + 1]!;
      this.work += end - start;
      // Every read is known before any text is made (a join hears from each parent in turn).
      for (let i = start; i < end; i++) if (this.readNow[i] === undefined) return undefined;
      for (let i = start; i < end; i++) {
        if (i > start) text += ",";
        const each = this.readEach.size ? this.readEach.get(i) : undefined;
        text += keyPiece(this.readLabel[i]!, each, this.readNow[i]!);
      }
    } else {
      const reads = readsOf(node, node.activePorts(this.editableValues(node)));
      this.work += reads.length;
      for (let i = 0; i < reads.length; i++) {
        const r = reads[i]!;
        let h: string | undefined;
        if (!Array.isArray(r.from)) h = this.hashOf(r.from as Source);
        else {
          for (const from of r.from as readonly Source[]) {
            const each = this.hashOf(from);
            if (each === undefined) return undefined;
            if (h === undefined && each !== SKIPPED_HASH) h = each;
          }
          h ??= SKIPPED_HASH;
        }
        if (h === undefined) return undefined;
        if (i > 0) text += ",";
        text += keyPiece(r.label, r.each, h);
      }
    }
    return keyOfText(`${text}}`);
  }

  /**
   * The part of a mapped node's key shared by all its items: everything except the
   * per-item lists, so one item's key changes only when that item's values do.
   */
  itemBaseKey(node: Node, listPorts: string[]): string {
    const up = { ...this.upstreamHashes(node) };
    for (const p of listPorts) delete up[p];
    // Always the hash (as in scheme 2): item keys are made from it and stay as they were.
    return hashText(recipeText(this.slot(node.id).fingerprint, this.ownInputsForKey(node), up));
  }

  /**
   * The keys the recipe whose key is `key` (the node's current one) had under older
   * schemes whose results the store may hold, newest first: its scheme-2 key (the hash of
   * a text key) and its scheme-1 key. Asked only of a sheet with `legacyScheme`, and only
   * when the current key missed.
   */
  olderKeys(node: Node, key: string): string[] {
    const older: string[] = [];
    if (!this.legacyScheme) return older;
    if (isTextKey(key)) older.push(hashText(key));
    if (this.legacyScheme === 1) {
      const one = this.legacyKey(node);
      if (one !== undefined) older.push(one);
    }
    return older;
  }

  /** Whether `stored` is one of `olderKeys` of the node's current `key`. */
  isOlderKey(node: Node, key: string, stored: string): boolean {
    return this.legacyScheme !== 0 && this.olderKeys(node, key).includes(stored);
  }

  /**
   * The key the node's current recipe had under key scheme 1 (`legacyRecipeKey`): what a
   * result stored before scheme 2 is found under (see `olderKeys`).
   */
  legacyKey(node: Node): string | undefined {
    const up = this.legacyUpstream(node);
    return up === undefined ? undefined : legacyRecipeKey(node.fingerprint(), this.ownInputsForKey(node), up);
  }

  /** `itemBaseKey` as key scheme 1 made it: what a mapped node's items stored before scheme 2 are found under. */
  legacyItemBaseKey(node: Node, listPorts: string[]): string | undefined {
    const up = this.legacyUpstream(node);
    if (up === undefined) return undefined;
    for (const p of listPorts) delete up[p];
    return legacyRecipeKey(node.fingerprint(), this.ownInputsForKey(node), up);
  }

  /** `upstreamHashes` with each identity as scheme 1 wrote it (a hash, whatever the value's length). */
  private legacyUpstream(node: Node): Record<string, string> | undefined {
    return this.upstreamHashes(node, (from) => {
      const h = this.hashOf(from);
      return h === undefined || h === SKIPPED_HASH ? h : hashedIdentity(h);
    });
  }

  /** The node's current recipe key, computed on first use after a change (refresh invalidates it). */
  key(nodeId: string): string | undefined {
    return this.keyOf(this.slot(nodeId));
  }

  /** @internal `key` of the node at position `at` of `graph.nodes` (the runner visits by position). */
  keyAt(at: number): string | undefined {
    return this.keyOf(this.slotAt[at]!);
  }

  protected keyOf(s: Slot): string | undefined {
    if (!s.keyed) {
      s.key = this.keyText(s);
      s.keyed = true;
    }
    return s.key;
  }

  /** The upstream hash fixed read `i` enters its owner's key with now (undefined while one of its sources has none). */
  protected readHash(i: number): string | undefined {
    const src = this.readSrc[i]!;
    if (src >= 0) return selectedHash(this.slotAt[src]!, (this.readFrom[i] as Source).port);
    const slots = this.readSlots.get(i)!;
    const from = this.readFrom[i] as readonly Source[];
    let h: string | undefined;
    for (let k = 0; k < slots.length; k++) {
      const each = selectedHash(slots[k]!, from[k]!.port);
      if (each === undefined) return undefined;
      if (h === undefined && each !== SKIPPED_HASH) h = each;
    }
    return h ?? SKIPPED_HASH;
  }
}

/** The key text between the fingerprint and the reads, for a node without own inputs. */
const NO_OWN_TEXT = "|{}|{";

/** A read's piece of the key text: `"port":"identity"`, as canonical JSON writes it. */
function keyPiece(label: string, each: string | undefined, h: string): string {
  // A hash (or the skipped marker) only needs quotes; a value that is its own identity may need escapes.
  if (each !== undefined) return label + quote(`${h}|each:${each}`);
  return h.charCodeAt(0) === 61 /* = */ ? label + quote(h) : `${label}"${h}"`;
}

/** The hash a downstream key takes from a slot's selected output (see `hashOf`). */
function selectedHash(s: Slot, port: string): string | undefined {
  const sel = s.sel;
  if (!sel) return undefined;
  return sel.status === ResultStatus.SKIPPED ? SKIPPED_HASH : sel.outputHashes[port];
}
