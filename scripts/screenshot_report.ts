/**
 * Renders a run's report.html to a PNG in headless Chromium and checks that something was drawn:
 *
 *   deno run -A scripts/screenshot_report.ts path/to/report.html out.png
 *
 * Chromium is found at `$CHROMIUM` or /usr/bin/chromium (Debian's `apt-get install chromium`). The
 * check decodes the PNG itself (with node:zlib) so that a blank or failed render is caught here,
 * not by someone opening the image later. Prints one line with the PNG path and dimensions; exits
 * non-zero with a message when Chromium is missing or the render failed.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";

/** What the pixel check found in a decoded screenshot. */
export interface PngCheck {
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** Distinct colours seen (counting stops at 65536), or null when the format was not decoded. */
  colours: number | null;
  /** Share of pixels that differ from the most common (background) colour, or null. */
  inked: number | null;
}

/** The browser window: as wide as the report is laid out for, tall enough for the whole page. */
const WINDOW = "1200,3000";
/** Below this a PNG of a 1200 x 3000 page cannot hold more than an empty canvas. */
const MIN_BYTES = 8 * 1024;
/** A chart page inks a few percent of its pixels; less than this means nothing really rendered. */
const MIN_INKED = 0.005;
const TIMEOUT_MS = 120_000;

/**
 * Decodes a PNG's header and, for 8-bit non-interlaced grey, grey-alpha, RGB or RGBA images (what
 * Chromium writes), its pixels, counting colours and the share of non-background pixels.
 *
 * @throws {Error} when the bytes are not a well-formed PNG
 */
export function inspectPng(bytes: Uint8Array): PngCheck {
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 33 || signature.some((b, i) => bytes[i] !== b)) {
    throw new Error("not a PNG file (bad signature)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let width = 0, height = 0, bitDepth = 0, colourType = 0, interlace = 0;
  const idat: Uint8Array[] = [];
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (data.length !== length) throw new Error(`truncated PNG chunk ${type}`);
    if (type === "IHDR") {
      width = view.getUint32(offset + 8);
      height = view.getUint32(offset + 12);
      bitDepth = data[8];
      colourType = data[9];
      interlace = data[12];
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    offset += 12 + length;
  }
  if (width === 0 || height === 0) throw new Error("PNG has no IHDR or a zero size");
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colourType];
  if (bitDepth !== 8 || interlace !== 0 || channels === undefined || idat.length === 0) {
    // Chromium never writes these; the size check alone still stands.
    return { width, height, colours: null, inked: null };
  }
  const compressed = new Uint8Array(idat.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of idat) {
    compressed.set(c, at);
    at += c.length;
  }
  const raw = new Uint8Array(inflateSync(compressed));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error("PNG image data is truncated");
  const counts = new Map<number, number>();
  let prev = new Uint8Array(stride), line = new Uint8Array(stride);
  for (let r = 0; r < height; r++) {
    const base = r * (stride + 1);
    const filter = raw[base];
    for (let i = 0; i < stride; i++) {
      const x = raw[base + 1 + i];
      const a = i >= channels ? line[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4: {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new Error(`PNG row ${r} has unknown filter ${filter}`);
      }
      line[i] = v & 255;
    }
    for (let p = 0; p < stride; p += channels) {
      let key = 0;
      for (let ch = 0; ch < channels; ch++) key = key * 256 + line[p + ch];
      const seen = counts.get(key);
      if (seen !== undefined) counts.set(key, seen + 1);
      else if (counts.size < 65536) counts.set(key, 1);
    }
    [prev, line] = [line, prev];
  }
  let background = 0;
  for (const n of counts.values()) background = Math.max(background, n);
  return { width, height, colours: counts.size, inked: 1 - background / (width * height) };
}

function fail(message: string): never {
  console.error(`screenshot_report: ${message}`);
  Deno.exit(1);
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function main(args: string[]): Promise<void> {
  if (args.length !== 2) {
    fail("usage: deno run -A scripts/screenshot_report.ts path/to/report.html out.png");
  }
  const html = resolve(args[0]);
  const png = resolve(args[1]);
  if (!(await exists(html))) fail(`no report at ${html}`);
  const chromium = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
  if (!(await exists(chromium))) {
    fail(
      `Chromium not found at ${chromium}; install it (apt-get install -y chromium) or set CHROMIUM`,
    );
  }
  // A stale PNG from an earlier run must not pass for this one.
  await Deno.remove(png).catch(() => {});
  // A fresh profile each time: a shared one can be locked by another Chromium or carry state.
  const profile = await Deno.makeTempDir({ prefix: "report-chromium-" });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        `--window-size=${WINDOW}`,
        `--screenshot=${png}`,
        pathToFileURL(html).href,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).output();
  } catch (error) {
    fail(`could not run ${chromium}: ${error instanceof Error ? error.message : error}`);
  } finally {
    clearTimeout(timer);
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
  const stderr = new TextDecoder().decode(result.stderr).trim();
  const tail = stderr.split("\n").slice(-5).join("\n");
  if (abort.signal.aborted) fail(`Chromium did not finish within ${TIMEOUT_MS / 1000} s`);
  if (!(await exists(png))) {
    fail(`Chromium exited with code ${result.code} and wrote no screenshot\n${tail}`);
  }
  const bytes = await Deno.readFile(png);
  if (bytes.length < MIN_BYTES) {
    fail(`${png} is only ${bytes.length} bytes: the page did not render`);
  }
  let check: PngCheck;
  try {
    check = inspectPng(bytes);
  } catch (error) {
    fail(`${png} is not a readable PNG: ${error instanceof Error ? error.message : error}`);
  }
  if (check.colours !== null && check.colours < 2) fail(`${png} is a blank single-colour image`);
  if (check.inked !== null && check.inked < MIN_INKED) {
    fail(`${png} is almost blank (${(check.inked * 100).toFixed(2)}% non-background pixels)`);
  }
  const detail = check.colours === null
    ? "pixels not decoded"
    : `${check.colours} colours, ${((check.inked ?? 0) * 100).toFixed(1)}% non-background`;
  console.log(`${png} ${check.width}x${check.height} (${detail})`);
}

if (import.meta.main) await main(Deno.args);
