// An image of C float32 channels inside a wider interleaved buffer, the common currency of the render's
// outputs (one interpolated attribute holds texture coordinates, normals, masks and depth) and of the
// per-pixel losses' gradients (written straight into the render's interleaved backward buffer).

/** Pixel i's channel c is data[i*stride + offset + c]. */
export interface StridedImage {
  data: Float32Array;
  stride: number;
  offset: number;
}

/** A dense [..., C] array as a strided image; a strided image as it is. */
export function strided(image: Float32Array | StridedImage, channels: number): StridedImage {
  return image instanceof Float32Array ? { data: image, stride: channels, offset: 0 } : image;
}
