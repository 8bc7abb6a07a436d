// The tracker's host-side passes around the renderer: the per-pixel terms of one rendered frame
// (pixel3dmm-spec.md 6.2-6.4), the UV correspondence term (6.1), the scene's coverage pass, the render corners'
// channels and their normals' gradient gather, and the vertex normals of the normal render (spec 5): host code, the
// same on every device, since the arrays they read are host arrays. Each is its TypeScript reference
// (packages/tracker/src/objective: losses/dense-reference.ts, losses/uv-correspondence-reference.ts, testing.ts's
// coveragePassReference, writeCornerChannelsReference and gatherCornerNormalsReference, vertex-normals-reference.ts)
// operation for operation: float64 arithmetic on the float32 inputs, one rounding to float32 per stored value, each
// frame's sum from 0 in pixel order (the caller, like the reference, adds the frames' sums in frame order), so the
// results are the reference's bits and frames may run on different threads.
// The loss terms take a range of pixels [i0, i1) of their frame (the frame's arrays start at pixel 0): with terms
// null they return the range's sum from 0 in pixel order; otherwise they append each counted pixel's term to terms,
// in pixel order, and return 0, so that a frame split into ranges on several threads can still be summed in pixel
// order afterwards (the same chain of adds, so the same bits).
#pragma once
#include <cstdint>
#include <vector>

