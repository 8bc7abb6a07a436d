import { builtInFlameModel, findFlameFiles, loadFlameModel, type FlameModel } from '@pixel3dmm/flame';
import { flameModelSetting } from './config.js';

/** The user's FLAME model (a .pkl or a directory of FLAME files), or the built-in synthetic head. */
export function chooseFlameModel(flag: string | undefined, seed = 0): FlameModel {
  const path = flameModelSetting(flag);
  return path ? loadFlameModel(findFlameFiles(path)) : builtInFlameModel(seed);
}
