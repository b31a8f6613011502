/**
 * The bodies of Gradio's REST "call" API and of `run/`, read as gradio 6.25's routes.py
 * reads them: `call/<api_name>` takes `SimplePredictBody` (`{data: [...], session_hash?}`),
 * `call/v2/<api_name>` keyword arguments matched to the endpoint's parameters as
 * `gradio_client`'s `construct_args` matches them, `run/<api_name>` a `PredictBody`.
 * A body of the wrong shape is pydantic's 422 `{"detail": [...]}`. An unknown api_name
 * or argument, which Gradio lets escape as an unhandled exception (a plain-text 500),
 * is a 500 too, in plain text, with daggr's coded message naming the valid choices.
 */
import type { ServerResponse } from "node:http";
import { DaggrError, ErrorCode, unknownName } from "../../graph/index.js";
import { refuse } from "../respond.js";
import { type Endpoint, parameterDefault } from "./endpoints.js";
import { JoinError } from "./queue.js";

/** A failure Gradio answers with a bare status and text (an exception no handler catches). */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: DaggrError,
  ) {
    super(error.message);
  }
}

export function failure(res: ServerResponse, e: HttpFailure): void {
  refuse(res, e.status, e.error.message);
}

/** route_utils.get_fn's FnIndexInferError for a name no endpoint has. */
export function unknownEndpoint(apiName: string, endpoints: Endpoint[]): never {
  throw new HttpFailure(
    500,
    unknownName(ErrorCode.UNKNOWN_ENDPOINT, "endpoint of this app", `/${apiName}`, endpoints.map((e) => `/${e.leaf}`), "GET /gradio_api/info lists them with their parameters."),
  );
}

/** `fns[fn_index]`'s KeyError for an index no endpoint has. */
export function unknownFnIndex(fnIndex: unknown, endpoints: Endpoint[]): never {
  const got = JSON.stringify(fnIndex)?.slice(0, 40) ?? String(fnIndex);
  throw new HttpFailure(
    500,
    new DaggrError(ErrorCode.UNKNOWN_ENDPOINT, `No endpoint with fn_index ${got}; this app has ${endpoints.map((e) => `${e.index} (/${e.leaf})`).join(", ") || "none"}.`, { got, choices: endpoints.map((e) => String(e.index)) }),
  );
}

/** pydantic's 422 for one field. */
function invalid(type: string, loc: string[], msg: string, input: unknown): JoinError {
  return new JoinError(422, [{ type, loc, msg, input: input ?? null }]);
}

/** `SimplePredictBody` (data_classes.py): `data` a list, `session_hash` a string or null. */
export function callBody(body: unknown): { data: unknown[]; session_hash: string | undefined } {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid("model_attributes_type", ["body"], "Input should be a valid dictionary or object to extract fields from", body);
  const b = body as { data?: unknown; session_hash?: unknown };
  if (b.data === undefined) throw invalid("missing", ["body", "data"], "Field required", body);
  if (!Array.isArray(b.data)) throw invalid("list_type", ["body", "data"], "Input should be a valid list", b.data);
  if (b.session_hash !== undefined && b.session_hash !== null && typeof b.session_hash !== "string") throw invalid("string_type", ["body", "session_hash"], "Input should be a valid string", b.session_hash);
  return { data: b.data, session_hash: typeof b.session_hash === "string" ? b.session_hash : undefined };
}

/** `PredictBody` (data_classes.py) as `run/` reads it: `data` a list, `fn_index` an integer or null. */
export function runBody(body: unknown): { data: unknown[]; fn_index: number | undefined } {
  const { data } = callBody(body);
  const f = (body as { fn_index?: unknown }).fn_index;
  if (f !== undefined && f !== null && !Number.isInteger(f)) throw invalid("int_type", ["body", "fn_index"], "Input should be a valid integer", f);
  return { data, fn_index: typeof f === "number" ? f : undefined };
}

/**
 * `call/v2/<api_name>`'s body (`dict[str, Any]`) as positional data: each parameter's
 * value by its name, else its default (gradio_client utils.py construct_args). A name
 * the endpoint does not have, or a required parameter left out, is construct_args'
 * TypeError, a 500. `oauth_token` is dropped unless a parameter has that name.
 */
export function callArguments(body: unknown, apiName: string, endpoints: Endpoint[]): unknown[] {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid("dict_type", ["body"], "Input should be a valid dictionary", body);
  const endpoint = endpoints.find((e) => e.leaf === apiName) ?? unknownEndpoint(apiName, endpoints);
  const given = { ...(body as Record<string, unknown>) };
  const names = endpoint.parameters.map((p) => p.name);
  if (!names.includes("oauth_token")) delete given.oauth_token;
  for (const key of Object.keys(given)) {
    if (!names.includes(key)) {
      throw new HttpFailure(500, unknownName(ErrorCode.UNKNOWN_PARAM, `keyword argument of /${endpoint.leaf}`, key, names));
    }
  }
  return endpoint.parameters.map((p) => {
    if (Object.hasOwn(given, p.name)) return given[p.name];
    const d = parameterDefault(p);
    if (d.has) return d.value;
    throw new HttpFailure(
      500,
      new DaggrError(ErrorCode.MISSING_PARAM, `No value provided for required argument: ${p.name} (of /${endpoint.leaf}, which takes ${names.join(", ")}).`, { got: Object.keys(given).join(", "), choices: names }),
    );
  });
}
