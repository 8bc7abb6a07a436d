import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { kernelInfo } from '@pixel3dmm/kernels';
import { VERSION } from '../version.js';

/** A dependency's version from its package.json, found next to its resolved entry point. */
function packageVersion(name: string): string | null {
  try {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve(name));
    for (;;) {
      const p = join(dir, 'package.json');
      if (existsSync(p)) {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      }
      const up = dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  } catch {
    return null;
  }
}

export function infoCommand(opts: { json?: boolean }): void {
  const k = kernelInfo();
  const info = {
    pixel3dmm: VERSION,
    node: process.versions.node,
    platform: `${process.platform}-${process.arch}`,
    kernels: k,
    onnxruntime: packageVersion('onnxruntime-node'),
    sharp: packageVersion('sharp'),
  };
  if (opts.json) {
    console.log(JSON.stringify(info, null, 2));
    return;
  }
  console.log(`pixel3dmm ${info.pixel3dmm} (node ${info.node}, ${info.platform})`);
  console.log(`native kernels: ${k.compiler}, ${k.threads} CPU threads`);
  console.log(`CUDA: ${k.builtWithCuda ? `compiled in (runtime ${k.cudaRuntimeVersion})` : 'not compiled in'}; ` +
    (k.cudaAvailable ? `devices: ${k.cudaDevices.join(', ')}` : `unavailable: ${k.cudaReason}`));
  console.log(`onnxruntime-node ${info.onnxruntime ?? 'not installed'}, sharp ${info.sharp ?? 'not installed'}`);
}
