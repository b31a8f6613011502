import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import ipaddr from "ipaddr.js";
import type { Agent } from "undici";
import { DaggrError, ErrorCode } from "../graph/index.js";
import { log } from "../log.js";

/**
 * The rule for URLs a remote names (file outputs, redirects): a URL on the app's own
 * origin is fetched as is (the user named that app, a local one on 127.0.0.1 included).
 * Any other URL must be https and its host must resolve only to public addresses:
 * loopback, private (RFC 1918, CGNAT, fc00::/7), link-local (the cloud metadata service
 * at 169.254.169.254 included), unspecified, multicast, broadcast and reserved ranges
 * are refused, in every spelling.
 *
 * Spellings: the WHATWG URL parser turns `2130706433`, `0x7f000001`, `0177.0.0.1`,
 * `127.1` and `127.0.0.1.` into `127.0.0.1`; `ipaddr.js` classifies the result and
 * unwraps IPv4-mapped IPv6 (`::ffff:127.0.0.1`, `::ffff:7f00:1`). An address is public
 * only when `ipaddr.js` calls it `unicast` (global unicast), so 6to4, NAT64 and Teredo
 * forms that embed an IPv4 address are refused too.
 *
 * A host name is checked where the connection is made: the lookup of the connection
 * itself (undici's `connect.lookup`) resolves once, refuses the answer if any address is
 * not public, and the socket connects to the address just checked, so DNS rebinding
 * (public on the check, private on the connect) cannot slip through.
 */
export interface NetGuard {
  /** Resolves a host name to every address (a seam for tests; defaults to `dns.lookup`). */
  resolve: (hostname: string) => Promise<LookupAddress[]>;
  /**
   * CIDR ranges allowed besides public addresses (empty by default), for an operator
   * whose remotes serve files from a known private network, e.g. `["10.20.0.0/16"]`
   * (`DAGGR_ALLOW_NETWORKS=10.20.0.0/16,…` at start-up).
   */
  allow: string[];
}

export const netGuard: NetGuard = {
  resolve: (hostname) =>
    new Promise((ok, fail) => dnsLookup(hostname, { all: true, verbatim: true }, (e, addresses) => (e ? fail(e) : ok(addresses)))),
  allow: (process.env.DAGGR_ALLOW_NETWORKS ?? "").split(",").map((c) => c.trim()).filter(Boolean),
};

{
  const bad = netGuard.allow.filter((c) => !ipaddr.isValidCIDR(c));
  if (bad.length) {
    log.warn({ ignored: bad }, `DAGGR_ALLOW_NETWORKS entries ignored, not CIDR ranges: ${bad.join(", ")} (write e.g. 10.20.0.0/16 or fd00::/8).`);
  }
}

/** The range name of an address ("unicast" when public), IPv4-mapped IPv6 unwrapped. */
export function addressRange(address: string): string {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!ipaddr.isValid(bare)) return "invalid";
  return ipaddr.process(bare).range();
}

/** Whether a connection to this address is allowed for a URL a remote named. */
export function addressAllowed(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!ipaddr.isValid(bare)) return false;
  const ip = ipaddr.process(bare);
  if (ip.range() === "unicast") return true;
  return netGuard.allow.some((cidr) => {
    try {
      const [net, bits] = ipaddr.parseCIDR(cidr);
      return net.kind() === ip.kind() && ip.match(net, bits);
    } catch {
      return false;
    }
  });
}

/** Whether `host` (a URL's hostname, IPv6 in brackets) is an IP literal. */
function ipLiteral(host: string): string | undefined {
  const bare = host.replace(/^\[|\]$/g, "");
  return ipaddr.isValid(bare) && (host.startsWith("[") || ipaddr.IPv4.isValidFourPartDecimal(bare)) ? bare : undefined;
}

/**
 * Throws `E_URL_REFUSED` unless `url` may be fetched for a remote: its own origin, or
 * https to a host that is not an IP literal outside the public ranges. A host name is
 * checked again, at connect time, by {@link sendGuarded}.
 */
