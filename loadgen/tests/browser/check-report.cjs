// Loads report pages in Debian's headless Chromium (driven by playwright-core) and checks what a
// reader gets: every chart's SVG in the DOM, drawn with a real size, and not one network request
// beyond the file itself. A control page with one remote image proves the request check can fail.
// Saves full-page screenshots of each page at 1400 and 800 px, light and dark, for the CI
// artifacts, and fails a page that scrolls sideways at either width.
//
// usage: NODE_PATH=<dir with playwright-core> node check-report.cjs <out-dir> <page.html>...
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const CHARTS = {
  "report.html": ["chart-latency", "chart-throughput", "chart-concurrency", "chart-cold-starts", "chart-distribution"],
  "compare.html": ["chart-distribution", "chart-latency", "chart-throughput"],
  "simulate.html": ["chart-memory", "chart-reserved", "chart-traffic"],
};
// The flags the machine notes give: without the background-networking ones Chromium dials out.
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

async function load(context, file) {
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const url = "file://" + path.resolve(file);
  await page.goto(url, { waitUntil: "load" });
  const external = requests.filter((u) => u !== url);
  return { page, external };
}

async function main() {
  const [outDir, ...pages] = process.argv.slice(2);
  if (!outDir || pages.length === 0) throw new Error("usage: check-report.cjs <out-dir> <page.html>...");
  fs.mkdirSync(outDir, { recursive: true });
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "loadgen-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  let failed = 0;
  try {
    // Control: a page that does fetch must be caught, or the check below proves nothing.
    const control = path.join(userDataDir, "control.html");
    fs.writeFileSync(control, '<!doctype html><img src="http://127.0.0.1:9/pixel.png">');
    const c = await load(context, control);
    if (c.external.length === 0) throw new Error("control page's remote image was not seen: the request check is blind");
    await c.page.close();

    for (const file of pages) {
      const { page, external } = await load(context, file);
      const ids = [...(CHARTS[path.basename(file)] || CHARTS["report.html"])];
      // The sample fixture's run throttled: its report must draw the knee too.
      if (path.basename(path.dirname(path.resolve(file))) === "sample") ids.push("chart-knee");
      const found = await page.evaluate((ids) => ids.map((id) => {
        const svg = document.querySelector(`#${id} svg`);
        if (!svg) return [id, 0, 0, 0];
        const box = svg.getBoundingClientRect();
        return [id, Math.round(box.width), Math.round(box.height), svg.querySelectorAll("polyline, path, rect, polygon").length];
      }), ids);
      const shot = path.join(outDir, path.basename(path.dirname(path.resolve(file))) + "-" + path.basename(file, ".html") + ".png");
      const problems = [];
      // Wide and narrow windows, light and dark: every chart scales with the page, and nothing
      // makes the page scroll sideways.
      for (const width of [1400, 800]) {
        await page.setViewportSize({ width, height: 900 });
        for (const scheme of ["light", "dark"]) {
          await page.emulateMedia({ colorScheme: scheme });
          const suffix = `-${width}` + (scheme === "dark" ? "-dark" : "");
          await page.screenshot({ path: shot.replace(/\.png$/, `${suffix}.png`), fullPage: true });
        }
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 1) problems.push(`${width} px wide: the page scrolls sideways by ${overflow} px`);
        const narrow = await page.evaluate((ids) => ids.filter((id) => {
          const svg = document.querySelector(`#${id} svg`);
          return svg && svg.getBoundingClientRect().width > window.innerWidth;
        }), ids);
        if (narrow.length) problems.push(`${width} px wide: wider than the window: ${narrow.join(", ")}`);
      }
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ media: "print", colorScheme: "light" });
      await page.pdf?.({ path: shot.replace(/\.png$/, ".pdf") }).catch(() => {});
      for (const [id, w, h, shapes] of found) {
        if (w < 600 || h < 150 || shapes < 5) problems.push(`${id}: ${w}x${h} px, ${shapes} shapes`);
      }
      if (external.length) problems.push(`network requests: ${external.join(", ")}`);
      const title = await page.title();
      console.log(`${problems.length ? "FAIL" : "ok  "} ${file} — "${title}", ${found.length} charts, ${external.length} requests, screenshots ${shot.replace(/\.png$/, "-{1400,800}[-dark].png")}`);
      for (const p of problems) console.log(`       ${p}`);
      failed += problems.length ? 1 : 0;
      await page.close();
    }
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(`check-report: ${e.message}`);
  process.exit(2);
});
