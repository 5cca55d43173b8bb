/**
 * The training loop of adaptive density discrimination, and of the triplet and softmax baselines:
 * sample a batch, run one compiled step (forward, backward and optimizer update on the backend),
 * track the losses the sampler needs, refresh the cluster index, evaluate on a schedule (on the
 * validation rows when there are some: they choose the model kept and may stop the run early; the
 * test rows only ever get the final report), report progress, also inside refreshes and
 * evaluations. Its whole state, the best model so far included, can be captured and restored, so a
 * run can stop and resume exactly.
 *
 * The loop and its state stay in one file, long as it is: every private field the loop changes is
 * captured by `state()` and set by `resume()`, and keeping them side by side is what keeps a
 * resumed run exact; so does the loop's queue of steps in flight (rewound when one diverges). What
 * has a job of its own lives beside it: the step (step.ts), the schedule's defaults (schedule.ts),
 * the time still to go (times.ts), the model kept (model_keeper.ts), divergence (divergence.ts).
 */
import { AbortedError, DivergenceError, MagnetInputError } from "../errors.ts";
import type { Backend, Executable } from "../backend/backend.ts";
import type { Variable } from "../graph/tensor.ts";
import type { Dataset, Features } from "../data/dataset.ts";
import { buildClusterIndex, ClusterIndex } from "../index/cluster_index.ts";
import { LOSSES, type TrainingLoss } from "../losses/registry.ts";
import type { Model } from "../nn/model.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { ClassBatchSampler } from "../sample/class_batches.ts";
import { type BatchPlan, NeighbourhoodSampler } from "../sample/neighbourhood.ts";
import { remainingSeconds } from "./times.ts";
import { releaseScope } from "../backend/compile_once.ts";
import { type EvalMetrics, evaluate, type Evaluation } from "../eval/evaluate.ts";
import type { Classifier } from "../eval/classifier.ts";
import { Random } from "../util/random.ts";
import { resolveConfig, type TrainConfig } from "./config.ts";
import { fitToData } from "./schedule.ts";
import { ModelKeeper } from "./model_keeper.ts";
import type { WorkOptions } from "../util/work.ts";
import type {
  EvalSplit,
  HistoryPoint,
  Phase,
  TrainerState,
  TrainOptions,
  TrainResult,
  TrainSetup,
  TrainTimings,
} from "./types.ts";
import { embed } from "../nn/embed.ts";
import { type RowSource, rowSource } from "../data/row_source.ts";
import { type Augmenter, augmenterFor } from "../data/images/augment.ts";
import { preflight } from "./preflight.ts";
import { compileStep, type StepOutputs, type TrainingStep } from "./step.ts";
import { divergence } from "./divergence.ts";
import { augmentSeed, refreshSeed } from "./seeds.ts";

/**
 * Steps in a row with a loss of exactly 0 after which the run says so once: a tenth of the run,
 * between 100 and 1,000 steps.
 */
function zeroLossStretch(iterations: number): number {
  return Math.max(100, Math.min(1000, Math.ceil(iterations / 10)));
}

/** A run's setup with its validation rows present or absent (never null). */
type Setup = Omit<TrainSetup, "validation"> & { validation?: Dataset<Features> };

