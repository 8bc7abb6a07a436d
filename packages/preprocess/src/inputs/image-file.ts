// Still images: recognise them by their first bytes (not by extension) and decode them to RGB with sharp,
// applying the EXIF orientation so the pixels are upright as a viewer shows them.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { PreprocessError } from '../errors.js';
import type { RgbImage } from '../image.js';

/** The still-image formats we accept, by magic number. */
export function sniffImageFormat(head: Uint8Array): 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp' | 'tiff' | null {
  const b = head;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'gif';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))) return 'tiff';
  return null;
}

/** Decode an image file (or its bytes) to upright RGB. */
export async function decodeImage(file: string, bytes?: Uint8Array): Promise<RgbImage> {
  let buf: Uint8Array;
  try {
    buf = bytes ?? readFileSync(file);
  } catch (e) {
    throw new PreprocessError(file, `cannot read the file (${(e as Error).message})`, { cause: e });
  }
  if (!sniffImageFormat(buf.subarray(0, 16))) throw new PreprocessError(file, 'not an image (expected JPEG, PNG, WebP, GIF, BMP or TIFF)');
  try {
    const { data, info } = await sharp(buf).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new PreprocessError(file, `the image cannot be decoded (${(e as Error).message})`, { cause: e });
  }
}

/** Encode RGB as JPEG (quality 95, as the original's PIL and cv2 writers). */
export async function encodeJpeg(img: RgbImage, quality = 95): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

/** Encode RGB (3 channels) or a single-channel map as PNG. */
export async function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  const img = sharp(data, { raw: { width, height, channels } });
  // Without 'b-w' sharp writes a one-channel map as RGB; seg_og must stay a one-channel class map.
  return (channels === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: 6 }).toBuffer();
}
