/**
 * The demo's HTML: the report's stylesheet with a few rules for the controls, the controls (the
 * backend chooser, the number of steps, start and stop), a status line and the three figures'
 * places. demo_page.ts (bundled as demo.js) brings it to life.
 */
import { STYLE } from "../report/style.ts";
import { DEMO_ITERATIONS } from "./demo_run.ts";

const DEMO_STYLE = [
  ".controls{display:flex;flex-wrap:wrap;gap:10px 18px;align-items:center;background:#fff;" +
  "border:1px solid #dde1e7;border-radius:6px;padding:12px 14px}",
  ".controls label{display:flex;gap:6px;align-items:center}",
  ".controls select,.controls input{font:inherit;padding:3px 6px}",
  ".controls input{width:7em}",
  ".controls button{font:inherit;padding:4px 16px;border-radius:4px;border:1px solid #1f4e8c;" +
  "background:#1f4e8c;color:#fff;cursor:pointer}",
  ".controls button:disabled{opacity:.45;cursor:default}",
  "#status{margin:10px 0 0;color:#3a4352;min-height:1.45em}",
  "#status.error{color:#a0281e}",
  ".note{color:#5b6473;font-size:13px}",
  "#summary{margin-top:16px}",
].join("");

/** The demo page, complete, for digits of `trainRows` and `testRows` rows. */
export function demoHtml(trainRows: number, testRows: number): string {
  const count = (n: number) => n.toLocaleString("en");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>magnet: the magnet loss, live</title>",
    '<link rel="icon" href="data:,">',
    `<style>${STYLE}${DEMO_STYLE}</style>`,
    '<script type="module" src="demo.js"></script>',
    "</head>",
    '<body data-state="loading">',
    "<main>",
    "<header><h1>The magnet loss, live</h1>",
    '<p class="sub">An embedding network learns to place handwritten digits so that each class ' +
    "forms tight clusters far from the others' (Rippel et al., <i>Metric Learning with Adaptive " +
    `Density Discrimination</i>, ICLR 2016). It trains here, in this page, on ${
      count(trainRows)
    } ` +
    `MNIST digits and is tested on ${count(testRows)} others.</p></header>`,
    '<section class="controls">',
    '<label>Backend <select id="backend"></select></label>',
    `<label>Steps <input id="steps" type="number" min="10" max="100000" step="10" value="${DEMO_ITERATIONS}"></label>`,
    '<button id="start" type="button" disabled>Train</button>',
    '<button id="stop" type="button" disabled>Stop</button>',
    '<span class="note" id="note"></span>',
    "</section>",
    '<p id="status">Loading…</p>',
    '<div id="loss"></div>',
    '<div id="map"></div>',
    '<div id="metrics"></div>',
    '<div id="summary"></div>',
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
