/**
 * The matmul WGSL kernel against a float64 CPU reference, for all four transpose variants, on its
 * own WebGPU device. Fails (never skips) when no adapter is available.
 */
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.ts";
import { matmulShader, type MatmulVariant, matmulWorkgroups } from "../../kernels/matmul.ts";
import { matmulReference } from "../helpers/matmul_reference.ts";

const VARIANTS: MatmulVariant[] = [
  { transposeA: false, transposeB: false },
  { transposeA: true, transposeB: false },
  { transposeA: false, transposeB: true },
  { transposeA: true, transposeB: true },
];

const SIZES = [1, 2, 7, 33, 64, 65, 257];

/** [m, n, k] shapes: every combination of SIZES, plus tall, wide and long-k ones. */
const SHAPES: [number, number, number][] = [
  ...SIZES.flatMap((m) =>
    SIZES.flatMap((n) => SIZES.map((k) => [m, n, k] as [number, number, number]))
  ),
  [1000, 3, 20],
  [3, 1000, 21],
  [600, 300, 9],
  [48, 784, 30],
  [5, 3, 4099],
];

/** Relative tolerance, against the sum of |a||b| of each output element. */
const RTOL = 1e-5;

function variantName(v: MatmulVariant): string {
  return `${v.transposeA ? "A^T" : "A"} * ${v.transposeB ? "B^T" : "B"}`;
}

function randomMatrix(rng: Random, size: number): Float32Array {
  const x = new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = rng.normal();
  return x;
}

/** Checks `got` (m x n) against op(a) * op(b) computed in float64. Returns a failure or null. */
function check(
  v: MatmulVariant,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  got: Float32Array,
): string | null {
  const { value, scale } = matmulReference(a, b, m, n, k, v.transposeA, v.transposeB);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const sum = value[i * n + j], abs = scale[i * n + j];
      const g = got[i * n + j];
      const ok = Number.isFinite(sum)
        ? Math.abs(g - sum) <= RTOL * abs + 1e-30
        : Object.is(g, sum) || (Number.isNaN(g) && Number.isNaN(sum));
      if (!ok) {
        return `${variantName(v)} m=${m} n=${n} k=${k}: out[${i}][${j}] = ${g}, expected ${sum} ` +
          `(tolerance ${RTOL * abs})`;
      }
    }
  }
  return null;
}

interface Case {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  readback: GPUBuffer;
}

/** Storage buffer holding `data` (at least 4 bytes). */
function storageBuffer(device: GPUDevice, data: Float32Array, extraUsage = 0): GPUBuffer {
  const buffer = device.createBuffer({
    size: Math.max(4, data.byteLength),
    usage: GPUBufferUsage.STORAGE | extraUsage,
    mappedAtCreation: true,
  });
  new Float32Array(buffer.getMappedRange(0, data.byteLength)).set(data);
  buffer.unmap();
  return buffer;
}

