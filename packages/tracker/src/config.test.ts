import { describe, expect, it } from 'vitest';
import { ConfigError, defaultTrackerConfig, withOverrides } from './config.js';

describe('tracker configuration', () => {
  it('reads the spec defaults from configs/tracking.json', () => {
    const c = defaultTrackerConfig();
    expect(c.size).toBe(256);
    expect(c.iters).toBe(200);
    expect(c.global_iters).toBe(5000);
    expect(c.early_stopping_delta).toBe(5);
    expect(c.uv_map_super).toBe(2000);
    expect(c.normal_super).toBe(1000);
    expect(c.sil_super).toBe(500);
    expect(c.focal_init).toBe(2000 / 512);
    expect(c.w_lmks * 5).toBe(5000);
    expect(Object.keys(c).some((k) => k.startsWith('$'))).toBe(false);
  });

  it('overrides keys as key=value with the type of the default', () => {
    const c = withOverrides(defaultTrackerConfig(), ['iters=800', 'use_flame2023=true', 'w_shape=0.01']);
    expect(c.iters).toBe(800);
    expect(c.use_flame2023).toBe(true);
    expect(c.w_shape).toBe(0.01);
    expect(defaultTrackerConfig().iters).toBe(200);
  });

  it('names the key in every error', () => {
    const d = defaultTrackerConfig();
    expect(() => withOverrides(d, ['iterz=3'])).toThrow(ConfigError);
    expect(() => withOverrides(d, ['iterz=3'])).toThrow(/unknown configuration key 'iterz'/);
    expect(() => withOverrides(d, ['iters=many'])).toThrow(/'iters' must be a number/);
    expect(() => withOverrides(d, ['smooth=maybe'])).toThrow(/'smooth' must be true or false/);
    expect(() => withOverrides(d, ['iters'])).toThrow(/expected key=value/);
  });
});
