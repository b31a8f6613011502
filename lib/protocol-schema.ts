/**
 * The client → server messages, declared once as valibot schemas. The server validates
 * every incoming message with them (lib/server/validate.ts), and `lib/protocol.ts` takes
 * the `ClientMessage` type from them (`InferOutput`), so the type the canvas sends and
 * the check the server applies cannot drift apart.
 *
 * Each action's message is the phrase a coded error completes: "Field 'zoom' of a
 * 'viewport' message must be <message>".
 *
 * valibot rather than zod: its functions are separate imports, so only the checks used
 * here are loaded (a few KB, no dependencies), and a bundle that never validates pulls
 * none of it.
 */
import * as v from "valibot";
import { PROTOCOL_VERSION } from "./protocol.js";

/** The highest item index a `run` may name (a MAP node's items are 0-based). */
export const MAX_ITEM = 1_000_000;

const text = (max: number) => {
  const size = `1 to ${max} characters`;
  return v.pipe(v.string("a string"), v.minLength(1, size), v.maxLength(max, size), v.regex(/^[^\x00-\x1f\x7f]*$/, "free of control characters"));
};
/** Node ids, ports, sheet and result ids, request ids. */
const Id = text(256);
/** A sheet's name. */
const Name = text(200);
const Finite = v.pipe(v.number("a finite number"), v.finite("a finite number"));
const Positive = v.pipe(v.number("a positive number"), v.finite("a positive number"), v.gtValue(0, "a positive number"));
const intIn = (lo: number, hi: number) => {
  const want = `an integer from ${lo} to ${hi}`;
  return v.pipe(v.number(want), v.integer(want), v.minValue(lo, want), v.maxValue(hi, want));
};
const RUN_MODES = ["step", "to-here", "all"] as const;
const RunMode = v.picklist(RUN_MODES, `one of ${RUN_MODES.map((m) => `"${m}"`).join(", ")}`);

/** A message of `type` with these fields besides `v`, `type` and the request `id`; no other field is allowed. */
const message = <T extends string, E extends v.ObjectEntries>(type: T, entries: E) =>
  v.strictObject({
    v: v.literal(PROTOCOL_VERSION),
    /** Request id, echoed as `re` in the reply. */
    id: v.optional(Id),
    type: v.literal(type),
    ...entries,
  });

const Hello = message("hello", { sheet: v.optional(Id) });
/**
 * `rev`: the input's revision the edit was made on (snapshot `inputRevs`, the last
 * `input-changed` or the last ack's `result.rev`). When the input has moved on, the
 * edit is refused with `E_INPUT_CONFLICT`. Without `rev` the edit always applies.
 * The ack (`result: { rev }`) leaves once the edit is on disk.
 */
const SetInput = message("set-input", { nodeId: Id, port: Id, value: v.unknown(), rev: v.optional(intIn(0, Number.MAX_SAFE_INTEGER)) });
/** `item` reruns one item of a MAP node: only with a `nodeId` and mode `step`. */
const Run = v.pipe(
  message("run", { nodeId: v.optional(Id), mode: RunMode, item: v.optional(intIn(0, MAX_ITEM)) }),
  v.forward(
    v.check((m) => m.item === undefined || (m.mode === "step" && m.nodeId !== undefined), "Field 'item' reruns one item of a MAP node: send it with a 'nodeId' and mode \"step\"."),
    ["item"],
  ),
);
/** Edits one item of the list a MAP node maps over and reruns that item alone (`session.editItem`). */
const EditItem = message("edit-item", { nodeId: Id, item: intIn(0, MAX_ITEM), value: v.unknown() });
const Cancel = message("cancel", { runId: v.optional(Id), nodeId: v.optional(Id) });
const SelectResult = message("select-result", { nodeId: Id, resultId: Id });
const History = message("history", { nodeId: Id, before: v.optional(Id), limit: v.optional(intIn(1, 100)) });
const SheetCreate = message("sheet-create", { name: v.optional(Name) });
const SheetRename = message("sheet-rename", { sheetId: Id, name: Name });
const SheetDelete = message("sheet-delete", { sheetId: Id });
const SheetSwitch = message("sheet-switch", { sheetId: Id });
/** `width`/`height`: the size of the view on screen, so a window of another size can show the same part. */
const Viewport = message("viewport", { x: Finite, y: Finite, zoom: Positive, width: v.optional(Positive), height: v.optional(Positive) });
const Choice = message("choice", { nodeId: Id, variant: Id });

/** Every client message, told apart by `type`. */
export const ClientMessageSchema = v.variant("type", [Hello, SetInput, Run, EditItem, Cancel, SelectResult, History, SheetCreate, SheetRename, SheetDelete, SheetSwitch, Viewport, Choice]);

export type ClientMessage = v.InferOutput<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage["type"];

/** The schema of each message type (for a coded error that names the field of the type sent). */
export const MESSAGE_SCHEMAS = Object.fromEntries(ClientMessageSchema.options.map((o) => [o.entries.type.literal, o])) as {
  [T in ClientMessageType]: (typeof ClientMessageSchema.options)[number];
};
export const MESSAGE_TYPES = Object.keys(MESSAGE_SCHEMAS) as ClientMessageType[];
