import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';
import { parleyDevServer } from './server/dev-plugin';

export default defineConfig({
	plugins: [parleyDevServer(), sveltekit()],
	test: {
		projects: [
			{
				extends: true,
				test: {
					name: 'unit',
					include: ['src/**/*.test.ts', 'server/**/*.test.ts'],
					environment: 'node'
				}
			},
			{
				extends: true,
				test: {
					name: 'integration',
					include: ['tests/integration/**/*.test.ts'],
					environment: 'node',
					testTimeout: 20_000,
					hookTimeout: 20_000
				}
			},
			{
				extends: true,
				test: {
					// The same integration suite on PostgreSQL plus Redis.
					name: 'integration-pg',
					include: ['tests/integration/**/*.test.ts'],
					environment: 'node',
					env: { PARLEY_TEST_BACKEND: 'postgres' },
					testTimeout: 20_000,
					hookTimeout: 20_000
				}
			},
			{
				extends: true,
				test: {
					// Several instances on PostgreSQL plus Redis: stores, fan-out, real processes.
					name: 'scale',
					include: ['tests/scale/**/*.test.ts'],
					environment: 'node',
					env: { PARLEY_TEST_BACKEND: 'postgres' },
					testTimeout: 60_000,
					hookTimeout: 60_000,
					fileParallelism: false
				}
			},
			{
				extends: true,
				test: {
					name: 'e2e',
					include: ['tests/e2e/**/*.test.ts'],
					environment: 'node',
					testTimeout: 60_000,
					hookTimeout: 90_000,
					fileParallelism: false
				}
			}
		]
	}
});
