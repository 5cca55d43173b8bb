/**
 * The `--db` flag of `index` and `search`: what LanceDB accepts, a local folder (made absolute, as
 * every path a command is given) or an object-store URI (s3://, gs://, az://, ...), passed as it is.
 */
import { absolutePath } from "./run_folder.ts";

/** Whether `db` is a URI (object storage, say) rather than a local folder. */
export function isUri(db: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(db);
}

/** `--db` as LanceDB should get it: a URI as given, a folder made absolute. */
export function dbLocation(db: string): string {
  return isUri(db) ? db : absolutePath(db);
}
