/** The logger, for the server's modules (it lives in lib/log.ts, shared with the nodes). */
export * from "../log.js";
