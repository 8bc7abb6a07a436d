export { buildProgram, main } from './cli.js';
export { chooseFlameModel } from './model-choice.js';