/** Runs training; see the module comment. Create with {@link Trainer.create}. */
export class Trainer {
  /** The resolved settings. */
  readonly config: TrainConfig;
  /** The model being trained. */
  readonly model: Model;
  readonly #setup: Setup;
  readonly #loss: TrainingLoss;
  readonly #backend: Backend;
  readonly #optimizer: Optimizer;
  readonly #head: Variable[];
  readonly #step: Executable;
  readonly #latch: Variable;
  readonly #at: StepOutputs;
  readonly #rng: Random;
  readonly #batchFeatures: Float32Array;
  /** Where training rows come from (a table, or images made float32 per batch); their augmenter. */
  readonly #rows: RowSource;
  readonly #augmenter: Augmenter | null;
  readonly #depth: number;
  #index: ClusterIndex | null = null;
  #sampler: NeighbourhoodSampler | ClassBatchSampler;
  #iteration = 0;
  #varianceSum = 0;
  #varianceCount = 0;
  #window = { sum: 0, count: 0 };
  #recent: number[] = [];
  #history: HistoryPoint[] = [];
  #seconds = 0;
  /** When the step clock last started (null while it is paused for a refresh or evaluation). */
  #stepStart: number | null = null;
  #timings: TrainTimings = {
    steps: 0,
    stepCount: 0,
    refresh: 0,
    refreshCount: 0,
    eval: 0,
    evalCount: 0,
  };
  #lastTest: Evaluation | null = null;
  /**
   * The training rows' embeddings of the latest refresh, until the parameters change (a step, or
   * the best model swapped in).
   */
  #refreshed: { iteration: number; embeddings: Float32Array; index: ClusterIndex } | null = null;
  /** Seconds of this process's latest refresh and evaluation (for the time still to go). */
  #latest: { refresh: number | null; eval: number | null; evalAtRefresh: boolean } = {
    refresh: null,
    eval: null,
    evalAtRefresh: false,
  };
  readonly #keeper: ModelKeeper;
  #zeroLoss = { steps: 0, noted: false };

  private constructor(setup: Setup, config: TrainConfig, step: TrainingStep) {
    this.#setup = setup;
    this.#backend = setup.backend;
    this.#loss = LOSSES[config.loss];
    this.config = config;
    this.model = step.model;
    this.#optimizer = step.optimizer;
    this.#head = [...step.lossVariables];
    this.#step = step.executable;
    this.#latch = step.latch;
    this.#at = step.outputs;
    this.#rng = new Random(config.seed);
    this.#batchFeatures = new Float32Array(config.m * config.d * setup.train.dim);
    this.#rows = rowSource(setup.train.features, setup.train.dim);
    this.#augmenter = augmenterFor(config.augment, setup.train, augmentSeed(config.seed));
    this.#depth = setup.pipelineDepth ?? (setup.backend.kind === "cpu" ? 0 : 3);
    this.#sampler = new ClassBatchSampler(setup.train.labels, config.m, config.d, this.#rng);
    this.#keeper = new ModelKeeper(
      setup.backend,
      [...this.model.parameters, ...this.model.state],
      this.#loss.rule === "magnet" ? "magnetError" : "knnError",
      config.earlyStop,
    );
  }

  /**
   * Checks the run, builds the model, the optimizer and the compiled training step. Settings left
   * open that depend on the data are fitted to it (see train/schedule.ts).
   */
  static async create(given: TrainSetup, options: TrainOptions = {}): Promise<Trainer> {
    // Null validation rows are none, as absent ones are (loaded data says null).
    const setup: Setup = { ...given, validation: given.validation ?? undefined };
    const { train, validation } = setup;
    const config = resolveConfig(
      fitToData(options, {
        trainRows: train.labels.length,
        hasValidation: validation !== undefined,
      }),
    );
    preflight({ train, test: setup.test, validation, config, limits: setup.backend.limits() });
    const step = await compileStep(setup.backend, config, train, setup.backbone);
    return new Trainer(setup, config, step);
  }

  /** The clock timings are read from, in milliseconds. */
  #now(): number {
    return this.#setup.clock?.() ?? performance.now();
  }

  /** Whether the loss trains on neighbourhoods of the cluster index (which must be kept fresh). */
  get #usesIndex(): boolean {
    return this.#loss.batches === "neighbourhood";
  }

  /** Steps done so far. */
  get iteration(): number {
    return this.#iteration;
  }

  /**
   * The running mean of the batch variance (magnet only; null before any step or for baselines);
   * the kept model's once the run has finished.
   */
  get variance(): number | null {
    const best = this.#keeper.best;
    const { sum, count } = this.#keeper.swapped && best !== null
      ? { sum: best.varianceSum, count: best.varianceCount }
      : { sum: this.#varianceSum, count: this.#varianceCount };
    return count > 0 ? sum / count : null;
  }

  /** The best validation evaluation so far: its step and error (null: none yet). */
  get best(): { iteration: number; value: number } | null {
    const best = this.#keeper.best;
    return best === null ? null : { iteration: best.iteration, value: best.value };
  }

  /**
   * Gives the run's device memory back now: its compiled step, its model's embedding graphs and
   * every variable it owns. For a process that trains many runs in turn (the experiments); the
   * trainer cannot run afterwards, and a model it returned can no longer embed on this backend.
   */
  async dispose(): Promise<void> {
    this.#step.dispose();
    await releaseScope(this.#backend, this.model);
    this.#backend.releaseVariables([...this.variables, this.#latch]);
  }

  /** Every variable the run owns: parameters, optimizer state, classifier head. */
  get variables(): Variable[] {
    return [
      ...this.model.parameters,
      ...this.#head,
      ...this.#optimizer.state,
      ...this.model.state,
    ];
  }

  /** Steps between refreshes: the configured number, or one epoch (0, in older checkpoints). */
  get refreshEvery(): number {
    const batch = this.config.m * this.config.d;
    return this.config.refreshEvery ||
      Math.max(1, Math.ceil(this.#setup.train.labels.length / batch));
  }

  /** Progress and abort options of a phase's work, reported as "phase" events. */
  #work(phase: Phase, split?: EvalSplit): WorkOptions {
    const { onProgress, signal } = this.#setup;
    const iteration = this.#iteration;
    return {
      signal,
      onProgress: onProgress &&
        ((progress) => onProgress({ kind: "phase", phase, iteration, split, progress })),
    };
  }

  async #refresh(): Promise<void> {
    const start = this.#now();
    const { train } = this.#setup;
    const work = this.#work("index");
    const embeddings = await embed(this.#backend, this.model, train.features, work);
    const index = await buildClusterIndex(
      this.#backend,
      embeddings,
      this.model.outputDim,
      train.labels,
      {
        clustersPerClass: this.config.k,
        seed: refreshSeed(this.config.seed, this.#iteration),
        ...work,
      },
    );
    this.#useIndex(index);
    this.#refreshed = { iteration: this.#iteration, embeddings, index };
    const seconds = (this.#now() - start) / 1000;
    this.#latest.refresh = seconds;
    this.#timings.refresh += seconds;
    this.#timings.refreshCount++;
    this.#seconds += seconds;
    this.#setup.onProgress?.({
      kind: "refresh",
      iteration: this.#iteration,
      seconds,
      clusters: index.numClusters,
    });
  }

  #useIndex(index: ClusterIndex): void {
    this.#index = index;
    if (this.#sampler instanceof NeighbourhoodSampler) this.#sampler.reset(index);
    else {this.#sampler = new NeighbourhoodSampler(
        index,
        this.config.m,
        this.config.d,
        this.#rng,
        this.config.sampler,
      );}
  }

  /**
   * Evaluates the model on `split`'s rows and records the metrics in the history; a validation
   * evaluation is then judged against the best so far. Null when there are no such rows.
   */
  async #evaluate(split: EvalSplit): Promise<EvalMetrics | null> {
    const { train } = this.#setup;
    const rows = split === "validation" ? this.#setup.validation : this.#setup.test;
    if (rows === undefined) return null;
    const start = this.#now();
    // An evaluation right after a refresh, with no step between them, takes the refresh's
    // embeddings of the training rows and the index it clustered them into: the same model made
    // them the same way, and the magnet rule votes over the index the run samples from.
    const reuse = this.#refreshed?.iteration === this.#iteration ? this.#refreshed : null;
    const result = await evaluate(this.#backend, this.model, train, rows, {
      trainEmbeddings: reuse?.embeddings,
      index: reuse?.index,
      variance: this.#loss.rule === "magnet" ? this.variance : null,
      clustersPerClass: this.config.k,
      seed: this.config.seed,
      votingClusters: this.config.votingClusters,
      knnK: this.config.knnK,
      ...this.#work("evaluation", split),
    });
    const seconds = (this.#now() - start) / 1000;
    this.#latest.eval = seconds;
    this.#latest.evalAtRefresh = reuse !== null;
    this.#timings.eval += seconds;
    this.#timings.evalCount++;
    this.#seconds += seconds;
    if (split === "test") this.#lastTest = result;
    const best = split === "validation" &&
      await this.#keeper.judge(result.metrics, this.#iteration, {
        sum: this.#varianceSum,
        count: this.#varianceCount,
      });
    this.#pushHistory({ split, metrics: result.metrics });
    this.#setup.onProgress?.({
      kind: "eval",
      iteration: this.#iteration,
      seconds,
      metrics: result.metrics,
      evaluation: result,
      split,
      best,
    });
    if (split === "validation" && this.#keeper.stopNow()) {
      this.#setup.onProgress?.({
        kind: "early-stop",
        iteration: this.#iteration,
        evaluations: this.#keeper.sinceBest,
        bestIteration: this.#keeper.best?.iteration ?? this.#iteration,
      });
    }
    return result.metrics;
  }

  /** Whether the history already holds a `split` evaluation after `iteration` steps. */
  #evaluatedAt(iteration: number, split: EvalSplit): boolean {
    const last = this.#history[this.#history.length - 1];
    return last !== undefined && last.iteration === iteration && last[split] !== undefined;
  }

  /** Seconds still to go at `secondsPerStep` (see {@link remainingSeconds}). */
  #remaining(secondsPerStep: number): number {
    const { train, test, validation, evalAt } = this.#setup;
    const during = validation ?? test;
    const finalEvaluations = (validation === undefined ? 0 : 1) + (test === undefined ? 0 : 1);
    return remainingSeconds({
      from: this.#iteration,
      iterations: this.config.iterations,
      secondsPerStep,
      refreshEvery: this.#usesIndex ? this.refreshEvery : 0,
      evaluations: during === undefined ? null : evalAt ?? this.config.evalEvery,
      finalEvaluations,
      timings: this.#timings,
      latest: this.#latest,
      rows: {
        train: train.labels.length,
        evaluated: train.labels.length + (during?.labels.length ?? 0),
        batch: this.config.m * this.config.d,
      },
    });
  }

  /** Whether the schedule evaluates after `iteration` steps (before the end). */
  #evalDue(iteration: number): boolean {
    const { evalAt } = this.#setup;
    if (evalAt !== undefined) return evalAt.includes(iteration);
    const every = this.config.evalEvery;
    return every > 0 && iteration % every === 0;
  }

  /** Seconds of the run so far, the step in progress included. */
  #elapsed(): number {
    const running = this.#stepStart === null ? 0 : (this.#now() - this.#stepStart) / 1000;
    return this.#seconds + running;
  }

  #pushHistory(evaluation?: { split: EvalSplit; metrics: EvalMetrics }): void {
    const w = this.#window;
    const last = this.#history[this.#history.length - 1];
    if (last !== undefined && last.iteration === this.#iteration) {
      if (evaluation !== undefined) last[evaluation.split] = evaluation.metrics;
      return;
    }
    const point: HistoryPoint = {
      iteration: this.#iteration,
      loss: w.count > 0 ? w.sum / w.count : null,
      seconds: this.#elapsed(),
    };
    if (evaluation !== undefined) point[evaluation.split] = evaluation.metrics;
    this.#history.push(point);
    this.#window = { sum: 0, count: 0 };
  }

  /** Gathers the batch's rows into the reusable feature buffer, augmented if the run says so. */
  #features(plan: BatchPlan): Float32Array {
    this.#rows.gather(plan.rows, this.#batchFeatures);
    this.#augmenter?.apply(this.#batchFeatures, plan.rows.length);
    return this.#batchFeatures;
  }

  /** Takes a finished step's results into account; a step that was not sound ends the run. */
  #settle(plan: BatchPlan, iteration: number, outputs: ArrayLike<number>[]): void {
    const at = this.#at;
    const loss = outputs[at.loss][0];
    if (outputs[at.applied][0] !== 1) {
      throw divergence(this.#at, outputs, iteration, this.config.lr);
    }
    if (at.exampleLosses !== null && this.#sampler instanceof NeighbourhoodSampler) {
      this.#sampler.recordLosses(plan.rows, outputs[at.exampleLosses]);
    }
    if (at.variance !== null) {
      this.#varianceSum += outputs[at.variance][0];
      this.#varianceCount++;
    }
    this.#window.sum += loss;
    this.#window.count++;
    this.#recent.push(loss);
    if (this.#recent.length > 50) this.#recent.shift();
    this.#noteZeroLoss(loss, iteration + 1);
  }

  /** Says once when the loss has been exactly 0 for a long stretch: the run learns nothing more. */
  #noteZeroLoss(loss: number, iteration: number): void {
    const z = this.#zeroLoss;
    z.steps = loss === 0 ? z.steps + 1 : 0;
    if (z.noted || z.steps < zeroLossStretch(this.config.iterations)) return;
    z.noted = true;
    const larger = this.config.loss === "triplet" ? "a larger triplet margin" : "a larger alpha";
    this.#setup.onProgress?.({
      kind: "note",
      iteration,
      message: `the loss has been exactly 0 for the last ${z.steps} steps: every batch ` +
        `satisfies the margin: consider fewer iterations or ${larger}`,
    });
  }

  /**
   * Runs until the configured number of steps, an early stop or the abort signal; then keeps the
   * model its rule chooses and evaluates it on the test rows. Throws {@link DivergenceError} when a
   * step is not sound (see step.ts); the backend then still holds the last good state, and
   * {@link Trainer.state} captures it, at the step it was reached.
   */
  async run(): Promise<TrainResult> {
    this.#keeper.swapBackLast();
    const { signal, onProgress, onCheckpoint } = this.#setup;
    const checkpointEvery = this.#setup.checkpointEvery ?? 0;
    const { iterations, logEvery } = this.config;
    const inflight: {
      plan: BatchPlan;
      iteration: number;
      /** The sampling and augmenting generators before this step's batch, to rewind to. */
      rng: [number, number, number, number];
      augmentRng: [number, number, number, number] | null;
      result: Promise<ArrayLike<number>[]>;
    }[] = [];
    let failure: unknown = null;
    const settleOldest = async () => {
      const oldest = inflight.shift()!;
      const outputs = await oldest.result;
      if (failure !== null) return;
      try {
        this.#settle(oldest.plan, oldest.iteration, outputs);
      } catch (error) {
        if (error instanceof DivergenceError) {
          // Neither this step nor those queued behind it were applied (the device's latch): the
          // state is the last good step's, and so are the step count and the sampling stream.
          this.#timings.stepCount -= this.#iteration - oldest.iteration;
          this.#iteration = oldest.iteration;
          this.#rng.state = oldest.rng;
          if (oldest.augmentRng !== null) this.#augmenter!.random.state = oldest.augmentRng;
        }
        throw error;
      }
    };
    const drain = async () => {
      while (inflight.length > 0) {
        try {
          await settleOldest();
        } catch (error) {
          failure ??= error;
        }
      }
      if (failure !== null) throw failure;
    };
    this.#stepStart = this.#now();
    const pauseStepClock = () => {
      if (this.#stepStart === null) return;
      const seconds = (this.#now() - this.#stepStart) / 1000;
      this.#timings.steps += seconds;
      this.#seconds += seconds;
      this.#stepStart = null;
    };
    let status: TrainResult["status"] = "completed";
    // A CPU step never leaves the microtask queue; yielding now and then lets signals (Ctrl-C) and
    // timers run.
    let lastYield = performance.now();
    if (this.#history.length === 0) this.#pushHistory();
    /** Runs a refresh or evaluation; false when the signal stopped it (to be redone on resume). */
    const phase = async (work: () => Promise<unknown>): Promise<boolean> => {
      try {
        await work();
        return true;
      } catch (error) {
        if (error instanceof AbortedError) return false;
        throw error;
      }
    };
    const scheduledEvaluation = () =>
      this.#evaluate(this.#setup.validation !== undefined ? "validation" : "test");
    while (!this.#keeper.stopped && this.#iteration < iterations) {
      const it = this.#iteration;
      const needRefresh = this.#usesIndex &&
        (this.#index === null || it % this.refreshEvery === 0);
      const needEval = it > 0 && this.#evalDue(it);
      const needCheckpoint = checkpointEvery > 0 && it > 0 && it % checkpointEvery === 0;
      if (needRefresh || needEval || needCheckpoint || signal?.aborted) {
        await drain();
        pauseStepClock();
        if (signal?.aborted) {
          status = "interrupted";
          break;
        }
        if (needCheckpoint && onCheckpoint !== undefined) await onCheckpoint(await this.state());
        if (
          (needRefresh && !await phase(() => this.#refresh())) ||
          (needEval && !await phase(scheduledEvaluation))
        ) {
          status = "interrupted";
          break;
        }
        if (this.#keeper.stopped) break;
        this.#stepStart = this.#now();
      }
      if (performance.now() - lastYield > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
        if (signal?.aborted) continue; // handled at the top of the loop, after a drain
      }
      const rng = this.#rng.state, augmentRng = this.#augmenter?.random.state ?? null;
      const plan = this.#sampler.sample();
      const feeds = {
        x: this.#features(plan),
        clusterOf: plan.clusterOf,
        clusterClasses: plan.clusterClasses,
      };
      this.#refreshed = null;
      inflight.push({ plan, iteration: it, rng, augmentRng, result: this.#step.run(feeds) });
      this.#iteration++;
      this.#timings.stepCount++;
      while (inflight.length > this.#depth) {
        try {
          await settleOldest();
        } catch (error) {
          failure = error;
          await drain();
        }
      }
      if (this.#iteration % logEvery === 0) {
        await drain();
        this.#pushHistory();
      }
      if (onProgress !== undefined && this.#recent.length > 0) {
        const elapsed = this.#timings.steps + (this.#now() - this.#stepStart!) / 1000;
        const rate = this.#timings.stepCount / Math.max(elapsed, 1e-9);
        onProgress({
          kind: "step",
          iteration: this.#iteration,
          iterations,
          loss: this.#recent.reduce((s, v) => s + v, 0) / this.#recent.length,
          stepsPerSecond: rate,
          etaSeconds: this.#remaining(1 / rate),
        });
      }
    }
    let classifier: Classifier | null = null;
    if (status === "completed") {
      await drain();
      pauseStepClock();
      this.#pushHistory();
      // The last model is a candidate too; then the kept one is judged on the test rows.
      const finished = await phase(async () => {
        const it = this.#iteration;
        if (this.#setup.validation !== undefined && !this.#evaluatedAt(it, "validation")) {
          await this.#evaluate("validation");
        }
        if (this.config.keep === "best") {
          this.#refreshed = null;
          await this.#keeper.swapInBest(it);
        }
        if (!this.#evaluatedAt(it, "test") || this.#lastTest === null) {
          await this.#evaluate("test");
        }
        classifier = this.#lastTest?.classifier ?? await this.#classifier();
      });
      if (!finished) status = "interrupted";
    }
    const completed = status === "completed";
    const kept = completed
      ? this.#keeper.kept(
        this.config.keep,
        this.#iteration,
        this.#history,
        this.#setup.validation !== undefined,
      )
      : null;
    return {
      status,
      iterations: this.#iteration,
      stoppedEarly: this.#keeper.stopped,
      kept,
      test: completed ? this.#lastTest?.metrics ?? null : null,
      validation: kept === null
        ? null
        : this.#history.find((p) => p.iteration === kept.iteration)?.validation ?? null,
      history: this.#history.map((p) => ({ ...p })),
      variance: this.#loss.rule === "magnet" ? this.variance : null,
      timings: { ...this.#timings },
      seconds: this.#seconds,
      model: this.model,
      index: this.#lastTest?.index ?? this.#index,
      testEmbeddings: this.#lastTest?.testEmbeddings ?? null,
      trainEmbeddings: this.#lastTest?.trainEmbeddings ?? null,
      classifier,
    };
  }

  /**
   * The classifier of a run that had no test rows to evaluate on: from the last index (or, for a
   * kept best model, an index of its own embedding) or the training set.
   */
  async #classifier(): Promise<Classifier> {
    const { config } = this;
    const { train } = this.#setup;
    const work = this.#work("index");
    if (this.#loss.rule === "magnet" && this.#index !== null && this.variance !== null) {
      const index = !this.#keeper.swapped ? this.#index : await buildClusterIndex(
        this.#backend,
        await embed(this.#backend, this.model, train.features, work),
        this.model.outputDim,
        train.labels,
        { clustersPerClass: config.k, seed: config.seed, ...work },
      );
      return {
        kind: "magnet",
        centres: index.centres,
        centreClasses: index.clusterClass,
        variance: this.variance,
        votingClusters: config.votingClusters,
      };
    }
    const references = await embed(this.#backend, this.model, train.features, work);
    return { kind: "knn", references, referenceLabels: train.labels, k: config.knnK };
  }

  /** The run's whole state (call it between runs or from a checkpoint callback). */
  async state(): Promise<TrainerState> {
    const variables: Record<string, Float32Array> = {};
    for (const v of this.variables) {
      // The last step's values, also while the kept best model is on the backend.
      const last = this.#keeper.lastValue(v.name);
      variables[v.name] = last?.slice() ?? Float32Array.from(await this.#backend.readVariable(v));
    }
    const sampler = this.#sampler instanceof NeighbourhoodSampler ? this.#sampler.snapshot() : null;
    return {
      version: 1,
      config: structuredClone(this.config),
      iteration: this.#iteration,
      rng: this.#rng.state,
      augmentRng: this.#augmenter?.random.state ?? null,
      variables,
      index: this.#index === null ? null : {
        centres: this.#index.centres.slice(),
        clusterClass: this.#index.clusterClass.slice(),
        assignment: this.#index.assignment.slice(),
      },
      sampler,
      varianceSum: this.#varianceSum,
      varianceCount: this.#varianceCount,
      window: { ...this.#window },
      history: structuredClone(this.#history),
      seconds: this.#seconds,
      timings: { ...this.#timings },
      ...this.#keeper.state(),
      zeroLoss: { ...this.#zeroLoss },
    };
  }

  /**
   * A trainer continuing from `state` (its config wins over `options`' settings; data, backend and
   * callbacks come from `options`).
   */
  static async resume(
    setup: TrainSetup,
    state: TrainerState,
    source = "the saved state",
  ): Promise<Trainer> {
    if (state.version !== 1) {
      throw new MagnetInputError(`unsupported trainer state version ${state.version}`);
    }
    const trainer = await Trainer.create(setup, state.config);
    try {
      trainer.#restore(state, source);
    } catch (error) {
      await trainer.dispose();
      throw error;
    }
    return trainer;
  }

  /**
   * Takes over `state`, checking that it is this run's: exactly its variables, each of its size
   * and finite, an index and sampler of this data, finite sums. `source` names it in errors.
   */
  #restore(state: TrainerState, source: string): void {
    const damaged = (what: string) => new MagnetInputError(`${source} is damaged: ${what}`);
    const own = new Set(this.variables.map((v) => v.name));
    const unknown = Object.keys(state.variables).find((name) => !own.has(name));
    if (unknown !== undefined) {
      throw damaged(`variables.${unknown} is not a variable of this run's model and optimizer`);
    }
    for (const v of this.variables) {
      const value = state.variables[v.name];
      if (value === undefined) throw damaged(`variables.${v.name} is missing`);
      if (value.length !== v.size) {
        throw damaged(`variables.${v.name} should hold ${v.size} values, found ${value.length}`);
      }
      const bad = value.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw damaged(`variables.${v.name}[${bad}] is ${value[bad]}`);
    }
    const sums = {
      varianceSum: state.varianceSum,
      "window.sum": state.window.sum,
      ...(state.best === null ? {} : { "best.varianceSum": state.best.varianceSum }),
    };
    for (const [name, value] of Object.entries(sums)) {
      if (!Number.isFinite(value) || value < 0) throw damaged(`${name} is ${value}`);
    }
    this.#restoreBest(state, damaged);
    for (const v of this.variables) this.#backend.writeVariable(v, state.variables[v.name]);
    this.#iteration = state.iteration;
    this.#rng.state = state.rng;
    if (state.augmentRng && this.#augmenter) this.#augmenter.random.state = state.augmentRng;
    if (state.index !== null) {
      try {
        this.#useIndex(
          ClusterIndex.restore(
            this.model.outputDim,
            state.index,
            this.#setup.train.labels.length,
            this.#setup.train.classNames.length,
          ),
        );
        if (state.sampler !== null) {
          (this.#sampler as NeighbourhoodSampler).restore(state.sampler);
        }
      } catch (error) {
        if (!(error instanceof MagnetInputError)) throw error;
        throw damaged(error.message);
      }
    }
    this.#varianceSum = state.varianceSum;
    this.#varianceCount = state.varianceCount;
    this.#window = { ...state.window };
    this.#history = structuredClone(state.history);
    this.#seconds = state.seconds;
    this.#timings = { ...state.timings };
    this.#zeroLoss = { ...state.zeroLoss };
  }

  /**
   * Checks the best model a state keeps against this run's model: exactly the variables the keeper
   * keeps, each of its size and finite, a sound variance; then hands it to the keeper.
   */
  #restoreBest(state: TrainerState, damaged: (what: string) => MagnetInputError): void {
    const best = state.best;
    if (best !== null) {
      const own = new Set(this.#keeper.variables.map((v) => v.name));
      const unknown = Object.keys(best.variables).find((name) => !own.has(name));
      if (unknown !== undefined) {
        throw damaged(`best.variables.${unknown} is not a variable of this run's model`);
      }
      for (const v of this.#keeper.variables) {
        const value = best.variables[v.name];
        if (value === undefined) throw damaged(`best.variables.${v.name} is missing`);
        const bad = value.findIndex((x) => !Number.isFinite(x));
        if (bad >= 0) throw damaged(`best.variables.${v.name}[${bad}] is ${value[bad]}`);
      }
    }
    try {
      this.#keeper.restore(state, this.#setup.validation !== undefined);
    } catch (error) {
      if (!(error instanceof MagnetInputError)) throw error;
      throw damaged(error.message);
    }
  }
}

/** Trains with `options` from scratch: {@link Trainer.create} then {@link Trainer.run}. */
export async function train(setup: TrainSetup, options: TrainOptions = {}): Promise<TrainResult> {
  const trainer = await Trainer.create(setup, options);
  return await trainer.run();
}
