import assert from "node:assert/strict";
import {
  type Func,
  type Label,
  ModuleBuilder,
  WasmBuildError,
  writeS32,
  writeS64,
  writeU32,
} from "../../src/backend/wasm/assembler.ts";

const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });

/** Instantiates a module whose functions return at most one number. */
function instantiate(mod: ModuleBuilder): Record<string, (...args: number[]) => number> {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(mod.toBytes()), {
    env: { memory },
  });
  return instance.exports as Record<string, (...args: number[]) => number>;
}

function moduleWithMemory(): ModuleBuilder {
  const mod = new ModuleBuilder();
  mod.importMemory({ initial: 1, maximum: 4, shared: true });
  return mod;
}

Deno.test("LEB128 encodings match the specification's examples", () => {
  const u: number[] = [];
  writeU32(u, 624485);
  assert.deepEqual(u, [0xe5, 0x8e, 0x26]);
  const s: number[] = [];
  writeS32(s, -123456);
  assert.deepEqual(s, [0xc0, 0xbb, 0x78]);
  const big: number[] = [];
  writeS64(big, -1n);
  assert.deepEqual(big, [0x7f]);
  const unsigned: number[] = [];
  writeS32(unsigned, 0xffffffff); // the bit pattern of -1
  assert.deepEqual(unsigned, [0x7f]);
});

Deno.test("the module documentation's example scales a vector", () => {
  const mod = moduleWithMemory();
  const params = { x: "i32", n: "i32", s: "f32" } as const;
  mod.func({ name: "scale", params, export: true }, (b, { x, n, s }) => {
    const i = b.local("i", "i32");
    const at = b.local("at", "i32");
    const sv = b.local("sv", "v128");
    b.set(sv, b.f32x4.splat(s));
    b.for(i, 0, n, 4, () => {
      b.set(at, b.i32.add(x, b.i32.shl(i, 2)));
      b.v128.store(at, b.f32x4.mul(b.v128.load(at), sv));
    });
  });
  const f32 = new Float32Array(memory.buffer, 64, 8);
  f32.set([0, 1, 2, 3, 4, 5, 6, 7]);
  instantiate(mod).scale(64, 8, 3);
  assert.deepEqual(Array.from(f32), [0, 3, 6, 9, 12, 15, 18, 21]);
});

Deno.test("operands evaluate left to right, locals and numbers spliced before values", () => {
  const mod = moduleWithMemory();
  const params = { a: "i32", c: "i32" } as const;
  mod.func({ name: "f", params, results: ["i32"], export: true }, (b, { a, c }) => {
    // 100 - a * c - a, with a constant and a local written before values.
    b.return(b.i32.sub(b.i32.sub(100, b.i32.mul(a, c)), a));
  });
  mod.func({ name: "g", params, results: ["i32"], export: true }, (b, { a, c }) => {
    // a - (a = c): the read of `a` comes first, as it is written.
    b.return(b.i32.sub(a, b.tee(a, c)));
  });
  const e = instantiate(mod);
  assert.equal(e.f(3, 5), 82);
  assert.equal(e.g(10, 4), 6);
});

Deno.test("structured control: blocks with values, ifValue, loops, calls", () => {
  const mod = moduleWithMemory();
  const sign = mod.func(
    { name: "sign", params: { x: "f32" }, results: ["f32"] },
    (b, { x }) => {
      b.return(b.ifValue("f32", b.f32.lt(x, 0), () => b.f32.const(-1), () => b.f32.const(1)));
    },
  );
  mod.func(
    { name: "sum_to", params: { n: "i32" }, results: ["i32"], export: true },
    (b, { n }) => {
      const i = b.local("i", "i32");
      const sum = b.local("sum", "i32");
      b.for(i, 1, n, 1, ({ next }) => {
        b.br_if(next, b.i32.eq(i, 3)); // skips 3
        b.set(sum, b.i32.add(sum, i));
      });
      b.return(sum);
    },
  );
  mod.func(
    { name: "first_over", params: { limit: "i32" }, results: ["i32"], export: true },
    (b, { limit }) => {
      const i = b.local("i", "i32");
      // A block that yields a value through br: the first square over `limit`.
      const found = b.block("i32", (done) => {
        b.loop((top) => {
          b.set(i, b.i32.add(i, 1));
          b.get(i);
          b.br_if(done, b.i32.gt_s(b.i32.mul(i, i), limit));
          b.drop();
          b.br(top);
        });
        b.unreachable();
      });
      b.return(found);
    },
  );
  mod.func(
    { name: "madd_sign", params: { x: "f32" }, results: ["f32"], export: true },
    (b, { x }) => {
      const v = b.f32x4.relaxed_madd(b.f32x4.splat(x), b.f32x4.const(2, 2, 2, 2), b.f32x4.splat(1));
      b.return(b.f32.mul(b.f32x4.extract_lane(3, v), b.call(sign as Func, x)!));
    },
  );
  const e = instantiate(mod);
  assert.equal(e.sum_to(6), 1 + 2 + 4 + 5);
  assert.equal(e.sum_to(0), 0);
  assert.equal(e.first_over(50), 8);
  assert.equal(e.madd_sign(-2), 3); // (2 * -2 + 1) * sign(-2)
});

Deno.test("mistakes throw at the emitter, naming the function", () => {
  const attempt = (body: Parameters<ModuleBuilder["func"]>[1]) => {
    const mod = moduleWithMemory();
    mod.func({ name: "bad", params: { x: "i32", y: "f32" }, results: ["i32"] }, body);
  };
  assert.throws(
    () => attempt((b, { x, y }) => b.return(b.i32.add(x, y))),
    /bad.*f32.*i32 expected/,
  );
  assert.throws(() => attempt((b, { x }) => b.return(b.f32.add(x, x))), /local "x" is i32/);
  assert.throws(() =>
    attempt((b, { x }) => {
      const v = b.get(x);
      b.get(x);
      b.return(b.i32.add(v, 1)); // v is not on top of the stack any more
    }), /not where it should be/);
  assert.throws(() => attempt((b, { x }) => b.block(() => b.get(x))), /block leaves 1 extra/);
  assert.throws(() =>
    attempt((b) => {
      let escaped: Label | undefined;
      b.block((exit) => escaped = exit);
      b.br(escaped!);
    }), /outside its block/);
  assert.throws(() => attempt((b) => b.i32.add()), /needs a i32 but the stack is empty/);
  assert.throws(() => attempt((b, { x }) => b.v128.load(x, { align: 32 })), WasmBuildError);
  assert.throws(() => attempt((b, { y }) => b.f32x4.extract_lane(4, b.f32x4.splat(y))), /lane 4/);
});
