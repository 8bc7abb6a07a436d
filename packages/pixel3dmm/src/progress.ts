// One-line progress bars on stderr. On a terminal the line is redrawn in place; otherwise (logs, CI) a
// line is printed at every 10 % so logs stay short.

export class Progress {
  private lastPct = -1;
  private readonly t0 = performance.now();
  private readonly tty = process.stderr.isTTY === true;
  constructor(
    private readonly label: string,
    private readonly quiet = false,
  ) {}

  update(done: number, total: number, note = ''): void {
    if (this.quiet) return;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const pct = Math.floor(frac * 100);
    const secs = (performance.now() - this.t0) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    if (this.tty) {
      const width = 24;
      const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
      process.stderr.write(`\r${this.label} [${bar}] ${done}/${total} ${rate.toFixed(1)}/s ${note}`.padEnd(90).slice(0, 110));
    } else if (pct >= this.lastPct + 10 || done === total) {
      this.lastPct = pct;
      process.stderr.write(`${this.label}: ${done}/${total} (${pct}%) ${rate.toFixed(1)}/s ${note}\n`);
    }
  }

  done(message: string): void {
    if (this.quiet) return;
    if (this.tty) process.stderr.write('\r'.padEnd(111) + '\r');
    process.stderr.write(`${this.label}: ${message}\n`);
  }
}
