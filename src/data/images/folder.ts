/**
 * Finding the image files of a folder: one subfolder per class (the layout of torchvision's
 * `ImageFolder` and Keras' `image_dataset_from_directory`; files in nested folders belong to the
 * class folder above them), or every image under a folder, or one file. Hidden files and folders
 * (names starting with ".") are ignored; files whose extension is not an image's are skipped and
 * counted. Symbolic links are followed; one that leads back into a folder being read is an error.
 * Every list comes out sorted, so the same folder always gives the same rows.
 */
import { MagnetInputError } from "../../errors.ts";

/** Extensions of the files read as images (compared without case). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".png",
  ".jpg",
  ".jpeg",
  ".webp",
  ".gif",
  ".tif",
  ".tiff",
];

/** An image file found by a scan. */
export interface ImageFile {
  /** The path to read it by. */
  readonly path: string;
  /** Its path relative to the scanned folder, with "/" separators (the row's id). */
  readonly relative: string;
  /** Size in bytes, and time of last modification in ms (with the path, the cache's key). */
  readonly size: number;
  readonly mtime: number;
  /** A reason it cannot be read (a broken link, no permission), found while scanning; else null. */
  readonly unreadable: string | null;
}

/** What a scan found. */
export interface ScannedImages {
  /** The folder scanned (or the file's own folder, for one file). */
  readonly root: string;
  /** Image files, sorted by relative path (class by class for class folders). */
  readonly files: ImageFile[];
  /** Files that are not images, skipped: how many, and a few of them. */
  readonly skipped: { readonly count: number; readonly examples: string[] };
}

/** Class folders: the scan, with each file's class. */
export interface ScannedClasses extends ScannedImages {
  /** Class names (the subfolders' names), sorted. */
  readonly classNames: string[];
  /** The class of each file, an index into `classNames`. */
  readonly labels: Int32Array;
}

function isImage(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/** Sorts by code units: the same order on every machine and locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotFound) return "it does not exist (a broken link?)";
  return (error as Error).message ?? String(error);
}

/** What `path` is, following links; a missing path or one we may not read is a clear error. */
async function statOf(path: string, what: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new MagnetInputError(`${what} ${path} does not exist`);
    }
    throw new MagnetInputError(`cannot read ${what} ${path}: ${describe(error)}`);
  }
}

class Walker {
  readonly files: ImageFile[] = [];
  skipped = 0;
  readonly examples: string[] = [];

  /**
   * Adds the images under `dir` (relative path `prefix`), whose real path is `real`; `open` holds
   * the real paths of the folders being read, which a link may not lead back into.
   */
  walk(dir: string, prefix: string, real: string, open: Set<string>): void {
    open.add(real);
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (error) {
      throw new MagnetInputError(`cannot read the folder ${dir}: ${describe(error)}`);
    }
    entries.sort((a, b) => byName(a.name, b.name));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = `${dir}/${entry.name}`, relative = `${prefix}${entry.name}`;
      let isDirectory = entry.isDirectory;
      if (entry.isSymlink) {
        try {
          isDirectory = Deno.statSync(path).isDirectory;
        } catch {
          isDirectory = false; // a broken link: an unreadable file if it names an image
        }
      }
      if (isDirectory) {
        const target = Deno.realPathSync(path);
        if (open.has(target)) {
          throw new MagnetInputError(
            `${path} is a symbolic link loop: it leads back to ${target}, a folder it is in`,
          );
        }
        this.walk(path, `${relative}/`, target, open);
      } else if (isImage(entry.name)) {
        // One synchronous stat per file: the fastest way to its size and time (no other work
        // waits meanwhile).
        try {
          const info = Deno.statSync(path);
          if (!info.isFile) throw new Error("it is not a regular file");
          const mtime = info.mtime?.getTime() ?? 0;
          this.files.push({ path, relative, size: info.size, mtime, unreadable: null });
        } catch (error) {
          this.files.push({ path, relative, size: 0, mtime: 0, unreadable: describe(error) });
        }
      } else {
        this.skipped++;
        if (this.examples.length < 3) this.examples.push(relative);
      }
    }
    open.delete(real);
  }
}

