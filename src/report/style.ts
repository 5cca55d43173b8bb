/**
 * The report's stylesheet, inlined into the page's `<style>`: layout of the header, tables and
 * figures, the charts' strokes and text sizes, and a fill class `k<i>` per palette colour.
 */
import { PALETTE } from "./chart.ts";

/** The whole stylesheet as one minified string. */
export const STYLE: string = [
  ":root{color-scheme:light}",
  "body{margin:0;background:#f6f7f9;color:#1d2430;" +
  "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}",
  "main{max-width:1120px;margin:0 auto;padding:18px 20px 40px}",
  "header h1{font-size:24px;margin:0 0 2px}",
  ".sub{margin:0 0 14px;color:#5b6473}",
  "h2{font-size:16px;margin:0 0 8px}",
  ".tables{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr);gap:16px}",
  ".tables>div,.fig{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px}",
  ".fig{margin:16px 0 0}",
  "figcaption{color:#3a4352;margin-top:6px;max-width:75em}",
  "table{border-collapse:collapse;font-variant-numeric:tabular-nums}",
  ".kv{width:100%}",
  ".kv th{text-align:left;font-weight:600;color:#3a4352;padding:3px 10px 3px 0;white-space:nowrap}",
  ".kv td{padding:3px 18px 3px 0;word-break:break-word}",
  ".kv tr+tr th,.kv tr+tr td{border-top:1px solid #eef0f3}",
  ".kv th.group{color:#5b6473;font-weight:600;font-size:12px;text-transform:uppercase;" +
  "letter-spacing:.04em;padding-top:8px}",
  ".metrics{margin-top:10px;width:100%}",
  ".metrics caption{caption-side:bottom;text-align:left;color:#5b6473;padding-top:4px}",
  ".metrics th,.metrics td{padding:3px 8px;text-align:right;border-bottom:1px solid #eef0f3}",
  ".metrics th{font-weight:600;color:#3a4352;border-bottom:0}",
  ".metrics .units th{font-weight:400;color:#5b6473;font-size:12px;border-bottom:1px solid #c9ced6}",
  ".empty{color:#5b6473}",
  "svg{display:block;width:100%;height:auto;max-width:1080px;font-family:inherit}",
  "svg .grid{stroke:#e6e9ee;stroke-width:1;fill:none}",
  "svg .grid.minor{stroke:#f1f3f6}",
  "svg .frame{fill:none;stroke:#9aa3b0;stroke-width:1}",
  "svg .tick{stroke:#9aa3b0;stroke-width:1}",
  "svg .tl{font-size:12px;fill:#4a5262}",
  "svg .at{font-size:13px;fill:#1d2430}",
  "svg .pt{font-size:14px;font-weight:600;fill:#1d2430}",
  "svg .lg{font-size:12px;fill:#1d2430}",
  "svg .val{font-size:12px;font-weight:600;fill:#1d2430;paint-order:stroke;stroke:#fff;" +
  "stroke-width:3px;stroke-linejoin:round}",
  "svg .leader{fill:none;stroke-width:1}",
  "svg .muted{fill:#5b6473}",
  "svg text.empty{font-size:14px;fill:#5b6473}",
  "svg .ln{fill:none;stroke-width:1.3;stroke-linejoin:round;stroke-linecap:round}",
  "svg .ln.thick{stroke-width:2}",
  "svg .dots circle{fill-opacity:.72}",
  "svg .dots.faint circle{fill-opacity:.25}",
  "svg .ctr{stroke:#000;stroke-width:1.4;fill-opacity:1}",
  "svg .ctr.nocls{fill:#fff}",
  "svg .cls{font-size:16px;font-weight:700;fill:#1d2430;paint-order:stroke;stroke:#fff;" +
  "stroke-width:4px;stroke-linejoin:round}",
  ...PALETTE.map((c, i) => `.k${i}{fill:${c}}`),
].join("");
