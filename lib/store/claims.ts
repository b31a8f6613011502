import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { FilesDir } from "./files.js";

/**
 * Blobs in `<home>/files` are shared by every app, but each app's references live in its
 * own database, which other processes cannot read (it is locked). So each app also
 * marks the blobs it holds with an empty file `<home>/apps/<app>/claims/<sha256>`, and
 * a blob is deleted only when no app claims it.
 *
 * The race to close: app A releases the last claim while app B claims the same content.
 * A moves the blob aside to a tomb, re-checks the claims, and puts it back if one
 * appeared; B, after claiming, checks that the blob is in place and writes it again if
 * not. Whatever the interleaving, a claimed blob ends up present.
 */
export class Claims {
  readonly dir: string;

  constructor(
    /** `<home>/apps/<app>`: claims go to its `claims/`, siblings are the other apps. */
    readonly appDir: string,
    private readonly files: FilesDir,
  ) {
    this.dir = join(appDir, "claims");
  }

  /** Marks `id` as held by this app. Returns false when the blob is missing (re-put it). */
  async claim(id: string): Promise<boolean> {
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, id), "", { flag: "a" });
    return exists(this.files.pathOf(id));
  }

  /**
   * Drops this app's claim on `id` and deletes the blob when no app claims it any more.
   * Idempotent, and safe to repeat after a crash: the tomb's name is fixed per app and
   * blob, so a rerun (recovery replays the `gc` journal) finds a tomb it left and either
   * puts it back or finishes deleting it.
   */
  async release(id: string): Promise<void> {
    await rm(join(this.dir, id), { force: true });
    const blob = this.files.pathOf(id);
    const tomb = join(this.files.dir, `.gc-${id}-${basename(this.appDir)}`);
    if (!(await exists(tomb))) {
      if (await this.claimedAnywhere(id)) return;
      try {
        await rename(blob, tomb);
      } catch {
        return; // already gone
      }
    }
    if (await this.claimedAnywhere(id)) await rename(tomb, blob);
    else await rm(tomb, { force: true });
  }

  private async claimedAnywhere(id: string): Promise<boolean> {
    const appsDir = dirname(this.appDir);
    let apps: string[];
    try {
      apps = await readdir(appsDir);
    } catch {
      return false;
    }
    for (const app of apps) if (await exists(join(appsDir, app, "claims", id))) return true;
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
