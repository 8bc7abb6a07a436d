#!/usr/bin/env node
import('../dist/cli.js').then((m) => m.main(process.argv)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
