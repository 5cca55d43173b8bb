/**
 * The training loop of adaptive density discrimination, and of the triplet and softmax baselines:
 * sample a batch, run one compiled step (forward, backward and optimizer update on the backend),
 * track the losses the sampler needs, refresh the cluster index, evaluate on a schedule, report
 * progress. Its whole state can be captured and restored, so a run can stop and resume exactly.
 */
import { MagnetInputError, NonFiniteLossError } from "../errors.ts";
import type { Backend, Executable } from "../backend/backend.ts";
import type { Variable } from "../graph/tensor.ts";
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
import type {
  HistoryPoint,
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
import { augmentSeed, refreshSeed } from "./seeds.ts";

/** Runs training; see the module comment. Create with {@link Trainer.create}. */
export class Trainer {
  /** The resolved settings. */
  readonly config: TrainConfig;
  /** The model being trained. */
  readonly model: Model;
  readonly #setup: TrainSetup;
  readonly #loss: TrainingLoss;
  readonly #backend: Backend;
  readonly #optimizer: Optimizer;
  readonly #head: Variable[];
  readonly #step: Executable;
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

  private constructor(setup: TrainSetup, config: TrainConfig, step: TrainingStep) {
    this.#setup = setup;
    this.#backend = setup.backend;
    this.#loss = LOSSES[config.loss];
    this.config = config;
    this.model = step.model;
    this.#optimizer = step.optimizer;
    this.#head = [...step.lossVariables];
    this.#step = step.executable;
    this.#at = step.outputs;
    this.#rng = new Random(config.seed);
    this.#batchFeatures = new Float32Array(config.m * config.d * setup.train.dim);
    this.#rows = rowSource(setup.train.features, setup.train.dim);
    this.#augmenter = augmenterFor(config.augment, setup.train, augmentSeed(config.seed));
    this.#depth = setup.pipelineDepth ?? (setup.backend.kind === "cpu" ? 0 : 3);
    this.#sampler = new ClassBatchSampler(setup.train.labels, config.m, config.d, this.#rng);
  }

  /** Checks the run, builds the model, the optimizer and the compiled training step. */
  static async create(setup: TrainSetup, options: TrainOptions = {}): Promise<Trainer> {
    const config = resolveConfig(options);
    const { train } = setup;
    preflight({ train, test: setup.test, config });
    const step = await compileStep(setup.backend, config, train, setup.backbone);
    return new Trainer(setup, config, step);
  }

  /** Whether the loss trains on neighbourhoods of the cluster index (which must be kept fresh). */
  get #usesIndex(): boolean {
    return this.#loss.batches === "neighbourhood";
  }

  /** Steps done so far. */
  get iteration(): number {
    return this.#iteration;
  }

  /** The running mean of the batch variance (magnet only; null before any step or for baselines). */
  get variance(): number | null {
    return this.#varianceCount > 0 ? this.#varianceSum / this.#varianceCount : null;
  }

  /**
   * Gives the run's device memory back now: its compiled step, its model's embedding graphs and
   * every variable it owns. For a process that trains many runs in turn (the experiments); the
   * trainer cannot run afterwards, and a model it returned can no longer embed on this backend.
   */
  async dispose(): Promise<void> {
    this.#step.dispose();
    await releaseScope(this.#backend, this.model);
    this.#backend.releaseVariables(this.variables);
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

  /** Steps between refreshes: the configured number, or one epoch. */
  get refreshEvery(): number {
    const batch = this.config.m * this.config.d;
    return this.config.refreshEvery ||
      Math.max(1, Math.ceil(this.#setup.train.labels.length / batch));
  }

  async #refresh(): Promise<void> {
    const start = performance.now();
    const { train } = this.#setup;
    const embeddings = await embed(this.#backend, this.model, train.features);
    const index = await buildClusterIndex(
      this.#backend,
      embeddings,
      this.model.outputDim,
      train.labels,
      { clustersPerClass: this.config.k, seed: refreshSeed(this.config.seed, this.#iteration) },
    );
    this.#useIndex(index);
    const seconds = (performance.now() - start) / 1000;
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

  async #evaluate(): Promise<EvalMetrics | null> {
    const { test, train } = this.#setup;
    if (test === undefined) return null;
    const start = performance.now();
    const result = await evaluate(this.#backend, this.model, train, test, {
      variance: this.#loss.rule === "magnet" ? this.variance : null,
      clustersPerClass: this.config.k,
      seed: this.config.seed,
      votingClusters: this.config.votingClusters,
      knnK: this.config.knnK,
    });
    const seconds = (performance.now() - start) / 1000;
    this.#timings.eval += seconds;
    this.#timings.evalCount++;
    this.#seconds += seconds;
    this.#lastTest = result;
    this.#setup.onProgress?.({
      kind: "eval",
      iteration: this.#iteration,
      seconds,
      metrics: result.metrics,
      evaluation: result,
    });
    return result.metrics;
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
    const running = this.#stepStart === null ? 0 : (performance.now() - this.#stepStart) / 1000;
    return this.#seconds + running;
  }

  #pushHistory(test?: EvalMetrics): void {
    const w = this.#window;
    const last = this.#history[this.#history.length - 1];
    const point: HistoryPoint = {
      iteration: this.#iteration,
      loss: w.count > 0 ? w.sum / w.count : null,
      seconds: this.#elapsed(),
    };
    if (last !== undefined && last.iteration === this.#iteration) {
      if (test !== undefined) last.test = test;
      return;
    }
    if (test !== undefined) point.test = test;
    this.#history.push(point);
    this.#window = { sum: 0, count: 0 };
  }

  /** Gathers the batch's rows into the reusable feature buffer, augmented if the run says so. */
  #features(plan: BatchPlan): Float32Array {
    this.#rows.gather(plan.rows, this.#batchFeatures);
    this.#augmenter?.apply(this.#batchFeatures, plan.rows.length);
    return this.#batchFeatures;
  }

  /** Takes a finished step's results into account. */
  #settle(plan: BatchPlan, iteration: number, outputs: ArrayLike<number>[]): void {
    const at = this.#at;
    const loss = outputs[at.loss][0];
    if (outputs[at.applied][0] !== 1) {
      const what = Number.isFinite(loss)
        ? `the update of step ${iteration + 1} held non-finite values (the loss was ${loss})`
        : `the training loss became ${loss} at step ${iteration + 1}`;
      throw new NonFiniteLossError(
        iteration,
        `${what}; that step's update was not applied, so the parameters are those of the last ` +
          "good step. Try a lower learning rate.",
      );
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
  }

  /**
   * Runs until the configured number of steps (or the abort signal), evaluating at the end.
   * Throws {@link NonFiniteLossError} when the loss stops being finite; the backend then still holds
   * the last good parameters, and {@link Trainer.state} captures them.
   */
  async run(): Promise<TrainResult> {
    const { signal, onProgress, onCheckpoint } = this.#setup;
    const checkpointEvery = this.#setup.checkpointEvery ?? 0;
    const { iterations, logEvery } = this.config;
    const inflight: { plan: BatchPlan; iteration: number; result: Promise<ArrayLike<number>[]> }[] =
      [];
    let failure: unknown = null;
    const settleOldest = async () => {
      const oldest = inflight.shift()!;
      const outputs = await oldest.result;
      if (failure === null) this.#settle(oldest.plan, oldest.iteration, outputs);
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
    this.#stepStart = performance.now();
    const pauseStepClock = () => {
      if (this.#stepStart === null) return;
      const seconds = (performance.now() - this.#stepStart) / 1000;
      this.#timings.steps += seconds;
      this.#seconds += seconds;
      this.#stepStart = null;
    };
    let status: TrainResult["status"] = "completed";
    // A CPU step never leaves the microtask queue; yielding now and then lets signals (Ctrl-C) and
    // timers run.
    let lastYield = performance.now();
    if (this.#history.length === 0) this.#pushHistory();
    while (this.#iteration < iterations) {
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
        if (needRefresh) await this.#refresh();
        if (needEval) {
          const metrics = await this.#evaluate();
          if (metrics !== null) this.#pushHistory(metrics);
        }
        this.#stepStart = performance.now();
      }
      if (performance.now() - lastYield > 50) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
        if (signal?.aborted) continue; // handled at the top of the loop, after a drain
      }
      const plan = this.#sampler.sample();
      const feeds = {
        x: this.#features(plan),
        clusterOf: plan.clusterOf,
        clusterClasses: plan.clusterClasses,
      };
      inflight.push({ plan, iteration: it, result: this.#step.run(feeds) });
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
        const elapsed = this.#timings.steps + (performance.now() - this.#stepStart!) / 1000;
        const rate = this.#timings.stepCount / Math.max(elapsed, 1e-9);
        onProgress({
          kind: "step",
          iteration: this.#iteration,
          iterations,
          loss: this.#recent.reduce((s, v) => s + v, 0) / this.#recent.length,
          stepsPerSecond: rate,
          etaSeconds: remainingSeconds({
            from: this.#iteration,
            iterations,
            secondsPerStep: 1 / rate,
            refreshEvery: this.#usesIndex ? this.refreshEvery : 0,
            evaluations: this.#setup.test === undefined ? null : this.#setup.evalAt ??
              this.config.evalEvery,
            timings: this.#timings,
          }),
        });
      }
    }
    let classifier: Classifier | null = null;
    if (status === "completed") {
      await drain();
      pauseStepClock();
      this.#pushHistory();
      const metrics = await this.#evaluate();
      if (metrics !== null) this.#pushHistory(metrics);
      classifier = this.#lastTest?.classifier ?? await this.#classifier();
    }
    return {
      status,
      iterations: this.#iteration,
      test: status === "completed" ? this.#lastTest?.metrics ?? null : null,
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

  /** The classifier of a run that had nothing to evaluate on: from the index or the training set. */
  async #classifier(): Promise<Classifier> {
    const { config } = this;
    if (this.#loss.rule === "magnet" && this.#index !== null && this.variance !== null) {
      return {
        kind: "magnet",
        centres: this.#index.centres,
        centreClasses: this.#index.clusterClass,
        variance: this.variance,
        votingClusters: config.votingClusters,
      };
    }
    const { train } = this.#setup;
    const references = await embed(this.#backend, this.model, train.features);
    return { kind: "knn", references, referenceLabels: train.labels, k: config.knnK };
  }

  /** The run's whole state (call it between runs or from a checkpoint callback). */
  async state(): Promise<TrainerState> {
    const variables: Record<string, Float32Array> = {};
    for (const v of this.variables) {
      variables[v.name] = Float32Array.from(await this.#backend.readVariable(v));
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
    };
  }

  /**
   * A trainer continuing from `state` (its config wins over `options`' settings; data, backend and
   * callbacks come from `options`).
   */
  static async resume(setup: TrainSetup, state: TrainerState): Promise<Trainer> {
    if (state.version !== 1) {
      throw new MagnetInputError(`unsupported trainer state version ${state.version}`);
    }
    const trainer = await Trainer.create(setup, state.config);
    for (const v of trainer.variables) {
      const value = state.variables[v.name];
      if (value === undefined) {
        throw new MagnetInputError(`the saved state has no value for variable "${v.name}"`);
      }
      setup.backend.writeVariable(v, value);
    }
    trainer.#iteration = state.iteration;
    trainer.#rng.state = state.rng;
    if (state.augmentRng && trainer.#augmenter) trainer.#augmenter.random.state = state.augmentRng;
    if (state.index !== null) {
      trainer.#useIndex(
        ClusterIndex.restore(
          trainer.model.outputDim,
          state.index,
          setup.train.labels.length,
          setup.train.classNames.length,
        ),
      );
      if (state.sampler !== null) {
        (trainer.#sampler as NeighbourhoodSampler).restore(state.sampler);
      }
    }
    trainer.#varianceSum = state.varianceSum;
    trainer.#varianceCount = state.varianceCount;
    trainer.#window = { ...state.window };
    trainer.#history = structuredClone(state.history);
    trainer.#seconds = state.seconds;
    trainer.#timings = { ...state.timings };
    return trainer;
  }
}

/** Trains with `options` from scratch: {@link Trainer.create} then {@link Trainer.run}. */
export async function train(setup: TrainSetup, options: TrainOptions = {}): Promise<TrainResult> {
  const trainer = await Trainer.create(setup, options);
  return await trainer.run();
}
