// Inputs made inside a test (never committed): small videos encoded by the bundled ffmpeg from frames
// generated in memory.
import { spawnSync } from 'node:child_process';
import { ffmpegPath } from '../inputs/video.js';
import type { RgbImage } from '../image.js';

/** Encode frames (all the same size, even sides) as an MPEG-4 .mp4 at 25 fps. */
export function writeTestVideo(file: string, frames: RgbImage[]): void {
  const { width, height } = frames[0];
  const input = Buffer.concat(frames.map((f) => f.data));
  const r = spawnSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', '25', '-i', 'pipe:0', '-c:v', 'mpeg4', '-q:v', '2', '-pix_fmt', 'yuv420p', file], { input });
  if (r.status !== 0) throw new Error(`ffmpeg could not write ${file}: ${r.stderr}`);
}
