/**
 * The command line with folders of image files: a CNN trained from class folders with augmentation
 * (its model keeping the image settings and normalisation, its report showing test images),
 * resumed exactly, `embed` on a folder and on one file; and every mistake about image data is one
 * line with exit code 2, nothing written.
 */
import assert from "node:assert/strict";
import { assertUsageError, cli, csv, exists, SMALL } from "../helpers/cli.ts";
import { bombPng, writeColourShapes, writeImage } from "../helpers/images.ts";

const CNN = [
  "--backend",
  "cpu",
  "--model",
  "cnn",
  "--conv",
  "6",
  "--hidden",
  "16",
  "--embedding-dim",
  "8",
  "--m",
  "3",
  "--d",
  "6",
  "--k",
  "2",
  "--eval-every",
  "0",
];

Deno.test("train and embed with image folders", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-image-cli-" });
  const train = `${dir}/shapes/train`, test = `${dir}/shapes/test`, cache = `${dir}/cache`;
  await writeColourShapes(train, 20, 1);
  await writeColourShapes(test, 6, 2);
  await Deno.writeTextFile(`${train}/red/notes.txt`, "not an image");
  const images = ["--data", train, "--test", test, "--cache", cache];
  try {
    await t.step("a CNN on class folders, augmented: trained, saved, reported", async () => {
      const out = `${dir}/run`;
      const r = await cli("train", [
        ...CNN,
        ...images,
        "--augment",
        "crop-flip",
        "--iterations",
        "40",
        "--out",
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /train: skipped 1 file that is not an image \(red\/notes\.txt\)/);
      assert.match(
        r.stdout,
        /train: 60 images as 12x12, RGB, crop in .* \(0 from the cache, 60 decoded\)/,
      );
      assert.match(r.stdout, /training magnet on train \(60 train \/ 18 test rows, 3 classes\)/);
      const metrics = JSON.parse(Deno.readTextFileSync(`${out}/metrics.json`));
      assert.deepEqual(metrics.data.source, {
        kind: "images",
        train,
        test,
        testFraction: 0.2,
        splitSeed: 0,
        size: null,
        resize: "crop",
        channels: null,
        cache,
        skipBadImages: false,
      });
      assert.equal(metrics.settings.augment, "crop-flip");
      const model = JSON.parse(Deno.readTextFileSync(`${out}/model.json`));
      assert.deepEqual(model.model.input, [12, 12, 3]);
      const { mean, std, ...format } = model.images;
      assert.deepEqual(format, {
        width: 12,
        height: 12,
        channels: 3,
        resize: "crop",
        channelsFromImages: true,
      });
      assert.equal(mean.length, 3);
      assert.ok(std.every((s: number) => s > 0));
      const report = Deno.readTextFileSync(`${out}/report.html`);
      assert.match(report, /4\. Test images on the map/);
      const pictures = report.match(/data:image\/png;base64,/g)?.length ?? 0;
      assert.ok(pictures > 0 && pictures <= 18, `${pictures} pictures`);
    });

    await t.step("resumed from the cache, it ends exactly as one run", async () => {
      const whole = `${dir}/whole`, part = `${dir}/part`;
      const args = [...CNN, ...images, "--augment", "crop-flip"];
      const a = await cli("train", [...args, "--iterations", "40", "--out", whole]);
      assert.equal(a.code, 0, a.stderr);
      assert.match(
        a.stdout,
        /60 images as 12x12, RGB, crop in .* \(60 from the cache, 0 decoded\)/,
      );
      const b = await cli("train", [...args, "--iterations", "20", "--out", part]);
      assert.equal(b.code, 0, b.stderr);
      const c = await cli("train", ["--resume", part, "--iterations", "40"]);
      assert.equal(c.code, 0, c.stderr);
      const test = (run: string) => JSON.parse(Deno.readTextFileSync(`${run}/metrics.json`)).test;
      assert.deepEqual(test(part), test(whole));
    });

    await t.step("embed: a folder, one file; the wrong kind of data is refused", async () => {
      const r = await cli("embed", ["--model", `${dir}/run`, "--data", test, "--cache", cache]);
      assert.equal(r.code, 0, r.stderr);
      const lines = Deno.readTextFileSync(`${dir}/shapes/test.embeddings.csv`).trim().split("\n");
      assert.equal(lines[0], "path,predicted,e0,e1,e2,e3,e4,e5,e6,e7");
      assert.equal(lines.length, 19);
      const rows = lines.slice(1).map((l) => l.split(","));
      assert.deepEqual(rows.map((f) => f[0]).slice(0, 2), ["blue/0.png", "blue/1.jpg"]);
      const right = rows.filter((f) => f[0].split("/")[0] === f[1]).length;
      assert.ok(right >= 12, `${right} of 18 predicted right`);
      const one = await cli("embed", ["--model", `${dir}/run`, "--data", `${test}/green/2.webp`]);
      assert.equal(one.code, 0, one.stderr);
      const single = Deno.readTextFileSync(`${test}/green/2.embeddings.csv`).trim().split("\n");
      assert.equal(single.length, 2);
      // The file's row equals its row in the folder's embedding.
      assert.deepEqual(single[1].split(","), [
        "2.webp",
        ...rows.find((f) => f[0] === "green/2.webp")!.slice(1),
      ]);
      Deno.writeTextFileSync(`${dir}/table.csv`, csv(20, 1));
      assertUsageError(
        await cli("embed", ["--model", `${dir}/run`, "--data", `${dir}/table.csv`]),
        /the model was trained on image files: give a folder of images or an image file, not .*table\.csv/,
      );
      const tableRun = `${dir}/table-run`;
      const trained = await cli("train", [
        ...SMALL,
        "--data",
        `${dir}/table.csv`,
        "--iterations",
        "5",
        "--quiet",
        "--out",
        tableRun,
      ]);
      assert.equal(trained.code, 0, trained.stderr);
      assertUsageError(
        await cli("embed", ["--model", tableRun, "--data", test, "--out", `${dir}/x.csv`]),
        /the model was not trained on image files \(its inputs are rows of 6 values/,
      );
    });

    await t.step("index and search read image files too", async () => {
      const db = `${dir}/db`;
      const r = await cli("index", [
        "--model",
        `${dir}/run`,
        "--data",
        test,
        "--db",
        db,
        "--cache",
        cache,
        "--backend",
        "cpu",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /added 18 rows of .*test to table "embeddings"/);
      const s = await cli("search", [
        "--db",
        db,
        "--model",
        `${dir}/run`,
        "--query",
        `${test}/green/2.webp`,
        "--k",
        "2",
        "--exact",
        "--json",
        "--backend",
        "cpu",
      ]);
      assert.equal(s.code, 0, s.stderr);
      const [line] = s.stdout.trim().split("\n").map((l) => JSON.parse(l));
      // The query is the table's own row: found first, at distance 0, by its path.
      assert.equal(line.query, "2.webp");
      assert.equal(line.hits[0].id, "green/2.webp");
      assert.equal(line.hits[0].distance, 0);
    });

    await t.step("a grey model chosen from grey images refuses colour", async () => {
      const grey = `${dir}/grey`;
      for (const [name, value] of [["dark", 40], ["light", 200]] as const) {
        await Deno.mkdir(`${grey}/${name}`, { recursive: true });
        for (let i = 0; i < 6; i++) {
          const pixels = new Uint8Array(64).map((_, p) => (p + i) % 5 === 0 ? 255 - value : value);
          await writeImage(`${grey}/${name}/${i}.png`, pixels, 8, 8, 1);
        }
      }
      const out = `${dir}/grey-run`;
      const r = await cli("train", [
        ...CNN,
        "--data",
        grey,
        "--cache",
        cache,
        "--m",
        "2",
        "--d",
        "2",
        "--k",
        "1",
        "--iterations",
        "5",
        "--quiet",
        "--out",
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assertUsageError(
        await cli("embed", [
          "--model",
          out,
          "--data",
          `${test}/red/0.png`,
          "--out",
          `${dir}/x.csv`,
        ]),
        /red\/0\.png is stored in colour, but the model was trained on grey images \(1 channel, chosen because all its training images were grey\)/,
      );
      assert.ok(!exists(`${dir}/x.csv`));
    });

    await t.step("mistakes about image data: one line, exit 2, nothing written", async () => {
      const out = `${dir}/never`;
      const refused = async (args: string[], message: RegExp) => {
        assertUsageError(await cli("train", [...args, "--out", out]), message, args.join(" "));
        assert.ok(!exists(out));
      };
      await refused(
        ["--data", `${dir}/nowhere`, "--image-size", "8"],
        /--image-size sets the size images are read at: it needs --data a folder of images \(not --data a CSV file\)/,
      );
      await refused(
        ["--image-size", "8", "--channels", "3"],
        /--image-size .*needs --data a folder of images \(not the bundled MNIST\)/,
      );
      await refused(
        [...images, "--image-size", "8x0"],
        /--image-size must be N or WxH .* got "8x0"/,
      );
      await refused(
        ["--data", `${dir}/table.csv`, "--augment", "flip"],
        /--augment transforms images: it needs the bundled MNIST or --dataset fashion-mnist or --data a folder of images \(not --data a CSV file\)/,
      );
      await refused(
        ["--data", train, "--test", `${dir}/table.csv`],
        /--test .*table\.csv is not a folder/,
      );
      await refused(
        [...CNN, ...images, "--image-size", "32768", "--channels", "3"],
        /the 60 images of --data .*train need .* GB of memory as 32768x32768 RGB pixels, more than the .* available: give a smaller --image-size/,
      );
      const odd = `${dir}/odd`, oddTest = `${dir}/odd-test`;
      for (const [to, from] of [["a/0", "0"], ["a/1", "3"], ["a/2", "6"], ["b/0", "9"]]) {
        for (const root of [odd, oddTest]) {
          await Deno.mkdir(`${root}/${to.split("/")[0]}`, { recursive: true });
          await Deno.copyFile(`${train}/red/${from}.png`, `${root}/${to}.png`);
        }
      }
      await Deno.writeFile(`${odd}/b/1.png`, bombPng(12000, 12000));
      const oddArgs = [...CNN, "--data", odd, "--test", oddTest, "--cache", cache, "--m", "2"];
      await refused(
        [...oddArgs, "--channels", "3"],
        /odd\/b\/1\.png cannot be decoded \(12000 x 12000 = 144,000,000 pixels, more than the 100,000,000 an image may have \(a decompression bomb\?\)\); --skip-bad-images skips such files/,
      );
      // Skipped, it leaves b a single image.
      await refused(
        [...oddArgs, "--channels", "3", "--skip-bad-images"],
        /training data, "b\/0\.png": class "b" has a single example/,
      );
      await Deno.writeFile(`${odd}/b/2.png`, new Uint8Array(0));
      await refused(oddArgs, /odd\/b\/1\.png cannot be decoded|odd\/b\/2\.png is empty/);
      const other = `${dir}/other-test`;
      await Deno.mkdir(`${other}/purple`, { recursive: true });
      await Deno.copyFile(`${test}/red/0.png`, `${other}/purple/0.png`);
      await refused(
        [...CNN, "--data", train, "--test", other, "--cache", cache],
        /other-test\/purple: the test folder has a class the training folder .*train lacks/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
