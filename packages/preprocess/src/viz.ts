// Pictures to look at: landmarks over a frame or crop, and segmentation colour maps. They are for people
// (PIPnet_annotated_images, seg_non_crop_annotations, debugging), never read back by the pipeline.
import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from './image.js';

export interface Marker {
  x: number;
  y: number;
  r: number;
  colour: string;
  label?: string;
}

/** The image with circles (and optional labels) drawn over it, as a sharp pipeline. */
export function drawMarkers(img: RgbImage, markers: Marker[], rects: { x: number; y: number; w: number; h: number; colour: string }[] = []): Sharp {
  const parts: string[] = [];
  for (const r of rects) parts.push(`<rect x="${r.x}" y="${r.y}" width="${r.w}" height="${r.h}" fill="none" stroke="${r.colour}" stroke-width="2"/>`);
  for (const m of markers) {
    parts.push(`<circle cx="${m.x.toFixed(2)}" cy="${m.y.toFixed(2)}" r="${m.r}" fill="${m.colour}"/>`);
    if (m.label) parts.push(`<text x="${(m.x + m.r + 1).toFixed(1)}" y="${(m.y - m.r).toFixed(1)}" font-size="${Math.max(8, m.r * 3)}" fill="${m.colour}">${m.label}</text>`);
  }
  const svg = `<svg width="${img.width}" height="${img.height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).composite([{ input: Buffer.from(svg) }]);
}

/**
 * WFLW-98 landmarks (pixels) drawn with the eye corners (60, 64, 68, 72) in yellow and the pupils (96, 97)
 * in red, everything else green with its index, so a wrong mapping shows at a glance.
 */
export function drawWflw(img: RgbImage, lmk: ArrayLike<number>, labels = true): Sharp {
  const r = Math.max(1.5, img.width / 300);
  const markers: Marker[] = [];
  for (let i = 0; i < 98; i++) {
    const special = i === 96 || i === 97 ? 'red' : i === 60 || i === 64 || i === 68 || i === 72 ? 'yellow' : null;
    markers.push({ x: lmk[2 * i], y: lmk[2 * i + 1], r: special ? r * 1.6 : r, colour: special ?? 'lime', label: labels ? String(i) : undefined });
  }
  return drawMarkers(img, markers);
}

/** Colour per class id of spec 2.4 (0..18, 20), for seg_non_crop_annotations. */
export const SEG_COLOURS: readonly [number, number, number][] = [
  [0, 0, 0], [255, 153, 51], [204, 0, 0], [0, 204, 0], [102, 51, 0], [102, 102, 0], [255, 255, 0], [0, 255, 255],
  [51, 51, 255], [204, 0, 204], [76, 153, 0], [255, 204, 204], [0, 0, 153], [0, 255, 128], [102, 51, 153], [0, 51, 0],
  [0, 204, 204], [255, 51, 153], [0, 102, 102], [0, 0, 0], [128, 128, 128],
];

export function segColourImage(seg: Uint8Array, width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < seg.length; i++) {
    const c = SEG_COLOURS[seg[i]] ?? [255, 255, 255];
    out[i * 3] = c[0];
    out[i * 3 + 1] = c[1];
    out[i * 3 + 2] = c[2];
  }
  return { width, height, data: out };
}

/** Blend a colour map over an image (alpha 0.5), to check a segmentation against the face. */
export function blend(a: RgbImage, b: RgbImage, alpha = 0.5): RgbImage {
  const out = new Uint8Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(a.data[i] * (1 - alpha) + b.data[i] * alpha);
  return { width: a.width, height: a.height, data: out };
}
