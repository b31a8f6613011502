import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redis-server of our own: a free port, a temp dir, no persistence; stopped by its pid. */
export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
}

/** Where Debian's redis-server is, if installed. */
export function redisServerPath(): string | undefined {
  const r = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

/**
 * Why queue tests cannot run here, or undefined when they can. Under CI a missing
 * redis-server is a failure (`.ci/run` installs it), elsewhere a skip.
 */
export function redisMissing(): string | undefined {
  if (redisServerPath()) return undefined;
  const why = "redis-server is not installed (apt-get install -y redis-server)";
  if (process.env.CI) throw new Error(`${why}: under CI the queue tests must run.`);
  return why;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const port = (s.address() as { port: number }).port;
  await new Promise((ok) => s.close(ok));
  return port;
}

/** Starts redis-server and resolves once it accepts connections (its own log line says so). */
export async function startRedis(): Promise<RedisServer> {
  const bin = redisServerPath();
  if (!bin) throw new Error("redis-server is not installed");
  const dir = mkdtempSync(join(tmpdir(), "daggr-redis-"));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const ready = await new Promise<boolean>((ok) => {
      let out = "";
      const onData = (b: Buffer) => {
        out += b.toString();
        if (/Ready to accept connections/.test(out)) ok(true);
        if (/Address already in use|Could not create server TCP/.test(out)) ok(false);
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", () => ok(false));
    });
    if (ready) {
      // A test process that ends without its teardown (a timeout) leaves no server behind.
      const orphan = () => child.kill("SIGKILL");
      process.once("exit", orphan);
      child.once("exit", () => process.off("exit", orphan));
      child.stdout!.resume();
      child.stderr!.resume();
      return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid!, dir, stop: () => stop(child, dir) };
    }
    child.kill("SIGKILL");
    if (attempt >= 3) throw new Error("redis-server did not start");
  }
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((ok) => child.once("exit", ok));
    process.kill(child.pid!, "SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
