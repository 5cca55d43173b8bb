/** Labelled Gaussian blobs: the small, learnable data the trainer tests train on. */
import type { Dataset } from "../../src/data/dataset.ts";
import { Random } from "../../src/util/random.ts";

/** Gaussian blobs: `classes` classes of two blobs each, in `dim` dimensions, a little overlap. */
export function blobs(n: number, dim: number, classes: number, noiseSeed: number): Dataset {
  const rng = new Random(1); // the same centres for every set

  const centres = Array.from(
    { length: classes * 2 },
    () => Array.from({ length: dim }, () => rng.normal() * 2),
  );
  rng.state = new Random(noiseSeed).state;
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const blob = i % centres.length;
    labels[i] = blob % classes;
    for (let d = 0; d < dim; d++) features[i * dim + d] = centres[blob][d] + rng.normal();
  }
  return { features, dim, labels, classNames: Array.from({ length: classes }, (_, c) => `c${c}`) };
}
