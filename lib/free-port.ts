/**
 * A port free right now, for another process (a local Space, a test's server) to bind a
 * moment later. Picked at random below the kernel's ephemeral range (Linux:
 * ip_local_port_range), where no `listen(0)` or outgoing connection beside it is handed
 * the port meanwhile. It lives outside `server/` and `nodes/` so both can use it without
 * importing each other (as `log.ts` does). Nothing makes the port stay free: the process
 * that binds it must still cope with losing it (see `nodes/local-space/app-process.ts`).
 *
 * @example
 * const port = await freePort("127.0.0.1", 100); // leaves room for gradio's scan of 100 ports
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** `headroom` keeps that many ports below the ephemeral range above the pick. */
export async function freePort(host = "127.0.0.1", headroom = 0): Promise<number> {
  const top = ephemeralLow() - headroom;
  for (let tries = 0; ; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (top - 10_000));
    const s = createServer();
    s.unref();
    const free = await new Promise<boolean>((resolve, reject) => {
      s.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" && tries < 1000 ? resolve(false) : reject(e)));
      s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** The first port of the kernel's ephemeral range (32768 where it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
