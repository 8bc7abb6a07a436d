// Videos, decoded as a stream of RGB frames by the static ffmpeg binary of @ffmpeg-installer/ffmpeg.
// Frames are read one at a time from ffmpeg's stdout (rawvideo rgb24), so memory stays at one frame however
// long the video is; iterating twice runs ffmpeg twice.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { PreprocessError } from '../errors.js';
import type { RgbImage } from '../image.js';

export function ffmpegPath(): string {
  const env = process.env.PIXEL3DMM_FFMPEG;
  if (env) return env;
  const require = createRequire(import.meta.url);
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  /** From the container's duration and frame rate; a progress estimate, not a promise. */
  estimatedFrames: number;
  codec: string;
}

/**
 * Read the size, rate and duration from `ffmpeg -i` (the package ships no ffprobe). Returns null when ffmpeg
 * finds no video stream, which is how "not a video" is recognised.
 */
export function probeVideo(file: string): VideoInfo | null {
  const ff = ffmpegPath();
  const r = spawnSync(ff, ['-hide_banner', '-i', file], { encoding: 'utf8', maxBuffer: 1 << 22 });
  if (r.error) throw new PreprocessError(file, `cannot run ffmpeg (${ff}): ${r.error.message}; check PIXEL3DMM_FFMPEG or reinstall @ffmpeg-installer/ffmpeg`);
  const text = `${r.stderr ?? ''}`;
  const video = /Stream #\d+:\d+[^\n]*?: Video: ([^\s,]+)[^\n]*?, (\d{2,5})x(\d{2,5})/.exec(text);
  if (!video) return null;
  // ffmpeg's tty demuxer turns any text file into an "ansi" video; that is not a video of a face.
  if (/Input #0, tty,/.test(text) || video[1] === 'ansi') return null;
  let width = Number(video[2]);
  let height = Number(video[3]);
  // Phone videos carry a rotation that ffmpeg applies while decoding (autorotate), swapping the sides.
  const rot = /rotate\s*:\s*(-?\d+)/.exec(text) ?? /rotation of (-?[\d.]+) degrees/.exec(text);
  if (rot && Math.abs(Math.round(Number(rot[1]))) % 180 === 90) [width, height] = [height, width];
  const fpsM = /, ([\d.]+) fps/.exec(video[0] + text.slice(video.index + video[0].length).split('\n')[0]);
  const fps = fpsM ? Number(fpsM[1]) : 25;
  const dur = /Duration: (\d+):(\d+):([\d.]+)/.exec(text);
  const seconds = dur ? Number(dur[1]) * 3600 + Number(dur[2]) * 60 + Number(dur[3]) : 0;
  return { width, height, fps, estimatedFrames: Math.max(1, Math.round(seconds * fps)), codec: video[1] };
}

/** Decode `file` frame by frame. Stops ffmpeg when the consumer stops early. */
export async function* decodeVideoFrames(file: string, info: VideoInfo): AsyncGenerator<RgbImage> {
  const frameBytes = info.width * info.height * 3;
  const proc = spawn(ffmpegPath(), ['-v', 'error', '-nostdin', '-i', file, '-an', '-sn', '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s: string) => {
    if (stderr.length < 8192) stderr += s;
  });
  let spawnError: Error | null = null;
  // Without an 'error' listener a failed spawn would crash the process.
  proc.on('error', (e) => {
    spawnError = e;
  });
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  let buf = new Uint8Array(frameBytes);
  let filled = 0;
  let frames = 0;
  let finished = false;
  try {
    for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        buf.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === frameBytes) {
          const frame = buf;
          buf = new Uint8Array(frameBytes);
          filled = 0;
          frames++;
          yield { width: info.width, height: info.height, data: frame };
        }
      }
    }
    const code = await exited;
    finished = true;
    if (spawnError) throw new PreprocessError(file, `cannot run ffmpeg: ${(spawnError as Error).message}`);
    if (code !== 0) throw new PreprocessError(file, `ffmpeg failed after ${frames} frames (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`, { frame: frames });
    if (filled !== 0) throw new PreprocessError(file, `the video ended inside a frame (${filled} of ${frameBytes} bytes)`, { frame: frames });
    if (frames === 0) throw new PreprocessError(file, 'the video has no decodable frames');
  } finally {
    if (!finished) proc.kill('SIGKILL');
  }
}
