// One error type for every reader and writer in this package.
//
// Every message starts with the file name (`generic_model.pkl: ...`) and says what was expected, so a
// user who passed the wrong file sees at once which file and why.

export class FormatError extends Error {
  /** The file (or logical name) the error is about, as given to the reader. */
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'FormatError';
    this.file = file;
  }
}

const enc = new TextDecoder('latin1');

function startsWithAscii(bytes: Uint8Array, at: number, word: string): boolean {
  if (at + word.length > bytes.length) return false;
  for (let i = 0; i < word.length; i++) {
    let c = bytes[at + i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20; // ASCII lower-case
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Recognise inputs that are clearly not the expected binary format: an HTML page (a failed or
 * login-page download), a Git LFS pointer, or an empty file. Throws a FormatError naming `what`
 * (for example "a Python pickle"); returns normally otherwise.
 */
export function sniffNotAFile(bytes: Uint8Array, file: string, what: string): void {
  if (bytes.length === 0) throw new FormatError(file, `the file is empty, expected ${what}`);
  let i = 0;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3; // UTF-8 BOM
  while (i < bytes.length && i < 4096) {
    const c = bytes[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) i++;
    else break;
  }
  if (startsWithAscii(bytes, i, '<!doctype') || startsWithAscii(bytes, i, '<html')) {
    throw new FormatError(file, `this is an HTML page, not ${what} (a failed or login-page download?)`);
  }
  if (startsWithAscii(bytes, 0, 'version https://git-lfs')) {
    throw new FormatError(file, `this is a Git LFS pointer file, not ${what} (run 'git lfs pull' to fetch the real file)`);
  }
}

/** Printable preview of the first bytes, for "wrong magic" messages. */
export function previewBytes(bytes: Uint8Array, n = 8): string {
  const head = bytes.subarray(0, Math.min(n, bytes.length));
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `${hex}${bytes.length > n ? ' ...' : ''} (${JSON.stringify(enc.decode(head))})`;
}
