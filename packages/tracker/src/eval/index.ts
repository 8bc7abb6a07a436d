// Error metrics of tracking results against ground truth.
export { rigidAlign, type RigidTransform } from './rigid.js';
export { parameterVertexError, posedVertexError, type VertexErrorReport } from './vertex-error.js';
export { uvMapOffset, type UvOffsetReport } from './uv-offset.js';
