// result.mp4 (spec 8): raw RGB frames piped into the ffmpeg binary of @ffmpeg-installer/ffmpeg, encoded as
// the original's mediapy call does (libx264, crf 15, 25 fps, yuv420p). Frames stream through the pipe one at
// a time (backpressure respected), never all in memory. The file is written under a temporary name and
// renamed when ffmpeg has exited cleanly; `abort()` kills ffmpeg and removes the temporary file.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';

export const VIDEO_FPS = 25;
export const VIDEO_CRF = 15;

export class VideoError extends Error {
  override name = 'VideoError';
}

/** The ffmpeg binary shipped inside @ffmpeg-installer/ffmpeg (no system ffmpeg needed). */
export function ffmpegPath(): string {
  const require = createRequire(import.meta.url);
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

export class VideoEncoder {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly tmp: string;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';
  private frames = 0;
  private failed: Error | null = null;

  constructor(
    readonly target: string,
    readonly width: number,
    readonly height: number,
    fps = VIDEO_FPS,
    crf = VIDEO_CRF,
  ) {
    this.tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
      // yuv420p needs even sizes: an odd render size is padded by one black row / column.
      ...(width % 2 || height % 2 ? ['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'] : []),
      '-c:v', 'libx264', '-crf', String(crf), '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4', this.tmp,
    ];
    this.child = spawn(ffmpegPath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 4000) this.stderr += d.toString();
    });
    this.child.stdin.on('error', (e) => (this.failed ??= e));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.failed ??= e;
        resolve({ code: -1, signal: null });
      });
      this.child.on('close', (code, signal) => resolve({ code, signal }));
    });
  }

  /** Appends one [height, width, 3] RGB8 frame; resolves when the pipe can take more. */
  async write(rgb: Uint8Array): Promise<void> {
    if (rgb.length !== this.width * this.height * 3) throw new VideoError(`${this.target}: a frame must have ${this.width * this.height * 3} bytes, got ${rgb.length}`);
    if (this.failed) throw new VideoError(`${this.target}: ffmpeg failed (${this.failed.message}) ${this.stderr.trim()}`);
    this.frames += 1;
    if (!this.child.stdin.write(rgb)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.child.stdin.off('drain', done);
          this.child.off('close', done);
          resolve();
        };
        this.child.stdin.on('drain', done);
        this.child.on('close', done);
      });
    }
  }

  /** Finishes the file and renames it into place. */
  async close(): Promise<void> {
    this.child.stdin.end();
    const { code, signal } = await this.exited;
    if (code !== 0 || this.failed || this.frames === 0) {
      await rm(this.tmp, { force: true });
      const why = this.frames === 0 ? 'no frames were written' : `ffmpeg exited with ${code ?? signal}${this.failed ? ` (${this.failed.message})` : ''}: ${this.stderr.trim()}`;
      throw new VideoError(`${this.target}: ${why}`);
    }
    await rename(this.tmp, this.target);
  }

  /** Stops ffmpeg and removes the partial file. */
  async abort(): Promise<void> {
    this.child.stdin.destroy();
    this.child.kill('SIGKILL');
    await this.exited;
    await rm(this.tmp, { force: true });
  }
}
