/**
 * Augmentation: flips mirror exactly; random resized crops draw windows inside the image within
 * the documented area and ratio ranges, and are scaled back bilinearly as a float64 reference does
 * it; the same generator state gives the same batches (what exact resumes rely on).
 */
import assert from "node:assert/strict";
import {
  Augmenter,
  CROP_RATIO,
  CROP_SCALE,
  type CropWindow,
  randomCrop,
} from "../../../src/data/images/augment.ts";
import { Random } from "../../../src/util/random.ts";

const SHAPE: [number, number, number] = [6, 8, 3];
const SIZE = 6 * 8 * 3;

function batch(rows: number, seed: number): Float32Array {
  const random = new Random(seed);
  return Float32Array.from({ length: rows * SIZE }, () => random.normal());
}

/** Bilinear sampling of `crop` of `image` at every output pixel (half-pixel centres), in float64. */
function reference(image: Float32Array, crop: CropWindow, flip: boolean): number[] {
  const [h, w, c] = SHAPE;
  const at = (y: number, x: number, k: number) => image[(y * w + x) * c + k];
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ox = flip ? w - 1 - x : x;
      const sy = Math.min(
        Math.max(crop.top + ((y + 0.5) * crop.height) / h - 0.5, crop.top),
        crop.top + crop.height - 1,
      );
      const sx = Math.min(
        Math.max(crop.left + ((ox + 0.5) * crop.width) / w - 0.5, crop.left),
        crop.left + crop.width - 1,
      );
      const y0 = Math.floor(sy), x0 = Math.floor(sx);
      const y1 = Math.min(y0 + 1, crop.top + crop.height - 1),
        x1 = Math.min(x0 + 1, crop.left + crop.width - 1);
      const fy = sy - y0, fx = sx - x0;
      for (let k = 0; k < c; k++) {
        out.push(
          at(y0, x0, k) * (1 - fy) * (1 - fx) + at(y0, x1, k) * (1 - fy) * fx +
            at(y1, x0, k) * fy * (1 - fx) + at(y1, x1, k) * fy * fx,
        );
      }
    }
  }
  return out;
}

Deno.test("augmentation", async (t) => {
  await t.step("random crops stay inside, within the area and ratio ranges", () => {
    const random = new Random(5);
    for (let i = 0; i < 2000; i++) {
      const [h, w] = [1 + random.int(40), 1 + random.int(40)];
      const c = randomCrop(h, w, random);
      assert.ok(c.top >= 0 && c.left >= 0 && c.top + c.height <= h && c.left + c.width <= w);
      assert.ok(c.height >= 1 && c.width >= 1);
      if (h >= 12 && w >= 12 && c.height * c.width < h * w) {
        // Rounding to whole pixels moves area and ratio a little on small images.
        const area = (c.height * c.width) / (h * w), ratio = c.width / c.height;
        assert.ok(area > CROP_SCALE[0] * 0.7 && area <= 1, `area ${area} of ${h}x${w}`);
        assert.ok(ratio > CROP_RATIO[0] * 0.8 && ratio < CROP_RATIO[1] * 1.25, `ratio ${ratio}`);
      }
    }
    // A 1 x 100 strip can fit no window of the ratios: the centred fallback keeps 4:3 at most.
    assert.deepEqual(randomCrop(1, 100, new Random(1)), { top: 0, left: 49, height: 1, width: 1 });
  });

  await t.step("a flip mirrors each row exactly, about half of the time", () => {
    const input = batch(64, 1);
    const out = input.slice();
    new Augmenter("flip", SHAPE, new Random(7)).apply(out, 64);
    let flipped = 0;
    for (let r = 0; r < 64; r++) {
      const image = input.subarray(r * SIZE, (r + 1) * SIZE);
      const got = out.subarray(r * SIZE, (r + 1) * SIZE);
      const mirror = reference(image, { top: 0, left: 0, height: 6, width: 8 }, true);
      const same = got.every((v, i) => v === image[i]);
      const mirrored = got.every((v, i) => v === mirror[i]);
      assert.ok(same !== mirrored, `row ${r} is neither itself nor its mirror`);
      if (mirrored) flipped++;
    }
    assert.ok(flipped > 20 && flipped < 44, `${flipped} of 64 flipped`);
  });

  await t.step("crop-flip resamples each row as the float64 reference does", () => {
    const rows = 40;
    const input = batch(rows, 2);
    const out = input.slice();
    new Augmenter("crop-flip", SHAPE, new Random(11)).apply(out, rows);
    // The same draws, in the same order: crop, then flip.
    const draws = new Random(11);
    let changed = 0;
    for (let r = 0; r < rows; r++) {
      const crop = randomCrop(6, 8, draws);
      const flip = draws.next() < 0.5;
      const expected = reference(input.subarray(r * SIZE, (r + 1) * SIZE), crop, flip);
      const got = out.subarray(r * SIZE, (r + 1) * SIZE);
      expected.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5, `row ${r} value ${i}`));
      if (got.some((v, i) => v !== input[r * SIZE + i])) changed++;
    }
    assert.ok(changed > rows / 2);
  });

  await t.step(
    "the generator's state decides the batches: captured and restored, they go on",
    () => {
      const a = new Augmenter("crop-flip", SHAPE, new Random(3));
      const first = batch(8, 4);
      a.apply(first, 8);
      const state = a.random.state;
      const next = batch(8, 5);
      a.apply(next, 8);
      const b = new Augmenter("crop-flip", SHAPE, new Random(99));
      b.random.state = state;
      const again = batch(8, 5);
      b.apply(again, 8);
      assert.deepEqual(again, next);
    },
  );
});
