/**
 * magnet: deep metric learning with the Magnet loss (Rippel et al., "Metric Learning with Adaptive
 * Density Discrimination", ICLR 2016) on WebGPU or on the CPU.
 *
 * The building blocks: a {@link Graph} of symbolic {@link Tensor}s made with the ops below,
 * {@link gradients} for reverse-mode autodiff, a {@link Backend} from {@link createBackend} that
 * compiles and runs graphs, and {@link gradcheck} / {@link crossCheck} to verify any graph.
 *
 * A web page imports `@magnet/magnet/web` (web.ts): all of this but what reads files.
 *
 * @example
 * ```ts
 * import { createBackend, Graph, gradients, matmul, relu, sumAll } from "@magnet/magnet";
 *
 * const backend = await createBackend(); // WebGPU when available, else CPU
 * const g = new Graph();
 * const x = g.input("x", [2, 3]);
 * const w = g.input("w", [3, 1]);
 * const loss = sumAll(relu(matmul(x, w)));
 * const [dw] = gradients(loss, [w]);
 * const [value, grad] = await backend.run([loss, dw], {
 *   x: [1, 2, 3, 4, 5, 6],
 *   w: [0.1, -0.2, 0.3],
 * });
 * backend.dispose();
 * ```
 * @module
 */

export * from "./web.ts";

// What reads files or needs Deno (kept out of web.ts, the part a web page bundles).
export { loadMnist, MNIST_DIM, MNIST_SIDE } from "./src/data/mnist.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  FASHION_MNIST_FILES,
  type FashionMnist,
  loadFashionMnist,
} from "./src/data/fashion_mnist.ts";
export { readCsvDataset, readCsvRows, readIdx } from "./src/data/files.ts";
export { readRows, type ReadRowsOptions, type Rows } from "./src/data/rows.ts";
export { loadModel, saveModel } from "./src/train/model_file.ts";
export { loadUmap } from "./src/report/umap.ts";
export type { DecodeProgress } from "./src/data/images/decode.ts";
export {
  type FolderProgress,
  type ImagesToEmbed,
  type LoadedImageFolders,
  loadImageFolders,
  loadImagesToEmbed,
} from "./src/data/image_folders.ts";
export type { ImageFolderSource } from "./src/data/source.ts";
export { createSharpDecoder } from "./src/data/images/sharp_decoder.ts";

// Search: a LanceDB table of a model's embeddings (LanceDB, a native addon, loads with the first
// table opened).
export {
  DEFAULT_REFINE_FACTOR,
  DEFAULT_TABLE,
  EmbeddingTable,
  type Hit,
  type TableModel,
  type TableRows,
  type TableSearchOptions,
  VECTOR_INDEX_KINDS,
  type VectorIndexInfo,
  type VectorIndexKind,
  type VectorIndexSettings,
} from "./src/search/embedding_table.ts";
export {
  DEFAULT_BATCH_ROWS,
  DEFAULT_INDEX,
  DEFAULT_INDEX_THRESHOLD,
  type IndexProgress,
  indexRows,
  type IndexRowsOptions,
  type IndexRowsResult,
  type MaintainResult,
  maintainTable,
  type RowsToIndex,
} from "./src/search/indexing.ts";
export {
  openEmbeddingTable,
  type OpenTableOptions,
  type QueryResult,
  searchEmbeddings,
  searchRows,
} from "./src/search/search.ts";
export { describeModel, modelIdentity } from "./src/search/model_identity.ts";
