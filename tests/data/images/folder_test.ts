/**
 * Finding images in folders: class folders in sorted order, nested folders belonging to their
 * class, hidden files ignored, other files skipped and counted, Unicode and spaces in names; and
 * every layout that cannot be trained on is one clear error naming the place.
 */
import assert from "node:assert/strict";
import { MagnetInputError } from "../../../src/errors.ts";
import { scanClassFolders, scanImages } from "../../../src/data/images/folder.ts";

async function touch(path: string, text = "x"): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
}

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: Error) => {
    assert.ok(e instanceof MagnetInputError, `${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("image folders", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "magnet-folders-" });
  try {
    await t.step("classes, files and ids in sorted order; hidden and other files", async () => {
      const root = `${dir}/ok`;
      for (
        const path of [
          "zebra/b.PNG",
          "zebra/a.jpg",
          "café au lait/été 1.webp",
          "café au lait/deep/x.tiff",
          "café au lait/notes.txt",
          "ant/1.gif",
          "ant/2.jpeg",
          "ant/.hidden.png",
          ".git/HEAD.png",
          "ant/Thumbs.db",
        ]
      ) await touch(`${root}/${path}`);
      const scan = await scanClassFolders(root, true);
      assert.deepEqual(scan.classNames, ["ant", "café au lait", "zebra"]);
      assert.deepEqual(scan.files.map((f) => f.relative), [
        "ant/1.gif",
        "ant/2.jpeg",
        "café au lait/deep/x.tiff",
        "café au lait/été 1.webp",
        "zebra/a.jpg",
        "zebra/b.PNG",
      ]);
      assert.deepEqual([...scan.labels], [0, 0, 1, 1, 2, 2]);
      assert.deepEqual(scan.skipped, {
        count: 2,
        examples: ["ant/Thumbs.db", "café au lait/notes.txt"],
      });
      assert.ok(scan.files.every((f) => f.size === 1 && f.mtime > 0 && f.unreadable === null));
      const flat = await scanImages(`${root}/ant`);
      assert.deepEqual(flat.files.map((f) => f.relative), ["1.gif", "2.jpeg"]);
      const one = await scanImages(`${root}/zebra/a.jpg`);
      assert.deepEqual([one.root, one.files.map((f) => f.relative)], [`${root}/zebra`, ["a.jpg"]]);
    });

    await t.step("layouts that cannot be trained on are named", async () => {
      await refused(
        scanClassFolders(`${dir}/missing`, true),
        /the image folder .*missing does not exist/,
      );
      await touch(`${dir}/file.png`);
      await refused(scanClassFolders(`${dir}/file.png`, true), /file\.png is not a folder/);
      await Deno.mkdir(`${dir}/empty`);
      await refused(scanClassFolders(`${dir}/empty`, true), /empty holds no images/);
      await touch(`${dir}/loose/a/1.png`);
      await touch(`${dir}/loose/2.png`);
      await refused(
        scanClassFolders(`${dir}/loose`, true),
        /loose\/2\.png is not in a class folder/,
      );
      await touch(`${dir}/lonely/only/1.png`);
      await touch(`${dir}/lonely/only/2.png`);
      await refused(
        scanClassFolders(`${dir}/lonely`, true),
        /expected at least two class folders with images, found only "only"/,
      );
      // A test folder may hold one class.
      assert.deepEqual((await scanClassFolders(`${dir}/lonely`, false)).classNames, ["only"]);
      await touch(`${dir}/single/a/1.png`);
      await touch(`${dir}/single/a/2.png`);
      await touch(`${dir}/single/b/1.png`);
      await refused(scanClassFolders(`${dir}/single`, true), /single\/b holds a single image/);
      await touch(`${dir}/hollow/a/1.png`);
      await touch(`${dir}/hollow/a/2.png`);
      await touch(`${dir}/hollow/b/readme.txt`);
      await refused(scanClassFolders(`${dir}/hollow`, true), /hollow\/b holds no image files/);
      await refused(scanImages(`${dir}/hollow/b`), /holds no image files .*; it has 1 other files/);
      await refused(scanImages(`${dir}/hollow/b/readme.txt`), /is not an image file/);
    });

    await t.step("a symbolic link loop is an error; other links are followed", async () => {
      await touch(`${dir}/links/a/1.png`);
      await touch(`${dir}/links/a/2.png`);
      await touch(`${dir}/elsewhere/3.png`);
      await Deno.symlink(`${dir}/elsewhere`, `${dir}/links/b`);
      const scan = await scanClassFolders(`${dir}/links`, false);
      assert.deepEqual(scan.files.map((f) => f.relative), ["a/1.png", "a/2.png", "b/3.png"]);
      await Deno.symlink(`${dir}/links`, `${dir}/links/a/again`);
      await refused(
        scanClassFolders(`${dir}/links`, true),
        /links\/a\/again is a symbolic link loop: it leads back to .*links, a folder it is in/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
