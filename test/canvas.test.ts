/**
 * <daggr-canvas> in a real browser (Debian's Chromium via playwright-core) against real
 * daggr servers. Screenshots land in test-artifacts/.
 */
import { existsSync, readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Page } from "playwright-core";
import t from "tap";
import { FnNode, Graph, InputNode, MemoryStore, gr } from "../lib/index.js";
import { type LaunchedServer, type ServerOptions, launch, showDiagnostics } from "../lib/server/index.js";
import { CHROMIUM, canvasReady, shot, startBrowser } from "./fixtures/canvas-browser.js";
import { bigGraph, embedGraph, generateEndpoint, gradioGraph, growGraph, showcaseGraph, slowEndpoint, textGraph } from "./fixtures/canvas-graphs.js";
import { startFakeGradio } from "./fixtures/fake-gradio.js";
import { encodePng } from "../examples/lib/png.js";

const ROOT = join(import.meta.dirname, "..");
const example = async (name: string) => (await import(`../examples/${name}.js`)).default as Graph;
// A dozen page loads in a real browser: more than the default per-file budget on a busy 2-core machine.
t.setTimeout(600_000);


/** A memory store that tells of saved viewports: `nextViewport()` resolves with the next one written. */
function viewportStore() {
  let saved: (v: unknown) => void = () => undefined;
  const store = new (class extends MemoryStore {
    override async updateSheet(...args: Parameters<MemoryStore["updateSheet"]>) {
      const info = await super.updateSheet(...args);
      if (args[1].viewport) saved(args[1].viewport);
      return info;
    }
  })();
  return { store, nextViewport: <V = unknown>() => new Promise<V>((r) => (saved = r as (v: unknown) => void)) };
}

t.test("elements/layout/elk-worker.txt is the installed elkjs worker, unmodified", async (t) => {
  const vendored = readFileSync(join(ROOT, "elements/layout/elk-worker.txt"));
  const installed = readFileSync(join(ROOT, "node_modules/elkjs/lib/elk-worker.min.js"));
  t.ok(vendored.equals(installed), "refresh it: cp node_modules/elkjs/lib/elk-worker.min.js elements/layout/elk-worker.txt");
});

t.test("every --daggr-* variable the styles use is documented in elements/README.md", async (t) => {
  const { readdirSync } = await import("node:fs");
  const used = new Set<string>();
  for (const dir of ["elements", "elements/views", "elements/components", "elements/controllers"]) {
    for (const f of readdirSync(join(ROOT, dir)).filter((x) => x.endsWith(".ts"))) {
      for (const m of readFileSync(join(ROOT, dir, f), "utf8").matchAll(/--daggr-[a-z0-9]+(?:-[a-z0-9]+)*/g)) used.add(m[0]);
    }
  }
  used.delete("--daggr-badge"); // the prefix of the badge colours, built as `--daggr-badge-${kind}`
  const readme = readFileSync(join(ROOT, "elements/README.md"), "utf8");
  const missing = [...used].filter((v) => !readme.includes(`\`${v}\``));
  t.ok(used.size > 20, `${used.size} variables`);
  t.same(missing, [], "each has a row in the theming table");
});

t.test("an edge routed over a card runs above the card's timing label (the 4 px gap and 11 px text over its top edge), not through it", async (t) => {
  const { Obstacles, route } = await import("../elements/layout/route.js");
  const card = { id: "b", x: 400, y: 100, w: 300, h: 400 };
  // a's port and c's port sit near b's top: the short way round is over b.
  const { d, routed } = route(300, 120, 800, 130, new Obstacles([card]), "a", "c");
  t.ok(routed, d);
  const channel = Number(/ L[\d.]+,([\d.-]+)/.exec(d)![1]);
  t.ok(channel < card.y, `over b (y ${channel})`);
  const label = { top: card.y - 4 - 15, bottom: card.y - 4 };
  t.ok(channel < label.top - 1, `above b's label (${label.top}–${label.bottom}), at y ${channel}`);
});

