import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
	it('reads the environment, with defaults for what is unset or empty', () => {
		const c = loadConfig({ PORT: '4000', PARLEY_DOC_IDLE_MS: '', PARLEY_SEED_DEMO: 'false' });
		expect(c.port).toBe(4000);
		expect(c.seedDemo).toBe(false);
		expect(c.limits.docIdleMs).toBe(loadConfig({}).limits.docIdleMs);
		expect(c.databasePath).toBe('data/parley.db');
	});

	it('names the environment variable that is wrong, nested limits included', () => {
		expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
		expect(() => loadConfig({ PORT: 'abc', PARLEY_DOC_IDLE_MS: '-3' })).toThrow(
			/^PORT: .*; PARLEY_DOC_IDLE_MS: .*>0/
		);
		expect(() => loadConfig({ PARLEY_SQLITE_SYNCHRONOUS: 'off' })).toThrow(
			/^PARLEY_SQLITE_SYNCHRONOUS: /
		);
	});

	it('refuses Redis without PostgreSQL, saying why', () => {
		expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
			'REDIS_URL is set but DATABASE_URL is not'
		);
	});
});
