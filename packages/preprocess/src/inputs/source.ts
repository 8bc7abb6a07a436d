// The three kinds of input (spec 1): a single image, a folder of images (sorted by name, renumbered from
// 00000), or a video of any length. Each becomes a FrameSource that can be iterated more than once
// (preprocessing makes two passes: analysis, then writing) without holding more than one frame.
import { readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { PreprocessError } from '../errors.js';
import type { RgbImage } from '../image.js';
import { decodeImage, sniffImageFormat } from './image-file.js';
import { decodeVideoFrames, probeVideo, type VideoInfo } from './video.js';

export interface Frame {
  /** 0-based index in the subject: the output stem. */
  index: number;
  image: RgbImage;
}

export interface FrameSource {
  kind: 'image' | 'folder' | 'video';
  /** The file or folder given. */
  path: string;
  /** VID: the video or image file name without extension, or the folder's name. */
  name: string;
  /** Exact for images and folders, estimated from the container for videos (progress only). */
  frameCount: number;
  exactCount: boolean;
  /** The file a frame comes from, for messages (a folder's image file, else the input itself). */
  fileOf(index: number): string;
  frames(): AsyncGenerator<Frame>;
}

function readHead(file: string): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const b = new Uint8Array(16);
    const n = readSync(fd, b, 0, 16, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif']);

export function isImageFile(file: string): boolean {
  return sniffImageFormat(readHead(file)) !== null;
}

export function isVideoFile(file: string): boolean {
  return probeVideo(file) !== null;
}

/** Open any supported input. Throws a PreprocessError naming the path when it is none of them. */
export function openInput(path: string): FrameSource {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new PreprocessError(path, 'no such file or folder');
  }
  if (st.isDirectory()) return folderSource(abs);
  if (st.size === 0) throw new PreprocessError(path, 'the file is empty, expected an image or a video');
  if (isImageFile(abs)) return imageSource(abs);
  const info = probeVideo(abs);
  if (info) return videoSource(abs, info);
  throw new PreprocessError(path, 'not an image or a video (no image signature, and ffmpeg finds no video stream)');
}

function imageSource(file: string): FrameSource {
  return {
    kind: 'image',
    path: file,
    name: basename(file, extname(file)),
    frameCount: 1,
    exactCount: true,
    fileOf: () => file,
    async *frames() {
      yield { index: 0, image: await decodeImage(file) };
    },
  };
}

function folderSource(dir: string): FrameSource {
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && IMAGE_EXT.has(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f));
  if (files.length === 0) throw new PreprocessError(dir, `the folder holds no images (expected files ending in ${[...IMAGE_EXT].join(', ')})`);
  return {
    kind: 'folder',
    path: dir,
    name: basename(dir),
    frameCount: files.length,
    exactCount: true,
    fileOf: (i) => files[i] ?? dir,
    async *frames() {
      for (let i = 0; i < files.length; i++) yield { index: i, image: await decodeImage(files[i], readFileSync(files[i])) };
    },
  };
}

function videoSource(file: string, info: VideoInfo): FrameSource {
  return {
    kind: 'video',
    path: file,
    name: basename(file, extname(file)),
    frameCount: info.estimatedFrames,
    exactCount: false,
    fileOf: () => file,
    async *frames() {
      let i = 0;
      for await (const image of decodeVideoFrames(file, info)) yield { index: i++, image };
    },
  };
}

/** Many inputs for `run`: files as given, a folder of videos expands to its videos (sorted). */
export function expandInputs(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new PreprocessError(p, 'no such file or folder');
    }
    if (st.isDirectory()) {
      const entries = readdirSync(p).filter((f) => !f.startsWith('.')).sort().map((f) => join(p, f));
      const videos = entries.filter((f) => statSync(f).isFile() && !IMAGE_EXT.has(extname(f).toLowerCase()) && isVideoFile(f));
      // A folder of videos is many subjects; a folder of images is one subject.
      if (videos.length > 0) out.push(...videos);
      else out.push(p);
    } else out.push(p);
  }
  return out;
}
