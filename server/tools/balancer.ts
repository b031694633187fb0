/**
 * A tiny TCP round-robin load balancer for trying several instances locally (and for the
 * multi-instance tests). TCP level, so HTTP and websockets pass through untouched; a target
 * that refuses a connection is skipped for a second and the next one is tried. Written by hand
 * because it is twenty lines over `node:net`; in production use nginx, HAProxy or your cloud's
 * balancer (see docs/configuration.md).
 *
 *   node --import tsx server/tools/balancer.ts 3000 127.0.0.1:3001 127.0.0.1:3002
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Target {
	host: string;
	port: number;
}

export interface Balancer {
	server: Server;
	port: number;
	/**
	 * Cuts every connection and resets new ones until `resume()`, while keeping the port
	 * (so nothing else can take it meanwhile): a network partition for failure tests.
	 */
	suspend(): void;
	resume(): void;
	close(): Promise<void>;
}

export async function startBalancer(
	listenPort: number,
	targets: Target[],
	host = '127.0.0.1'
): Promise<Balancer> {
	let next = 0;
	const downUntil = new Map<Target, number>();
	const sockets = new Set<Socket>();
	let suspended = false;

	const pick = (tried: Set<Target>): Target | null => {
		for (let i = 0; i < targets.length; i++) {
			const t = targets[(next + i) % targets.length];
			if (tried.has(t) || (downUntil.get(t) ?? 0) > Date.now()) continue;
			next = (next + i + 1) % targets.length;
			return t;
		}
		const left = targets.filter((t) => !tried.has(t));
		return left[0] ?? null; // all marked down: try one anyway rather than refuse
	};

	const server = createServer((client) => {
		if (suspended) return void client.resetAndDestroy();
		sockets.add(client);
		client.on('close', () => sockets.delete(client));
		client.pause();
		const tried = new Set<Target>();
		const attempt = () => {
			const target = pick(tried);
			if (!target) return client.destroy();
			tried.add(target);
			const upstream = connect(target.port, target.host);
			sockets.add(upstream);
			upstream.on('close', () => sockets.delete(upstream));
			let connected = false;
			upstream.once('connect', () => {
				connected = true;
				upstream.on('error', () => client.destroy());
				client.on('error', () => upstream.destroy());
				client.pipe(upstream).on('error', () => undefined);
				upstream.pipe(client).on('error', () => undefined);
				upstream.on('close', () => client.destroy());
				client.on('close', () => upstream.destroy());
				client.resume();
			});
			upstream.once('error', () => {
				if (connected) return;
				downUntil.set(target, Date.now() + 1000);
				attempt();
			});
		};
		attempt();
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(listenPort, host, () => resolve());
	});
	return {
		server,
		port: (server.address() as AddressInfo).port,
		suspend() {
			suspended = true;
			for (const s of sockets) s.destroy();
		},
		resume() {
			suspended = false;
		},
		close: () =>
			new Promise<void>((resolve) => {
				for (const s of sockets) s.destroy();
				server.close(() => resolve());
			})
	};
}

function parseTarget(s: string): Target {
	const i = s.lastIndexOf(':');
	return { host: s.slice(0, i) || '127.0.0.1', port: Number(s.slice(i + 1)) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const [port, ...targets] = process.argv.slice(2);
	if (!port || targets.length === 0) {
		console.error('usage: balancer.ts <listen port> <host:port> [<host:port> …]');
		process.exit(2);
	}
	const b = await startBalancer(Number(port), targets.map(parseTarget), '0.0.0.0');
	console.log(`balancing :${b.port} over ${targets.join(', ')}`);
}
