import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * An append-only log that rotates at `maxBytes`: `x.log` → `x.log.1` → … → `x.log.<keep>`
 * (the oldest is dropped). Writes are synchronous so nothing is lost or reordered, and a
 * child's pipes are drained however much it prints.
 */
export class RotatingLog {
  private fd: number;
  private size: number;
  /** The last few KiB written, for error messages. */
  private recent = "";

  constructor(
    readonly path: string,
    readonly maxBytes = 5 * 1024 * 1024,
    readonly keep = 3,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, "a");
    this.size = existsSync(path) ? statSync(path).size : 0;
  }

  write(chunk: Buffer | string): void {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.recent = (this.recent + buf.toString("utf8")).slice(-4096);
    if (this.size > 0 && this.size + buf.length > this.maxBytes) this.rotate();
    writeSync(this.fd, buf);
    this.size += buf.length;
  }

  /** The last `n` non-empty lines written. */
  tail(n = 5): string {
    return this.recent.split("\n").map((l) => l.trim()).filter(Boolean).slice(-n).join(" | ");
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, "a");
    this.size = 0;
  }
}
