// `pixel3dmm preprocess INPUT`: a photo, a folder of images or a video -> PREPROCESSED_DATA/VID.
import { loadPreprocessModels, reportError, runPreprocess, type StageFlags } from './stages.js';

export async function preprocessCommand(input: string, flags: StageFlags): Promise<void> {
  let models;
  try {
    models = await loadPreprocessModels(flags);
    const s = await runPreprocess(input, models, flags);
    if (flags.json) console.log(JSON.stringify(s, null, 2));
  } catch (e) {
    reportError(e);
  } finally {
    await models?.release();
  }
}
