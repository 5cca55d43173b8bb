/**
 * Convolution and pooling written as the definitions' loops in float64, channels last: the
 * independent reference the composed graph ops (src/graph/windows.ts) are held to.
 */

/** Window settings, per axis as [height, width]. */
export interface RefWindow {
  kh: number;
  kw: number;
  strides: [number, number];
  pads: [number, number, number, number];
  dilations: [number, number];
  ceilMode: boolean;
}

/** Output size along one axis (ONNX / PyTorch, ceil mode included). */
export function outSize(
  size: number,
  before: number,
  after: number,
  k: number,
  stride: number,
  dilation: number,
  ceil: boolean,
): number {
  const span = size + before + after - ((k - 1) * dilation + 1);
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceil && (out - 1) * stride >= size + before) out--;
  return out;
}

/** x [n, h, w, cin], kernel [kh, kw, cin / groups, cout]: [n, oh, ow, cout] and its shape. */
export function convReference(
  x: ArrayLike<number>,
  [n, h, w, cin]: number[],
  kernel: ArrayLike<number>,
  cout: number,
  bias: ArrayLike<number> | null,
  win: RefWindow,
  groups: number,
): { data: Float64Array; shape: number[] } {
  const oh = outSize(
    h,
    win.pads[0],
    win.pads[2],
    win.kh,
    win.strides[0],
    win.dilations[0],
    win.ceilMode,
  );
  const ow = outSize(
    w,
    win.pads[1],
    win.pads[3],
    win.kw,
    win.strides[1],
    win.dilations[1],
    win.ceilMode,
  );
  const cg = cin / groups, og = cout / groups;
  const out = new Float64Array(n * oh * ow * cout);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < cout; o++) {
          const group = Math.floor(o / og);
          let acc = bias === null ? 0 : bias[o];
          for (let i = 0; i < win.kh; i++) {
            const y = oy * win.strides[0] + i * win.dilations[0] - win.pads[0];
            if (y < 0 || y >= h) continue;
            for (let j = 0; j < win.kw; j++) {
              const xx = ox * win.strides[1] + j * win.dilations[1] - win.pads[1];
              if (xx < 0 || xx >= w) continue;
              for (let c = 0; c < cg; c++) {
                const pixel = x[((b * h + y) * w + xx) * cin + group * cg + c];
                acc += pixel * kernel[((i * win.kw + j) * cg + c) * cout + o];
              }
            }
          }
          out[((b * oh + oy) * ow + ox) * cout + o] = acc;
        }
      }
    }
  }
  return { data: out, shape: [n, oh, ow, cout] };
}

/** Max or average pooling of x [n, h, w, c] by the definition. */
export function poolReference(
  x: ArrayLike<number>,
  [n, h, w, c]: number[],
  win: RefWindow,
  kind: "max" | "avg",
  countIncludePad = false,
): { data: Float64Array; shape: number[] } {
  const oh = outSize(
    h,
    win.pads[0],
    win.pads[2],
    win.kh,
    win.strides[0],
    win.dilations[0],
    win.ceilMode,
  );
  const ow = outSize(
    w,
    win.pads[1],
    win.pads[3],
    win.kw,
    win.strides[1],
    win.dilations[1],
    win.ceilMode,
  );
  const out = new Float64Array(n * oh * ow * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, total = 0, count = 0;
          for (let i = 0; i < win.kh; i++) {
            const y = oy * win.strides[0] + i * win.dilations[0] - win.pads[0];
            for (let j = 0; j < win.kw; j++) {
              const xx = ox * win.strides[1] + j * win.dilations[1] - win.pads[1];
              const inside = y >= 0 && y < h && xx >= 0 && xx < w;
              const inPadding = y >= -win.pads[0] && y < h + win.pads[2] && xx >= -win.pads[1] &&
                xx < w + win.pads[3];
              if (inside) {
                const v = x[((b * h + y) * w + xx) * c + ch];
                best = Math.max(best, v);
                total += v;
              }
              if (countIncludePad ? inPadding : inside) count++;
            }
          }
          out[((b * oh + oy) * ow + ox) * c + ch] = kind === "max" ? best : total / count;
        }
      }
    }
  }
  return { data: out, shape: [n, oh, ow, c] };
}
