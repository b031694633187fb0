#!/usr/bin/env node
// `npm test`: lint, type checks, build, then unit, integration and browser tests.
// Browser tests need Debian's Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
	console.error(
		`Browser tests need Chromium at ${chromium}. Install it with: apt-get install -y chromium`
	);
	process.exit(1);
}

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
if (report.numTotalTests === 0 || report.numFailedTests > 0) process.exit(1);
