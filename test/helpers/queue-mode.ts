import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { Graph } from "../../lib/index.js";
import { dispatcherOf } from "../../lib/engine/index.js";
import { QueueDispatcher, QueueWorker, SharedDirBlobs } from "../../lib/queue/index.js";

/**
 * The engine's test cases in queue mode (`DAGGR_TEST_QUEUE=redis://…`, see
 * test/queue.test.ts): each graph a test opens gets a queue of its own on that Redis and
 * a worker in this process, so every node call goes through BullMQ (jobs, events,
 * cancels, files by content) while the test's closures still see what the nodes do.
 */
const url = process.env.DAGGR_TEST_QUEUE!;
const blobs = new SharedDirBlobs(mkdtempSync(join(tmpdir(), "daggr-engine-queue-")));
const opened: Array<{ close(): Promise<void> }> = [];
let n = 0;

export async function attachQueue(graph: Graph): Promise<void> {
  if (dispatcherOf(graph)) return;
  const queue = `engine-${process.pid}-${n++}`;
  const d = await QueueDispatcher.open(graph, { redis: url, blobs, queue });
  // Enough slots for the widest test (1,000 concurrent nodes): limits are the engine's.
  const w = await QueueWorker.start(graph, { redis: url, blobs, queue, concurrency: 2000 });
  opened.push(d, w);
}

t.teardown(async () => {
  for (const o of opened.reverse()) await o.close();
  rmSync(blobs.dir, { recursive: true, force: true });
});
