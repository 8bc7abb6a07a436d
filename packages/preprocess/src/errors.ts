// One error type for everything that goes wrong with the user's input or models in preprocessing.
// The message always starts with the file (and the frame, when there is one) and says what was expected,
// so the command line can print it as is.

export class PreprocessError extends Error {
  readonly file: string;
  readonly frame: number | undefined;

  constructor(file: string, message: string, opts: { frame?: number; cause?: unknown } = {}) {
    super(`${file}${opts.frame !== undefined ? ` (frame ${opts.frame})` : ''}: ${message}`, { cause: opts.cause });
    this.name = 'PreprocessError';
    this.file = file;
    this.frame = opts.frame;
  }
}
