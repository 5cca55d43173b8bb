/**
 * The seeds of a run's random streams besides its sampling generator, each derived from the run's
 * seed alone: a stream never depends on how many draws another made, so a resumed run draws as an
 * uninterrupted one, and turning one stream on (augmentation) changes no other choice.
 */

/** Seed of the index refresh at `iteration`. */
export function refreshSeed(seed: number, iteration: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(iteration + 1, 0x85ebca77)) >>> 0;
}

/** Seed of the augmentation's generator. */
export function augmentSeed(seed: number): number {
  return (Math.imul(seed ^ 0x61756721, 0x27d4eb2f) + 0x165667b1) >>> 0;
}
