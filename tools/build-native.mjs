#!/usr/bin/env node
// Builds the native addon (native/ + cuda/) with cmake-js into packages/kernels/build/Release.
// CUDA kernels are compiled in whenever nvcc is found; PIXEL3DMM_WITH_CUDA=OFF switches them off.
// A change of that decision needs a fresh configure, so it is remembered next to the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(root, 'packages', 'kernels');
const buildDir = join(pkgDir, 'build');
const withCuda = (process.env.PIXEL3DMM_WITH_CUDA ?? 'ON').toUpperCase() === 'OFF' ? 'OFF' : 'ON';
const nvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).stdout.trim();
if (process.env.PIXEL3DMM_REQUIRE_CUDA === '1' && (!nvcc || withCuda === 'OFF')) {
  console.error('PIXEL3DMM_REQUIRE_CUDA=1 but nvcc was not found (or PIXEL3DMM_WITH_CUDA=OFF)');
  process.exit(1);
}
const signature = `cuda=${withCuda};nvcc=${nvcc || 'none'}`;
const stamp = join(buildDir, 'pixel3dmm-config.txt');
if (existsSync(stamp) && readFileSync(stamp, 'utf8') !== signature) rmSync(buildDir, { recursive: true, force: true });

const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const args = [cmakeJs, 'build', '--directory', join(root, 'native'), '--out', buildDir,
  `--CDPIXEL3DMM_WITH_CUDA=${withCuda}`, '--parallel', String(Math.max(2, (await import('node:os')).availableParallelism()))];
if (process.env.PIXEL3DMM_CPU_ARCH !== undefined) args.push(`--CDPIXEL3DMM_CPU_ARCH=${process.env.PIXEL3DMM_CPU_ARCH}`);
const r = spawnSync(process.execPath, args, { cwd: pkgDir, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`native build failed (exit ${r.status}); see the compiler output above`);
  process.exit(r.status ?? 1);
}
mkdirSync(buildDir, { recursive: true });
writeFileSync(stamp, signature);
if (process.env.PIXEL3DMM_REQUIRE_CUDA === '1') {
  const cache = readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8');
  if (!/CMAKE_CUDA_COMPILER:[A-Z]*=\S+/.test(cache)) {
    console.error('PIXEL3DMM_REQUIRE_CUDA=1 but the build did not enable CUDA (see CMakeCache.txt)');
    process.exit(1);
  }
}
