/**
 * Image windows as rows (im2col) and their adjoint, one invocation per output value. `unpatches`
 * gathers rather than scatters: each image value sums the window entries that came from it, so no
 * two invocations write one value (WGSL has no float atomics).
 */
import { LINEAR_ENTRY_PARAMS, linearIndex } from "./common.ts";

const HEADER =
  `struct Params { n: u32, height: u32, width: u32, c: u32, kh: u32, kw: u32, stride: u32,
  padTop: u32, padLeft: u32, outHeight: u32, outWidth: u32, total: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;`;

/** Window rows from images: out[(n, oy, ox), (dy, dx, ch)] = image pixel or 0 in the padding. */
export const PATCHES_SHADER = `${HEADER}
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.total) { return; }
  let rowLength = p.kh * p.kw * p.c;
  let row = i / rowLength;
  let col = i % rowLength;
  let ch = col % p.c;
  let dx = (col / p.c) % p.kw;
  let dy = col / (p.c * p.kw);
  let ox = row % p.outWidth;
  let oy = (row / p.outWidth) % p.outHeight;
  let img = row / (p.outWidth * p.outHeight);
  let y = i32(oy * p.stride + dy) - i32(p.padTop);
  let xx = i32(ox * p.stride + dx) - i32(p.padLeft);
  if (y < 0 || y >= i32(p.height) || xx < 0 || xx >= i32(p.width)) { out[i] = 0.0; return; }
  out[i] = x[((img * p.height + u32(y)) * p.width + u32(xx)) * p.c + ch];
}
`;

/** Images from window rows: each pixel value sums the window entries taken from it. */
export const UNPATCHES_SHADER = `${HEADER}
@compute @workgroup_size(256)
fn main(${LINEAR_ENTRY_PARAMS}) {
  ${linearIndex()}
  if (i >= p.total) { return; }
  let ch = i % p.c;
  let xx = (i / p.c) % p.width;
  let y = (i / (p.c * p.width)) % p.height;
  let img = i / (p.c * p.width * p.height);
  let rowLength = p.kh * p.kw * p.c;
  var acc = 0.0;
  for (var dy = 0u; dy < p.kh; dy = dy + 1u) {
    let sy = i32(y + p.padTop) - i32(dy);
    if (sy < 0 || sy % i32(p.stride) != 0) { continue; }
    let oy = u32(sy) / p.stride;
    if (oy >= p.outHeight) { continue; }
    for (var dx = 0u; dx < p.kw; dx = dx + 1u) {
      let sx = i32(xx + p.padLeft) - i32(dx);
      if (sx < 0 || sx % i32(p.stride) != 0) { continue; }
      let ox = u32(sx) / p.stride;
      if (ox >= p.outWidth) { continue; }
      let row = (img * p.outHeight + oy) * p.outWidth + ox;
      acc = acc + x[row * rowLength + (dy * p.kw + dx) * p.c + ch];
    }
  }
  out[i] = acc;
}
`;