/** Every image under `root`, sorted by relative path. */
function walk(root: string): Walker {
  const walker = new Walker();
  walker.walk(root, "", Deno.realPathSync(root), new Set());
  walker.files.sort((a, b) => byName(a.relative, b.relative));
  return walker;
}

/** Every image file under `path` (a folder, searched through its subfolders), or `path` itself. */
export async function scanImages(path: string): Promise<ScannedImages> {
  const info = await statOf(path, "the image folder or file");
  if (info.isFile) {
    const cut = path.lastIndexOf("/");
    const name = path.slice(cut + 1);
    if (!isImage(name)) {
      throw new MagnetInputError(
        `${path} is not an image file (expected one of ${IMAGE_EXTENSIONS.join(", ")})`,
      );
    }
    return {
      root: cut > 0 ? path.slice(0, cut) : "/",
      files: [{
        path,
        relative: name,
        size: info.size,
        mtime: info.mtime?.getTime() ?? 0,
        unreadable: null,
      }],
      skipped: { count: 0, examples: [] },
    };
  }
  const walker = walk(path);
  if (walker.files.length === 0) {
    throw new MagnetInputError(
      `${path} holds no image files (${IMAGE_EXTENSIONS.join(", ")})${
        walker.skipped > 0 ? `; it has ${walker.skipped} other files` : ""
      }`,
    );
  }
  return {
    root: path,
    files: walker.files,
    skipped: { count: walker.skipped, examples: walker.examples },
  };
}

/**
 * The images of `root`, a folder with one subfolder per class. `forTraining` asks for at least two
 * classes and two images in each; a test folder may have fewer.
 */
export async function scanClassFolders(
  root: string,
  forTraining: boolean,
): Promise<ScannedClasses> {
  const info = await statOf(root, "the image folder");
  if (!info.isDirectory) {
    throw new MagnetInputError(
      `${root} is not a folder: image data is a folder with one subfolder of images per class`,
    );
  }
  const walker = walk(root);
  const classOf = (f: ImageFile) => f.relative.includes("/") ? f.relative.split("/")[0] : null;
  const loose = walker.files.filter((f) => classOf(f) === null);
  if (loose.length > 0) {
    throw new MagnetInputError(
      `${root}/${loose[0].relative} is not in a class folder: put each class's images in a ` +
        `subfolder of ${root} named after the class${
          loose.length > 1 ? ` (${loose.length} images are loose)` : ""
        }`,
    );
  }
  const classNames = [...new Set(walker.files.map((f) => classOf(f)!))].sort(byName);
  // Class folders that hold no image are named: an empty class is always a mistake.
  for await (const entry of Deno.readDir(root)) {
    const isFolder = entry.isDirectory ||
      (entry.isSymlink &&
        (await Deno.stat(`${root}/${entry.name}`).catch(() => null))?.isDirectory);
    if (isFolder && !entry.name.startsWith(".") && !classNames.includes(entry.name)) {
      throw new MagnetInputError(
        `${root}/${entry.name} holds no image files (${
          IMAGE_EXTENSIONS.join(", ")
        }): remove the class folder or put its images in it`,
      );
    }
  }
  if (classNames.length === 0) {
    throw new MagnetInputError(
      `${root} holds no images: image data is a folder with one subfolder of images per class`,
    );
  }
  if (forTraining && classNames.length < 2) {
    throw new MagnetInputError(
      `${root}: expected at least two class folders with images, found only ${
        JSON.stringify(classNames[0])
      }`,
    );
  }
  const index = new Map(classNames.map((name, i) => [name, i]));
  const labels = Int32Array.from(walker.files, (f) => index.get(classOf(f)!)!);
  if (forTraining) {
    const counts = new Int32Array(classNames.length);
    for (const label of labels) counts[label]++;
    const single = classNames.findIndex((_, k) => counts[k] === 1);
    if (single >= 0) {
      throw new MagnetInputError(
        `${root}/${classNames[single]} holds a single image; every class needs at least two`,
      );
    }
  }
  return {
    root,
    files: walker.files,
    skipped: { count: walker.skipped, examples: walker.examples },
    classNames,
    labels,
  };
}
