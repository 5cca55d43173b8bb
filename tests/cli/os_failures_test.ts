/**
 * The operating system's refusals are not bugs of ours: a full disk, a permission denied or a file
 * in the way while writing is one line naming the file and the cause, exit code 1 without a
 * request to report; the previous checkpoint is kept, no temporary file stays behind, and one left
 * by a killed run is cleaned when the folder is next used.
 *
 * The failures are real: a full disk's error comes from /dev/full (at a chosen moment, through a
 * preloaded module), a permission denied from sysfs, which refuses new files even to root.
 */
import assert from "node:assert/strict";
import { writeFileAtomic } from "../../src/io/files.ts";
import { EnvironmentError } from "../../src/errors.ts";
import { main as embed } from "../../src/cli/embed.ts";
import { cli, csv, inProcess, listing, ROOT, SMALL } from "../helpers/cli.ts";

/** One line "error: ..." on stderr, exit code 1, and no request to report a bug. */
function assertEnvironmentFailure(r: { code: number; stderr: string }, message: RegExp) {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], message);
  assert.doesNotMatch(r.stderr, /bug|report/);
}

Deno.test("operating-system failures", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-os-" });
  try {
    await t.step(
      "an atomic write that the system refuses names the file and the cause",
      async () => {
        Deno.writeTextFileSync(`${dir}/file`, "a file");
        Deno.mkdirSync(`${dir}/folder`);
        Deno.writeTextFileSync(`${dir}/folder/inside`, "kept");
        const cases: [string, string, RegExp][] = [
          [
            `${dir}/file/x.json`,
            "ENOTDIR",
            /a file is in the way of a folder on the path \(ENOTDIR\)/,
          ],
          [`${dir}/folder`, "EISDIR", /a folder is in the way of the file \(EISDIR\)/],
          ["/sys/magnet-test.json", "EACCES", /permission denied \(EACCES\)/],
        ];
        for (const [path, code, words] of cases) {
          await assert.rejects(writeFileAtomic(path, "{}"), (e: Error) => {
            assert.ok(e instanceof EnvironmentError, `${path}: ${e}`);
            assert.equal(e.code, code);
            assert.ok(e.message.startsWith(`cannot write ${path}: `), e.message);
            assert.match(e.message, words);
            return true;
          });
        }
        // What was there is as it was, and no temporary file is left.
        assert.deepEqual(listing(dir), ["file", "folder"]);
        assert.deepEqual(listing(`${dir}/folder`), ["inside"]);
      },
    );

    await t.step("embed: an output the system refuses is exit 1, not a bug", async () => {
      Deno.writeTextFileSync(`${dir}/rows.csv`, csv(2, 9));
      Deno.writeTextFileSync(`${dir}/data.csv`, csv(30, 1));
      // A model is needed before the output is written.
      const run = `${dir}/run`;
      const made = await cli("train", [
        ...SMALL,
        "--data",
        `${dir}/data.csv`,
        "--iterations",
        "3",
        "--out",
        run,
      ]);
      assert.equal(made.code, 0, made.stderr);
      assertEnvironmentFailure(
        await inProcess(embed, [
          "--model",
          run,
          "--data",
          `${dir}/rows.csv`,
          "--backend",
          "cpu", // "auto" would open (and close) a WebGPU device in this process for nothing
          "--out",
          "/sys/e.csv",
        ]),
        /^error: cannot write \/sys\/e\.csv: permission denied \(EACCES\)$/,
      );
    });

    await t.step(
      "a full disk during training keeps the previous checkpoint; a leftover temporary goes",
      async () => {
        const data = `${dir}/data.csv`;
        const out = `${dir}/full`;
        const args = [...SMALL, "--data", data, "--iterations", "30", "--checkpoint-every", "5"];
        const r = await cli("train", [...args, "--out", out], {
          preload: `${ROOT}tests/helpers/disk_full.ts`,
          env: { MAGNET_TEST_DISK_FULL: "checkpoint.json.tmp-:2" },
        });
        assertEnvironmentFailure(
          r,
          new RegExp(
            `^error: cannot write ${out}/checkpoint\\.json: no space left on the device \\(ENOSPC\\); ` +
              `the previous checkpoint in ${out} \\(step 5\\) is kept$`,
          ),
        );
        assert.deepEqual(listing(out), ["checkpoint.json"], "no temporary file");
        assert.equal(JSON.parse(Deno.readTextFileSync(`${out}/checkpoint.json`)).iteration, 5);

        // A run killed in the middle of a write leaves its temporary file: the next run that
        // takes the folder removes it (and nothing else).
        const leftover = `${out}/checkpoint.json.tmp-4242-123456`;
        Deno.writeTextFileSync(leftover, '{"half": ');
        Deno.writeTextFileSync(`${out}/notes.txt`, "mine");
        const resumed = await cli("train", ["--resume", out]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.deepEqual(listing(out), [
          "checkpoint.json",
          "metrics.json",
          "model.json",
          "notes.txt",
          "report.html",
        ]);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
