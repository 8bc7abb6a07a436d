// The `pixel3dmm` command line.
import { Command, InvalidArgumentError } from 'commander';
import { benchFlameCommand } from './commands/bench-flame.js';
import { demoCommand } from './commands/demo.js';
import { flameCommand } from './commands/flame.js';
import { infoCommand } from './commands/info.js';
import { synthModelCommand } from './commands/synth-model.js';
import { VERSION } from './version.js';

export function parseInteger(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

// The preprocessing commands load onnxruntime, tfjs and sharp; import them only when one of them runs,
// so `info`, `flame` and friends start fast.
const lazy =
  <M,>(load: () => Promise<M>, pick: (m: M) => (...args: any[]) => Promise<void>) =>
  async (...args: any[]): Promise<void> =>
    pick(await load())(...args);
const benchPreprocessCommand = lazy(() => import('./commands/bench-preprocess.js'), (m) => m.benchPreprocessCommand);
const doctorCommand = lazy(() => import('./commands/doctor.js'), (m) => m.doctorCommand);
const inferCommand = lazy(() => import('./commands/infer.js'), (m) => m.inferCommand);
const preprocessCommand = lazy(() => import('./commands/preprocess.js'), (m) => m.preprocessCommand);
const runCommand = lazy(() => import('./commands/run.js'), (m) => m.runCommand);
const tinyNetworksCommand = lazy(() => import('./commands/tiny-networks.js'), (m) => m.tinyNetworksCommand);

export function buildProgram(): Command {
  const program = new Command('pixel3dmm')
    .description('Pixel3DMM face reconstruction and tracking in TypeScript')
    .version(VERSION)
    .showHelpAfterError();

  program.command('info').description('versions, CUDA support of the native addon, devices found').option('--json', 'print JSON').action(infoCommand);

  program
    .command('synth-model')
    .description('write the built-in synthetic head as FLAME-format files (model pickle plus companion files)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'generator seed', parseInteger('--seed', 0, 2 ** 31 - 1), 0)
    .option('--preview', 'also render preview PNGs of a few poses')
    .action(synthModelCommand);

  program
    .command('flame')
    .description('evaluate a FLAME model for one parameter file and write the mesh')
    .option('--model <path>', 'FLAME .pkl or a directory of FLAME files (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .requiredOption('--params <file>', 'parameter JSON ({"shape":[..],"expression":[..],"neck":[6],...})')
    .requiredOption('--out <file>', 'mesh.ply, mesh.obj or verts.npy')
    .option('--world', 'apply the global head pose (rotation, translation)')
    .action(flameCommand);

  const bench = program.command('bench').description('benchmarks: kernels (flame), preprocessing (preprocess)');
  bench
    .command('flame')
    .description('FLAME forward and forward+VJP timings (median) and effective memory bandwidth')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--model <path>', 'FLAME model (default: the built-in synthetic head)')
    .option('--json', 'print JSON')
    .action(benchFlameCommand);

  bench
    .command('preprocess [input]')
    .description('ms per frame for detection, landmarks and segmentation (default input: ../shared/data/videos/ex1.mp4 or PIXEL3DMM_BENCH_VIDEO)')
    .option('--frames <n>', 'use the first n frames', parseInteger('--frames', 1, 1e7))
    .option('--json', 'print JSON')
    .action(benchPreprocessCommand);

  const dataFlag = ['--data <dir>', 'preprocessed data root (default: PIXEL3DMM_PREPROCESSED_DATA, else ./preprocessed)'] as const;
  const netFlags = (c: Command) =>
    c
      .option('--uv <file>', 'Pixel3DMM UV network, ONNX (default: PIXEL3DMM_UV_MODEL)')
      .option('--normals <file>', 'Pixel3DMM normal network, ONNX (default: PIXEL3DMM_NORMALS_MODEL)')
      .option('--batch <n>', 'images per network run (each with its mirror)', parseInteger('--batch', 1, 64), 1)
      .option('--preview', 'also write p3dmm_wGT/ side-by-side previews');
  const preFlags = (c: Command) =>
    c
      .option('--mica <file>', 'MICA identity network, ONNX (default: PIXEL3DMM_MICA_MODEL; unset = zero shape prior)')
      .option('--crop-mode <mode>', "'square' (default: stays square at the borders) or 'original' (the original's border arithmetic)")
      .option('--annotate', 'also write PIPnet_annotated_images/ (landmarks drawn on the crops)')
      .option('--max-frames <n>', 'only the first n frames', parseInteger('--max-frames', 1, 1e7));

  preFlags(
    program
      .command('preprocess <input>')
      .description('a photo, a folder of images or a video -> PREPROCESSED_DATA/NAME: crops, landmarks, segmentation (and MICA)')
      .option(...dataFlag),
  )
    .option('--force', 'redo a finished subject')
    .option('--json', 'print the summary as JSON')
    .action(preprocessCommand);

  netFlags(
    program
      .command('infer <name>')
      .description('the Pixel3DMM networks (ONNX) over PREPROCESSED_DATA/NAME/cropped -> p3dmm/uv_map, p3dmm/normals')
      .option(...dataFlag),
  )
    .option('--force', 'redo finished maps')
    .option('--json', 'print the summary as JSON')
    .action(inferCommand);

  netFlags(
    preFlags(
      program
        .command('run <inputs...>')
        .description('preprocess + infer + track many inputs (or folders of videos) in one process, every model loaded once')
        .option(...dataFlag),
    ),
  )
    .option('--tracking-output <dir>', 'tracking output root (default: PIXEL3DMM_TRACKING_OUTPUT, else ./tracking)')
    .option('--flame <path>', 'FLAME model (default: PIXEL3DMM_FLAME_MODEL, else the built-in synthetic head)')
    .option('--no-track', 'stop after preprocessing and inference')
    .option('--force', 'redo finished stages')
    .option('--json', 'print per-input results as JSON')
    .action(runCommand);

  program.command('doctor').description('check every configured path and model file; say where missing licensed files come from').option('--json', 'print JSON').action(doctorCommand);

  program
    .command('tiny-networks')
    .description('write stand-in ONNX networks with the Pixel3DMM contract (meaningless output; for smoke tests of infer/run)')
    .requiredOption('--out <dir>', 'output folder')
    .action(tinyNetworksCommand);

  program
    .command('demo')
    .description('the main job on the built-in synthetic subject')
    .option('--out <dir>', 'output directory', 'pixel3dmm-demo')
    .option('--json', 'print JSON')
    .action(demoCommand);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
