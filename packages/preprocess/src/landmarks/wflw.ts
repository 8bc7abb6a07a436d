// MediaPipe 478 (468 mesh + 10 iris) -> the 98-point WFLW layout the tracker expects (spec 2.2), point by
// point. "Image-left" is as seen in an unmirrored photo of a frontal face: the subject's right side.
//
// | WFLW      | what                                                   | MediaPipe source                                  |
// |-----------|--------------------------------------------------------|---------------------------------------------------|
// | 0..32     | jaw contour, image-left ear level -> chin (16) -> image-right | the mesh's jaw polyline JAW_POLYLINE (127 ... 152 ... 356), resampled at 33 equal arc-length steps |
// | 33        | image-left brow, outer end                            | 70                                                |
// | 34..37    | image-left brow, upper edge, outer -> inner           | 63, 105, 66, 107                                  |
// | 38..41    | image-left brow, lower edge, inner -> outer           | 55, 65, 52, 53                                    |
// | 42..46    | image-right brow, upper edge, inner -> outer end      | 336, 296, 334, 293, 300                           |
// | 47..50    | image-right brow, lower edge, outer -> inner          | 283, 282, 295, 285                                |
// | 51..54    | nose bridge, top -> tip (about equal steps)            | 6, 195, midpoint(5, 4), 1                         |
// | 55..59    | nose base, image-left alar -> subnasale (57) -> image-right | 98, 97, 2, 326, 327                          |
// | 60        | image-left eye, outer corner                          | 33                                                |
// | 61..63    | image-left eye, upper lid, outer -> inner (quartiles) | 161, 159, 157                                     |
// | 64        | image-left eye, inner corner                          | 133                                               |
// | 65..67    | image-left eye, lower lid, inner -> outer             | 154, 145, 163                                     |
// | 68        | image-right eye, inner corner                         | 362                                               |
// | 69..71    | image-right eye, upper lid, inner -> outer            | 384, 386, 388                                     |
// | 72        | image-right eye, outer corner                         | 263                                               |
// | 73..75    | image-right eye, lower lid, outer -> inner            | 390, 374, 381                                     |
// | 76        | outer lips, image-left corner                         | 61                                                |
// | 77..81    | upper lip outer edge, left -> right (79 = top centre) | 40, 37, 0, 267, 270                               |
// | 82        | outer lips, image-right corner                        | 291                                               |
// | 83..87    | lower lip outer edge, right -> left (85 = bottom centre) | 321, 314, 17, 84, 91                          |
// | 88        | inner lips, image-left corner                         | 78                                                |
// | 89..91    | upper lip inner edge, left -> right                   | 81, 13, 311                                       |
// | 92        | inner lips, image-right corner                        | 308                                               |
// | 93..95    | lower lip inner edge, right -> left                   | 402, 14, 178                                      |
// | 96        | pupil of the image-left eye ("left_iris")             | 468 (iris centre, eye 33/133)                     |
// | 97        | pupil of the image-right eye ("right_iris")           | 473 (iris centre, eye 362/263)                    |
//
// The jaw is resampled rather than picked because WFLW spaces its 33 contour points evenly along the jaw,
// while the mesh's oval points are not evenly spaced; the even WFLW indices are then the iBUG-68 jaw.

/** The mesh's face-oval points from the image-left ear level round the chin to the image-right ear level. */
export const JAW_POLYLINE: readonly number[] = [127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356];

/** WFLW 33..97 -> MediaPipe index, or the midpoint of two (WFLW 0..32 come from JAW_POLYLINE). */
export const WFLW_FROM_MEDIAPIPE: readonly (number | readonly [number, number])[] = [
  // 33..41 image-left brow
  70, 63, 105, 66, 107, 55, 65, 52, 53,
  // 42..50 image-right brow
  336, 296, 334, 293, 300, 283, 282, 295, 285,
  // 51..54 nose bridge. The mesh's bridge points 6, 197, 195, 5, 4, 1 lie at y = 199, 214, 231, 248, 268,
  // 282 on the frontal test crop; 6, 195, the middle of 5-4 and 1 give steps of 32, 27, 24 px.
  6, 195, [5, 4], 1, 98, 97, 2, 326, 327,
  // 60..67 image-left eye, 68..75 image-right eye
  33, 161, 159, 157, 133, 154, 145, 163, 362, 384, 386, 388, 263, 390, 374, 381,
  // 76..87 outer lips
  61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
  // 88..95 inner lips
  78, 81, 13, 311, 308, 402, 14, 178,
  // 96, 97 pupils
  468, 473,
];

/** 478 x [x, y, z] (stride 3) -> 98 x [x, y] (stride 2), same units. */
export function mediapipeToWflw(points: ArrayLike<number>): Float64Array {
  const out = new Float64Array(98 * 2);
  // Jaw: resample the polyline by arc length into 33 points, ends included.
  const px = JAW_POLYLINE.map((i) => points[i * 3]);
  const py = JAW_POLYLINE.map((i) => points[i * 3 + 1]);
  const cum = [0];
  for (let i = 1; i < px.length; i++) cum.push(cum[i - 1] + Math.hypot(px[i] - px[i - 1], py[i] - py[i - 1]));
  const total = cum[cum.length - 1];
  let seg = 0;
  for (let k = 0; k < 33; k++) {
    const s = (total * k) / 32;
    while (seg < px.length - 2 && cum[seg + 1] < s) seg++;
    const len = cum[seg + 1] - cum[seg];
    const t = len > 0 ? Math.min(1, Math.max(0, (s - cum[seg]) / len)) : 0;
    out[2 * k] = px[seg] + (px[seg + 1] - px[seg]) * t;
    out[2 * k + 1] = py[seg] + (py[seg + 1] - py[seg]) * t;
  }
  for (let w = 33; w < 98; w++) {
    const m = WFLW_FROM_MEDIAPIPE[w - 33];
    if (typeof m === 'number') {
      out[2 * w] = points[m * 3];
      out[2 * w + 1] = points[m * 3 + 1];
    } else {
      out[2 * w] = (points[m[0] * 3] + points[m[1] * 3]) / 2;
      out[2 * w + 1] = (points[m[0] * 3 + 1] + points[m[1] * 3 + 1]) / 2;
    }
  }
  return out;
}
