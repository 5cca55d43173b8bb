/** Small IDX files written by the tests themselves, plain or gzipped, in Fashion-MNIST's layout. */
import { FASHION_MNIST_FILES } from "../../src/data/fashion_mnist.ts";
import { Random } from "../../src/util/random.ts";

/** An IDX file of unsigned bytes with dimensions `shape`. */
export function idxBytes(shape: readonly number[], data: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * shape.length;
  const bytes = new Uint8Array(header + data.length);
  bytes.set([0, 0, 0x08, shape.length]);
  const view = new DataView(bytes.buffer);
  shape.forEach((n, i) => view.setUint32(4 + 4 * i, n, false));
  bytes.set(Array.from(data), header);
  return bytes;
}

/** `bytes` gzipped with the platform's CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Images whose class shows: class c lights a 3 x 3 block at a place of its own, on noise. The
 * labels cycle through the classes, so every class has images.
 */
export function syntheticImages(
  count: number,
  side: number,
  classes: number,
  seed: number,
): { pixels: Uint8Array; labels: Uint8Array } {
  const random = new Random(seed);
  const pixels = new Uint8Array(count * side * side);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    const image = pixels.subarray(i * side * side, (i + 1) * side * side);
    for (let p = 0; p < image.length; p++) image[p] = random.int(60);
    const row = (c * 3) % (side - 2), col = Math.floor((c * 3) / (side - 2)) * 3 % (side - 2);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 3; x++) image[(row + y) * side + col + x] = 200 + random.int(56);
    }
  }
  return { pixels, labels };
}

/** Writes a small Fashion-MNIST-shaped data set (ten classes) into `dir`; gzipped unless `plain`. */
export async function writeFashionMnist(
  dir: string,
  options: { train?: number; test?: number; side?: number; plain?: boolean; seed?: number } = {},
): Promise<void> {
  const side = options.side ?? 8;
  const train = syntheticImages(options.train ?? 60, side, 10, options.seed ?? 1);
  const test = syntheticImages(options.test ?? 20, side, 10, (options.seed ?? 1) + 1);
  const f = FASHION_MNIST_FILES;
  const files: [string, Uint8Array][] = [
    [f.trainImages, idxBytes([train.labels.length, side, side], train.pixels)],
    [f.trainLabels, idxBytes([train.labels.length], train.labels)],
    [f.testImages, idxBytes([test.labels.length, side, side], test.pixels)],
    [f.testLabels, idxBytes([test.labels.length], test.labels)],
  ];
  for (const [name, bytes] of files) {
    if (options.plain) await Deno.writeFile(`${dir}/${name.replace(/\.gz$/, "")}`, bytes);
    else await Deno.writeFile(`${dir}/${name}`, await gzip(bytes));
  }
}
