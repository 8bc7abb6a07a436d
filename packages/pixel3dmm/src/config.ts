// Configuration: command-line flags, then PIXEL3DMM_* environment variables, then
// ~/.config/pixel3dmm/.env (loaded by dotenv; it never overrides a variable that is already set).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import dotenv from 'dotenv';

export const CONFIG_ENV_FILE = join(homedir(), '.config', 'pixel3dmm', '.env');

let loaded = false;
export function loadConfigEnv(): void {
  if (loaded) return;
  loaded = true;
  if (existsSync(CONFIG_ENV_FILE)) dotenv.config({ path: CONFIG_ENV_FILE, quiet: true });
}

/** The FLAME model path: the flag, else PIXEL3DMM_FLAME_MODEL, else undefined (the built-in synthetic head). */
export function flameModelSetting(flag: string | undefined): string | undefined {
  loadConfigEnv();
  return flag ?? (process.env.PIXEL3DMM_FLAME_MODEL || undefined);
}