namespace p3d {
namespace pixel_terms {

/** A float32 image of C channels inside an interleaved buffer: pixel i's channel c is data[i*stride + offset + c]. */
struct Strided {
  const float* data;
  int64_t stride;
  int64_t offset;
};
struct StridedOut {
  float* data;
  int64_t stride;
  int64_t offset;
};

/**
 * 6.2 dense UV of one frame of P pixels: target [P,2], mask [P], rendered [P,2]; grad gets k * e (l2, k = -2
 * scale / count) or k * sign(e) (L1, k = -scale / count) at masked pixels, 0 elsewhere. Returns the frame's sum of
 * e² (l2) or |e|.
 */
double uvImageLoss(int64_t i0, int64_t i1, const float* target, const uint8_t* mask, const float* rendered, bool l2,
                   double k, StridedOut grad, std::vector<double>* terms);

/**
 * 6.3 normals of one frame: target [P,3], mask and exclusion [P], rendered normals (strided); a pixel counts when
 * mask and exclusion are set and mean_c |e_c| < deltaN. grad as uvImageLoss, every pixel written.
 */
double normalImageLoss(int64_t i0, int64_t i1, const float* target, const uint8_t* mask, const uint8_t* exclusion,
                       Strided rendered, double deltaN, bool l2, double k, StridedOut grad, std::vector<double>* terms);

/**
 * 6.4 one-sided silhouette of one frame: where validBackground is set, e = foreground - rendered; grad [P] gets
 * k * sign(e) where e != 0 and 0 elsewhere. Returns the frame's Σ|e|.
 */
double silhouetteImageLoss(int64_t i0, int64_t i1, const uint8_t* foreground, const uint8_t* validBackground,
                           const float* rendered, double k, float* grad, std::vector<double>* terms);

/**
 * 6.1 UV correspondences of B frames (the contract of uvCorrespondenceLoss in
 * packages/tracker/src/objective/losses/uv-correspondence.ts, operation for operation its reference loop in
 * uv-correspondence-reference.ts): for each frame b and valid vertex j in order, the pairs with dist2 < deltaUv,
 * |d|_1 < distUv (d = target pixel + offset - projected point) and, with depth, rendered z < z_s + margin at the
 * projected point's truncated, clamped pixel, add their term to the sum and gradScale * d (l2) or gradScale * sign(d)
 * (L1) to gradProjected. Returns the terms' sum, one chain from 0 over the frames and pairs in order (as the
 * reference adds them), whichever threads computed them. Indices (valid in [0, V)) are checked by the caller.
 */
struct UvCorrespondenceArgs {
  int size = 0, frames = 0, numVertices = 0, numValid = 0;
  const int32_t* valid = nullptr;          // [J]
  const int32_t* const* pixels = nullptr;  // per frame, [J,2] target pixel (column, row)
  const float* const* dist2 = nullptr;     // per frame, [J] squared UV distance of the match
  const float* projected = nullptr;        // [B,V,3] (x_s, y_s, z_s)
  const float* depth = nullptr;            // rendered depth of pixel i of frame b at depth[(b S² + i) stride + offset]; null: no visibility test
  int64_t depthStride = 0, depthOffset = 0;
  double deltaUv = 0, distUv = 0, offsetX = 0, offsetY = 0, margin = 0, gradScale = 0;
  bool l2 = true;
  double* gradProjected = nullptr;         // [B,V,3], added to
};
double uvCorrespondenceLoss(const UvCorrespondenceArgs& a);

/**
 * The render corners' per-frame channels (scene.ts, writeCornerChannels): for frame b and corner c of vertex
 * v = cornerVertex[c], attr[(b NC + c) attrStride + depthChannel] = world z - cameraZ (float64, rounded once) and,
 * with normals [B,V,3], the normal into attr (normalChannel..+2) and gradAttr ((b NC + c) gradStride +
 * gradNormalChannel..+2). Corners in parallel. cornerVertex entries are checked by the caller.
 */
struct CornerChannelArgs {
  int frames = 0, numVertices = 0, numCorners = 0;
  const int32_t* cornerVertex = nullptr;  // [NC]
  const float* world = nullptr;           // [B,V,3]
  const float* normals = nullptr;         // [B,V,3] or null
  double cameraZ = 0;
  float* attr = nullptr;
  int attrStride = 0, depthChannel = 0, normalChannel = 0;
  float* gradAttr = nullptr;
  int gradStride = 0, gradNormalChannel = 0;
};
void cornerChannels(const CornerChannelArgs& a);

/**
 * The corners' normal gradients (channels gradNormalChannel..+2 of gradAttr [B,NC,gradStride]) summed onto their
 * vertices, out [B,V,3] float64 (scene.ts, gatherCornerNormals): each vertex's sum from 0 over its corners in
 * ascending order, frames in parallel (the reference's scatter loop per frame).
 */
void gatherCornerNormals(int frames, int numVertices, int numCorners, const int32_t* cornerVertex, const float* gradAttr,
                         int gradStride, int gradNormalChannel, double* out);

/** The scene's coverage pass; see packages/tracker/src/objective/scene.ts (coveragePass) for the contract. */
struct CoverageArgs {
  int batch, size, numTriangles;
  const float* rast;         // [B,S,S,4]; ids validated here (integers in [0, numTriangles])
  const float* aux;          // [B,S,S,auxChannels]
  int auxChannels, texcChannel;
  const uint8_t* eyeTriangle;  // [T]
  const float* uniform;        // [T] (NaN: no uniform colour)
  bool silhouette;
  int32_t* covered;   // [B*S*S]; holds the previous call's first `previousCovered` entries on entry
  int64_t previousCovered;
  float* uvImages;    // [B*S*S,2]
  float* color;       // [B*S*S] (written only with silhouette)
  int32_t* sampled;   // [B*S*S]
  float* texcSampled; // [B*S*S,2]
  int32_t* eyeBoxes;  // [B,4]: x0, x1, y0, y1
};
/** Returns false (and writes nothing) when rast holds an id that is not an integer in [0, T]. */
bool coveragePass(const CoverageArgs& a, int64_t* numCovered, int64_t* numSampled);

/**
 * The texture-coordinate channels (texcOffset, texcOffset + 1) of the render's backward buffer g (gStride floats per
 * pixel) at the n covered pixels: from the uv-image gradient gu (u = 1 - texc_u: (-gu_0, gu_1); gu may lie in g
 * itself), or 0 when gu.data is null. With plusZero, +0 is added (-0 becomes +0). Pixels in parallel (each is read
 * and written by one task). See scene.ts, writeTexcGradient.
 */
void texcGradient(float* g, int64_t gStride, int64_t texcOffset, const int32_t* covered, int64_t n, Strided gu, bool plusZero);

/**
 * Area-weighted vertex normals of `frames` meshes (packages/tracker/src/objective/vertex-normals.ts has the
 * contract): positions [frames,V,3] float32, faces [F,3] (indices checked by the caller), sums [frames,V,3]
 * float64 (the unnormalised sums, kept for the backward), out [frames,V,3]. Frames run in parallel (each one's
 * sums in face order, so the bits do not depend on the thread count).
 */
void vertexNormals(const float* positions, int frames, int numVertices, const int32_t* faces, int numFaces, double* sums,
                   float* out);
/**
 * Backward of vertexNormals: gradNormals [frames,V,3] float64 -> gradient of the positions ADDED into gradPositions
 * (float32, one rounding per add, as the reference's +=); gradSums [frames,V,3] is scratch.
 */
void vertexNormalsBackward(const float* positions, int frames, int numVertices, const int32_t* faces, int numFaces,
                           const double* sums, const double* gradNormals, double* gradSums, float* gradPositions);

}  // namespace pixel_terms
}  // namespace p3d
