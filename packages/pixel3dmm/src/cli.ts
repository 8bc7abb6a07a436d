// The `pixel3dmm` command line.
import { Command, InvalidArgumentError } from 'commander';
import { benchFlameCommand } from './commands/bench-flame.js';
import { benchRasterCommand } from './commands/bench-raster.js';
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

  const bench = program.command('bench').description('benchmarks of the kernels');
  bench
    .command('flame')
    .description('FLAME forward and forward+VJP timings (median) and effective memory bandwidth')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--model <path>', 'FLAME model (default: the built-in synthetic head)')
    .option('--json', 'print JSON')
    .action(benchFlameCommand);
  bench
    .command('raster')
    .description('rasterizer chain timings (median): rasterize, interpolate 17 channels, texture, antialias, forward and backward')
    .option('--mesh <file>', 'mesh (.obj or .ply; default: the built-in synthetic head)')
    .option('--size <px>', 'image side: 256 or 512', parseInteger('--size', 16, 4096), 256)
    .option('--batch <n>', 'frames per call: 1 or 16', parseInteger('--batch', 1, 256), 1)
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--runs <n>', 'minimum timed runs per figure', parseInteger('--runs', 1, 100000), 30)
    .option('--min-ms <ms>', 'minimum milliseconds per figure', parseInteger('--min-ms', 0, 600000), 500)
    .option('--json', 'print JSON')
    .action(benchRasterCommand);

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
