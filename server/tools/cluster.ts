/**
 * Local trial of a scaled-out deployment: N instances of `server/main.ts` on PostgreSQL plus
 * Redis, behind the TCP balancer on PORT (default 3000).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 \
 *     npm run cluster -- 2
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startBalancer } from './balancer';

const count = Number(process.argv[2] ?? 2);
const port = Number(process.env.PORT ?? 3000);
if (!process.env.DATABASE_URL || !process.env.REDIS_URL) {
	console.error('Set DATABASE_URL and REDIS_URL: several instances share PostgreSQL and Redis.');
	process.exit(2);
}
const root = join(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
const targets = [];
for (let i = 1; i <= count; i++) {
	const child = spawn(
		process.execPath,
		// 16 MB young generation on PostgreSQL + Redis (4 MB, as `npm start` uses on the
		// embedded store, doubles the p99 here: docs/configuration.md)
		['--max-semi-space-size=16', '--import', 'tsx', join(root, 'server', 'main.ts')],
		{
			cwd: root,
			env: {
				// Links in emails (the CSAT survey) go to the balancer, not to one instance.
				PARLEY_PUBLIC_URL: `http://localhost:${port}`,
				...process.env,
				PORT: String(port + i)
			},
			stdio: 'inherit'
		}
	);
	child.on('exit', (code, signal) =>
		console.error(`instance on :${port + i} exited (${code ?? signal}); the others carry on`)
	);
	children.push(child);
	targets.push({ host: '127.0.0.1', port: port + i });
}
await startBalancer(port, targets, '0.0.0.0');
console.log(
	`Parley: ${count} instances on ports ${port + 1}-${port + count}, balanced on http://localhost:${port}`
);
const stop = () => {
	for (const c of children) c.kill('SIGTERM');
	setTimeout(() => process.exit(0), 5000).unref();
	Promise.all(children.map((c) => new Promise((r) => c.once('exit', r)))).then(() =>
		process.exit(0)
	);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
