/**
 * Hierarchy recovery (paper section 4.2, table 2): the networks train on coarse labels only
 * (Fashion-MNIST: tops, footwear, other; MNIST: digits 0-4 and 5-9), and the fine classes they were
 * never told about are measured in their embeddings: k-NN error with the fine labels, NMI of
 * k-means with as many clusters as fine classes, and the fine-label purity of 8 k-means clusters
 * per coarse class. Magnet with K = 1, 4, 8 and 16 clusters per class against triplet and softmax.
 */
import { MagnetInputError } from "../errors.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import { FASHION_MNIST_CLASSES } from "../data/fashion_mnist.ts";
import { buildClusterIndex } from "../index/cluster_index.ts";
import { nearestNeighbours } from "../eval/neighbours.ts";
import { errorRate, knnClassify } from "../eval/knn.ts";
import { kmeansNmi } from "../eval/nmi.ts";
import type { TrainConfig } from "../train/config.ts";
import { batchShape } from "./runner.ts";
import { median, medianCell, metricOf, relativeCell, runsOf } from "./summary.ts";
import type { Experiment, ExperimentData, RunSpec } from "./types.ts";

/** Coarse classes of a data set: names, and the coarse class of each fine class. */
export interface Hierarchy {
  readonly names: readonly string[];
  readonly coarseOf: readonly number[];
}

/** Fashion-MNIST's clothes by where they are worn. */
export const FASHION_HIERARCHY: Hierarchy = {
  names: ["tops", "footwear", "other"],
  // T-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot.
  coarseOf: [0, 2, 0, 0, 0, 1, 0, 1, 2, 1],
};

/** MNIST's digits, low and high. */
export const DIGIT_HIERARCHY: Hierarchy = {
  names: ["0-4", "5-9"],
  coarseOf: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
};

/** The hierarchy of `data`'s classes. */
export function hierarchyOf(data: ExperimentData): Hierarchy {
  const names = data.train.classNames.join();
  if (names === FASHION_MNIST_CLASSES.join()) return FASHION_HIERARCHY;
  if (names === "0,1,2,3,4,5,6,7,8,9") return DIGIT_HIERARCHY;
  throw new MagnetInputError(
    `the hierarchy experiment knows the coarse classes of Fashion-MNIST and MNIST, not of ` +
      `${data.name}'s classes (${data.train.classNames.slice(0, 4).join(", ")}, ...)`,
  );
}

/** `data` with coarse labels. */
export function coarsen(data: ExperimentData, h: Hierarchy): ExperimentData {
  const relabel = (d: Dataset<Features>): Dataset<Features> => ({
    ...d,
    labels: d.labels.map((fine) => h.coarseOf[fine]),
    classNames: [...h.names],
  });
  return { name: `${data.name} (coarse)`, train: relabel(data.train), test: relabel(data.test) };
}

/** Fraction of rows whose cluster's most common fine label is theirs. */
export function purity(assignment: Int32Array, fine: Int32Array, clusters: number): number {
  const classes = fine.reduce((a, b) => Math.max(a, b), 0) + 1;
  const counts = new Int32Array(clusters * classes);
  assignment.forEach((c, i) => counts[c * classes + fine[i]]++);
  let agree = 0;
  for (let c = 0; c < clusters; c++) {
    agree += Math.max(...counts.subarray(c * classes, (c + 1) * classes));
  }
  return agree / assignment.length;
}

const PURITY_K = 8;

export const hierarchy: Experiment = {
  name: "hierarchy",
  title: "Hierarchy recovery",
  claim: "Trained on coarse labels only, magnet's multi-cluster embedding recovers the hidden " +
    "fine classes far better: a 10-25 % relative gain over softmax and 25-50 % over triplet " +
    "(paper, section 4.2).",
  plan(env) {
    const h = hierarchyOf(env.data);
    const data = coarsen(env.data, h);
    const model = env.options.model;
    const specs: RunSpec[] = [1, 4, 8, 16].map((k) => {
      const { m, d } = batchShape((h.names.length - 1) * k);
      const settings: Partial<TrainConfig> = { loss: "magnet", k, m, d, model };
      return { key: `magnet K = ${k}`, settings, data };
    });
    specs.push(
      { key: "triplet (semi-hard)", settings: { loss: "triplet", model }, data },
      { key: "softmax", settings: { loss: "softmax", model }, data },
    );
    return specs;
  },
  async measure(env, _spec, result) {
    const train = result.trainEmbeddings!, test = result.testEmbeddings!;
    const dim = result.model.outputDim;
    const fineTrain = env.data.train.labels, fineTest = env.data.test.labels;
    const neighbours = await nearestNeighbours(env.backend, test, train, dim, 5);
    const coarse = coarsen(env.data, hierarchyOf(env.data));
    const index = await buildClusterIndex(env.backend, train, dim, coarse.train.labels, {
      clustersPerClass: PURITY_K,
      seed: 1,
    });
    return {
      fineKnnError: errorRate(knnClassify(neighbours, fineTrain, 5), fineTest),
      fineNmi: kmeansNmi(test, dim, fineTest, 1),
      finePurity: purity(index.assignment, fineTrain, index.numClusters),
    };
  },
  summarise(records, env) {
    const h = hierarchyOf(env.data);
    const keys = [...new Set(records.map((r) => r.key))];
    const fineOf = (key: string) => median(metricOf(runsOf(records, key), "fineKnnError"));
    return {
      tables: [{
        title: "Fine classes recovered from coarse training",
        caption: `Trained on ${h.names.length} coarse classes (${h.names.join(", ")}), measured ` +
          `on the ${h.coarseOf.length} fine ones. Medians over seeds (range). Coarse error: each ` +
          "loss's own rule on the coarse labels. Fine 5-NN error: neighbours labelled with the " +
          "fine classes. NMI: k-means with one cluster per fine class on the test embeddings. " +
          `Purity: fine-label purity of ${PURITY_K} k-means clusters per coarse class on the ` +
          "training embeddings. The last two columns compare fine 5-NN errors (negative: magnet " +
          "better).",
        columns: [
          "setting",
          "coarse error",
          "fine 5-NN error",
          "fine NMI",
          "purity",
          "vs softmax",
          "vs triplet",
        ],
        rows: keys.map((key) => {
          const runs = runsOf(records, key);
          const nmi = metricOf(runs, "fineNmi");
          return [
            key,
            medianCell(runs.map((r) => r.curve.at(-1)!.error)),
            medianCell(metricOf(runs, "fineKnnError")),
            nmi.length > 0 ? median(nmi).toFixed(3) : "-",
            medianCell(metricOf(runs, "finePurity")),
            relativeCell(fineOf(key), fineOf("softmax")),
            relativeCell(fineOf(key), fineOf("triplet (semi-hard)")),
          ];
        }),
      }],
      figures: [],
    };
  },
};
