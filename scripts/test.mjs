#!/usr/bin/env node
// `npm test`: lint, type checks, build, then unit, integration and browser tests, and the
// same integration suite plus multi-instance tests on PostgreSQL + Redis.
// Browser tests need Debian's Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
// PostgreSQL and Redis tests need both services (PARLEY_TEST_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/test; PARLEY_TEST_REDIS_URL, default
// redis://127.0.0.1:6379); without them those tests are skipped, and this says so.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
	console.error(
		`Browser tests need Chromium at ${chromium}. Install it with: apt-get install -y chromium`
	);
	process.exit(1);
}

const pgUrl = process.env.PARLEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function probePostgres() {
	const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
	try {
		await client.connect();
		await client.query('select 1');
		return null;
	} catch (e) {
		return e.message || String(e);
	} finally {
		await client.end().catch(() => undefined);
	}
}

async function probeRedis() {
	const client = new Redis(redisUrl, {
		lazyConnect: true,
		connectTimeout: 3000,
		maxRetriesPerRequest: 0,
		retryStrategy: () => null
	});
	client.on('error', () => undefined);
	try {
		await client.connect();
		await client.ping();
		return null;
	} catch (e) {
		return e.message || String(e);
	} finally {
		client.disconnect();
	}
}

const [pgError, redisError] = await Promise.all([probePostgres(), probeRedis()]);
const projects = ['unit', 'integration', 'e2e'];
let skippedNote = '';
if (pgError || redisError) {
	skippedNote = [
		'SKIPPED: the PostgreSQL + Redis tests (projects integration-pg and scale), because',
		pgError ? `  PostgreSQL at ${pgUrl} is not reachable: ${pgError}` : null,
		redisError ? `  Redis at ${redisUrl} is not reachable: ${redisError}` : null,
		'  Install and start them (Debian: apt-get install -y postgresql redis-server) or set',
		'  PARLEY_TEST_DATABASE_URL / PARLEY_TEST_REDIS_URL, then run npm test again.'
	]
		.filter(Boolean)
		.join('\n');
	console.warn(`\n${skippedNote}\n`);
} else projects.push('integration-pg', 'scale');

const steps = [
	['lint', 'npm', ['run', 'lint']],
	['type check', 'npm', ['run', 'check']],
	['build', 'npm', ['run', 'build']],
	[
		'tests',
		'npx',
		[
			'vitest',
			'run',
			...projects.flatMap((p) => ['--project', p]),
			'--reporter=default',
			'--reporter=json',
			'--outputFile.json=test-results/vitest.json'
		]
	]
];

for (const [name, cmd, args] of steps) {
	console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
	const started = Date.now();
	const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
	if (r.status !== 0) {
		console.error(`\n✖ ${name} failed (exit ${r.status ?? r.signal})`);
		process.exit(r.status ?? 1);
	}
	console.log(`✔ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

const report = JSON.parse(readFileSync('test-results/vitest.json', 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
console.log(
	`\nTests: ${report.numPassedTests} passed, ${report.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`
);
if (skippedNote) console.warn(`\n${skippedNote}`);
if (report.numTotalTests === 0 || report.numFailedTests > 0) process.exit(1);