export function checkRemoteUrl(url: URL, appOrigin: string | undefined, label: string): void {
  if (isOwnOrigin(url, appOrigin)) return;
  if (url.protocol !== "https:") {
    throw refused(url, `${label}: refused to fetch ${shown(url)}: a URL outside the app's own origin (${appOrigin ?? "none"}) must use https.`, "https");
  }
  const ip = ipLiteral(url.hostname);
  if (ip !== undefined && !addressAllowed(ip)) {
    throw refused(url, `${label}: refused to fetch ${shown(url)}: ${ip} is a ${addressRange(ip)} address, not a public one.`, addressRange(ip), ip);
  }
}

/** Whether `url` is on the app's own origin (the one place plain http and local hosts are fine). */
export function isOwnOrigin(url: URL, appOrigin: string | undefined): boolean {
  return appOrigin !== undefined && appOrigin !== "null" && url.origin === appOrigin;
}

/**
 * The connection-time half of the check: undici calls this instead of `dns.lookup`; it
 * resolves once and hands back only addresses it checked.
 */
export function guardedLookup(
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
): void {
  netGuard.resolve(hostname).then(
    (addresses) => {
      const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
      if (!wanted.length) {
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname }), "");
        return;
      }
      const bad = wanted.find((a) => !addressAllowed(a.address));
      if (bad) {
        const range = addressRange(bad.address);
        callback(
          new DaggrError(ErrorCode.URL_REFUSED, `refused to connect to '${hostname}': it resolves to ${bad.address}, a ${range} address, not a public one.`, {
            host: hostname,
            address: bad.address,
            range,
          }),
          "",
        );
        return;
      }
      if (options.all) callback(null, wanted);
      else callback(null, wanted[0]!.address, wanted[0]!.family);
    },
    (e: Error) => callback(e, ""),
  );
}

let undici: Promise<{ agent: Agent; fetch: typeof fetch }> | undefined;

/**
 * The global fetch as it was when this module loaded. While it is still in place, guarded
 * requests go through the undici package's own `fetch`, made for its `Agent`: Node's
 * built-in fetch embeds its own undici, whose dispatcher interface differs across majors
 * (Node 26's rejects an undici 6 Agent). A global fetch replaced since (a test shim,
 * instrumentation) is honoured, with the dispatcher passed along.
 */
const loadedFetch = globalThis.fetch;

/**
 * The undici dispatcher whose every connection goes through {@link guardedLookup}, and
 * the undici package's `fetch`: loaded at the first guarded request (an app without
 * remote nodes never loads them).
 */
function guardedUndici(): Promise<{ agent: Agent; fetch: typeof fetch }> {
  undici ??= import("undici").then(
    (m) => ({ agent: new m.Agent({ connect: { lookup: guardedLookup as never } }), fetch: m.fetch as unknown as typeof fetch }),
    (e: unknown) => {
      undici = undefined;
      throw e;
    },
  );
  return undici;
}

/**
 * `fetch` for a URL a remote named: {@link checkRemoteUrl} first, then a connection
 * through {@link sendGuarded} (the app's own origin uses the plain global fetch).
 * Redirects are not followed here (`redirect: "manual"`): the caller checks each hop.
 */
export async function guardedFetch(url: URL, init: RequestInit, appOrigin: string | undefined, label: string): Promise<Response> {
  checkRemoteUrl(url, appOrigin, label);
  const own = isOwnOrigin(url, appOrigin);
  try {
    return await (own ? fetch(url, { ...init, redirect: "manual" }) : sendGuarded(url, { ...init, redirect: "manual" }));
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    if (cause instanceof DaggrError && cause.code === ErrorCode.URL_REFUSED) {
      throw new DaggrError(ErrorCode.URL_REFUSED, `${label}: ${cause.message.replace(/^\[E_URL_REFUSED\] /, "")} (while fetching ${shown(url)})`, cause.details);
    }
    throw e;
  }
}

/**
 * Sends a request whose connection goes through {@link guardedLookup} (callers check the
 * URL itself first, with {@link checkRemoteUrl}).
 */
export async function sendGuarded(url: URL, init: RequestInit): Promise<Response> {
  const { agent, fetch: undiciFetch } = await guardedUndici();
  const send = globalThis.fetch === loadedFetch ? undiciFetch : globalThis.fetch;
  return send(url, { ...init, dispatcher: agent } as RequestInit);
}

function refused(url: URL, message: string, range: string, address?: string): DaggrError {
  return new DaggrError(ErrorCode.URL_REFUSED, message, { url: shown(url), range, ...(address ? { address } : {}) });
}

/** A URL without its query string (signatures, tokens) for messages. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
