// The team's real faces live in ../shared/data next to the repository (never inside it: CC BY-NC media).
// Tests that need them call sharedData() and skip, saying why, where the folder is absent.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Absolute path of ../shared/data (or PIXEL3DMM_TEST_DATA), or null when it is not there. */
export function sharedData(): string | null {
  const dir = process.env.PIXEL3DMM_TEST_DATA ?? join(REPO, '..', 'shared', 'data');
  return existsSync(join(dir, 'faces', '00001.jpg')) ? dir : null;
}

export const SKIP_NO_DATA = 'skipped: ../shared/data (real faces) not found next to the repository';