if (!existsSync(CHROMIUM)) {
  // Under CI a missing browser fails the suite; elsewhere it is a skip, never a pass.
  if (process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium`);
  t.test("the canvas in a real browser", { skip: `no Chromium at ${CHROMIUM} (apt-get install -y chromium)` }, () => {});
} else {
  await browserTests();
}

async function browserTests(): Promise<void> {
  const browser = await startBrowser();
  t.teardown(() => browser.close());

  async function serve(t: Tap, graph: Graph, options: ServerOptions = {}): Promise<LaunchedServer> {
    const server = await launch(graph, { port: 0, store: new MemoryStore(), quiet: true, ...options });
    t.teardown(() => server.close());
    return server;
  }

  /** A fresh browser context on `url`, failing the test on any page error. */
  async function open(t: Tap, url: string, o: { colorScheme?: "light" | "dark"; width?: number; height?: number } = {}): Promise<Page> {
    const ctx = await browser.context(o);
    // A finished test's page is closed: pages left open keep animating and reconnecting to
    // their closed servers, and on a loaded machine a dozen of them starve the later tests.
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    page.on("pageerror", (e) => t.fail(`page error: ${e.message}`));
    await page.goto(url);
    await canvasReady(page);
    return page;
  }

  /** Waits until every finite animation and transition on the page (shadow roots included) has ended: before a screenshot. */
  const settled = (page: Page) =>
    page.evaluate(() => Promise.all(document.getAnimations().filter((a) => a.effect?.getComputedTiming().iterations !== Infinity).map((a) => a.finished.catch(() => undefined))));
  const card = (page: Page, id: string) => page.locator(`daggr-node[node-id="${id}"]`);
  const output = (page: Page, id: string, port: string) => card(page, id).locator(`.comp.out[data-port="${port}"]`);
  const input = (page: Page, id: string, port: string) => card(page, id).locator(`.comp.in[data-port="${port}"]`);
  const textOf = (page: Page, id: string, port: string, text: string | RegExp) => output(page, id, port).filter({ hasText: text }).waitFor();
  const renders = (page: Page) =>
    page.evaluate(() => Object.fromEntries([...document.querySelector("daggr-canvas")!.shadowRoot!.querySelectorAll("daggr-node")].map((n) => [(n as HTMLElement & { nodeId: string }).nodeId, (n as HTMLElement & { renders: number }).renders])));

  t.test("nodes and edges render, laid out left to right", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    t.equal(await page.locator("daggr-node").count(), 4);
    t.equal(await page.locator("svg.edges path.edge").count(), 2, "Inputs→Upper, Upper→Shout");
    t.equal(await card(page, "Inputs").locator(".badge").textContent(), "INPUT");
    t.equal(await card(page, "Upper").locator(".badge").textContent(), "FN");
    const x = async (id: string) => (await card(page, id).boundingBox())!.x;
    t.ok((await x("Inputs")) < (await x("Upper")) && (await x("Upper")) < (await x("Shout")), "layered left to right");
    t.equal(await input(page, "Inputs", "text").locator("input").inputValue(), "hello");
    t.equal(await page.locator("daggr-canvas").getAttribute("status"), "open");
    await shot(page, "canvas-text-graph");
  });

  t.test("a run restyles an edge only when its look changes: no write leaves a path's class as it was", async (t) => {
    const { fanOutGraph } = await import("../bench/server.js");
    const server = await serve(t, fanOutGraph(6));
    const page = await open(t, server.url);
    await page.evaluate(() => {
      const svg = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector("svg.edges")!;
      const w = window as unknown as { classes: Map<Element, Array<string | null>>; finished: boolean };
      w.classes = new Map();
      w.finished = false;
      new MutationObserver((records) => {
        for (const r of records) {
          const list = w.classes.get(r.target as Element) ?? [];
          list.push(r.oldValue);
          w.classes.set(r.target as Element, list);
        }
      }).observe(svg, { subtree: true, attributes: true, attributeFilter: ["class"], attributeOldValue: true });
      document.addEventListener("daggr-event", (e) => (e as CustomEvent<{ type: string }>).detail.type === "run-finished" && (w.finished = true));
    });
    await page.locator("button.run-graph").click();
    await page.waitForFunction(() => (window as unknown as { finished: boolean }).finished);
    const looks = await page.evaluate(() =>
      [...(window as unknown as { classes: Map<Element, Array<string | null>> }).classes].map(([p, olds]) => [(p as HTMLElement).dataset.edge!, [...olds, p.getAttribute("class")]] as const),
    );
    t.equal(looks.length, 12, "every edge changed look in the run");
    for (const [edge, seq] of looks) t.ok(seq.every((c, i) => i === 0 || c !== seq[i - 1]), `${edge}: ${seq.join(" → ")}`);
  });

  t.test("on open, autorun nodes without a result compute; a remote node says how it runs instead", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    await textOf(page, "Upper", "upper", "HELLO");
    await textOf(page, "Shout", "shout", "HELLO!!");
    await textOf(page, "Side", "twice", "42");
    t.pass("the FnNodes computed without a click");
    const fake = await startFakeGradio({ endpoints: [generateEndpoint, slowEndpoint] });
    t.teardown(() => fake.close());
    const remote = await serve(t, gradioGraph(fake.url));
    const rpage = await open(t, remote.url);
    const hint = card(rpage, "Generate").locator(".run-hint");
    await hint.waitFor();
    t.equal((await hint.textContent())!.trim(), "▶ runs this step; remote steps run when you ask");
    t.equal(fake.stats.joined, 0, "no remote job was started by opening the canvas");
    await card(rpage, "Generate").locator("button.run-step").click();
    await card(rpage, "Generate").locator(".run-hint").waitFor({ state: "detached" });
    t.pass("the hint goes once the node runs");
  });

  t.test("editing an input re-runs the autorun FnNodes downstream; only their cards re-render; no new layout", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    // The results computed on open arrive first.
    await textOf(page, "Shout", "shout", "HELLO!!");
    await textOf(page, "Side", "twice", "42");
    const before = await renders(page);
    await input(page, "Inputs", "text").locator("input").fill("world");
    await textOf(page, "Upper", "upper", "WORLD");
    await textOf(page, "Shout", "shout", "WORLD!!");
    const edges = page.locator("svg.edges path.edge.fresh");
    await page.waitForFunction(() => document.querySelector("daggr-canvas")!.shadowRoot!.querySelectorAll("path.edge.fresh").length === 2);
    t.equal(await edges.count(), 2, "edges turn fresh");
    const after = await renders(page);
    t.equal(after.Side, before.Side, "the unrelated card did not re-render");
    t.ok(after.Upper! > before.Upper!, "the edited branch re-rendered");
    t.equal(await page.evaluate(() => document.querySelector("daggr-canvas")!.layout.runs), 1, "values changing never lays out again");
    await shot(page, "canvas-edited");
  });

  t.test("a stale card says so in words and why (which input changed), readable in both themes; running it clears the words", async (t) => {
    const server = await serve(t, textGraph("Stale words", { autorun: false }));
    const page = await open(t, server.url);
    await page.locator("button.run-graph").click();
    await textOf(page, "Shout", "shout", "HELLO!!");
    await card(page, "Shout").locator(".card.fresh").waitFor();
    t.equal(await page.locator("daggr-node .stale-note").count(), 0, "every card is fresh: no stale words");

    await input(page, "Inputs", "text").locator("input").fill("world");
    const note = (id: string) => card(page, id).locator(".stale-note");
    await note("Shout").waitFor();
    t.equal(await card(page, "Shout").locator(".card.stale").count(), 1, "the words come with the grey bar");
    const words = async (id: string) => (await note(id).locator(".stale-why").textContent())!.replace(/\s+/g, " ").trim();
    t.equal(await words("Upper"), "Stale — ‘Text’ (Inputs) changed since this result", "the card reading the input names it");
    t.equal(await words("Shout"), "Stale — ‘Text’ (Inputs) changed since this result", "two steps down, the same edit is named");
    t.equal(await note("Side").count(), 0, "the unrelated card stays fresh and silent");
    await card(page, "Inputs").locator(".card.fresh").waitFor();
    t.equal(await note("Inputs").count(), 0, "the input node itself is fresh once it holds the new value: no words");

    // Its own input too: both causes, the nearest first.
    const bangs = input(page, "Shout", "bang").locator('input[type="number"]');
    await bangs.fill("3");
    await bangs.blur();
    await page.waitForFunction(() => {
      const n = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Shout"]')!;
      return /‘Bangs’ and ‘Text’ \(Inputs\) changed/.test(n.shadowRoot!.querySelector(".stale-why")?.textContent ?? "");
    });
    t.pass("the card's own edited input is named before the upstream one");

    /** WCAG contrast of the note's text (and its bold word) on the note's background. */
    const lum = (c: string) => {
      const [r, g, b] = c.match(/[\d.]+/g)!.slice(0, 3).map((v) => (Number(v) / 255 <= 0.03928 ? Number(v) / 255 / 12.92 : ((Number(v) / 255 + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const ratio = (a: string, b: string) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
    const contrast = async () => {
      const c = await note("Shout").evaluate((el) => [el, el.querySelector(".stale-why")!, el.querySelector("b")!].map((e) => getComputedStyle(e)[e === el ? "backgroundColor" : "color"]));
      return { text: ratio(c[1]!, c[0]!), word: ratio(c[2]!, c[0]!) };
    };
    const light = await contrast();
    t.ok(light.text >= 4.5 && light.word >= 4.5, `light theme: text ${light.text.toFixed(2)}:1, "Stale" ${light.word.toFixed(2)}:1 (WCAG AA: 4.5:1)`);
    await page.mouse.move(5, 400);
    await settled(page);
    await shot(page, "canvas-stale-words-light");
    await page.locator("button.theme-toggle").click();
    await page.locator('daggr-canvas[data-theme="dark"]').waitFor();
    await settled(page);
    const dark = await contrast();
    t.ok(dark.text >= 4.5 && dark.word >= 4.5, `dark theme: text ${dark.text.toFixed(2)}:1, "Stale" ${dark.word.toFixed(2)}:1`);
    await shot(page, "canvas-stale-words-dark");

    // The note's own Run button runs to here: Upper first, then Shout; both words go.
    await note("Shout").locator("button.stale-run").click();
    await textOf(page, "Shout", "shout", "WORLD!!!");
    await card(page, "Shout").locator(".card.fresh").waitFor();
    await note("Shout").waitFor({ state: "detached" });
    await note("Upper").waitFor({ state: "detached" });
    t.equal(await page.locator("daggr-node .stale-note").count(), 0, "fresh again: no stale words anywhere");

    // An upstream node run again alone makes a new sample: the card below names it.
    let rolls = 0;
    const roll = new FnNode(() => ++rolls, { name: "Roll", autorun: false, outputs: { n: gr.Number({ label: "N" }) } });
    const show = new FnNode(({ n }: { n: number }) => `rolled ${n}`, { name: "Show", autorun: false, inputs: { n: roll.out.n }, outputs: { text: gr.Textbox({ label: "Text" }) } });
    const dice = await serve(t, new Graph({ name: "Dice", nodes: [show] }));
    const dpage = await open(t, dice.url);
    await dpage.locator("button.run-graph").click();
    await textOf(dpage, "Show", "text", "rolled 1");
    await card(dpage, "Roll").locator("button.run-step").click();
    await card(dpage, "Show").locator(".stale-note").waitFor();
    t.equal((await card(dpage, "Show").locator(".stale-why").textContent())!.replace(/\s+/g, " ").trim(), "Stale — Roll has a newer result than the one used", "a rerun upstream is named by its node");
    t.equal(await card(dpage, "Roll").locator(".stale-note").count(), 0, "the rerun node itself is fresh");
  });

  t.test("a focused field keeps what the user types through re-renders; a number is sent once, on commit", async (t) => {
    // Settings(title, zoom, steps) → Render(zoom, steps): Render records every value it ran with.
    const ran: Array<[number, number]> = [];
    const settings = new InputNode({
      name: "Settings",
      ports: { title: gr.Textbox({ label: "Title", value: "t0" }), zoom: gr.Slider({ label: "Zoom", minimum: 1, maximum: 200, step: 1, value: 10 }), steps: gr.Number({ label: "Steps", value: 5 }) },
    });
    const render = new FnNode(({ zoom, steps }: { zoom: number; steps: number }) => (ran.push([zoom, steps]), `zoom ${zoom}, ${steps} steps`), {
      name: "Render",
      inputs: { zoom: settings.out.zoom, steps: settings.out.steps },
      outputs: { text: gr.Textbox({ label: "Render" }) },
    });
    const server = await serve(t, new Graph({ name: "Drafts", nodes: [render] }));
    const page = await open(t, server.url);
    const other = await open(t, server.url); // a second tab on the same sheet
    const title = input(page, "Settings", "title").locator("input");
    const rerendered = async (value: string) => {
      // The other tab edits the title: this tab's Settings card re-renders with it.
      await input(other, "Settings", "title").locator("input").fill(value);
      await page.waitForFunction((v) => {
        const card = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Settings"]')!;
        return (card.shadowRoot!.querySelector('.comp.in[data-port="title"] input') as HTMLInputElement).value === v;
      }, value);
    };

    for (const [port, selector, typed, expected] of [["zoom", "input.slider-num", ["2", "4"], 24], ["steps", "input", ["1", "7"], 17]] as const) {
      const box = input(page, "Settings", port).locator(selector);
      await box.click();
      await box.selectText();
      await page.keyboard.type(typed[0]);
      await rerendered(`${port} ${typed[0]}`);
      t.equal(await box.inputValue(), typed[0], `${port}: the half-typed number survives a re-render`);
      await page.keyboard.type(typed[1]);
      await rerendered(`${port} ${typed.join("")}`);
      t.equal(await box.inputValue(), typed.join(""), `${port}: and the next keystroke lands after it`);
      await page.keyboard.press("Enter");
      await textOf(page, "Render", "text", port === "zoom" ? "zoom 24, 5 steps" : "zoom 24, 17 steps");
      t.equal(await box.inputValue(), String(expected), `${port}: committed`);
    }
    t.same(ran.filter(([z, s]) => z !== 10 || s !== 5), [[24, 5], [24, 17]], "Render ran once per committed number, never on a half-typed one");
    t.equal(await title.inputValue(), "steps 17", "an unfocused field shows the other tab's edit");
    await shot(page, "canvas-drafts");
  });

  t.test("two tabs, one input: an edit another tab overtook is refused; the input shows the current value and the card says why", async (t) => {
    const ran: number[] = [];
    const settings = new InputNode({ name: "Settings", ports: { steps: gr.Number({ label: "Steps", value: 5 }) } });
    const render = new FnNode(({ steps }: { steps: number }) => (ran.push(steps), `${steps} steps`), {
      name: "Render",
      inputs: { steps: settings.out.steps },
      outputs: { text: gr.Textbox({ label: "Render" }) },
    });
    const server = await serve(t, new Graph({ name: "Conflict", nodes: [render] }));
    const page = await open(t, server.url);
    const { WireClient } = await import("./fixtures/server-wire.js");
    const other = await WireClient.open(server.url);
    t.teardown(() => other.c.close());
    // This tab starts an edit (a number is a draft until committed) on revision 0…
    const box = input(page, "Settings", "steps").locator("input");
    await box.click();
    await box.selectText();
    await page.keyboard.type("7");
    // …while the other tab changes the same input, and this tab hears of it.
    await other.c.request({ type: "set-input", nodeId: "Settings", port: "steps", value: 3 });
    await page.waitForFunction(() => (document.querySelector("daggr-canvas") as unknown as { store: { inputRevs: Map<string, number> } }).store.inputRevs.get("Settings__steps") === 1);
    await page.keyboard.press("Enter");
    await card(page, "Settings").filter({ hasText: "was changed in another tab" }).waitFor();
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.waitForFunction(() => {
      const c = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Settings"]')!;
      return (c.shadowRoot!.querySelector('.comp.in[data-port="steps"] input') as HTMLInputElement).value === "3";
    });
    t.equal(await box.inputValue(), "3", "the input takes the current value");
    const fresh = await WireClient.open(server.url);
    t.equal((fresh.snap as { inputs: Record<string, unknown> }).inputs.Settings__steps, 3, "the refused edit changed nothing on the server");
    fresh.c.close();
    t.notOk(ran.includes(7), "nothing ran on the refused value");
    await shot(page, "canvas-conflict");
  });

  t.test("during a run, Stop shows only on nodes that will run; reused nodes and an edit's unrelated nodes stay as they are", async (t) => {
    // Settings → Fast → End (held by a gate the test opens) and Settings → Side.
    let gate: (() => void) | undefined;
    let held = false;
    const settings = new InputNode({ name: "Settings", ports: { text: gr.Textbox({ label: "Text", value: "a" }) } });
    const fast = new FnNode(({ text }: { text: string }) => `${text}!`, { name: "Fast", inputs: { text: settings.out.text }, outputs: { out: gr.Textbox({ label: "Fast" }) } });
    const side = new FnNode(({ n }: { n: number }) => n + 1, { name: "Side", inputs: { n: gr.Number({ label: "N", value: 1 }) }, outputs: { out: gr.Number({ label: "Side" }) } });
    const end = new FnNode(
      async ({ text }: { text: string }) => {
        if (held) await new Promise<void>((r) => (gate = r));
        return `end ${text}`;
      },
      { name: "End", concurrent: true, inputs: { text: fast.out.out }, outputs: { out: gr.Textbox({ label: "End" }) } },
    );
    const server = await serve(t, new Graph({ name: "Stops", nodes: [end, side] }));
    const page = await open(t, server.url);
    await card(page, "End").locator("button.run-all").click();
    await textOf(page, "End", "out", "end a!");
    held = true;
    await card(page, "End").locator("button.run-to-here").click(); // Settings and Fast are fresh: only End (the target) runs
    await card(page, "End").locator("button.stop").waitFor();
    t.equal(await card(page, "Fast").locator("button.stop").count(), 0, "Fast is fresh and reused: no Stop");
    t.equal(await card(page, "Fast").locator("button.run-step").count(), 1, "it keeps its run buttons");
    t.equal(await card(page, "Side").locator("button.stop").count(), 0, "Side is not part of the run");
    await shot(page, "canvas-stop-only-running");
    gate!();
    await card(page, "End").locator("button.run-step").waitFor();
  });

  t.test("history arrows ‹ › restore the inputs that made a result", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    await textOf(page, "Upper", "upper", "HELLO"); // computed on open: the first result
    const box = input(page, "Inputs", "text").locator("input");
    await box.fill("first");
    await textOf(page, "Upper", "upper", "FIRST");
    await box.fill("second");
    await textOf(page, "Upper", "upper", "SECOND");
    const hist = card(page, "Upper").locator("footer.history");
    await hist.locator(".pos").filter({ hasText: "3/3" }).waitFor();
    await hist.locator("button.prev").click();
    await textOf(page, "Upper", "upper", "FIRST");
    await hist.locator(".pos").filter({ hasText: "2/3" }).waitFor();
    await page.waitForFunction(() => {
      const n = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Inputs"]')!;
      return (n.shadowRoot!.querySelector(".comp.in input") as HTMLInputElement).value === "first";
    });
    t.equal(await box.inputValue(), "first", "the input that produced the older result is back");
    t.equal(await output(page, "Shout", "shout").locator(".text-out").textContent(), "FIRST!!", "downstream cascades to its matching result");
    await shot(page, "canvas-history");
    await hist.locator("button.next").click();
    await textOf(page, "Upper", "upper", "SECOND");
  });

  t.test("provenance: a result's panel shows its status, timing, who served it, its inputs and the upstream results it consumed; a link jumps there", async (t) => {
    const inputs = new InputNode({ name: "Inputs", ports: { text: gr.Textbox({ label: "Text", value: "a" }) } });
    const upper = new FnNode(({ text }: { text: string }) => text.toUpperCase(), { name: "Upper", inputs: { text: inputs.out.text }, outputs: { upper: gr.Textbox({ label: "Upper" }) } });
    const caption = new FnNode(
      () => {
        throw new Error("the primary is down");
      },
      { name: "Caption", inputs: { s: upper.out.upper, n: gr.Number({ label: "N", value: 3 }) }, outputs: { caption: gr.Textbox({ label: "Caption" }) }, autorun: false },
    );
    caption.fallback(new FnNode(() => "from the backup", { name: "Spare", outputs: { caption: gr.Textbox() } }));
    const server = await serve(t, new Graph({ name: "Provenance", nodes: [caption] }));
    const page = await open(t, server.url);
    const sent: Array<{ type: string; nodeId?: string; resultId?: string }> = [];
    page.on("websocket", (ws) => ws.on("framesent", (f) => sent.push(JSON.parse(String(f.payload)))));
    await page.reload(); // to see this page's socket from its start
    await canvasReady(page);
    const box = input(page, "Inputs", "text").locator("input");
    await box.fill("one");
    await textOf(page, "Upper", "upper", "ONE");
    await card(page, "Caption").locator("button.run-step").click();
    await textOf(page, "Caption", "caption", "from the backup");
    await box.fill("two");
    await textOf(page, "Upper", "upper", "TWO");
    // Caption (no autorun) still shows the result made from Upper's first one.
    await card(page, "Caption").locator("button.prov-toggle").click();
    const panel = card(page, "Caption").locator("section.provenance");
    t.equal((await panel.locator(".prov-status").textContent())!.trim(), "success");
    t.match(await panel.locator(".prov-served").textContent(), /backup\s+Spare/, "served by the backup");
    t.match(await panel.locator(".prov-ms").textContent(), /\d/);
    t.equal((await panel.locator('.prov-inputs li[data-port="n"] .v').textContent())!.trim(), "3", "the inputs it was made from");
    const link = panel.locator('button.prov-up[data-port="s"]');
    t.match(await link.textContent(), /Upper.*an earlier result/s, "the upstream result it consumed, no longer selected");
    const rid = (await link.getAttribute("data-result"))!;
    await shot(page, "canvas-provenance");
    // Out of view first, so the jump has somewhere to go.
    await page.evaluate(() => document.querySelector("daggr-canvas")!.reveal("Caption", { zoom: 1.5 }));
    await link.click();
    await textOf(page, "Upper", "upper", "ONE");
    t.ok(sent.some((m) => m.type === "select-result" && m.nodeId === "Upper" && m.resultId === rid), "that result was selected");
    await page.waitForFunction(() => {
      const slot = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('.slot[data-node="Upper"]')!.getBoundingClientRect();
      return Math.abs(slot.left + slot.width / 2 - innerWidth / 2) < 4;
    });
    t.pass("the Upper card is centred in view");
  });

  t.test("provenance of a result the node made itself names no server: 'Served by' is for a backup's results", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    await textOf(page, "Upper", "upper", "HELLO");
    await card(page, "Upper").locator("button.prov-toggle").click();
    const panel = card(page, "Upper").locator("section.provenance");
    t.equal((await panel.locator(".prov-status").textContent())!.trim(), "success");
    t.equal(await panel.locator(".prov-served").count(), 0);
    t.notMatch(await panel.textContent(), /Served by|primary/, "no word about backups on a node that has none");
  });

  t.test("GradioNodes: queue position, stop cancels the remote job, progress, then the image", async (t) => {
    // One job at a time on the app: the second waits in its queue.
    const fake = await startFakeGradio({ endpoints: [generateEndpoint, slowEndpoint], concurrency: 1 });
    t.teardown(() => fake.close());
    const server = await serve(t, gradioGraph(fake.url));
    const page = await open(t, server.url);
    const gen = card(page, "Generate");
    const slow = card(page, "Slow");
    t.equal(await gen.locator(".badge").textContent(), "GRADIO");
    t.equal(await gen.locator("a.name").getAttribute("href"), fake.url, "a remote node's name links to its app");
    await card(page, "Typo").locator(".error-panel").filter({ hasText: /generat/ }).waitFor();
    t.pass("a node that fails its start-up check shows why");

    await slow.locator("button.run-step").click();
    await slow.locator("button.stop").waitFor();
    await slow.locator("daggr-elapsed").waitFor();
    await gen.locator("button.run-step").click();
    await gen.locator(".status-line").filter({ hasText: /In queue|Next in queue/ }).waitFor();
    t.ok(await gen.locator(".progress").count(), "a waiting node shows a progress bar");
    await shot(page, "canvas-gradio-queue");

    await slow.locator("button.stop").click();
    await slow.locator(".notice").filter({ hasText: "Stopped" }).waitFor();
    t.equal(await slow.locator("button.stop").count(), 0, "the stop button goes away");
    // The cancel reaches the app after the card says Stopped; the test's timeout bounds the wait.
    while (!fake.cancels.length) await new Promise((r) => setImmediate(r));
    t.ok(fake.cancels.length > 0, "the remote job was cancelled too");

    await gen.locator(".status-line").filter({ hasText: /denoising/ }).waitFor();
    await shot(page, "canvas-gradio-progress");
    const img = output(page, "Generate", "image").locator("img");
    await img.waitFor();
    t.match(await img.getAttribute("src"), /\/files\/[0-9a-f]{64}$/, "the image is served by its file id");
    t.ok(await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0), "and it loads");
    await gen.locator(".timing").filter({ hasText: /s$/ }).waitFor();
    await shot(page, "canvas-gradio-image");
  });

  t.test("sheets: create, rename, switch, delete; each keeps its inputs and viewport across reloads", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    const menu = page.locator("daggr-sheets");
    const trigger = menu.locator("button.trigger");
    const box = input(page, "Inputs", "text").locator("input");
    t.equal((await trigger.textContent())!.trim(), "Sheet 1");

    // pan sheet 1 and remember its transform
    const vp = page.locator(".daggr-viewport");
    const savedViewport = () => page.evaluate(() => JSON.stringify(document.querySelector("daggr-canvas")!.store.sheet?.viewport ?? null));
    const unpanned = await savedViewport();
    const b = (await vp.boundingBox())!;
    await page.mouse.move(b.x + 40, b.y + b.height - 80);
    await page.mouse.down();
    await page.mouse.move(b.x + 140, b.y + b.height - 40, { steps: 5 });
    await page.mouse.up();
    const sheet1Transform = await page.locator(".world").evaluate((el) => (el as HTMLElement).style.transform);
    // The viewport is saved after a pause: wait until the canvas has sent it.
    await page.waitForFunction((old) => JSON.stringify(document.querySelector("daggr-canvas")!.store.sheet?.viewport ?? null) !== old, unpanned);

    await trigger.click();
    await menu.locator("button.new").click();
    await trigger.filter({ hasText: "Sheet 2" }).waitFor();
    await box.fill("on sheet two");
    await textOf(page, "Upper", "upper", "ON SHEET TWO");
    await shot(page, "canvas-sheets-menu-before");

    await trigger.click();
    await shot(page, "canvas-sheets-menu");
    await menu.locator("button.pick", { hasText: "Sheet 1" }).click();
    await trigger.filter({ hasText: "Sheet 1" }).waitFor();
    await page.waitForFunction(() => {
      const n = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Inputs"]')!;
      return (n.shadowRoot!.querySelector(".comp.in input") as HTMLInputElement).value === "hello";
    });
    t.equal(await page.locator(".world").evaluate((el) => (el as HTMLElement).style.transform), sheet1Transform, "sheet 1's viewport comes back");

    await page.reload();
    await canvasReady(page);
    t.equal((await trigger.textContent())!.trim(), "Sheet 1", "a reload keeps the sheet in use");
    t.equal(await box.inputValue(), "hello");
    t.equal(await page.locator(".world").evaluate((el) => (el as HTMLElement).style.transform), sheet1Transform, "and its viewport");

    await trigger.click();
    await menu.locator("button.pick", { hasText: "Sheet 2" }).click();
    await trigger.filter({ hasText: "Sheet 2" }).waitFor();
    await page.reload();
    await canvasReady(page);
    t.equal((await trigger.textContent())!.trim(), "Sheet 2");
    t.equal(await box.inputValue(), "on sheet two", "sheet 2 kept its input");
    await textOf(page, "Upper", "upper", "ON SHEET TWO");

    await trigger.click();
    await menu.locator('button[aria-label="Rename Sheet 2"]').click();
    await menu.locator("input.rename").fill("Drafts");
    await menu.locator("input.rename").press("Enter");
    await trigger.filter({ hasText: "Drafts" }).waitFor();

    await menu.locator('button[aria-label="Delete Drafts"]').click();
    await menu.locator(".confirm").filter({ hasText: "Delete “Drafts”?" }).waitFor();
    await menu.locator(".confirm button.danger").click();
    await trigger.filter({ hasText: "Sheet 1" }).waitFor();
    await trigger.click();
    t.equal(await menu.locator("button.pick").count(), 1, "one sheet left");
    t.equal(await menu.locator('button[aria-label^="Delete"]').count(), 0, "the last sheet cannot be deleted");
  });

  t.test("dark mode follows the system, the toggle overrides it and is remembered", async (t) => {
    const server = await serve(t, showcaseGraph());
    const page = await open(t, server.url, { colorScheme: "dark" });
    const canvas = page.locator("daggr-canvas");
    t.equal(await canvas.getAttribute("data-theme"), "dark");
    t.equal(await canvas.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(15, 15, 18)");
    await page.locator("button.run-graph").click();
    await output(page, "Views", "label").locator(".label-top").waitFor();
    await card(page, "Html").locator("daggr-safe-html b#bold").waitFor();
    await page.mouse.move(5, 400);
    await settled(page);
    await shot(page, "canvas-dark");
    await page.locator("button.theme-toggle").click();
    t.equal(await canvas.getAttribute("data-theme"), "light");
    await shot(page, "canvas-showcase-light");
    await page.reload();
    await canvasReady(page);
    t.equal(await canvas.getAttribute("data-theme"), "light", "the choice survives a reload");
  });

  t.test("HTML and Markdown outputs are sanitised: scripts and handlers never run", async (t) => {
    const server = await serve(t, showcaseGraph());
    const page = await open(t, server.url);
    await page.locator("button.run-graph").click();
    const html = card(page, "Html").locator("daggr-safe-html");
    await html.locator("b#bold").waitFor();
    await card(page, "Markdown").locator("daggr-safe-html li").first().waitFor();
    // A handler would run when the image fails to load: wait until every image has settled.
    await page.waitForFunction(() =>
      [...document.querySelector("daggr-canvas")!.shadowRoot!.querySelectorAll("daggr-node")].every((n) =>
        [...n.shadowRoot!.querySelectorAll("daggr-safe-html")].every((h) => [...(h.shadowRoot ?? h).querySelectorAll("img")].every((i) => (i as HTMLImageElement).complete)),
      ),
    );
    t.equal(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned), undefined, "nothing executed");
    t.equal(await html.locator("script").count(), 0, "no script element");
    t.equal(await html.locator("img[onerror]").count(), 0, "no handler attribute");
    t.notMatch((await html.locator("a").getAttribute("href")) ?? "", /javascript:/, "no javascript: link");
    t.equal(await card(page, "Markdown").locator("daggr-safe-html h2").textContent(), "Title");
    t.ok(await output(page, "Views", "mystery").locator("daggr-json-view").count(), "an unknown component shows its value as JSON");
    await output(page, "Views", "mystery").filter({ hasText: "anything" }).waitFor();
    await shot(page, "canvas-showcase");
  });

  t.test("streamed partial outputs show while running; a failure shows its error panel", async (t) => {
    const server = await serve(t, showcaseGraph());
    const page = await open(t, server.url);
    await card(page, "Stream").locator("button.run-step").click();
    // Any partial will do (a loaded machine may paint only some of them): the text so far, not the whole.
    await output(page, "Stream", "text").filter({ hasText: /^Text\s*streaming( \w+){0,4}$/ }).waitFor();
    t.ok(await card(page, "Stream").locator(".outputs.streaming").count(), "shown as streaming while the node runs");
    await textOf(page, "Stream", "text", "streaming one word at a time");
    await card(page, "Broken").locator("button.run-step").click();
    const panel = card(page, "Broken").locator(".error-panel");
    await panel.waitFor();
    t.match(await panel.textContent(), /CUDA OOM/, "the error message is shown");
    t.equal(await panel.locator(".error-at").textContent(), "at test/fixtures/canvas-graphs.ts:154:13", "and where the app's function threw it");
    t.match(await card(page, "Broken").locator(".timing").textContent(), /^Error/, "the timing label says so");
    await shot(page, "canvas-error-and-stream");
  });

  t.test("pasting or uploading an image sets the input to a file the server minted", async (t) => {
    const server = await serve(t, showcaseGraph());
    const page = await open(t, server.url);
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
    const image = input(page, "Editors", "image");
    const stored = () =>
      page.evaluate(() => (document.querySelector("daggr-canvas")!.store.input("Editors", "image") as { $file?: string; name?: string } | undefined) ?? null);

    // Paste: what a screenshot in the clipboard gives, while the drop zone has focus.
    await image.locator(".zone").focus();
    await image.locator(".zone").evaluate((zone, b64) => {
      const file = new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], "image.png", { type: "image/png" });
      const data = new DataTransfer();
      data.items.add(file);
      zone.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, composed: true, cancelable: true }));
    }, encodePng(8, 8, new Uint8Array(8 * 8 * 3).fill(180)).toString("base64"));
    const img = image.locator(".preview img");
    await img.waitFor();
    t.match(await img.getAttribute("src"), /\/files\/[0-9a-f]{64}$/, "a pasted image is uploaded");
    await page.waitForFunction(() => (document.querySelector("daggr-canvas")!.store.input("Editors", "image") as { name?: string } | undefined)?.name === "pasted.png");
    t.match(await stored(), { $file: /^[0-9a-f]{64}$/, name: "pasted.png", mime: "image/png" }, "and becomes the input's value, named for what it is");
    await page.locator('daggr-node[node-id="Editors"]').hover({ position: { x: 10, y: 10 } });

    await image.locator("input[type=file]").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: png });
    await page.waitForFunction(() => (document.querySelector("daggr-canvas")!.store.input("Editors", "image") as { name?: string } | undefined)?.name === "dot.png");
    t.match(await img.getAttribute("src"), /\/files\/[0-9a-f]{64}$/);
    t.pass("the server echoed the FileRef of the picked file as the input's value");

    const audio = input(page, "Editors", "audio");
    await audio.locator("button.rec").click();
    // Stop once the recorder has counted a second of sound (its own clock, not ours).
    await audio.locator(".zone").filter({ hasText: /Recording… [1-9]\d*s/ }).waitFor();
    await audio.locator("button.rec").click();
    await audio.locator(".preview audio").waitFor();
    t.match(await audio.locator(".preview audio").getAttribute("src"), /\/files\/[0-9a-f]{64}$/, "a recording is uploaded and becomes the value");
    await shot(page, "canvas-uploads");
  });

  t.test("run buttons highlight what would run; keyboard shortcuts fit and run", async (t) => {
    // No autorun: nothing runs when the canvas opens, so the ancestors are stale.
    const server = await serve(t, textGraph("Text tools", { autorun: false }));
    const page = await open(t, server.url);
    await card(page, "Shout").locator("button.run-to-here").hover();
    const lit = async () => (await page.locator("daggr-node[will-run]").evaluateAll((els) => els.map((e) => e.getAttribute("node-id")))).sort();
    t.same(await lit(), ["Shout", "Upper"], "to-here: the node and its stale ancestors (the input node is fresh once the sheet is open)");
    t.equal(await page.locator("path.edge.will-run").count(), 2);
    await card(page, "Shout").locator("button.run-step").hover();
    t.same(await lit(), ["Shout"], "step: the node alone");
    await shot(page, "canvas-will-run");
    await page.mouse.move(5, 300);
    t.same(await lit(), [], "cleared when the pointer leaves");

    const world = page.locator(".world");
    const fitted = await world.evaluate((el) => (el as HTMLElement).style.transform);
    await page.mouse.move(700, 500);
    await page.mouse.wheel(0, 300);
    t.not(await world.evaluate((el) => (el as HTMLElement).style.transform), fitted, "the wheel pans");
    await page.keyboard.down("Control");
    await page.mouse.wheel(0, -200);
    await page.keyboard.up("Control");
    t.not(await page.locator(".zoom-pct").textContent(), "100%", "Ctrl + wheel zooms");
    await page.keyboard.press("f");
    t.equal(await world.evaluate((el) => (el as HTMLElement).style.transform), fitted, "F fits the graph again");
    await page.keyboard.press("Shift+Enter");
    await textOf(page, "Shout", "shout", "HELLO!!");
    await textOf(page, "Side", "twice", "42");
  });

  t.test("the element embedded in a plain page of another origin loads the bundle, uploads and images from the daggr server", async (t) => {
    const embed: Server = createServer((req, res) => {
      // A plain page: the bundle, the socket, uploads and files all come from the daggr server, cross-origin.
      res.writeHead(200, { "Content-Type": "text/html" }).end(`<!doctype html><html><head><title>My blog</title>
        <script type="module" src="${daggr.url}/assets/daggr-canvas.js"></script></head>
        <body style="font-family: Georgia, serif; margin: 24px; background: #fbf7ef">
        <h1>My blog post</h1><p>Here is my workflow, live:</p>
        <daggr-canvas server="${daggr.url}" style="height: 560px; width: 1100px; border: 1px solid #ccc; border-radius: 12px; --daggr-accent: #7c3aed"></daggr-canvas>
        <p>And the text goes on.</p></body></html>`);
    });
    await new Promise<void>((r) => embed.listen(0, "127.0.0.1", r));
    t.teardown(() => new Promise((r) => embed.close(r)));
    const embedOrigin = `http://127.0.0.1:${(embed.address() as AddressInfo).port}`;
    const daggr = await serve(t, embedGraph(), { allowedOrigins: [embedOrigin] });
    t.not(new URL(daggr.url).origin, embedOrigin, "two origins");
    const page = await open(t, embedOrigin, { width: 1200, height: 760 });
    t.equal(await page.locator("h1").textContent(), "My blog post", "the host page is untouched");
    await input(page, "Inputs", "text").locator("input").fill("embedded");
    await textOf(page, "Upper", "upper", "EMBEDDED");
    // (fresh edges fade to the accent over 0.2 s)
    await page.waitForFunction(() => {
      const path = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector("path.edge.fresh");
      return path && getComputedStyle(path).stroke === "rgb(124, 58, 237)";
    });
    t.pass("the page themes it through --daggr-accent");

    // An upload (a CORS preflight, then the POST), then the autorun node's image output, served by the daggr server.
    const photo = encodePng(96, 64, Uint8Array.from({ length: 96 * 64 * 3 }, (_, i) => (i % 3 === 0 ? 124 : i % 3 === 1 ? 58 + ((i / 3) % 96) : 237)));
    await input(page, "Frame", "photo").locator("input[type=file]").setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: photo });
    const img = output(page, "Frame", "framed").locator("img");
    await img.waitFor();
    t.equal(new URL((await img.getAttribute("src"))!).origin, daggr.url, "the image comes from the daggr server");
    t.equal(await img.getAttribute("crossorigin"), "anonymous", "in CORS mode, so the server knows the embedder");
    await page.waitForFunction(() => {
      const el = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Frame"]')!.shadowRoot!.querySelector(".comp.out img") as HTMLImageElement | null;
      return el?.complete && el.naturalWidth === 96;
    });
    t.pass("and it loads cross-origin");
    await shot(page, "canvas-embedded");
  });

  t.test("MAP: the podcast example shows its items; rerunning one item updates only that item", async (t) => {
    const server = await serve(t, await example("podcast"));
    const page = await open(t, server.url);
    const voice = card(page, "voice");
    t.equal(await voice.locator("header .badge").textContent(), "MAP", "a node with an .each input is a MAP node");
    t.equal(await page.locator("path.edge.k-each").count(), 1, "the scatter edge is drawn as one (with a crow's foot)");
    t.equal(await page.locator("path.edge.k-all").count(), 1, "and so is the gather");

    await page.locator("button.run-graph").click();
    await output(page, "episode", "audio").locator("audio").waitFor();
    const rows = voice.locator("li.item");
    await rows.nth(3).waitFor();
    t.equal(await rows.count(), 4, "one row per line of the script");
    t.equal(await voice.locator(".items-title").textContent(), "4 items");
    t.match(await rows.nth(0).locator(".summary").textContent(), /^Host · Welcome to the show$/, "each row names its item");
    t.equal(await voice.locator("li.item.ok").count(), 4, "all succeeded");
    t.match(await rows.nth(1).locator(".item-ms").textContent(), /^(<1ms|\d+ms|[\d.]+s|\d+m \d\ds)$/, "with its own duration");
    t.equal(await card(page, "episode").locator("header .badge").textContent(), "FN", "the gathering node is not mapped");

    await rows.nth(1).locator(".item-main").click();
    const clip = rows.nth(1).locator(".item-out audio");
    await clip.waitFor();
    t.match(await clip.getAttribute("src"), /\/files\/[0-9a-f]{64}$/, "a row unfolds to that item's own output");

    type Item = { key: string; startedAt?: number };
    const items = () => page.evaluate(() => document.querySelector("daggr-canvas")!.store.results.get("voice")!.items!.map((i) => ({ key: i.key, startedAt: i.startedAt })) as Item[]);
    const before = await items();
    await page.evaluate(() => {
      const w = window as unknown as { __runs: unknown[] };
      w.__runs = [];
      document.querySelector("daggr-canvas")!.addEventListener("daggr-event", (e) => {
        const ev = (e as CustomEvent).detail as { type: string };
        if (ev.type === "run-started") w.__runs.push(ev);
      });
    });
    await rows.nth(2).locator("button.rerun").click();
    await page.waitForFunction((old) => {
      const items = document.querySelector("daggr-canvas")!.store.results.get("voice")!.items!;
      return items[2]!.startedAt !== old;
    }, before[2]!.startedAt);
    const after = await items();
    t.same([after[0], after[1], after[3]], [before[0], before[1], before[3]], "the other items kept their results");
    t.not(after[2]!.startedAt, before[2]!.startedAt, "item #3 ran again");
    t.match(await page.evaluate(() => (window as unknown as { __runs: unknown[] }).__runs), [{ mode: "step", target: "voice", nodes: ["voice"] }], "one step run of the node");
    await rows.nth(2).and(page.locator("li.item.updated")).waitFor();
    t.same(await voice.locator("li.item.updated").evaluateAll((els) => els.map((e) => e.getAttribute("data-item"))), ["2"], "only its row shows it changed");
    t.equal(await rows.count(), 4);
    t.equal(await clip.count(), 1, "the unfolded row stays unfolded");
    await shot(page, "canvas-map-items");
  });

  t.test("MAP: an item is edited on the canvas; only that item reruns, then the gather; the list's node gets an edited result", async (t) => {
    const server = await serve(t, await example("podcast"));
    const page = await open(t, server.url);
    const voice = card(page, "voice");
    await page.locator("button.run-graph").click();
    await output(page, "episode", "audio").locator("audio").waitFor();
    const rows = voice.locator("li.item");
    await rows.nth(3).waitFor();
    type Item = { key: string; startedAt?: number };
    const state = () => page.evaluate(() => {
      const s = document.querySelector("daggr-canvas")!.store;
      return { items: s.results.get("voice")!.items!.map((i) => ({ key: i.key, startedAt: i.startedAt })) as Item[], episode: s.results.get("episode")!.id, split: s.results.get("split")! };
    });
    const before = await state();
    await rows.nth(1).locator("button.edit-item").click();
    const area = rows.nth(1).locator(".item-edit textarea");
    t.same(JSON.parse(await area.inputValue()), { speaker: "Guest", line: "Thanks for having me" }, "the editor holds the item as JSON");
    await area.fill("{ not json");
    await rows.nth(1).locator("button.save-item").click();
    t.match(await rows.nth(1).locator(".edit-error").textContent(), /^Not valid JSON/, "a draft that is not JSON is named, not sent");
    await area.fill(JSON.stringify({ speaker: "Guest", line: "Thanks a lot" }, null, 2));
    await shot(page, "canvas-map-edit-item");
    await rows.nth(1).locator("button.save-item").click();
    await rows.nth(1).locator(".item-edit").waitFor({ state: "detached" });
    await page.waitForFunction((old) => document.querySelector("daggr-canvas")!.store.results.get("episode")?.id !== old, before.episode);
    const after = await state();
    t.same([after.items[0], after.items[2], after.items[3]], [before.items[0], before.items[2], before.items[3]], "the other items kept their results");
    t.not(after.items[1]!.key, before.items[1]!.key, "item #2 ran with the new line");
    t.match(await rows.nth(1).locator(".summary").textContent(), /^Guest · Thanks a lot$/);
    t.same(after.split.edited, { from: before.split.id, port: "lines", index: 1 }, "split's new result says it is an edit of the old one");
    t.same((after.split.outputs.lines as Array<{ line: string }>).map((l) => l.line), ["Welcome to the show", "Thanks a lot", "Tell us about dataflow engines", "They recompute only what changed"]);
    t.equal(await page.locator("daggr-node .card.stale").count(), 0, "every card is fresh: split's edit kept its key, voice and episode ran on it");
  });

  t.test("choice: the accordion groups each variant's inputs; switching the variant makes downstream stale", async (t) => {
    const choice = await example("choice");
    // As with remote variants (autorun off), the stale state stays until the user runs.
    const server = await serve(t, new Graph({ name: choice.name, nodes: [...choice.nodes], autorun: false, persistKey: false }));
    const page = await open(t, server.url);
    const node = card(page, "summariser");
    t.equal(await node.locator("header .badge").textContent(), "CHOICE");
    await page.locator("button.run-graph").click();
    await textOf(page, "words", "n", "9");
    const lead = node.locator('section.variant[data-variant="lead"]');
    const keywords = node.locator('section.variant[data-variant="keywords"]');
    t.ok(await lead.evaluate((el) => el.classList.contains("selected") && el.classList.contains("open")), "the selected variant is unfolded and marked");
    t.equal(await lead.locator(".in-use").textContent(), "selected");
    t.equal(await lead.locator(".comp-label").allTextContents().then((l) => l.join("|")), "Sentences", "its own inputs, under its name");
    t.match(await lead.locator(".reads").textContent(), /text ← article\.text/, "and what it reads, by port name");
    t.equal(await keywords.locator(".comp").count(), 0, "the other variant is folded");
    t.equal(await keywords.locator(".vcount").textContent(), "1 input");
    t.equal(await node.locator('.comp.in[data-port="variant"] button.pill.on').textContent(), "lead");
    t.equal(await node.locator('.port.in[data-port="keywords.text"].inactive').count(), 1, "the unselected variant's port is dimmed");
    t.equal(await page.locator('path.edge.inactive[data-edge="article.text->summariser.keywords.text"]').count(), 1, "and so is its edge");
    await shot(page, "canvas-choice");

    await node.locator('.comp.in[data-port="variant"] button.pill', { hasText: "keywords" }).click();
    await card(page, "words").locator(".card.stale").waitFor();
    t.pass("switching the variant makes the downstream stale");
    t.ok(await node.locator(".card.stale").count(), "and the choice node itself");
    const why = async (id: string) => (await card(page, id).locator(".stale-why").textContent())!.replace(/\s+/g, " ").trim();
    t.equal(await why("summariser"), "Stale — ‘Variant’ changed since this result", "it says the variant changed, not the port of the variant its result never read");
    t.equal(await why("words"), "Stale — ‘Variant’ (summariser) changed since this result", "and downstream, whose variant");
    t.equal(await card(page, "article").locator(".card.fresh").count(), 1, "upstream stays fresh");
    t.ok(await keywords.evaluate((el) => el.classList.contains("selected") && el.classList.contains("open")), "the picked variant unfolds");
    t.equal(await lead.locator(".comp").count(), 0, "the other folds");
    t.equal(await keywords.locator(".comp-label").textContent(), "Keywords");
    t.equal(await page.locator('path.edge.inactive[data-edge="article.text->summariser.lead.text"]').count(), 1, "the dimmed edge follows the selection");
    t.equal(await output(page, "words", "n").locator(".text-out").textContent(), "9", "the stale value stays shown until a run");
    await shot(page, "canvas-choice-stale");

    await lead.locator(".variant-head").click();
    await lead.locator('.comp.in[data-port="lead.n"]').waitFor();
    t.pass("a folded variant unfolds on demand, its inputs still editable");
    await card(page, "words").locator("button.run-to-here").click();
    await textOf(page, "words", "n", "4");
    await card(page, "words").locator(".card.fresh").waitFor();
    t.pass("running to here uses the picked variant, and the downstream is fresh again");
  });

  t.test("branch: the skipped node is dimmed with why; condition and join edges are drawn distinctly", async (t) => {
    const server = await serve(t, await example("branch"));
    const page = await open(t, server.url);
    t.equal(await page.locator("path.edge.k-when").count(), 2, "the branch condition into each routed node");
    t.equal(await page.locator("path.edge.k-first").count(), 2, "the firstOf join's two sources");
    t.match(await card(page, "thank").locator('.port.in.when[data-port="$when"]').textContent(), /if mood = happy/, "a routed node shows its case");
    await page.locator("button.run-graph").click();
    const skipped = card(page, "apologise");
    await skipped.locator(".card.skipped").waitFor();
    t.match(await skipped.locator(".skip-note").textContent(), /Skipped — classify\.out\.mood is "happy", not "unhappy"/, "the reason, from the skipped result");
    t.equal(await skipped.locator(".timing").textContent(), "skipped");
    t.equal(await skipped.locator(".comp.out").count(), 0, "no empty outputs on a skipped card");
    // The dimming fades in (a CSS transition): poll until it settles.
    await page.waitForFunction((el) => Number(getComputedStyle(el!).opacity) < 0.8, await skipped.locator(".card").elementHandle());
    t.pass("dimmed");
    t.equal(await card(page, "thank").locator(".card.skipped").count(), 0, "the matching branch ran");
    await textOf(page, "reply", "text", /Thank you!/);
    t.equal(await page.locator('path.edge.skipped[data-to="apologise"]').count(), 2, "edges into the skipped node fade");
    await page.mouse.move(5, 400);
    await shot(page, "canvas-branch-skipped");

    await input(page, "classify", "text").locator("input").fill("bad and broken, I hate it");
    await card(page, "thank").locator(".card.skipped").waitFor();
    await skipped.locator(".card.skipped").waitFor({ state: "detached" });
    await textOf(page, "reply", "text", /We are sorry/);
    t.match(await card(page, "thank").locator(".skip-note").textContent(), /not "happy"/, "the other way round after an edit");
  });

  t.test("Model3D outputs show the model in <model-viewer>, loaded on demand, with the download kept", async (t) => {
    const server = await serve(t, showcaseGraph());
    const page = await open(t, server.url);
    t.equal(await page.evaluate(() => customElements.get("model-viewer")), undefined, "the viewer is not part of the canvas bundle");
    await card(page, "Mesh").locator("button.run-step").click();
    const viewer = output(page, "Mesh", "model").locator("model-viewer");
    await viewer.waitFor({ timeout: 60_000 }); // the first request builds the viewer asset
    await page.waitForFunction(() => {
      const mv = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('daggr-node[node-id="Mesh"]')!.shadowRoot!.querySelector("daggr-model3d")!.shadowRoot!.querySelector("model-viewer") as (HTMLElement & { loaded?: boolean }) | null;
      return mv?.loaded === true;
    }, undefined, { timeout: 60_000 });
    t.match(await viewer.getAttribute("src"), /\/files\/[0-9a-f]{64}$/, "the model is served by its file id");
    const link = output(page, "Mesh", "model").locator("a.file-chip");
    t.match(await link.getAttribute("href"), /\/files\/[0-9a-f]{64}$/, "the download link stays");
    t.match(await link.textContent(), /cube\.glb/);
    await settled(page);
    const box = (await card(page, "Mesh").boundingBox())!;
    await page.screenshot({ path: join(ROOT, "test-artifacts", "canvas-model3d.png"), clip: { x: box.x - 16, y: box.y - 24, width: box.width + 32, height: box.height + 40 } });
  });

  t.test("plots: gr.BarPlot, gr.LinePlot, gr.ScatterPlot draw their rows with Observable Plot, loaded on demand; gr.Plot draws a figure; a misspelt column is named", async (t) => {
    const sales = [
      { month: "Jan", units: 3, region: "north" }, { month: "Jan", units: 4, region: "south" },
      { month: "Feb", units: 5, region: "north" }, { month: "Feb", units: 1, region: "south" },
      { month: "Mar", units: 2, region: "north" },
    ];
    const plots = new FnNode(() => ({
      bars: sales,
      lines: { headers: ["step", "loss", "run"], data: [[1, 0.9, "a"], [2, 0.5, "a"], [3, 0.3, "a"], [1, 0.8, "b"], [2, 0.6, "b"], [3, 0.4, "b"]] },
      // What a Gradio app sends for a native plot (gradio/components/native_plot.py PlotData).
      dots: { columns: ["h", "w"], data: [[150, 50], [160, 58], [170, 66], [180, 80]], datatypes: { h: "quantitative", w: "quantitative" }, mark: "point" },
      figure: { marks: [{ mark: "ruleY", data: [0] }, { mark: "rectY", data: [1, 2, 2, 3, 3, 3, 7], transform: { binX: { y: "count" } } }], x: { label: "value" } },
      typo: sales,
    }), {
      name: "Plots",
      outputs: {
        bars: gr.BarPlot({ label: "Units", x: "month", y: "units", color: "region", title: "Units by month" }),
        lines: gr.LinePlot({ label: "Loss", x: "step", y: "loss", color: "run" }),
        dots: gr.ScatterPlot({ label: "Height/weight", x: "h", y: "w", x_title: "height" }),
        figure: gr.Plot({ label: "Figure" }),
        typo: gr.BarPlot({ label: "Typo", x: "mnth", y: "units" }),
      },
    });
    const server = await serve(t, new Graph({ name: "plots", nodes: [plots] }));
    const page = await open(t, server.url);
    const plot = (port: string) => output(page, "Plots", port).locator("daggr-plot");
    for (const port of ["bars", "lines", "dots", "figure"]) await output(page, "Plots", port).locator('daggr-plot[state="drawn"]').waitFor({ timeout: 60_000 }); // the first request builds the plot asset
    t.equal(await page.evaluate(() => typeof (window as { Plot?: unknown }).Plot), "undefined", "Observable Plot is loaded as a module of its own, not a global");
    // Bars: one per (month, region) group, stacked; categories in data order; the title and the axis labels are Gradio's props.
    t.equal(await plot("bars").locator("svg [aria-label='bar'] rect").count(), 5, "5 groups → 5 bars");
    t.same(await plot("bars").locator("svg [aria-label='x-axis tick label'] text").allTextContents(), ["Jan", "Feb", "Mar"], "categories in data order");
    t.match(await plot("bars").locator("h2").textContent(), "Units by month");
    t.ok(await plot("bars").locator("[aria-label='x-axis label']").filter({ hasText: "month" }).count(), "the x axis is titled by its column");
    t.same((await plot("bars").locator(".daggr-plot-swatch").allTextContents()).map((s) => s.trim()), ["north", "south"], "a legend of the colour column");
    // Lines: one path per series of the colour column; rows from { headers, data }.
    t.equal(await plot("lines").locator("svg [aria-label='line'] path").count(), 2, "one line per run");
    // Scatter: one dot per row of a Gradio app's PlotData, x titled by x_title.
    t.equal(await plot("dots").locator("svg [aria-label='dot'] circle").count(), 4);
    t.ok(await plot("dots").locator("[aria-label='x-axis label']").filter({ hasText: "height" }).count());
    // gr.Plot: a figure in plain data, binned by Observable Plot's own transform.
    t.ok((await plot("figure").locator("svg [aria-label='rect'] rect").count()) >= 3, "the histogram's bins are drawn");
    // A column that is not there: the card says which, lists the columns and the nearest one.
    await output(page, "Plots", "typo").locator('daggr-plot[state="failed"]').waitFor();
    t.match(await plot("typo").locator(".note.error").textContent(), /x: "mnth" is not a column.*Columns: month, units, region.*Did you mean "month"\?/s);
    const box = (await card(page, "Plots").boundingBox())!;
    await page.screenshot({ path: join(ROOT, "test-artifacts", "canvas-plots.png"), clip: { x: box.x - 16, y: box.y - 24, width: box.width + 32, height: Math.min(box.height + 40, 1200) } });
  });

  t.test("a 200-node graph: the fast layered layout; only cards in view render in full, the others are placeholders", async (t) => {
    const server = await serve(t, bigGraph(200, { autorun: false })); // nothing runs on open: the run below is what turns placeholders fresh
    const page = await open(t, server.url);
    const canvas = page.locator("daggr-canvas");
    t.equal(await page.locator(".slot").count(), 200, "one slot per node");
    t.equal(await page.evaluate(() => document.querySelector("daggr-canvas")!.layout.last?.engine), "layered", "above ELK_MAX_NODES the fast layout runs");
    // Fitted, the view is zoomed out too far to read: every card is a placeholder.
    const zoom = await canvas.evaluate((c) => Number(c.shadowRoot!.querySelector(".zoom-pct")!.textContent!.replace("%", "")) / 100);
    t.ok(zoom < 0.3, `fitted at ${zoom}`);
    t.equal(await page.locator("daggr-node").count(), 0, "no card in full");
    t.equal(await page.locator(".slot > .placeholder").count(), 200);
    await shot(page, "canvas-200-nodes");
    // Revealed at 100 %: the cards in view render in full, the far ones stay placeholders.
    t.ok(await page.evaluate(() => document.querySelector("daggr-canvas")!.reveal("Step_150", { zoom: 1 })));
    await card(page, "Step_150").locator(".comp.out").first().waitFor();
    const full = await page.locator("daggr-node").count();
    t.ok(full > 0 && full < 40, `${full} cards in full`);
    const view = page.viewportSize()!;
    const boxes = await page.locator("daggr-node").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
    const margin = 0.3; // rendered a little ahead of the view
    t.ok(boxes.every((b) => b.right > -margin * view.width && b.left < (1 + margin) * view.width && b.bottom > -margin * view.height && b.top < (1 + margin) * view.height), "every full card is in or near the view");
    t.equal(await page.locator('.slot[data-node="Step_3"] > .placeholder').count(), 1, "a card far away is a placeholder");
    // A placeholder follows its node's state: running to Step_150 turns its far ancestors fresh.
    const far = await page.evaluate(() => {
      const c = document.querySelector("daggr-canvas")!;
      return c.store.ancestors("Step_150").find((id) => c.shadowRoot!.querySelector(`.slot[data-node="${id}"] > .placeholder`));
    });
    t.ok(far, `${far} is an ancestor shown as a placeholder`);
    await page.locator(`.slot[data-node="${far}"] > .placeholder.stale, .slot[data-node="${far}"] > .placeholder.empty`).waitFor();
    await card(page, "Step_150").locator("button.run-to-here").click();
    await page.locator(`.slot[data-node="${far}"] > .placeholder.fresh`).waitFor();
    await shot(page, "canvas-200-nodes-zoomed");
  });

  t.test("a sheet with many results: the snapshot carries the first 100, the rest follow in snapshot-page messages", async (t) => {
    const nodes = Array.from({ length: 130 }, (_, i) => new FnNode(() => `value ${i}`, { name: `N${i}`, outputs: { v: gr.Textbox({ label: "V" }) } }));
    const server = await serve(t, new Graph({ name: "Many results", nodes }));
    const page = await open(t, server.url);
    // Opening ran them (every empty autorun node runs when a canvas opens its sheet).
    await page.waitForFunction(() => document.querySelector("daggr-canvas")!.store.results.size === 130, undefined, { timeout: 60_000 });
    const frames: Array<{ type: string; results?: Record<string, unknown>; pendingResults?: number; last?: boolean }> = [];
    page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(JSON.parse(String(f.payload)))));
    await page.reload();
    await canvasReady(page);
    await page.waitForFunction(() => document.querySelector("daggr-canvas")!.store.results.size === 130);
    const snap = frames.find((f) => f.type === "snapshot")!;
    t.equal(Object.keys(snap.results!).length, 100, "100 results with the snapshot");
    t.equal(snap.pendingResults, 30);
    const pages = frames.filter((f) => f.type === "snapshot-page");
    t.same(pages.map((p) => [Object.keys(p.results!).length, p.last]), [[30, true]], "the rest in one page, right after");
    t.ok(frames.indexOf(pages[0]!) === frames.indexOf(snap) + 1, "before anything else");
    t.ok(await page.evaluate(() => document.querySelector("daggr-canvas")!.reveal("N129", { zoom: 1 })));
    await textOf(page, "N129", "v", "value 129");
  });

  t.test("cards drag by their header; the positions persist per sheet and survive a re-layout of the others", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    const slot = (id: string) => page.locator(`.slot[data-node="${id}"]`);
    const where = (id: string) => slot(id).evaluate((e) => (e as HTMLElement).style.transform);
    const edge = () => page.locator('svg.edges path[data-to="Upper"]').getAttribute("d");
    const before = { upper: await where("Upper"), side: await where("Side"), edge: await edge() };
    const head = card(page, "Upper").locator("header .name");
    const box = (await head.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 60, box.y + 80, { steps: 4 });
    await page.mouse.move(box.x + 120, box.y + 160, { steps: 4 });
    await page.mouse.up();
    const moved = await where("Upper");
    t.not(moved, before.upper, "Upper moved");
    t.equal(await where("Side"), before.side, "the others stay");
    t.not(await edge(), before.edge, "its edges follow");
    // A click on a header control is not a drag.
    await card(page, "Upper").locator("button.run-step").click();
    t.equal(await where("Upper"), moved);
    await page.reload();
    await canvasReady(page);
    t.equal(await where("Upper"), moved, "the position persists");
    const layouts = () => page.evaluate(() => document.querySelector("daggr-canvas")!.layout.runs + document.querySelector("daggr-canvas")!.layout.cacheHits);
    const n = await layouts();
    await page.evaluate(() => document.querySelector("daggr-canvas")!.relayout()); // "L": a re-layout keeps it too
    t.equal(await layouts(), n + 1);
    t.equal(await where("Upper"), moved, "a re-layout keeps the dragged card where it was put");
    t.equal(await where("Side"), before.side, "and lays out the others as before");
    // Another sheet has its own positions.
    const trigger = page.locator("daggr-sheets button.trigger");
    await trigger.click();
    await page.locator("daggr-sheets button.new").click();
    await trigger.filter({ hasText: "Sheet 2" }).waitFor();
    await page.waitForFunction((m) => (document.querySelector("daggr-canvas")!.shadowRoot!.querySelector('.slot[data-node="Upper"]') as HTMLElement).style.transform !== m, moved);
    t.equal(await where("Upper"), before.upper, "a new sheet shows the layout's place");
    await shot(page, "canvas-dragged");
  });

  t.test("an edge that skips a layer routes around the card in its way instead of behind it", async (t) => {
    const a = new FnNode(({ text }) => text, { name: "a", inputs: { text: gr.Textbox({ value: "x" }) }, outputs: { out: gr.Textbox() } });
    const b = new FnNode(({ v }) => v, { name: "b", inputs: { v: a.out.out }, outputs: { out: gr.Textbox() } });
    const c = new FnNode(({ near, far }) => `${near}${far}`, { name: "c", inputs: { near: b.out.out, far: a.out.out }, outputs: { out: gr.Textbox() } });
    const server = await serve(t, new Graph({ name: "skip", nodes: [c] }));
    const page = await open(t, server.url);
    const geometry = await page.evaluate(() => {
      const root = document.querySelector("daggr-canvas")!.shadowRoot!;
      const path = root.querySelector<SVGPathElement>('path.edge[data-from="a"][data-to="c"]')!;
      const ctm = path.getScreenCTM()!;
      const len = path.getTotalLength();
      const points = Array.from({ length: 80 }, (_, i) => path.getPointAtLength((len * i) / 79).matrixTransform(ctm)).map((p) => ({ x: p.x, y: p.y }));
      const r = root.querySelector('daggr-node[node-id="b"]')!.getBoundingClientRect();
      return { points, b: { left: r.left, right: r.right, top: r.top, bottom: r.bottom } };
    });
    const inside = (p: { x: number; y: number }) => p.x > geometry.b.left && p.x < geometry.b.right && p.y > geometry.b.top && p.y < geometry.b.bottom;
    const [start, end] = [geometry.points[0]!, geometry.points.at(-1)!];
    const straight = Array.from({ length: 80 }, (_, i) => ({ x: start.x + ((end.x - start.x) * i) / 79, y: start.y + ((end.y - start.y) * i) / 79 }));
    t.ok(straight.some(inside), "b lies between a and c: a plain curve from a to c would pass behind it");
    t.same(geometry.points.filter(inside), [], "the drawn edge a→c goes around b");
    t.equal(await page.locator("canvas.minimap").count(), 0, "a small graph has no minimap");
    await shot(page, "canvas-edge-route");
  });

  t.test("a graph of more than 50 nodes has a minimap: every card and the view's frame; pressing on it centres the view there", async (t) => {
    const server = await serve(t, bigGraph(60, { autorun: false }));
    const page = await open(t, server.url);
    const map = page.locator("canvas.minimap");
    await map.waitFor();
    type Canvas = HTMLElement & { panZoom: { viewport: { x: number; y: number; zoom: number } }; minimap: { toWorld(x: number, y: number): { x: number; y: number } } };
    // Drawn: some of its pixels are painted (cards), read back from the 2D canvas.
    await page.waitForFunction(() => {
      const c = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector<HTMLCanvasElement>("canvas.minimap")!;
      const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++;
      return painted > 500;
    });
    const box = (await map.boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.8, box.y + box.height * 0.7);
    const { target, centre } = await page.evaluate(([mx, my]) => {
      const el = document.querySelector("daggr-canvas") as unknown as Canvas;
      const { x, y, zoom } = el.panZoom.viewport;
      return { target: el.minimap.toWorld(mx!, my!), centre: { x: (el.clientWidth / 2 - x) / zoom, y: (el.clientHeight / 2 - y) / zoom } };
    }, [box.width * 0.8, box.height * 0.7]);
    t.ok(Math.abs(target.x - centre.x) < 2 && Math.abs(target.y - centre.y) < 2, `the view is centred on the pressed point (${Math.round(target.x)}, ${Math.round(target.y)})`);
    await shot(page, "canvas-minimap");
  });

  t.test("touch: two fingers pinch-zoom around their midpoint and pan as it moves (CDP touch events)", async (t) => {
    const server = await serve(t, textGraph());
    const ctx = await browser.browser.newContext({ viewport: { width: 1200, height: 800 }, hasTouch: true, deviceScaleFactor: 1 });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    page.on("pageerror", (e) => t.fail(`page error: ${e.message}`));
    await page.goto(server.url);
    await canvasReady(page);
    await page.evaluate(() => {
      const w = window as unknown as { moves: string[] };
      w.moves = [];
      addEventListener("pointermove", (e) => w.moves.push(`${Math.round(e.clientX)},${Math.round(e.clientY)}`), true);
    });
    /** Waits until the page has handled a finger's move to each point (the canvas' handler runs in the same dispatch). */
    const moved = async (...points: Array<[number, number]>) => {
      for (const [x, y] of points) await page.waitForFunction((p) => (window as unknown as { moves: string[] }).moves.includes(p), `${x},${y}`, { timeout: 10_000 });
    };
    type Canvas = HTMLElement & { panZoom: { viewport: { x: number; y: number; zoom: number }; toWorld(x: number, y: number): { x: number; y: number } } };
    const view = () => page.evaluate(() => ({ ...(document.querySelector("daggr-canvas") as unknown as Canvas).panZoom.viewport }));
    const worldAt = (x: number, y: number) => page.evaluate(([cx, cy]) => (document.querySelector("daggr-canvas") as unknown as Canvas).panZoom.toWorld(cx!, cy!), [x, y]);
    const before = await view();
    const anchor = await worldAt(600, 700);
    const cdp = await ctx.newCDPSession(page);
    const touch = (type: "touchStart" | "touchMove" | "touchEnd", points: Array<[number, number]>) => cdp.send("Input.dispatchTouchEvent", { type, touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
    // Two fingers on the background below the cards, 100 px apart, spread to 200 px.
    await touch("touchStart", [[550, 700], [650, 700]]);
    for (const d of [60, 75, 90, 100]) await touch("touchMove", [[600 - d, 700], [600 + d, 700]]);
    // Moves reach the page aligned to frames: wait until both fingers' last ones have been handled.
    await moved([500, 700], [700, 700]);
    let after = await view();
    t.ok(Math.abs(after.zoom / before.zoom - 2) < 0.02, `zoomed ×2 (${before.zoom} → ${after.zoom})`);
    const still = await worldAt(600, 700);
    t.ok(Math.abs(still.x - anchor.x) < 1 && Math.abs(still.y - anchor.y) < 1, "the world point between the fingers stayed between them");
    // Both fingers move up 100 px together: the view pans with them, at the same zoom.
    for (const dy of [50, 100]) await touch("touchMove", [[500, 700 - dy], [700, 700 - dy]]);
    await moved([500, 600], [700, 600]);
    const panned = await view();
    t.ok(Math.abs(panned.zoom - after.zoom) < 1e-9 && Math.abs(panned.y - (after.y - 100)) < 1, "two fingers moving together pan");
    await touch("touchEnd", []);
    after = await view();
    await page.locator("daggr-canvas .zoom-pct").filter({ hasText: `${Math.round(after.zoom * 100)}%` }).waitFor();
    t.pass("the zoom label follows");
  });

  /**
   * A touch-screen page on a fresh server of `graph`, driven by CDP touch input (Chromium
   * turns it into touch and pointer events of pointerType "touch"). `finger` presses, moves and
   * lifts numbered fingers; `seen` waits until the page has handled a pointer event at a
   * point; `state` reads what the user could see stuck: cards marked as dragged, the pan's
   * grab cursor, elements still holding a pointer's capture.
   */
  async function openTouch(t: Tap, graph: Graph) {
    const server = await serve(t, graph);
    const ctx = await browser.browser.newContext({ viewport: { width: 1200, height: 800 }, hasTouch: true, deviceScaleFactor: 1 });
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    page.on("pageerror", (e) => t.fail(`page error: ${e.message}`));
    const sent: Array<{ type: string; zoom?: number; x?: number; y?: number }> = [];
    const waiters: Array<() => void> = [];
    page.on("websocket", (ws) => ws.on("framesent", (f) => {
      sent.push(JSON.parse(String(f.payload)));
      for (const w of waiters.splice(0)) w();
    }));
    /** The first frame the page sent that satisfies `ok` (waiting for it if need be). */
    const frameSent = async (ok: (m: (typeof sent)[number]) => boolean) => {
      for (;;) {
        const m = sent.find(ok);
        if (m) return m;
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    await page.goto(server.url);
    await canvasReady(page);
    await page.evaluate(() => {
      const w = window as unknown as { pointers: number[]; handled: string[] };
      w.pointers = [];
      w.handled = [];
      addEventListener("pointerdown", (e) => w.pointers.push(e.pointerId), true);
      for (const type of ["pointerdown", "pointermove", "pointerup", "pointercancel"]) {
        addEventListener(type, (e) => w.handled.push(`${type} ${Math.round((e as PointerEvent).clientX)},${Math.round((e as PointerEvent).clientY)}`), true);
      }
    });
    const cdp = await ctx.newCDPSession(page);
    const fingers = new Map<number, { x: number; y: number }>();
    const points = () => [...fingers].map(([id, p]) => ({ id, ...p }));
    const touch = (type: "touchStart" | "touchMove" | "touchEnd" | "touchCancel", touchPoints: Array<{ id: number; x: number; y: number }>) =>
      cdp.send("Input.dispatchTouchEvent", { type, touchPoints });
    const finger = {
      down: (id: number, x: number, y: number) => (fingers.set(id, { x, y }), touch("touchStart", points())),
      /** Moves the given fingers (the others stay where they are), all in one touch event. */
      move: (to: Record<number, [number, number]>) => {
        for (const [id, [x, y]] of Object.entries(to)) fingers.set(Number(id), { x, y });
        return touch("touchMove", points());
      },
      /** Lifts one finger (CDP releases the points a touchEnd names). */
      up: (id: number) => {
        const p = fingers.get(id)!;
        fingers.delete(id);
        return touch("touchEnd", [{ id, ...p }]);
      },
      /** The browser takes the gesture over: every finger's pointer is cancelled. */
      cancel: () => (fingers.clear(), touch("touchCancel", [])),
    };
    /** Waits until the page has dispatched a pointer event of `type` at (x, y) (at all, without them); handlers run in the same task. */
    const seen = (type: string, x?: number, y?: number) =>
      page.waitForFunction((s) => (window as unknown as { handled: string[] }).handled.some((h) => h === s || h.startsWith(`${s} `)), x === undefined ? type : `${type} ${x},${y}`, { timeout: 10_000 });
    type El = HTMLElement & { panZoom: { viewport: { x: number; y: number; zoom: number }; toWorld(x: number, y: number): { x: number; y: number } }; store: { sheet?: { id: string } } };
    const view = () => page.evaluate(() => ({ ...(document.querySelector("daggr-canvas") as unknown as El).panZoom.viewport }));
    const worldAt = (x: number, y: number) => page.evaluate(([cx, cy]) => (document.querySelector("daggr-canvas") as unknown as El).panZoom.toWorld(cx!, cy!), [x, y]);
    const state = () =>
      page.evaluate(() => {
        const root = document.querySelector("daggr-canvas")!.shadowRoot!;
        const ids = (window as unknown as { pointers: number[] }).pointers;
        return {
          dragging: [...root.querySelectorAll<HTMLElement>(".slot.dragging")].map((s) => s.dataset.node),
          panning: root.querySelector(".daggr-viewport")!.classList.contains("panning"),
          captured: [...root.querySelectorAll<HTMLElement>(".daggr-viewport, .slot")].filter((el) => ids.some((id) => el.hasPointerCapture(id))).map((el) => el.dataset.node ?? el.className),
        };
      });
    /** A card's place in the world (its slot's translate). */
    const at = async (id: string) => {
      const tr = await page.locator(`.slot[data-node="${id}"]`).evaluate((e) => (e as HTMLElement).style.transform);
      const m = /translate\((-?[\d.]+)px, (-?[\d.]+)px\)/.exec(tr)!;
      return { x: Number(m[1]), y: Number(m[2]) };
    };
    /** The dragged cards' places this browser keeps for the sheet (as a drag's end saves them). */
    const pins = () =>
      page.evaluate(() => JSON.parse(localStorage.getItem(`daggr:pins:${location.host}:${(document.querySelector("daggr-canvas") as unknown as El).store.sheet!.id}`) ?? "null") as Record<string, [number, number]> | null);
    const near = (a: { x: number; y: number }, b: { x: number; y: number }, eps = 1) => Math.abs(a.x - b.x) < eps && Math.abs(a.y - b.y) < eps;
    return { page, sent, frameSent, finger, seen, view, worldAt, state, at, pins, near };
  }

  t.test("touch: a second finger during a one-finger card drag ends the drag where the card is (saved as a drag's end is) and pinches; the finger left pans the view, not the card; nothing stays grabbed", async (t) => {
    const { page, frameSent, finger, seen, view, worldAt, state, at, pins, near } = await openTouch(t, textGraph());
    const head = (await card(page, "Upper").locator("header .name").boundingBox())!;
    const [hx, hy] = [Math.round(head.x + head.width / 2), Math.round(head.y + head.height / 2)];
    const start = await at("Upper");
    const v0 = await view();
    // One finger drags Upper by its header 60 px right, 40 px down.
    await finger.down(0, hx, hy);
    for (const [dx, dy] of [[20, 20], [40, 30], [60, 40]] as const) await finger.move({ 0: [hx + dx, hy + dy] });
    await seen("pointermove", hx + 60, hy + 40);
    const dragged = await at("Upper");
    t.ok(near(dragged, { x: start.x + 60 / v0.zoom, y: start.y + 40 / v0.zoom }), `the card follows the finger (${JSON.stringify(start)} → ${JSON.stringify(dragged)})`);
    t.same((await state()).dragging, ["Upper"], "while dragged, the card is marked so");
    t.equal(await pins(), null, "nothing is saved before the drag ends");
    // A second finger lands on the background: the drag ends where the card is, saved as a drag's end saves it.
    const [ax, ay] = [hx + 60, hy + 40];
    const [bx, by] = [600, 700];
    await finger.down(1, bx, by);
    await seen("pointerdown", bx, by);
    t.same((await state()).dragging, [], "the second finger ends the drag: the card is no longer marked as dragged");
    t.same((await pins())?.Upper, [Math.round(dragged.x), Math.round(dragged.y)], "the card's place is saved as at the end of a drag");
    // The two fingers spread ×1.5 about their midpoint: a pinch around it; the card stays put.
    const [mx, my] = [(ax + bx) / 2, (ay + by) / 2];
    const anchor = await worldAt(mx, my);
    const spread = (k: number) => ({ 0: [Math.round(mx + (ax - mx) * k), Math.round(my + (ay - my) * k)], 1: [Math.round(mx + (bx - mx) * k), Math.round(my + (by - my) * k)] }) as Record<number, [number, number]>;
    for (const k of [1.1, 1.25, 1.5]) await finger.move(spread(k));
    const [bx2, by2] = spread(1.5)[1]!;
    // Both fingers' last moves handled: the pinch has applied them.
    await seen("pointermove", ...spread(1.5)[0]!);
    await seen("pointermove", bx2, by2);
    const pinched = await view();
    t.ok(Math.abs(pinched.zoom / v0.zoom - 1.5) < 0.02, `the pinch zooms with the fingers' spread (${v0.zoom.toFixed(3)} → ${pinched.zoom.toFixed(3)})`);
    const [fmx, fmy] = [(spread(1.5)[0]![0] + bx2) / 2, (spread(1.5)[0]![1] + by2) / 2];
    t.ok(near(await worldAt(fmx, fmy), anchor, 1.5), "the world point between the fingers stays between them");
    t.same(await at("Upper"), dragged, "the card stays where the drag left it while the fingers pinch");
    t.same((await state()).dragging, [], "and is not marked as dragged");
    await settled(page);
    await shot(page, "canvas-touch-drag-then-pinch");
    // The view the pinch left is what the server is told (a user's view change).
    const saved = await frameSent((m) => m.type === "viewport" && Math.abs(m.zoom! - pinched.zoom) < 1e-9);
    t.ok(near({ x: saved.x!, y: saved.y! }, pinched, 1e-6), "the server gets the pinched view");
    // The second finger lifts; the first one moves on: it pans the view from where it is, the card stays.
    await finger.up(1);
    await seen("pointerup", bx2, by2);
    t.same(await view(), pinched, "lifting a pinch finger does not jump the view");
    const [ax2, ay2] = spread(1.5)[0]!;
    const under = await worldAt(ax2, ay2);
    for (const [dx, dy] of [[40, 30], [80, 60]] as const) await finger.move({ 0: [ax2 + dx, ay2 + dy] });
    await seen("pointermove", ax2 + 80, ay2 + 60);
    const slid = await view();
    t.ok(slid.zoom === pinched.zoom && near(slid, { x: pinched.x + 80, y: pinched.y + 60 }), `one finger left of a pinch pans by its own move (${JSON.stringify(pinched)} → ${JSON.stringify(slid)})`);
    t.ok(near(await worldAt(ax2 + 80, ay2 + 60), under), "the world point under the finger stays under it");
    t.equal((await state()).panning, true, "it is a pan");
    t.same(await at("Upper"), dragged, "it does not drag the card from where the first finger once grabbed it");
    await finger.up(0);
    await seen("pointerup", ax2 + 80, ay2 + 60);
    t.same(await state(), { dragging: [], panning: false, captured: [] }, "both fingers up: no card grabbed, no pan, no pointer captured");
    t.same((await pins())?.Upper, [Math.round(dragged.x), Math.round(dragged.y)], "the saved place is the one the drag ended at");
    // A new one-finger drag starts from where the card is now, and a pointercancel (the browser
    // taking the gesture over) ends it cleanly where the card is, saved.
    const head2 = (await card(page, "Upper").locator("header .name").boundingBox())!;
    const [h2x, h2y] = [Math.round(head2.x + head2.width / 2), Math.round(head2.y + head2.height / 2)];
    await finger.down(2, h2x, h2y);
    for (const d of [15, 30]) await finger.move({ 2: [h2x + d, h2y] });
    await seen("pointermove", h2x + 30, h2y);
    const again = await at("Upper");
    t.ok(near(again, { x: dragged.x + 30 / pinched.zoom, y: dragged.y }), "a new drag moves the card by the finger's move, from where it is");
    await finger.cancel();
    await seen("pointercancel", h2x + 30, h2y);
    t.same(await state(), { dragging: [], panning: false, captured: [] }, "a cancelled drag leaves nothing grabbed");
    t.same(await at("Upper"), again, "the card stays where the cancelled drag left it");
    t.same((await pins())?.Upper, [Math.round(again.x), Math.round(again.y)], "and that place is saved");
    // The second finger lands on another card's header: that card is not grabbed; the first drag ends, saved.
    const inputsAt = await at("Inputs");
    const side = (await card(page, "Inputs").locator("header .name").boundingBox())!;
    const [sx, sy] = [Math.round(side.x + side.width / 2), Math.round(side.y + side.height / 2)];
    await finger.down(3, h2x + 30, h2y);
    for (const d of [15, 30]) await finger.move({ 3: [h2x + 30, h2y + d] });
    await seen("pointermove", h2x + 30, h2y + 30);
    const third = await at("Upper");
    t.ok(near(third, { x: again.x, y: again.y + 30 / pinched.zoom }), "a third drag moves the card");
    await finger.down(4, sx, sy);
    await seen("pointerdown", sx, sy);
    t.same((await state()).dragging, [], "a second finger on another card's header grabs neither card");
    t.same((await pins())?.Upper, [Math.round(third.x), Math.round(third.y)], "the first card's drag ended, saved");
    await finger.move({ 3: [h2x + 30, h2y + 60], 4: [sx - 40, sy - 40] });
    await seen("pointermove", sx - 40, sy - 40);
    t.same(await at("Inputs"), inputsAt, "the card under the second finger does not follow it");
    t.same(await at("Upper"), third, "nor does the first card");
    await finger.up(4);
    await finger.up(3);
    await seen("pointerup", h2x + 30, h2y + 60);
    t.same(await state(), { dragging: [], panning: false, captured: [] }, "nothing left grabbed");
  });

  t.test("touch: a second finger during a one-finger pan ends the pan and pinches; a third finger changes nothing; lifting a finger does not jump the view, and the finger left pans; a cancel leaves nothing stuck", async (t) => {
    const { finger, seen, view, worldAt, state, near } = await openTouch(t, textGraph());
    const v0 = await view();
    // One finger pans the background 80 px right.
    await finger.down(0, 300, 700);
    for (const x of [340, 380]) await finger.move({ 0: [x, 700] });
    await seen("pointermove", 380, 700);
    const panned = await view();
    t.ok(near(panned, { x: v0.x + 80, y: v0.y }), "one finger pans");
    t.equal((await state()).panning, true);
    // A second finger lands: the pan ends where it is.
    await finger.down(1, 700, 700);
    await seen("pointerdown", 700, 700);
    t.same(await view(), panned, "the second finger does not move the view");
    t.equal((await state()).panning, false, "the pan has ended");
    const anchor = await worldAt(540, 700);
    // A third finger lands on the background while the two pinch: it neither pans nor ends the pinch.
    await finger.down(2, 540, 760);
    await seen("pointerdown", 540, 760);
    t.equal((await state()).panning, false, "a third finger does not start a pan");
    for (const d of [200, 240, 320]) await finger.move({ 0: [540 - d, 700], 1: [540 + d, 700] });
    await seen("pointermove", 220, 700);
    await seen("pointermove", 860, 700);
    t.ok(Math.abs((await view()).zoom / panned.zoom - 2) < 0.02, "the first two fingers pinch ×2");
    t.ok(near(await worldAt(540, 700), anchor, 1.5), "around their midpoint");
    await finger.up(2);
    await seen("pointerup", 540, 760);
    for (const d of [360, 400]) await finger.move({ 0: [540 - d, 700], 1: [540 + d, 700] });
    await seen("pointermove", 140, 700);
    await seen("pointermove", 940, 700);
    t.ok(Math.abs((await view()).zoom / panned.zoom - 2.5) < 0.02, "lifting the third finger does not end the pinch: it goes on to ×2.5");
    t.ok(near(await worldAt(540, 700), anchor, 1.5), "still around the midpoint");
    // The finger that started the pan lifts; the other moves on alone: it pans from where it is.
    const pinched = await view();
    await finger.up(0);
    await seen("pointerup", 140, 700);
    t.same(await view(), pinched, "lifting a pinch finger does not jump the view");
    const under = await worldAt(940, 700);
    for (const [x, y] of [[890, 650], [840, 600]] as const) await finger.move({ 1: [x, y] });
    await seen("pointermove", 840, 600);
    const slid = await view();
    t.ok(slid.zoom === pinched.zoom && near(slid, { x: pinched.x - 100, y: pinched.y - 100 }), `one finger left of a pinch pans by its own move (${JSON.stringify(pinched)} → ${JSON.stringify(slid)})`);
    t.ok(near(await worldAt(840, 600), under), "the world point under the finger stays under it");
    // The browser cancels the last finger: nothing is left grabbed, and a new finger pans from where it lands.
    await finger.cancel();
    await seen("pointercancel", 840, 600);
    t.same(await state(), { dragging: [], panning: false, captured: [] }, "nothing stuck after a cancel");
    await finger.down(3, 400, 650);
    for (const y of [630, 610]) await finger.move({ 3: [400, y] });
    await seen("pointermove", 400, 610);
    const after = await view();
    t.ok(near(after, { x: slid.x, y: slid.y - 40 }) && after.zoom === slid.zoom, "a new single finger pans by its own move (no finger is left counted from before)");
    await finger.up(3);
    await seen("pointerup", 400, 610);
    t.same(await state(), { dragging: [], panning: false, captured: [] });
  });

  t.test("touch: on a canvas embedded in a page, a finger whose card turned into a placeholder under it and whose end the browser reports outside the canvas is not counted as down: the next finger pans", async (t) => {
    const { page, finger, seen, view, state, near } = await openTouch(t, textGraph());
    // Embedded: the element is a box inside the page, not the whole page.
    const box = { left: 120, top: 80, width: 960, height: 640 };
    await page.evaluate((b) => {
      document.querySelector("daggr-canvas")!.setAttribute("style", `position: absolute; left: ${b.left}px; top: ${b.top}px; width: ${b.width}px; height: ${b.height}px`);
      return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }, box);
    // A finger rests on Upper's output (the card's body, not its header: no drag).
    const out = (await output(page, "Upper", "upper").boundingBox())!;
    const [cx, cy] = [Math.round(out.x + 20), Math.round(out.y + out.height / 2)];
    await finger.down(0, cx, cy);
    await seen("pointerdown", cx, cy);
    // Meanwhile the view zooms out (the keyboard of a touch laptop) below the zoom cards are
    // readable at: every card becomes a placeholder, the element under the finger with it.
    for (let i = 0; i < 5; i++) await page.keyboard.press("-");
    t.ok((await view()).zoom < 0.3, "zoomed out past reading");
    await page.waitForFunction(() => document.querySelector("daggr-canvas")!.fullCount === 0, undefined, { timeout: 10_000 });
    // The finger slides off and lifts: its element is gone, and Chromium reports the end as a
    // pointercancel at the page's corner, outside the canvas box.
    await finger.move({ 0: [box.left + box.width + 60, box.top + box.height - 20] });
    await finger.up(0);
    await seen("pointercancel");
    // A new finger on the background pans by its move, at the same zoom.
    const before = await view();
    const [mx, by] = [box.left + box.width / 2, box.top + box.height - 60];
    await finger.down(1, mx, by);
    for (const x of [mx + 30, mx + 60]) await finger.move({ 1: [x, by] });
    await seen("pointermove", mx + 60, by);
    const after = await view();
    t.ok(after.zoom === before.zoom && near(after, { x: before.x + 60, y: before.y }), `one finger pans, it does not pinch with a finger no longer down (${JSON.stringify(before)} → ${JSON.stringify(after)})`);
    await finger.up(1);
    await seen("pointerup", mx + 60, by);
    t.same(await state(), { dragging: [], panning: false, captured: [] }, "nothing stuck");
  });

  /** The canvas' view, and waiting until a card has grown past `h0` and the placement has caught up with it (after which a refit, if any, is done). */
  type Fitted = HTMLElement & { panZoom: { viewport: { x: number; y: number; zoom: number } }; placement: { sizes: Map<string, { h: number }> } };
  const viewOf = (page: Page) => page.evaluate(() => ({ ...(document.querySelector("daggr-canvas") as unknown as Fitted).panZoom.viewport }));
  /** The user scrolls the view up a little, over the background: the view it then shows, once the viewport it saved is written. */
  const scrollUp = async (page: Page, written: Promise<unknown>) => {
    const y = (await viewOf(page)).y;
    await page.mouse.move(20, 300);
    await page.mouse.wheel(0, 60);
    await page.waitForFunction((y) => (document.querySelector("daggr-canvas") as unknown as Fitted).panZoom.viewport.y === y - 60, y);
    const panned = await viewOf(page);
    await written;
    return panned;
  };
  const slotHeight = (page: Page, id: string) => page.locator(`.slot[data-node="${id}"]`).evaluate((el) => (el as HTMLElement).offsetHeight);
  const grown = (page: Page, id: string, h0: number) =>
    page.waitForFunction(([id, h0]) => {
      const c = document.querySelector("daggr-canvas") as unknown as Fitted;
      const h = c.shadowRoot!.querySelector<HTMLElement>(`.slot[data-node="${id}"]`)!.offsetHeight;
      return h > h0 && c.placement.sizes.get(id as string)?.h === h;
    }, [id, h0] as const);

  t.test("the first fit is redone as outputs arriving after load make a card grow: the grown card ends in view", async (t) => {
    const g = growGraph();
    const server = await serve(t, g.graph);
    const page = await open(t, server.url, { width: 1000, height: 520 });
    await card(page, "Grow").locator(".card.running").waitFor();
    const v0 = await viewOf(page);
    const h0 = await slotHeight(page, "Grow");
    const view = (await page.locator("daggr-canvas").boundingBox())!;
    const inView = (b: { x: number; y: number; width: number; height: number }) => b.x >= view.x && b.y >= view.y && b.x + b.width <= view.x + view.width && b.y + b.height <= view.y + view.height;
    t.ok(inView((await page.locator('.slot[data-node="Grow"]').boundingBox())!), `first paint: Grow (${h0} px) is in view at zoom ${v0.zoom}`);
    g.release();
    await textOf(page, "Grow", "d", "line 12");
    await grown(page, "Grow", h0);
    const box = (await page.locator('.slot[data-node="Grow"]').boundingBox())!;
    t.ok(inView(box), `grown to ${await slotHeight(page, "Grow")} px, its box ${JSON.stringify(box)} is inside the view ${JSON.stringify(view)}`);
    t.ok((await viewOf(page)).zoom < v0.zoom, "the view zoomed out to fit it");
    t.ok(inView((await page.locator('.slot[data-node="Before"]').boundingBox())!), "and the card beside it stays in view");
    await settled(page);
    await shot(page, "canvas-fit-after-growth");
  });

  t.test("a card growing after the user moved the view, or on a restored saved viewport, does not refit", async (t) => {
    const g = growGraph();
    const { store, nextViewport } = viewportStore();
    const server = await serve(t, g.graph, { store });
    const size = { width: 1000, height: 520 };
    const page = await open(t, server.url, size);
    await card(page, "Grow").locator(".card.running").waitFor();
    const panned = await scrollUp(page, nextViewport());
    // A second window opens the sheet on the viewport the first one saved.
    const restored = await open(t, server.url, size);
    t.same(await viewOf(restored), panned, "the second window shows the saved viewport");
    const h0 = await slotHeight(page, "Grow");
    g.release();
    for (const p of [page, restored]) {
      await textOf(p, "Grow", "d", "line 12");
      await grown(p, "Grow", h0);
    }
    t.same(await viewOf(page), panned, "after the user's pan, the grown card leaves the view where the user put it");
    t.same(await viewOf(restored), panned, "on a restored viewport too");
  });

  t.test("resizing the window refits the graph while the view is still the first fit; after the user's pan, or on a restored saved viewport, a resize leaves the view alone", async (t) => {
    const { store, nextViewport } = viewportStore();
    const server = await serve(t, textGraph(), { store });
    const page = await open(t, server.url, { width: 1400, height: 860 });
    /**
     * Resizes the page and waits until the canvas has handled it: a ResizeObserver made after
     * the canvas' own is called after it in the same round (observers are called in the order
     * they were made), so when it has seen the new size the canvas has too.
     */
    const resize = async (p: Page, width: number, height: number) => {
      await p.evaluate(() => {
        const w = window as unknown as { sizes: string[] };
        w.sizes = [];
        const el = document.querySelector("daggr-canvas")!.shadowRoot!.querySelector(".daggr-viewport")!;
        new ResizeObserver((es) => es.forEach((e) => w.sizes.push(`${e.contentRect.width}x${e.contentRect.height}`))).observe(el);
      });
      await p.setViewportSize({ width, height });
      await p.waitForFunction((s) => (window as unknown as { sizes: string[] }).sizes.includes(s), `${width}x${height}`, { timeout: 10_000 });
    };
    /** The cards' boxes that are not wholly inside the canvas' box. */
    const outside = (p: Page) =>
      p.evaluate(() => {
        const c = document.querySelector("daggr-canvas")!;
        const v = c.getBoundingClientRect();
        return [...c.shadowRoot!.querySelectorAll<HTMLElement>(".slot")]
          .map((s) => ({ node: s.dataset.node, box: s.getBoundingClientRect() }))
          .filter(({ box: b }) => b.left < v.left || b.top < v.top || b.right > v.right || b.bottom > v.bottom)
          .map(({ node, box }) => ({ node, box: box.toJSON() as DOMRect }));
      });
    t.same(await outside(page), [], "the first fit shows every card");
    const v0 = await viewOf(page);
    await resize(page, 640, 420);
    t.same(await outside(page), [], "at 640 × 420 every card is in view again");
    const fitted = await viewOf(page);
    t.ok(fitted.zoom < v0.zoom, `the view zoomed out to fit (${v0.zoom} → ${fitted.zoom})`);
    await settled(page);
    await shot(page, "canvas-refit-on-resize");
    await resize(page, 1400, 860);
    t.same(await viewOf(page), v0, "back to the first size, back to the first fit");
    // The user scrolls the view up a little: from now on a resize leaves it alone.
    const panned = await scrollUp(page, nextViewport());
    await resize(page, 640, 420);
    t.same(await viewOf(page), panned, "after the user's pan, a resize keeps the view where the user put it");
    // A second window opens the sheet on the saved viewport: a resize leaves that alone too.
    const restored = await open(t, server.url, { width: 1400, height: 860 });
    const shown = await viewOf(restored);
    t.same(shown, panned, "the second window shows the saved viewport");
    await resize(restored, 640, 420);
    t.same(await viewOf(restored), shown, "on a restored viewport, a resize does not refit");
  });

  t.test("fitting a tall graph leaves its top cards' timing labels clear of the title bar and Run all", async (t) => {
    const settings = new InputNode({ name: "Settings", ports: { text: gr.Textbox({ label: "Text", value: "hi" }) } });
    const steps = Array.from({ length: 6 }, (_, i) => new FnNode(({ text }) => `${text} ${i}`, { name: `step${i}`, inputs: { text: settings.out.text }, outputs: { out: gr.Textbox() } }));
    const server = await serve(t, new Graph({ name: "Tall", nodes: steps }));
    const page = await open(t, server.url, { width: 1000, height: 700 });
    for (const s of steps) await card(page, s.id).locator(".timing").waitFor();
    await page.keyboard.press("f");
    const boxes = async (selector: string) => (await page.locator(selector).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()))) as DOMRect[];
    const bars = [...(await boxes("daggr-canvas .title-bar")), ...(await boxes("daggr-canvas .toolbar.top-right"))];
    t.equal(bars.length, 2);
    const labels = await boxes("daggr-node .timing");
    t.equal(labels.length, 7, "every card shows its timing");
    const hidden = labels.filter((l) => bars.some((b) => l.left < b.right && b.left < l.right && l.top < b.bottom && b.top < l.bottom));
    t.same(hidden, [], "no label under the floating controls");
    const top = Math.min(...labels.map((l) => l.top));
    t.ok(top >= Math.max(...bars.map((b) => b.bottom)), `the highest label (${top}) is below the controls`);
    await shot(page, "canvas-fit-tall");
  });

  t.test("the saved viewport is fitted to the window it opens in: the same part of the graph, centred, scaled to fit", async (t) => {
    const { store, nextViewport } = viewportStore();
    const server = await serve(t, textGraph(), { store });
    type Canvas = HTMLElement & { panZoom: { viewport: { x: number; y: number; zoom: number } } };
    const centre = (page: Page) => page.evaluate(() => {
      const el = document.querySelector("daggr-canvas") as unknown as Canvas;
      const { x, y, zoom } = el.panZoom.viewport;
      return { x: (el.clientWidth / 2 - x) / zoom, y: (el.clientHeight / 2 - y) / zoom, zoom };
    });
    const big = await open(t, server.url, { width: 1400, height: 860 });
    const written = nextViewport<{ width?: number; height?: number; zoom: number }>();
    await big.locator("daggr-canvas button[title^='Zoom in']").first().click();
    const v = await written;
    t.match(v, { width: 1400, height: 860 }, "the viewport is saved with the size of the view");
    const there = await centre(big);
    const small = await open(t, server.url, { width: 700, height: 430 });
    const here = await centre(small);
    t.ok(Math.abs(here.zoom - there.zoom / 2) < 1e-6, `half the window, half the zoom (${there.zoom} → ${here.zoom})`);
    t.ok(Math.abs(here.x - there.x) < 1 && Math.abs(here.y - there.y) < 1, "the same world point at the centre");
  });

  t.test("a second open lays nothing out: the layout comes from the cache", async (t) => {
    const server = await serve(t, textGraph());
    const page = await open(t, server.url);
    const layout = () => page.evaluate(() => ({ runs: document.querySelector("daggr-canvas")!.layout.runs, hits: document.querySelector("daggr-canvas")!.layout.cacheHits }));
    t.same(await layout(), { runs: 1, hits: 0 }, "the first open runs ELK");
    const where = () => page.locator("daggr-node").evaluateAll((els) => els.map((e) => (e.parentElement as HTMLElement).style.transform));
    const first = await where();
    await page.reload();
    await canvasReady(page);
    t.same(await layout(), { runs: 0, hits: 1 }, "the second open takes the cached layout");
    t.same(await where(), first, "at the same places");
  });

  t.test("cards do not get composited layers of their own", async (t) => {
    const server = await serve(t, showcaseGraph());
    const page = await open(t, server.url);
    await card(page, "Stream").locator("button.run-step").click(); // a running card: progress animates
    await card(page, "Stream").locator(".progress").waitFor();
    const cdp = await page.context().newCDPSession(page);
    const layers = new Promise<number>((resolve) => cdp.on("LayerTree.layerTreeDidChange", (e: { layers?: unknown[] }) => e.layers && resolve(e.layers.length)));
    await cdp.send("LayerTree.enable");
    await page.evaluate(() => document.querySelector("daggr-canvas")!.style.setProperty("outline", "1px solid transparent"));
    const count = await layers;
    t.ok(count <= 12, `${count} layers: the page's, the world's and the chrome's; none per card`);
  });

  t.test("/favicon.ico is daggr's icon: an ICO holding a 32×32 PNG the browser can draw", async (t) => {
    const server = await serve(t, textGraph());
    const res = await fetch(`${server.url}/favicon.ico`);
    t.equal(res.status, 200);
    t.equal(res.headers.get("content-type"), "image/x-icon");
    const body = Buffer.from(await res.arrayBuffer());
    t.same([...body.subarray(0, 6)], [0, 0, 1, 0, 1, 0], "an icon directory of one image");
    t.equal(body.subarray(22, 30).toString("latin1"), "\x89PNG\r\n\x1a\n", "a PNG inside");
    const page = await open(t, server.url);
    const size = await page.evaluate(async () => {
      const img = new Image();
      img.src = "/favicon.ico";
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    });
    t.same(size, [32, 32], "Chromium decodes it");
  });

  t.test("a server that needs its token: the page opened with ?token= connects", async (t) => {
    const server = await serve(t, textGraph(), { token: "s3cret-token" });
    const page = await open(t, `${server.url}/?token=s3cret-token`);
    t.equal(await page.locator("daggr-node").count(), 4);
    await input(page, "Inputs", "text").locator("input").fill("token");
    await textOf(page, "Upper", "upper", "TOKEN");
  });

  t.test("the status pill shows while reconnecting; the canvas comes back on its sheet", async (t) => {
    const store = new MemoryStore();
    const graph = textGraph();
    let server = await launch(graph, { port: 0, store, quiet: true });
    const port = server.port;
    t.teardown(() => server.close());
    const page = await open(t, server.url);
    const trigger = page.locator("daggr-sheets button.trigger");
    await trigger.click();
    await page.locator("daggr-sheets button.new").click();
    await trigger.filter({ hasText: "Sheet 2" }).waitFor();
    await trigger.click();
    await page.locator("daggr-sheets button.pick", { hasText: "Sheet 1" }).click();
    await trigger.filter({ hasText: "Sheet 1" }).waitFor();
    await server.close();
    const pill = page.locator(".pill");
    await pill.filter({ hasText: /Reconnecting/ }).waitFor();
    await shot(page, "canvas-reconnecting");
    server = await launch(graph, { port, strictPort: true, store, quiet: true });
    await pill.waitFor({ state: "detached", timeout: 20_000 });
    t.equal((await trigger.textContent())!.trim(), "Sheet 1", "it kept its sheet");
    t.equal(await page.locator("daggr-canvas").getAttribute("status"), "open");
  });

  t.test("daggr dev --typecheck's errors show in the app-failure overlay (count, code, message, file:line, the rest listed); Dismiss hides them; an empty list clears them", async (t) => {
    const server = await serve(t, textGraph());
    t.teardown(() => showDiagnostics(undefined));
    showDiagnostics([
      { code: "TS2322", message: "Type 'string' is not assignable to type 'number'.", file: "app.ts", line: 15, column: 14 },
      { code: "TS2304", message: "Cannot find name 'shot'.", file: "helper.ts", line: 2, column: 1 },
    ]);
    const page = await open(t, server.url);
    const overlay = page.locator(".app-failure");
    await overlay.waitFor();
    t.equal((await overlay.locator(".app-failure-title span").textContent())!.trim(), "2 type errors");
    t.equal(await overlay.locator(".app-failure-code").textContent(), "TS2322");
    t.equal(await overlay.locator(".app-failure-msg").textContent(), "Type 'string' is not assignable to type 'number'.");
    t.equal((await overlay.locator(".app-failure-where").textContent())!.trim(), "at app.ts:15:14");
    t.same(await overlay.locator(".app-failure-more li").allTextContents(), ["helper.ts:2:1 TS2304 Cannot find name 'shot'."]);
    await shot(page, "canvas-type-errors");
    await textOf(page, "Upper", "upper", "HELLO"); // the app runs underneath

    showDiagnostics([]);
    await overlay.waitFor({ state: "detached" });
    t.pass("the fix clears the overlay");

    const one = [{ code: "TS2304", message: "Cannot find name 'shot'.", file: "helper.ts", line: 2, column: 1 }];
    showDiagnostics(one);
    await overlay.waitFor();
    await overlay.locator("button.app-failure-dismiss").click();
    await overlay.waitFor({ state: "detached" });
    showDiagnostics([...one, { code: "TS2322", message: "Type 'string' is not assignable to type 'number'.", file: "app.ts", line: 3, column: 7 }]);
    await overlay.waitFor();
    t.equal((await overlay.locator(".app-failure-title span").textContent())!.trim(), "2 type errors", "a new error shows again after a dismiss");
  });

  t.test("a remembered sheet that no longer exists: the canvas opens the newest sheet, with no error, and remembers it", async (t) => {
    // The canvas had a branch for this on an error code "UNKNOWN_SHEET" that is never sent (the
    // code is E_UNKNOWN_SHEET, and hello never fails for it); a reply's code is now a typed union.
    const server = await serve(t, textGraph());
    const ctx = await browser.context();
    const page = await ctx.newPage();
    page.on("pageerror", (e) => t.fail(`page error: ${e.message}`));
    await ctx.addInitScript(() => localStorage.setItem(`daggr:sheet:${location.host}`, "deleted-sheet"));
    const codes: string[] = [];
    const opened: string[] = [];
    const asked: unknown[] = [];
    page.on("websocket", (ws) => {
      ws.on("framesent", (f) => {
        const m = JSON.parse(String(f.payload)) as { type: string; sheet?: string };
        if (m.type === "hello") asked.push(m.sheet);
      });
      ws.on("framereceived", (f) => {
        const m = JSON.parse(String(f.payload)) as { type: string; code?: string; sheet?: { id: string } };
        if (m.type === "error") codes.push(m.code!);
        if (m.type === "snapshot") opened.push(m.sheet!.id);
      });
    });
    await page.goto(server.url);
    await canvasReady(page);
    t.same(asked, ["deleted-sheet"], "the canvas asked for the remembered sheet");
    t.same(codes, [], "no error reply");
    await textOf(page, "Upper", "upper", "HELLO");
    t.equal(opened.length, 1, "one snapshot, of the default sheet");
    const remembered = await page.evaluate(() => localStorage.getItem(`daggr:sheet:${location.host}`));
    t.equal(remembered, opened[0], "the canvas remembers the sheet it opened");
  });
}

type Tap = { teardown(fn: () => unknown): void; fail(msg: string): void };