/** Encodes every shape of one variant into one submission, then reads them all back. */
async function runVariant(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  v: MatmulVariant,
  shapes: [number, number, number][],
  rng: Random,
): Promise<void> {
  const cases: Case[] = [];
  const transient: GPUBuffer[] = [];
  const encoder = device.createCommandEncoder();
  for (const [m, n, k] of shapes) {
    const a = randomMatrix(rng, m * k), b = randomMatrix(rng, k * n);
    const bufA = storageBuffer(device, a), bufB = storageBuffer(device, b);
    const out = storageBuffer(device, new Float32Array(m * n).fill(NaN), GPUBufferUsage.COPY_SRC);
    const params = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint32Array(params.getMappedRange()).set([m, n, k, 0]);
    params.unmap();
    const readback = device.createBuffer({
      size: m * n * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [bufA, bufB, out, params].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...matmulWorkgroups(m, n));
    pass.end();
    encoder.copyBufferToBuffer(out, 0, readback, 0, m * n * 4);
    transient.push(bufA, bufB, out, params);
    cases.push({ m, n, k, a, b, readback });
  }
  device.queue.submit([encoder.finish()]);
  await Promise.all(cases.map((c) => c.readback.mapAsync(GPUMapMode.READ)));
  const failures: string[] = [];
  for (const c of cases) {
    const got = new Float32Array(c.readback.getMappedRange().slice(0));
    c.readback.unmap();
    c.readback.destroy();
    const failure = check(v, c.m, c.n, c.k, c.a, c.b, got);
    if (failure) failures.push(failure);
  }
  for (const buffer of transient) buffer.destroy();
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${cases.length} shapes wrong`);
}

/** Runs one product and returns the output. */
async function runOne(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
): Promise<Float32Array> {
  const bufA = storageBuffer(device, a), bufB = storageBuffer(device, b);
  const out = storageBuffer(device, new Float32Array(m * n).fill(NaN), GPUBufferUsage.COPY_SRC);
  const params = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM,
    mappedAtCreation: true,
  });
  new Uint32Array(params.getMappedRange()).set([m, n, k, 0]);
  params.unmap();
  const readback = device.createBuffer({
    size: m * n * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [bufA, bufB, out, params].map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    }),
  );
  pass.dispatchWorkgroups(...matmulWorkgroups(m, n));
  pass.end();
  encoder.copyBufferToBuffer(out, 0, readback, 0, m * n * 4);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(readback.getMappedRange().slice(0));
  readback.unmap();
  for (const buffer of [bufA, bufB, out, params, readback]) buffer.destroy();
  return got;
}

function pipelineFor(device: GPUDevice, v: MatmulVariant): GPUComputePipeline {
  const module = device.createShaderModule({ code: matmulShader(v) });
  return device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
}

Deno.test({
  name: "matmul kernel",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const adapter = await navigator.gpu.requestAdapter();
    assert.ok(adapter, "navigator.gpu.requestAdapter() returned null: no WebGPU adapter");
    const device = await adapter.requestDevice();
    const errors: string[] = [];
    device.addEventListener("uncapturederror", (e) => {
      errors.push((e as GPUUncapturedErrorEvent).error.message);
    });
    try {
      await t.step("workgroup counts stay within limits", () => {
        const shapes = [
          [1, 1],
          [7, 65],
          [1024, 1024],
          [48, 784],
          [8000, 256],
          [2_000_000, 1],
          [1, 2_000_000],
          [300_000, 300_000],
        ];
        for (const [m, n] of shapes) {
          const groups = matmulWorkgroups(m, n);
          assert.equal(groups.length, 3);
          for (const g of groups) {
            assert.ok(Number.isInteger(g) && g >= 1 && g <= 65535, `${m} x ${n}: ${groups}`);
          }
        }
        assert.throws(() => matmulWorkgroups(0, 4), RangeError);
        assert.throws(() => matmulWorkgroups(4, 1.5), RangeError);
      });

      await t.step("the shader is valid WGSL for every variant", async () => {
        for (const v of VARIANTS) {
          const module = device.createShaderModule({ code: matmulShader(v) });
          const info = await module.getCompilationInfo();
          const messages = info.messages.filter((msg) => msg.type === "error");
          assert.deepEqual(messages.map((msg) => msg.message), [], variantName(v));
        }
      });

      const rng = new Random(20240611);
      for (const v of VARIANTS) {
        await t.step(`${variantName(v)} matches a float64 reference`, async () => {
          await runVariant(device, pipelineFor(device, v), v, SHAPES, rng.fork());
        });
      }

      await t.step("an infinity in the last k step stays an infinity (odd k tail)", async () => {
        // op(A)[2][k - 1] = +inf with k odd: the unrolled loop's zeroed tail must not turn it into NaN.
        const [m, n, k] = [5, 6, 7];
        const local = new Random(7);
        for (const v of VARIANTS) {
          const a = randomMatrix(local, m * k), b = randomMatrix(local, k * n);
          a[v.transposeA ? (k - 1) * m + 2 : 2 * k + (k - 1)] = Infinity;
          const got = await runOne(device, pipelineFor(device, v), m, n, k, a, b);
          assert.equal(check(v, m, n, k, a, b, got), null);
          for (let j = 0; j < n; j++) assert.ok(!Number.isFinite(got[2 * n + j]), variantName(v));
        }
      });

      await t.step("a tall output past the workgroup limit of the default layout", async () => {
        // 1.6M rows x 1 column: 24-row workgroups would need more than 65535 of them.
        const [m, n, k] = [1_600_000, 1, 3];
        const local = new Random(11);
        for (const v of [VARIANTS[0], VARIANTS[3]]) {
          const a = randomMatrix(local, m * k), b = randomMatrix(local, k * n);
          const got = await runOne(device, pipelineFor(device, v), m, n, k, a, b);
          assert.equal(check(v, m, n, k, a, b, got), null);
        }
      });

      await t.step("reads and writes only inside its bindings", async () => {
        // Every operand is bound at an offset inside a larger buffer filled with a sentinel; the
        // bytes outside the output binding must stay untouched.
        const align = device.limits.minStorageBufferOffsetAlignment;
        const sentinel = -12345.5;
        const local = rng.fork();
        for (const v of VARIANTS) {
          const pipeline = pipelineFor(device, v);
          for (const [m, n, k] of [[33, 65, 7], [65, 2, 33], [7, 257, 1], [1, 1, 1]]) {
            const a = randomMatrix(local, m * k), b = randomMatrix(local, k * n);
            const pad = align / 4;
            const embed = (data: Float32Array) => {
              const x = new Float32Array(pad + data.length + pad).fill(sentinel);
              x.set(data, pad);
              return x;
            };
            const bufA = storageBuffer(device, embed(a));
            const bufB = storageBuffer(device, embed(b));
            const out = storageBuffer(
              device,
              embed(new Float32Array(m * n)),
              GPUBufferUsage.COPY_SRC,
            );
            const total = (pad + m * n + pad) * 4;
            const params = device.createBuffer({
              size: 16,
              usage: GPUBufferUsage.UNIFORM,
              mappedAtCreation: true,
            });
            new Uint32Array(params.getMappedRange()).set([m, n, k, 0]);
            params.unmap();
            const readback = device.createBuffer({
              size: total,
              usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
            });
            const bindGroup = device.createBindGroup({
              layout: pipeline.getBindGroupLayout(0),
              entries: [
                { binding: 0, resource: { buffer: bufA, offset: align, size: m * k * 4 } },
                { binding: 1, resource: { buffer: bufB, offset: align, size: k * n * 4 } },
                { binding: 2, resource: { buffer: out, offset: align, size: m * n * 4 } },
                { binding: 3, resource: { buffer: params } },
              ],
            });
            const encoder = device.createCommandEncoder();
            const pass = encoder.beginComputePass();
            pass.setPipeline(pipeline);
            pass.setBindGroup(0, bindGroup);
            pass.dispatchWorkgroups(...matmulWorkgroups(m, n));
            pass.end();
            encoder.copyBufferToBuffer(out, 0, readback, 0, total);
            device.queue.submit([encoder.finish()]);
            await readback.mapAsync(GPUMapMode.READ);
            const all = new Float32Array(readback.getMappedRange().slice(0));
            readback.unmap();
            for (const buffer of [bufA, bufB, out, params, readback]) buffer.destroy();
            const where = `${variantName(v)} m=${m} n=${n} k=${k}`;
            for (let i = 0; i < pad; i++) {
              assert.equal(all[i], sentinel, `${where}: wrote before the output binding`);
              assert.equal(
                all[pad + m * n + i],
                sentinel,
                `${where}: wrote after the output binding`,
              );
            }
            assert.equal(check(v, m, n, k, a, b, all.subarray(pad, pad + m * n)), null);
          }
        }
      });

      assert.deepEqual(errors, [], "uncaptured WebGPU errors");
    } finally {
      device.destroy();
    }
  },
});
